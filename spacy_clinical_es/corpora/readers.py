"""One entry point to every staged corpus: ``iter_corpus(name, split)``.

Each corpus is read from its official release layout (see each corpus'
``SOURCE.md``) and turned into :class:`~.annotations.Document` objects with
``Document.id = normalize_doc_id(file name)``, ``Document.corpus = name`` and
``Annotation.source = name``. Documents come sorted by file name; a document
without annotations is still yielded (it is part of the split).

What each corpus gives:

* ``meddocan`` (train, dev): BRAT PHI mentions.
* ``medprocner`` (train): BRAT mentions + subtask 2 SNOMED CT codes and
  attributes merged onto the mention with the same label and offsets +
  subtask 3 document codes in ``meta["codes.SNOMEDCT"]``; (test): text only.
* ``distemist`` (train): subtrack 1 mentions + subtrack 2 codes
  (``SNOMEDCT``, and ``ICD10``/``MESH``/``HPO``/``OMIM`` from the
  cross-mappings) merged by offsets.
* ``symptemist`` (train): BRAT mentions with IMAGEN/RESULTADO/EXITUS
  attributes; (test): text only.
* ``codiesp`` (train, dev, test): ``X`` evidence mentions with ``ICD10-CM`` /
  ``ICD10-PCS`` codes; the ``D``/``P`` lists in ``meta["codes.ICD10-CM"]`` /
  ``meta["codes.ICD10-PCS"]``.
* ``cantemist`` (train, dev1, dev2): BRAT mentions whose AnnotatorNotes code
  becomes ``codes["CIE-O-3.1"]`` (the note is moved, not copied); coding TSV
  in ``meta["codes.CIE-O-3.1"]``.

BRAT files are parsed strictly (a malformed file raises CorpusFormatError);
TSV rows that cannot be carried are skipped and counted in the report.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError
from ..util import PathLike
from .annotations import Document, set_doc_codes
from .brat import iter_brat_dir, read_text_dir
from .paths import corpus_dir
from .report import ConversionReport
from .tsv import (
    AnnotationsByDoc,
    merge_linking,
    read_cantemist_coding,
    read_codiesp_doc_codes,
    read_codiesp_evidence,
    read_distemist_linking,
    read_distemist_mentions,
    read_medprocner_doc_codes,
    read_medprocner_linking,
)

logger = logging.getLogger(__name__)


CANTEMIST_TERMINOLOGY = "CIE-O-3.1"

#: Splits each corpus offers in the staged data (withheld test sets excluded).
CORPUS_SPLITS: dict[str, list[str]] = {
    "meddocan": ["train", "dev"],
    "medprocner": ["train", "test"],
    "distemist": ["train"],
    "symptemist": ["train", "test"],
    "codiesp": ["train", "dev", "test"],
    "cantemist": ["train", "dev1", "dev2"],
}

_MEDPROCNER = {
    "brat": "medprocner_train/brat/medprocner_brat_train_subtask1",
    "linking": "medprocner_train/tsv/medprocner_tsv_train_subtask2.tsv",
    "doc_codes": "medprocner_train/tsv/medprocner_tsv_train_subtask3.tsv",
    "test": "medprocner_test/txt",
}
_DISTEMIST = {
    "text": "training/text_files",
    "mentions": "training/subtrack1_entities/distemist_subtrack1_training_mentions.tsv",
    "linking": [
        (
            "training/subtrack2_linking/distemist_subtrack2_training1_linking.tsv",
            "training/subtrack2_linking/distemist_subtrack2_training1_linking_crossmappings.tsv",
        ),
        (
            "training/subtrack2_linking/distemist_subtrack2_training2_linking.tsv",
            "training/subtrack2_linking/distemist_subtrack2_training2_linking_crossmappings.tsv",
        ),
    ],
}
_SYMPTEMIST = {
    "train": "symptemist_train/subtask1-ner/brat",
    "test": "symptemist_test/subtask1-ner/txt",
}
_CANTEMIST = {"train": ("train-set", "train"), "dev1": ("dev-set1", "dev1"), "dev2": ("dev-set2", "dev2")}


def list_corpora() -> dict[str, list[str]]:
    """Corpus names and their splits, as accepted by :func:`iter_corpus`."""
    return {name: list(splits) for name, splits in CORPUS_SPLITS.items()}


def iter_corpus(
    name: str,
    split: str,
    data_dir: PathLike | None = None,
    report: ConversionReport | None = None,
) -> Iterator[Document]:
    """Yield the documents of one corpus split (see the module docstring).

    ``report`` receives converted counts (``documents``, ``annotations``,
    ``codes``) and every skipped or adjusted row; without one, a summary is
    logged when something was skipped.
    """
    if name not in CORPUS_SPLITS:
        raise ConfigError(f"Unknown corpus {name!r}; known: {', '.join(CORPUS_SPLITS)}")
    if split not in CORPUS_SPLITS[name]:
        raise ConfigError(f"Unknown split {split!r} for {name}; known: {', '.join(CORPUS_SPLITS[name])}")
    own = report is None
    report = report if report is not None else ConversionReport()
    root = corpus_dir(name, data_dir)
    reader = _READERS[name]
    for doc in reader(root, split, name, report):
        report.add_converted(name, "documents")
        report.add_converted(name, "annotations", len(doc.annotations))
        report.add_converted(name, "codes", sum(len(a.codes) for a in doc.annotations))
        yield doc
    if own:
        report.log_if_lossy(logger)


def _meddocan(root: Path, split: str, name: str, report: ConversionReport) -> Iterator[Document]:
    yield from iter_brat_dir(root / split, corpus=name)


def _text_only(folder: Path, name: str) -> Iterator[Document]:
    yield from read_text_dir(folder, corpus=name).values()


def _attach_doc_codes(
    docs: dict[str, Document],
    codes: dict[str, list[str]],
    terminology: str,
    *,
    name: str,
    path: Path,
    report: ConversionReport,
) -> None:
    for doc_id, values in codes.items():
        if doc_id not in docs:
            report.add_skipped(
                name, "unknown_document", path=path, detail=f"document codes for {doc_id}, which has no text file"
            )
            continue
        set_doc_codes(docs[doc_id], terminology, values)
        report.add_converted(name, "document_codes", len(values))


def _medprocner(root: Path, split: str, name: str, report: ConversionReport) -> Iterator[Document]:
    if split == "test":
        yield from _text_only(root / _MEDPROCNER["test"], name)
        return
    docs = {doc.id: doc for doc in iter_brat_dir(root / _MEDPROCNER["brat"], corpus=name)}
    texts = {doc_id: doc.text for doc_id, doc in docs.items()}
    linking_path = root / _MEDPROCNER["linking"]
    linked = read_medprocner_linking(linking_path, texts, corpus=name, report=report)
    mentions: AnnotationsByDoc = {doc_id: doc.annotations for doc_id, doc in docs.items()}
    merge_linking(mentions, linked, corpus=name, report=report, path=linking_path)
    doc_codes_path = root / _MEDPROCNER["doc_codes"]
    doc_codes = read_medprocner_doc_codes(doc_codes_path, corpus=name, report=report)
    _attach_doc_codes(docs, doc_codes, "SNOMEDCT", name=name, path=doc_codes_path, report=report)
    yield from docs.values()


def _distemist(root: Path, split: str, name: str, report: ConversionReport) -> Iterator[Document]:
    docs = read_text_dir(root / _DISTEMIST["text"], corpus=name)
    texts = {doc_id: doc.text for doc_id, doc in docs.items()}
    mentions = read_distemist_mentions(root / _DISTEMIST["mentions"], texts, corpus=name, report=report)
    for linking, crossmappings in _DISTEMIST["linking"]:
        crossmap_path = root / crossmappings
        linked = read_distemist_linking(
            root / linking,
            texts,
            crossmappings_path=crossmap_path if crossmap_path.is_file() else None,
            corpus=name,
            report=report,
        )
        merge_linking(mentions, linked, corpus=name, report=report, path=root / linking)
    for doc_id, doc in docs.items():
        doc.annotations = mentions.get(doc_id, [])
    yield from docs.values()


def _symptemist(root: Path, split: str, name: str, report: ConversionReport) -> Iterator[Document]:
    if split == "test":
        yield from _text_only(root / _SYMPTEMIST["test"], name)
        return
    yield from iter_brat_dir(root / _SYMPTEMIST["train"], corpus=name)


def _codiesp(root: Path, split: str, name: str, report: ConversionReport) -> Iterator[Document]:
    folder = root / split
    docs = read_text_dir(folder / "text_files", corpus=name)
    texts = {doc_id: doc.text for doc_id, doc in docs.items()}
    evidence = read_codiesp_evidence(folder / f"{split}X.tsv", texts, corpus=name, report=report)
    for suffix, terminology in (("D", "ICD10-CM"), ("P", "ICD10-PCS")):
        path = folder / f"{split}{suffix}.tsv"
        codes = read_codiesp_doc_codes(path, corpus=name, report=report)
        _attach_doc_codes(docs, codes, terminology, name=name, path=path, report=report)
    for doc_id, doc in docs.items():
        doc.annotations = evidence.get(doc_id, [])
    yield from docs.values()


def _cantemist(root: Path, split: str, name: str, report: ConversionReport) -> Iterator[Document]:
    folder, prefix = _CANTEMIST[split]
    docs = {doc.id: doc for doc in iter_brat_dir(root / folder / "cantemist-norm", corpus=name)}
    for doc in docs.values():
        for ann in doc.annotations:
            if not ann.notes or not ann.notes[0].strip():
                report.add_adjusted(
                    name, "missing_code_note", path=doc.path, annotation_id=ann.id, detail="no CIE-O-3.1 code"
                )
                continue
            ann.codes[CANTEMIST_TERMINOLOGY] = ann.notes.pop(0).strip()
    coding_path = root / folder / "cantemist-coding" / f"{prefix}-coding.tsv"
    if coding_path.is_file():
        codes = read_cantemist_coding(coding_path, corpus=name, report=report)
        _attach_doc_codes(docs, codes, CANTEMIST_TERMINOLOGY, name=name, path=coding_path, report=report)
    yield from docs.values()


_READERS = {
    "meddocan": _meddocan,
    "medprocner": _medprocner,
    "distemist": _distemist,
    "symptemist": _symptemist,
    "codiesp": _codiesp,
    "cantemist": _cantemist,
}
