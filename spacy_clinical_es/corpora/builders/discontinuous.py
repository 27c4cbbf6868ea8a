"""CodiEsp text-evidence corpus for the discontinuous finder (DIAGNOSTICO / PROCEDIMIENTO).

Source: the CodiEsp ``X`` files (train, dev, test: CodiEsp's own split), read
with :func:`~spacy_clinical_es.corpora.readers.iter_corpus`; every reference
is an annotation with one or more character fragments (``s1 e1;s2 e2``).

Rules:

* **Duplicates.** CodiEsp writes one row per (reference, code), so the same
  fragments with the same label can appear several times with different
  codes. The first row is kept; the codes of the others are added to its
  notes (``"ICD10-CM:<code>"``) and the row is counted as adjusted
  ``duplicate_reference_merged``. Entities are therefore unique per (label,
  fragment set), which is what exact-match scoring counts.
* **Doc representation** (:func:`~spacy_clinical_es.corpora.representation.document_to_doc`):
  span group ``"codiesp"`` with one span per fragment; the fragments of an
  annotation share ``span.id_``; exact character offsets stay in
  ``doc.user_data``. A fragment off token boundaries is expanded to whole
  tokens (adjusted ``misaligned_expanded``), one covering no token is left out
  (skipped ``unalignable_fragment``). ``doc.ents`` holds the continuous,
  non-overlapping subset (for flat baselines).
* **Reach of the finder.** With the ``discontinuous_ner`` defaults
  (``max_length`` 8 tokens, ``max_distance`` 250 tokens, fragments never
  across a line break) some gold items cannot be predicted; they stay in the
  corpus and are counted per split under ``not_learnable`` (by
  :func:`~spacy_clinical_es.concepts.fragments.encode`).

Outputs: ``{train,dev,test}.spacy``, ``stats.json`` (per split: documents,
rows, annotations, discontinuous ones by label and by number of fragments,
token gaps, duplicates, reach), ``stats.md`` and ``report.json`` (every
skipped or adjusted item with its file, line or annotation id).
"""
from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ...concepts.fragments import encode, make_entity
from ...tokenizer import make_clinical_nlp
from ...util import PathLike
from ..annotations import Annotation, Document
from ..report import ConversionReport
from .common import ensure_dir, markdown_table, write_json

logger = logging.getLogger(__name__)

CORPUS = "discontinuous"
SPAN_KEY = "codiesp"
LABELS: tuple[str, ...] = ("DIAGNOSTICO", "PROCEDIMIENTO")
SPLITS: tuple[str, ...] = ("train", "dev", "test")
#: ``discontinuous_ner`` defaults, used to count what it cannot reach.
MAX_LENGTH = 8
MAX_DISTANCE = 250


def deduplicate(document: Document, report: ConversionReport) -> Document:
    """One annotation per (label, fragment set); codes of the dropped rows go to notes."""
    kept: dict[tuple[str, tuple[tuple[int, int], ...]], Annotation] = {}
    for ann in document.annotations:
        key = ann.key()
        if key not in kept:
            kept[key] = dataclasses.replace(ann, codes=dict(ann.codes), notes=list(ann.notes))
            continue
        first = kept[key]
        for system, code in ann.codes.items():
            if first.codes.get(system) != code:
                first.notes.append(f"{system}:{code}")
        report.add_adjusted(
            CORPUS,
            "duplicate_reference_merged",
            path=document.path,
            annotation_id=ann.id,
            detail=f"same label and fragments as {first.id}",
        )
    return dataclasses.replace(document, annotations=list(kept.values()), corpus=CORPUS)


def _token_gap(doc: Any, fragments: list[tuple[int, int]]) -> int | None:
    """Tokens between the first and the last fragment (None when one covers no token)."""
    spans = [doc.char_span(s, e, alignment_mode="expand") for s, e in sorted(fragments)]
    if any(span is None or len(span) == 0 for span in spans):
        return None
    return max(0, spans[-1].start - spans[0].end)


def _reach(doc: Any, key: str) -> Counter:
    """What ``discontinuous_ner`` with the default settings cannot learn in one doc."""
    groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for span in doc.spans.get(key, []):
        groups.setdefault((span.id_, span.label_), []).append((span.start, span.end))
    entities = [make_entity(label, frags) for (_, label), frags in groups.items()]
    blocked = ["\n" in token.text for token in doc]
    return encode(entities, max_length=MAX_LENGTH, max_distance=MAX_DISTANCE, blocked=blocked).lost


