"""MEDDOCAN de-identification corpus: DocBin (fine and coarse labels) + IOB2.

``build_deid`` writes, for each staged split (``train``, ``dev``):

* ``{split}.spacy`` — the 22 MEDDOCAN labels in ``doc.ents`` and in the span
  group ``"meddocan"`` (MEDDOCAN has no overlapping mentions, so both hold the
  same mentions unless a mention cannot be aligned to tokens, which the report
  counts);
* ``{split}_coarse.spacy`` — the same mentions with the coarse labels of
  :data:`COARSE_LABELS` (same span group key ``"meddocan"``: the file name
  tells the scheme, and one training config works with both);
* ``{split}.conll`` and ``{split}_coarse.conll`` — IOB2 (see :mod:`.conll`).

The coarse scheme follows the categories of Pérez-Díez et al. (2021),
"De-identifying Spanish medical texts - named entity recognition applied to
radiology reports" (NAME, DIR, LOC, NUM, FECHA, INST), extended with EDAD,
SEXO, CONTACTO, PROFESION and OTROS for the MEDDOCAN types that their scheme
has no place for. It is ONE table, :data:`COARSE_MAPPING`; every row states
why. It also covers the MEDDOCAN guideline types that do not occur in the
staged data, so that a test set that has them converts too.
"""
from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...tokenizer import make_clinical_nlp
from ..annotations import Document
from ..report import ConversionReport
from .common import count_labels, ensure_dir, write_json
from .conll import write_conll

logger = logging.getLogger(__name__)

CORPUS = "meddocan"
SPAN_KEY = "meddocan"
SPLITS: tuple[str, ...] = ("train", "dev")
NO_COARSE_LABEL = "no coarse label"
#: ``Document.corpus`` of coarse copies: keeps their report counts apart.
COARSE_CORPUS = "meddocan_coarse"

#: fine MEDDOCAN label → (coarse label, why). The single source of the scheme.
COARSE_MAPPING: dict[str, tuple[str, str]] = {
    # Names of people (the paper's NAME: "names and surnames, patient and others").
    "NOMBRE_SUJETO_ASISTENCIA": ("NAME", "patient's name and surnames"),
    "NOMBRE_PERSONAL_SANITARIO": ("NAME", "health professional's name: a person name too"),
    # Addresses: DIR is the street address, LOC the places.
    "CALLE": ("DIR", "street address with number/floor (the paper's DIR)"),
    "TERRITORIO": ("LOC", "city, province, region, and postal codes (MEDDOCAN types zip codes as TERRITORIO; the paper puts them in DIR, a label table cannot split them)"),
    "PAIS": ("LOC", "country: a place"),
    # Identifying numbers (the paper's NUM).
    "ID_SUJETO_ASISTENCIA": ("NUM", "medical record number (NHC)"),
    "ID_ASEGURAMIENTO": ("NUM", "social security / insurance number (NASS)"),
    "ID_CONTACTO_ASISTENCIAL": ("NUM", "episode / encounter number"),
    "ID_TITULACION_PERSONAL_SANITARIO": ("NUM", "professional licence number (NºCol)"),
    "ID_EMPLEO_PERSONAL_SANITARIO": ("NUM", "professional's employment id"),
    "NUMERO_BENEF_PLAN_SALUD": ("NUM", "health plan beneficiary number (guideline type)"),
    "IDENTIF_VEHICULOS_NRSERIE_PLACAS": ("NUM", "vehicle plate or serial number (guideline type)"),
    "IDENTIF_DISPOSITIVOS_NRSERIE": ("NUM", "device serial number (guideline type)"),
    "IDENTIF_BIOMETRICOS": ("NUM", "biometric identifier (guideline type)"),
    "OTRO_NUMERO_IDENTIF": ("NUM", "any other identifying number (guideline type)"),
    # Dates (the paper's FECHA).
    "FECHAS": ("FECHA", "any date (birth, admission, …)"),
    # Institutions (the paper's INST).
    "HOSPITAL": ("INST", "hospital"),
    "CENTRO_SALUD": ("INST", "primary care centre"),
    "INSTITUCION": ("INST", "other institution (university, company, agency)"),
    # Extensions for MEDDOCAN types outside the paper's scheme.
    "EDAD_SUJETO_ASISTENCIA": ("EDAD", "patient's age (quasi-identifier kept apart)"),
    "SEXO_SUJETO_ASISTENCIA": ("SEXO", "patient's sex (quasi-identifier kept apart)"),
    "NUMERO_TELEFONO": ("CONTACTO", "phone number: a way to contact someone"),
    "NUMERO_FAX": ("CONTACTO", "fax number"),
    "CORREO_ELECTRONICO": ("CONTACTO", "e-mail address"),
    "URL_WEB": ("CONTACTO", "web address (guideline type)"),
    "DIREC_PROT_INTERNET": ("CONTACTO", "IP address (guideline type)"),
    "PROFESION": ("PROFESION", "patient's occupation"),
    "FAMILIARES_SUJETO_ASISTENCIA": ("OTROS", "relatives ('madre', 'hijo'): not names; OTROS_SUJETO_ASISTENCIA also holds relatives ('abuelo materno')"),
    "OTROS_SUJETO_ASISTENCIA": ("OTROS", "other patient information (ethnicity, marital status, tattoos…)"),
}

