"""SMiNER-style image-entity corpus on the SPACCC cases shared by three corpora.

The documents are those MEDDOCAN (train + dev) shares with DisTEMIST train
(559 here). The text of every document is the DisTEMIST text (the original
case text). Four classes:

* ``ENFERMEDAD`` — DisTEMIST subtrack 1 mentions, as they are;
* ``PROCEDIMIENTO`` — MedProcNER mentions. MedProcNER train texts are
  expected to be identical to DisTEMIST's; each document is checked, and where
  the texts differ the mentions are moved with :mod:`.char_align`;
* ``EDAD`` / ``SEXO`` — MEDDOCAN ``EDAD_SUJETO_ASISTENCIA`` /
  ``SEXO_SUJETO_ASISTENCIA`` moved from the MEDDOCAN text (synthetic
  header/footer, small edits) onto the DisTEMIST text with
  :class:`~.char_align.CharAlignment`. A mention maps only if its text is
  exactly the same in both texts; every other one is counted under its
  reason (header mentions: ``in inserted region``; ages MEDDOCAN rewrote:
  ``partially edited``…).

Nested and overlapping mentions are all kept in the span group
``"imaging"``; ``doc.ents`` holds the non-overlapping subset chosen by
:func:`~spacy_clinical_es.corpora.representation.document_to_doc`.
Documents are split 70/15/15 with :func:`~.split.stratified_split` on the
per-document class counts (seeded, deterministic).

The *concept corpus* (:func:`build_concepts`, ``convert concepts``) holds the
same documents and mentions, split instead by the linking corpus' joint
MedProcNER + DisTEMIST split (:func:`~.linking.joint_link_split`; documents
without any link go to train). Its test documents are then unseen by both the
concept NER trained on it and the knowledge base built from the linking train
rows, so the chain can be scored end to end on them (``benchmark e2e``); the
gold codes (SNOMED CT of MedProcNER and DisTEMIST, DisTEMIST's ICD-10
cross-map) ride on the mentions (``span._.codes``).

Outputs: ``{train,dev,test}.spacy``, ``{split}.conll`` (IOB2 of
``doc.ents``), ``splits.json`` (document ids per split), ``mapping.json``
(mapped/unmapped counts with reasons), ``stats.json``, ``stats.md`` (the
statistics table of the SMiNER paper) and ``report.json``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...tokenizer import make_clinical_nlp
from ..annotations import Annotation, Document
from ..report import ConversionReport
from .char_align import MAPPED, REASONS, CharAlignment
from .common import count_labels, ensure_dir, markdown_table, write_json
from .conll import write_conll
from .split import DEFAULT_RATIOS, split_label_counts, stratified_split

logger = logging.getLogger(__name__)

CORPUS = "imaging"
SPAN_KEY = "imaging"
LABELS: tuple[str, ...] = ("EDAD", "SEXO", "ENFERMEDAD", "PROCEDIMIENTO")
SEED = 0
#: How documents are split: on the class counts (the image-entity corpus) or like the linking corpus (concepts).
SPLIT_RULES: tuple[str, ...] = ("labels", "links")
MEDDOCAN_SPLITS: tuple[str, ...] = ("train", "dev")

#: Source corpus → {source label: imaging label}. Other labels are not used.
SOURCE_LABELS: dict[str, dict[str, str]] = {
    "meddocan": {"EDAD_SUJETO_ASISTENCIA": "EDAD", "SEXO_SUJETO_ASISTENCIA": "SEXO"},
    "distemist": {"ENFERMEDAD": "ENFERMEDAD"},
    "medprocner": {"PROCEDIMIENTO": "PROCEDIMIENTO"},
}
#: Prefix of the annotation ids taken from each source (ids stay unique).
ID_PREFIX = {"meddocan": "mdc-", "distemist": "dis-", "medprocner": "mpn-"}


@dataclasses.dataclass
class MappingCounts:
    """Per source corpus and label: how many mentions were carried, and why not."""

    counts: Counter = dataclasses.field(default_factory=Counter)

    def add(self, corpus: str, label: str, reason: str) -> None:
        self.counts[(corpus, label, reason)] += 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (corpus, label, reason), n in sorted(self.counts.items()):
            entry = out.setdefault(corpus, {}).setdefault(
                label, {"total": 0, "mapped": 0, "unmapped": 0, "reasons": {}}
            )
            entry["total"] += n
            if reason == MAPPED:
                entry["mapped"] += n
            else:
                entry["unmapped"] += n
                entry["reasons"][reason] = entry["reasons"].get(reason, 0) + n
        return out

    def table(self) -> str:
        header = ["corpus", "label", "total", "mapped", "unmapped", *REASONS]
        rows = []
        for corpus, labels in self.to_dict().items():
            for label, e in labels.items():
                rows.append(
                    [corpus, label, e["total"], e["mapped"], e["unmapped"]]
                    + [e["reasons"].get(r, 0) for r in REASONS]
                )
        return markdown_table(header, rows)


def load_sources(
    data_dir: str | Path | None, report: ConversionReport
) -> tuple[dict[str, Document], dict[str, Document], dict[str, Document]]:
    """Read MEDDOCAN train+dev, DisTEMIST train and MedProcNER train, keyed by id."""
    from ..readers import iter_corpus

    meddocan: dict[str, Document] = {}
    for split in MEDDOCAN_SPLITS:
        for doc in iter_corpus("meddocan", split, data_dir=data_dir, report=report):
            meddocan[doc.id] = doc
    distemist = {d.id: d for d in iter_corpus("distemist", "train", data_dir=data_dir, report=report)}
    medprocner = {d.id: d for d in iter_corpus("medprocner", "train", data_dir=data_dir, report=report)}
    return meddocan, distemist, medprocner


def merge_document(
    doc_id: str,
    base: Document,
    others: Iterable[tuple[str, Document | None]],
    mapping: MappingCounts,
    report: ConversionReport,
    identity: Counter,
    differing: dict[str, list[str]],
) -> Document:
    """One imaging document: ``base`` (DisTEMIST) text + mentions of all sources.

    ``others`` gives ``(corpus, document)`` for MEDDOCAN and MedProcNER
    (``None`` when the corpus lacks the document). ``identity`` counts, per
    corpus, documents whose text is identical to the base text or not;
    ``differing`` collects the ids of the latter per corpus.
    """
    annotations: list[Annotation] = []
    _take(annotations, "distemist", base, None, mapping, report)
    for corpus, doc in others:
        if doc is None:
            identity[(corpus, "missing")] += 1
            continue
        if doc.text == base.text:
            identity[(corpus, "identical")] += 1
            _take(annotations, corpus, doc, None, mapping, report)
        else:
            identity[(corpus, "different")] += 1
            differing.setdefault(corpus, []).append(doc_id)
            _take(annotations, corpus, doc, CharAlignment(doc.text, base.text), mapping, report)
    return Document(
        id=doc_id,
        text=base.text,
        annotations=annotations,
        corpus=CORPUS,
        path=base.path,
        meta={"sources": "distemist+meddocan+medprocner"},
    )


def _take(
    out: list[Annotation],
    corpus: str,
    doc: Document,
    align: CharAlignment | None,
    mapping: MappingCounts,
    report: ConversionReport,
) -> None:
    labels = SOURCE_LABELS[corpus]
    for ann in doc.annotations:
        label = labels.get(ann.label)
        if label is None:
            continue
        if align is None:
            fragments, reason = list(ann.fragments), MAPPED
        else:
            fragments, reason = align.align_fragments(ann.fragments)
        mapping.add(corpus, label, reason)
        if fragments is None:
            report.add_skipped(
                CORPUS,
                f"{corpus} {label}: {reason}",
                path=doc.path,
                annotation_id=ann.id,
                detail=f"offsets {ann.start}-{ann.end}",
            )
            continue
        out.append(
            dataclasses.replace(
                ann,
                id=ID_PREFIX[corpus] + ann.id,
                label=label,
                fragments=fragments,
                source=corpus,
                attributes={**ann.attributes, "source_label": ann.label},
            )
        )


def build_imaging(
    output_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    nlp: Any = None,
    report: ConversionReport | None = None,
    seed: int = SEED,
    split_by: str = "labels",
) -> dict[str, Any]:
    """Build the image-entity corpus in ``output_dir``; return the stats.

    ``split_by``: ``"labels"`` (stratified on the class counts) or ``"links"``
    (the linking corpus' joint split; see :func:`build_concepts`).
    """
    from spacy.tokens import DocBin

    from ..representation import document_to_doc

    if split_by not in SPLIT_RULES:
        raise ConfigError(f"split_by must be one of {', '.join(SPLIT_RULES)}, not {split_by!r}.")
    out = ensure_dir(output_dir)
    report = report if report is not None else ConversionReport()
    nlp = nlp if nlp is not None else make_clinical_nlp()
    meddocan, distemist, medprocner = load_sources(data_dir, report)
    shared = sorted(set(meddocan) & set(distemist))
    mapping = MappingCounts()
    identity: Counter = Counter()
    differing: dict[str, list[str]] = {}
    documents: dict[str, Document] = {}
    for doc_id in shared:
        documents[doc_id] = merge_document(
            doc_id,
            distemist[doc_id],
            (("meddocan", meddocan[doc_id]), ("medprocner", medprocner.get(doc_id))),
            mapping,
            report,
            identity,
            differing,
        )
    label_counts = {
        doc_id: Counter(a.label for a in doc.annotations) for doc_id, doc in documents.items()
    }
    if split_by == "labels":
        parts = stratified_split(label_counts, DEFAULT_RATIOS, seed=seed)
    else:
        parts = _link_split(documents, distemist, medprocner, seed)
    split_stats: dict[str, Any] = {}
    all_tokens: list[int] = []
    for split, ids in parts.items():
        docs = [
            document_to_doc(documents[i], nlp, span_key=SPAN_KEY, set_ents=True, report=report)
            for i in ids
        ]
        DocBin(docs=docs, store_user_data=True).to_disk(out / f"{split}.spacy")
        write_conll(docs, out / f"{split}.conll")
        split_stats[split] = _split_stats(docs, [documents[i] for i in ids])
        all_tokens.extend(sum(1 for t in doc if not t.is_space) for doc in docs)
        logger.info("imaging %s: %d documents", split, len(docs))
    stats: dict[str, Any] = {
        "corpus": CORPUS,
        "span_key": SPAN_KEY,
        "labels": list(LABELS),
        "seed": seed,
        "split_by": split_by,
        "documents": {
            "meddocan_train_dev": len(meddocan),
            "distemist_train": len(distemist),
            "medprocner_train": len(medprocner),
            "shared": len(shared),
        },
        "text_identity": {f"{c} {k}": n for (c, k), n in sorted(identity.items())},
        # MEDDOCAN texts always differ (synthetic header); list the others.
        "texts_differing_from_distemist": {
            c: sorted(ids) for c, ids in sorted(differing.items()) if c != "meddocan"
        },
        "mapping": mapping.to_dict(),
        "splits": split_stats,
        "tokens_all": dict(zip(("mean", "sd"), (round(x, 1) for x in _mean_sd(all_tokens)))),
        "label_counts_per_split": split_label_counts(label_counts, parts, LABELS),
    }
    write_json(out / "splits.json", parts)
    write_json(
        out / "mapping.json",
        {
            "mapping": stats["mapping"],
            "text_identity": stats["text_identity"],
            "texts_differing_from_distemist": stats["texts_differing_from_distemist"],
        },
    )
    write_json(out / "stats.json", stats)
    (out / "stats.md").write_text(
        f"# {'Concept' if split_by == 'links' else 'Image-entity'} corpus (split by {split_by})\n\n"
        + statistics_table(stats)
        + "\n\n## MEDDOCAN / MedProcNER mentions carried onto the DisTEMIST text\n\n"
        + mapping.table()
        + "\n",
        encoding="utf-8",
    )
    write_json(out / "report.json", report.to_dict())
    return stats


def build_concepts(
    output_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    nlp: Any = None,
    report: ConversionReport | None = None,
    seed: int = SEED,
) -> dict[str, Any]:
    """The concept corpus: the image-entity documents and mentions, split like the linking corpus."""
    return build_imaging(output_dir, data_dir, nlp=nlp, report=report, seed=seed, split_by="links")


def _link_split(
    documents: dict[str, Document],
    distemist: dict[str, Document],
    medprocner: dict[str, Document],
    seed: int,
) -> dict[str, list[str]]:
    """The linking corpus' joint split restricted to ``documents``; documents without links go to train."""
    from .linking import joint_link_split

    parts, _ = joint_link_split({"medprocner": medprocner, "distemist": distemist}, seed=seed)
    out = {name: sorted(i for i in parts.get(name, []) if i in documents) for name, _ in DEFAULT_RATIOS}
    placed = {i for ids in out.values() for i in ids}
    first = DEFAULT_RATIOS[0][0]
    out[first] = sorted(set(out[first]) | (set(documents) - placed))
    return out


def _split_stats(docs: list[Any], documents: list[Document]) -> dict[str, Any]:
    tokens = [sum(1 for t in doc if not t.is_space) for doc in docs]
    spans, ents = count_labels(docs, SPAN_KEY)
    mean, sd = _mean_sd(tokens)
    read = Counter(a.label for d in documents for a in d.annotations)
    return {
        "reports": len(docs),
        "tokens_mean": round(mean, 1),
        "tokens_sd": round(sd, 1),
        "tokens_total": sum(tokens),
        "annotations": {label: read[label] for label in LABELS},
        "span_group": {label: spans[label] for label in LABELS},
        "ents": {label: ents[label] for label in LABELS},
    }


def statistics_table(stats: dict[str, Any]) -> str:
    """The SMiNER-paper table: reports, tokens/report (mean ± sd), entities per class.

    Entity counts are the mentions in the span group (nested ones included);
    the ``doc.ents`` subset is given in parentheses.
    """
    splits = list(stats["splits"])
    header = ["", *splits, "total"]
    rows: list[list[Any]] = []
    s = stats["splits"]
    rows.append(["reports", *[s[k]["reports"] for k in splits], sum(s[k]["reports"] for k in splits)])
    every = stats["tokens_all"]
    rows.append(
        ["tokens / report (mean ± sd)", *[f"{s[k]['tokens_mean']:.1f} ± {s[k]['tokens_sd']:.1f}" for k in splits],
         f"{every['mean']:.1f} ± {every['sd']:.1f}"]
    )
    for label in stats["labels"]:
        cells = [f"{s[k]['span_group'][label]} ({s[k]['ents'][label]})" for k in splits]
        total = sum(s[k]["span_group"][label] for k in splits)
        total_ents = sum(s[k]["ents"][label] for k in splits)
        rows.append([label, *cells, f"{total} ({total_ents})"])
    cells = [
        f"{sum(s[k]['span_group'].values())} ({sum(s[k]['ents'].values())})" for k in splits
    ]
    rows.append(
        ["all entities", *cells,
         f"{sum(sum(s[k]['span_group'].values()) for k in splits)} ({sum(sum(s[k]['ents'].values()) for k in splits)})"]
    )
    return (
        markdown_table(header, rows)
        + "\n\nEntities: mentions in the span group `imaging` (nested included); in parentheses, "
        "those in `doc.ents`. Tokens: non-space tokens of the clinical tokenizer."
    )


def _mean_sd(values: list[int]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for fewer than two values)."""
    if not values:
        return 0.0, 0.0
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