def _split_stats(documents: list[Document], docs: list[Any], rows: int) -> dict[str, Any]:
    by_label: Counter = Counter()
    disc_by_label: Counter = Counter()
    n_fragments: Counter = Counter()
    gaps: list[int] = []
    reach: Counter = Counter()
    for document, doc in zip(documents, docs):
        for ann in document.annotations:
            by_label[ann.label] += 1
            n_fragments[len(ann.fragments)] += 1
            if ann.is_discontinuous:
                disc_by_label[ann.label] += 1
                gap = _token_gap(doc, ann.fragments)
                if gap is not None:
                    gaps.append(gap)
        reach.update(_reach(doc, SPAN_KEY))
    gaps.sort()

    def quantile(q: float) -> int:
        return gaps[min(len(gaps) - 1, int(q * len(gaps)))] if gaps else 0

    annotations = sum(by_label.values())
    discontinuous = sum(disc_by_label.values())
    return {
        "documents": len(documents),
        "evidence_rows": rows,
        "annotations": annotations,
        "annotations_by_label": {label: by_label[label] for label in LABELS},
        "discontinuous": discontinuous,
        "discontinuous_share": round(discontinuous / annotations, 4) if annotations else 0.0,
        "discontinuous_by_label": {label: disc_by_label[label] for label in LABELS},
        "annotations_by_fragment_count": {str(k): n for k, n in sorted(n_fragments.items())},
        "discontinuous_token_gap": {
            "median": quantile(0.5),
            "p90": quantile(0.9),
            "p99": quantile(0.99),
            "max": gaps[-1] if gaps else 0,
        },
        "not_learnable": dict(sorted(reach.items())),
    }


def build_discontinuous(
    output_dir: PathLike,
    data_dir: PathLike | None = None,
    *,
    nlp: Any = None,
    report: ConversionReport | None = None,
) -> dict[str, Any]:
    """Write the CodiEsp evidence DocBins to ``output_dir``; return the stats."""
    from spacy.tokens import DocBin

    from ..readers import iter_corpus
    from ..representation import document_to_doc

    out = ensure_dir(output_dir)
    report = report if report is not None else ConversionReport()
    nlp = nlp if nlp is not None else make_clinical_nlp()
    splits: dict[str, Any] = {}
    for split in SPLITS:
        before = report.count("codiesp", "evidence_rows")
        documents = [
            deduplicate(document, report)
            for document in iter_corpus("codiesp", split, data_dir=data_dir, report=report)
        ]
        rows = report.count("codiesp", "evidence_rows") - before
        docs = [document_to_doc(d, nlp, span_key=SPAN_KEY, set_ents=True, report=report) for d in documents]
        DocBin(docs=docs, store_user_data=True).to_disk(out / f"{split}.spacy")
        splits[split] = _split_stats(documents, docs, rows)
        logger.info(
            "discontinuous %s: %d documents, %d annotations, %d discontinuous",
            split,
            len(docs),
            splits[split]["annotations"],
            splits[split]["discontinuous"],
        )
    stats: dict[str, Any] = {
        "corpus": CORPUS,
        "source": "codiesp X (text evidence)",
        "span_key": SPAN_KEY,
        "labels": list(LABELS),
        "reach_settings": {"max_length": MAX_LENGTH, "max_distance": MAX_DISTANCE},
        "splits": splits,
        "adjusted": {reason: n for (corpus, reason), n in sorted(report.adjusted.items()) if corpus in (CORPUS, "codiesp")},
        "skipped": {f"{corpus}: {reason}": n for (corpus, reason), n in sorted(report.skipped.items())},
    }
    write_json(out / "stats.json", stats)
    (out / "stats.md").write_text("# CodiEsp text-evidence corpus\n\n" + statistics_table(stats) + "\n", encoding="utf-8")
    write_json(out / "report.json", report.to_dict())
    return stats


def statistics_table(stats: dict[str, Any]) -> str:
    """Per split: documents, annotations, discontinuous ones and what the finder cannot reach."""
    splits = stats["splits"]
    reasons = sorted({r for s in splits.values() for r in s["not_learnable"]})
    header = ["split", "documents", "rows", "annotations", "discontinuous", *LABELS, "2 / 3 / 4+ fragments", "gap median / p90 / max", *reasons]
    rows: list[Iterable[Any]] = []
    for split, s in splits.items():
        counts = s["annotations_by_fragment_count"]
        four = sum(n for k, n in counts.items() if int(k) >= 4)
        gap = s["discontinuous_token_gap"]
        rows.append(
            [
                split,
                s["documents"],
                s["evidence_rows"],
                s["annotations"],
                f"{s['discontinuous']} ({100 * s['discontinuous_share']:.1f}%)",
                *[f"{s['annotations_by_label'][lab]} ({s['discontinuous_by_label'][lab]})" for lab in LABELS],
                f"{counts.get('2', 0)} / {counts.get('3', 0)} / {four}",
                f"{gap['median']} / {gap['p90']} / {gap['max']}",
                *[s["not_learnable"].get(r, 0) for r in reasons],
            ]
        )
    return (
        markdown_table(header, rows)
        + "\n\nAnnotations are unique (label, fragment set) after merging duplicate rows; per label, discontinuous "
        "ones in parentheses. Gaps are tokens between the first and last fragment. The last columns count gold "
        f"items `discontinuous_ner` cannot reach with max_length {stats['reach_settings']['max_length']} and "
        f"max_distance {stats['reach_settings']['max_distance']}."
    )