#: fine label → coarse label.
COARSE_LABELS: dict[str, str] = {fine: coarse for fine, (coarse, _) in COARSE_MAPPING.items()}


def coarsen_document(document: Document, report: ConversionReport | None = None) -> Document:
    """Copy ``document`` with coarse labels (``corpus`` = :data:`COARSE_CORPUS`).

    The fine label is kept as the attribute ``fine_label``.

    A label without a row in :data:`COARSE_MAPPING` is counted in ``report``
    (reason :data:`NO_COARSE_LABEL`) and left out of the copy.
    """
    annotations = []
    for ann in document.annotations:
        coarse = COARSE_LABELS.get(ann.label)
        if coarse is None:
            if report is not None:
                report.add_skipped(
                    COARSE_CORPUS,
                    NO_COARSE_LABEL,
                    path=document.path,
                    annotation_id=ann.id,
                    detail=f"label {ann.label}",
                )
            continue
        annotations.append(dataclasses.replace(ann, label=coarse, attributes={**ann.attributes, "fine_label": ann.label}))
    return dataclasses.replace(document, annotations=annotations, corpus=COARSE_CORPUS)


def build_deid(
    output_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    splits: Iterable[str] = SPLITS,
    nlp: Any = None,
    report: ConversionReport | None = None,
) -> dict[str, Any]:
    """Convert MEDDOCAN to DocBin + IOB2 files in ``output_dir``; return the stats.

    The stats (also written to ``stats.json``; the conversion report goes to
    ``report.json``) give per split and scheme: documents, annotations read,
    spans in the span group, entities in ``doc.ents``, and labels.
    """
    from spacy.tokens import DocBin

    from ..readers import iter_corpus
    from ..representation import document_to_doc

    out = ensure_dir(output_dir)
    report = report if report is not None else ConversionReport()
    nlp = nlp if nlp is not None else make_clinical_nlp()
    stats: dict[str, Any] = {"corpus": CORPUS, "span_key": SPAN_KEY, "splits": {}}
    for split in splits:
        documents = list(iter_corpus(CORPUS, split, data_dir=data_dir, report=report))
        split_stats: dict[str, Any] = {}
        for scheme, suffix in (("fine", ""), ("coarse", "_coarse")):
            docs = []
            read: Counter = Counter()
            for document in documents:
                if scheme == "coarse":
                    document = coarsen_document(document, report)
                read.update(a.label for a in document.annotations)
                docs.append(document_to_doc(document, nlp, span_key=SPAN_KEY, set_ents=True, report=report))
            DocBin(docs=docs, store_user_data=True).to_disk(out / f"{split}{suffix}.spacy")
            n_docs, n_tokens = write_conll(docs, out / f"{split}{suffix}.conll")
            split_stats[scheme] = _scheme_stats(docs, read, n_tokens)
            logger.info("meddocan %s %s: %d documents -> %s", split, scheme, n_docs, out / f"{split}{suffix}.spacy")
        stats["splits"][split] = split_stats
    stats["coarse_mapping"] = {fine: {"coarse": c, "why": why} for fine, (c, why) in COARSE_MAPPING.items()}
    write_json(out / "stats.json", stats)
    write_json(out / "report.json", report.to_dict())
    return stats


def _scheme_stats(docs: list[Any], read: Counter, n_tokens: int) -> dict[str, Any]:
    spans, ents = count_labels(docs, SPAN_KEY)
    labels = sorted(set(read) | set(spans) | set(ents))
    return {
        "documents": len(docs),
        "tokens_written": n_tokens,
        "annotations_read": sum(read.values()),
        "annotations_in_span_group": sum(spans.values()),
        "entities": sum(ents.values()),
        "labels": {
            label: {"read": read[label], "span_group": spans[label], "ents": ents[label]}
            for label in labels
        },
    }
