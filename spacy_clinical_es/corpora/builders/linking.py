"""Mention → code pairs with their sentence, as JSONL per corpus and split.

Sources (read with :func:`~spacy_clinical_es.corpora.readers.iter_corpus`):

* MedProcNER train, subtask 2: ``PROCEDIMIENTO`` mentions with a SNOMED CT
  code (system ``SNOMEDCT``);
* DisTEMIST train, subtrack 2: ``ENFERMEDAD`` mentions with a SNOMED CT code
  (``SNOMEDCT``) and, when the organisers' cross-map has one, an ICD-10 code
  (``ICD10``): one row per (mention, system);
* CodiEsp train/dev/test ``X`` evidence: ``DIAGNOSTICO`` → ``ICD10-CM``,
  ``PROCEDIMIENTO`` → ``ICD10-PCS`` (CodiEsp keeps its own split).

MedProcNER and DisTEMIST have only a train set here; their documents with at
least one link are split 70/15/15 *jointly* (one assignment for both corpora,
since they annotate the same texts) with :func:`~.split.stratified_split` on
the per-document link counts of each corpus, so a document is never in two
splits, across corpora included.

One JSON object per line with the fields ``corpus``, ``doc_id``, ``mention``
(fragment texts joined by one space, source order), ``fragments`` (document
character offsets, source order), ``label``, ``code`` (``+``-joined when
composite), ``system``, ``composite``, ``sentence`` (text of the sentence
holding the mention; the run of sentences when a discontinuous mention
crosses a boundary), ``sentence_start`` / ``sentence_end`` (document
offsets), ``sentence_fragments`` (fragments relative to the sentence) and
``sem_rel`` (EXACT/NARROW/… when the corpus gives one, else ``null``).
Sentences follow :func:`~.common.sentence_spans`.

Mentions that carry a link attribute but no code (MedProcNER ``NO_CODE``,
DisTEMIST ``NOMAP``) are skipped and counted; rows the readers could not
carry are in the readers' report. Files: ``{corpus}_{split}.jsonl``,
``splits.json``, ``stats.json`` and ``report.json``.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from ...util import PathLike
from ..annotations import Annotation, Document
from ..report import ConversionReport
from .common import (
    ensure_dir,
    markdown_table,
    sentence_of,
    sentence_spans,
    write_json,
    write_jsonl,
)
from .split import DEFAULT_RATIOS, split_label_counts, stratified_split

logger = logging.getLogger(__name__)


CORPUS = "linking"
SEED = 0
NO_CODE = "no code"

#: corpus → (systems written, attribute holding the semantic relation).
SOURCES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "medprocner": (("SNOMEDCT",), "sem_rel"),
    "distemist": (("SNOMEDCT", "ICD10"), "semantic_rel"),
    "codiesp": (("ICD10-CM", "ICD10-PCS"), None),
}
CODIESP_SPLITS = ("train", "dev", "test")


def link_rows(
    document: Document,
    corpus: str,
    report: ConversionReport,
    counts: Counter,
) -> Iterator[dict[str, Any]]:
    """Yield the JSONL rows of one document (one per mention and system).

    ``counts`` gets ``(corpus, "linked mentions")``, ``(corpus, "mentions
    without link")`` and skip reasons.
    """
    systems, rel_attr = SOURCES[corpus]
    sentences = sentence_spans(document.text)
    for ann in document.annotations:
        codes = [(system, ann.codes[system]) for system in systems if ann.codes.get(system)]
        is_link = bool(codes) or (rel_attr is not None and rel_attr in ann.attributes)
        if not is_link:
            counts[(corpus, "mentions without link")] += 1
            continue
        if not codes:
            counts[(corpus, f"skipped: {NO_CODE}")] += 1
            report.add_skipped(
                CORPUS,
                f"{corpus}: {NO_CODE}",
                path=document.path,
                annotation_id=ann.id,
                detail=f"document {document.id}, offsets {ann.start}-{ann.end}",
            )
            continue
        counts[(corpus, "linked mentions")] += 1
        yield from _rows(document, corpus, ann, codes, rel_attr, sentences)


def _rows(
    document: Document,
    corpus: str,
    ann: Annotation,
    codes: list[tuple[str, str]],
    rel_attr: str | None,
    sentences: list[tuple[int, int]],
) -> Iterator[dict[str, Any]]:
    s_start, s_end = sentence_of(sentences, ann.start, ann.end)
    mention = " ".join(document.text[s:e] for s, e in ann.fragments)
    for system, code in codes:
        yield {
            "corpus": corpus,
            "doc_id": document.id,
            "mention": mention,
            "fragments": [list(f) for f in ann.fragments],
            "label": ann.label,
            "code": code,
            "system": system,
            "composite": "+" in code,
            "sentence": document.text[s_start:s_end],
            "sentence_start": s_start,
            "sentence_end": s_end,
            "sentence_fragments": [[s - s_start, e - s_start] for s, e in ann.fragments],
            "sem_rel": ann.attributes.get(rel_attr) if rel_attr else None,
        }


def _has_link(document: Document, corpus: str) -> int:
    systems, rel_attr = SOURCES[corpus]
    return sum(
        1
        for a in document.annotations
        if any(a.codes.get(s) for s in systems) or (rel_attr is not None and rel_attr in a.attributes)
    )


def joint_link_split(
    train_docs: dict[str, dict[str, Document]], *, seed: int = SEED
) -> tuple[dict[str, list[str]], dict[str, Counter]]:
    """The joint MedProcNER + DisTEMIST document split and the link counts it was stratified on.

    ``train_docs``: corpus name → document id → document. Only documents with
    at least one link are split; the concept corpus (``convert concepts``)
    reuses this split so that end-to-end test documents are unseen by both
    the concept NER and the knowledge base.
    """
    link_counts: dict[str, Counter] = {}
    for corpus, docs in train_docs.items():
        for doc_id, doc in docs.items():
            n = _has_link(doc, corpus)
            if n:
                link_counts.setdefault(doc_id, Counter())[corpus] = n
    return stratified_split(link_counts, DEFAULT_RATIOS, seed=seed), link_counts


def build_linking(
    output_dir: PathLike,
    data_dir: PathLike | None = None,
    *,
    report: ConversionReport | None = None,
    seed: int = SEED,
) -> dict[str, Any]:
    """Write the linking JSONL files to ``output_dir``; return the stats."""
    from ..readers import iter_corpus

    out = ensure_dir(output_dir)
    report = report if report is not None else ConversionReport()
    counts: Counter = Counter()
    rows_per: Counter = Counter()  # (corpus, split, system) -> rows
    docs_per: Counter = Counter()  # (corpus, split) -> documents with rows

    # MedProcNER + DisTEMIST: one joint document split.
    train_docs: dict[str, dict[str, Document]] = {
        corpus: {d.id: d for d in iter_corpus(corpus, "train", data_dir=data_dir, report=report)}
        for corpus in ("medprocner", "distemist")
    }
    parts, link_counts = joint_link_split(train_docs, seed=seed)
    files: dict[str, str] = {}
    for corpus, docs in train_docs.items():
        for split, ids in parts.items():
            path = out / f"{corpus}_{split}.jsonl"
            rows = _collect(
                (docs[i] for i in ids if i in docs), corpus, report, counts, rows_per, docs_per, split
            )
            write_jsonl(path, rows)
            files[f"{corpus}_{split}"] = path.name
    # CodiEsp: its own split.
    codiesp_ids: dict[str, list[str]] = {}
    for split in CODIESP_SPLITS:
        docs = list(iter_corpus("codiesp", split, data_dir=data_dir, report=report))
        codiesp_ids[split] = sorted(d.id for d in docs)
        path = out / f"codiesp_{split}.jsonl"
        write_jsonl(path, _collect(docs, "codiesp", report, counts, rows_per, docs_per, split))
        files[f"codiesp_{split}"] = path.name

    stats = {
        "corpus": CORPUS,
        "seed": seed,
        "files": files,
        "rows": _nested(rows_per),
        "documents_with_rows": {f"{c} {s}": n for (c, s), n in sorted(docs_per.items())},
        "mentions": {f"{c}: {k}": n for (c, k), n in sorted(counts.items())},
        "joint_split_documents": {k: len(v) for k, v in parts.items()},
        "joint_split_link_counts": split_label_counts(link_counts, parts, ["medprocner", "distemist"]),
        "cross_split_overlap": _overlap(parts, codiesp_ids),
        "skipped_by_readers": {
            f"{c}: {r}": n for (c, r), n in sorted(report.skipped.items()) if c != CORPUS
        },
    }
    write_json(out / "splits.json", {"medprocner+distemist": parts, "codiesp": codiesp_ids})
    write_json(out / "stats.json", stats)
    write_json(out / "report.json", report.to_dict())
    return stats


def _collect(
    docs: Iterable[Document],
    corpus: str,
    report: ConversionReport,
    counts: Counter,
    rows_per: Counter,
    docs_per: Counter,
    split: str,
) -> Iterator[dict[str, Any]]:
    for doc in docs:
        n = 0
        for row in link_rows(doc, corpus, report, counts):
            rows_per[(corpus, split, row["system"])] += 1
            n += 1
            yield row
        if n:
            docs_per[(corpus, split)] += 1


def _nested(rows_per: Counter) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (corpus, split, system), n in sorted(rows_per.items()):
        out.setdefault(corpus, {}).setdefault(split, {})[system] = n
    return out


def _overlap(parts: dict[str, list[str]], codiesp: dict[str, list[str]]) -> dict[str, int]:
    """Documents shared by a MedProcNER/DisTEMIST split and a CodiEsp split (text leakage)."""
    return {
        f"medprocner+distemist {a} / codiesp {b}": len(set(ids_a) & set(ids_b))
        for a, ids_a in parts.items()
        for b, ids_b in codiesp.items()
    }


def rows_table(stats: dict[str, Any]) -> str:
    """Markdown table of rows per corpus, split and system."""
    lines = []
    for corpus, splits in stats["rows"].items():
        for split, systems in splits.items():
            for system, n in systems.items():
                lines.append([corpus, split, system, n])
    return markdown_table(["corpus", "split", "system", "rows"], lines)
