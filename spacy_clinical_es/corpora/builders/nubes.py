"""NUBes negation/uncertainty corpus: one Doc per sentence, cues and scopes in span groups.

Source: ``nubes/NUBes/SAMPLE-00N`` in the data directory (BRAT, one sentence per line, read with
:func:`~spacy_clinical_es.corpora.brat.iter_brat_dir`, relations included). Licence: CC BY-SA 3.0 ES
(ShareAlike), unlike the other corpora: every output folder gets the corpus ``LICENSE`` (verbatim) and a
``NOTICE`` saying that the converted files are derived from NUBes and carry the same licence.

Split, by sample, so that no sentence of the test part is seen in training (the samples are shuffled
sentences of the same hospital, so a sentence-level split would put near-duplicates on both sides):

* ``test``: SAMPLE-001, the double-annotated sample (two annotators and a referee): the best gold;
* ``dev``: SAMPLE-002 (model selection, the rules' thresholds);
* ``train``: SAMPLE-003 … SAMPLE-008 (the rules' lexicon is built from it only).

Samples 009, 010 and IULA+ are withheld by the data owner and not read.

One Doc per non-empty line (a sentence; NUBes has no annotation across lines, one that would be is counted
and skipped). Representation (keys and labels in :mod:`spacy_clinical_es.context.schema`):

* ``doc.spans["context_cues"]``: cues labelled ``NegSyn``, ``NegLex``, ``NegMor``, ``UncertSyn``,
  ``UncertLex`` (the BRAT ``…Marker`` labels without the suffix). The pieces of a discontinuous cue (joined by
  ``DiscMarker`` relations, transitively) share ``span.id_``: the annotation id of the leftmost piece.
* ``doc.spans["context_scopes"]``: every annotation a cue reaches through ``Scope`` or ``DiscScope`` (from any
  piece of the cue), labelled with its concept type (``DISO``, ``PROC``, ``SUBS``, ``BODY``, ``OTHER``,
  ``Phrase``); ``span.id_`` is the cue's id, so the pieces of a discontinuous scope share it and the scope's
  polarity is its cue's. A concept two cues reach appears once per cue.
* ``doc.spans["nubes_concepts"]``: every typed annotation (scope targets and the concepts nested in a
  ``Phrase`` scope), ``id_`` its annotation id; ``doc.spans["nubes_items"]``: ``CoordItem`` and ``PolItem``.
* ``doc.user_data["spacy_clinical_es"]["document"]``: file, 1-based line and sample (no text).

Character offsets are snapped to the clinical tokenizer's tokens; a fragment inside a token (a
morphological cue such as the ``a-`` of "afebril", or a typo glued to a word) is expanded to the token
(counted as adjusted ``misaligned_expanded``). Relations whose arguments do not fit the scheme, relation
types outside it and unknown labels are counted as skipped with their file, line and id.

Outputs: ``{train,dev,test}.spacy``, ``stats.json``, ``stats.md``, ``report.json``, ``LICENSE``, ``NOTICE``.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ...context.schema import (
    CUE_LABELS,
    CUE_POLARITY,
    CUES_KEY,
    NEGATION,
    SCOPE_LABELS,
    SCOPES_KEY,
)
from ...errors import DataDirError
from ...tokenizer import make_clinical_nlp
from ...util import PathLike
from ..annotations import Annotation, Document
from ..brat import iter_brat_dir
from ..paths import corpus_dir
from ..report import ConversionReport
from .common import ensure_dir, markdown_table, write_json

logger = logging.getLogger(__name__)

CORPUS = "nubes"
CONCEPTS_KEY = "nubes_concepts"
ITEMS_KEY = "nubes_items"
ITEM_LABELS: tuple[str, ...] = ("CoordItem", "PolItem")
MARKER_SUFFIX = "Marker"
#: Split → samples (see the module docstring for why).
SPLIT_SAMPLES: dict[str, tuple[str, ...]] = {
    "train": ("SAMPLE-003", "SAMPLE-004", "SAMPLE-005", "SAMPLE-006", "SAMPLE-007", "SAMPLE-008"),
    "dev": ("SAMPLE-002",),
    "test": ("SAMPLE-001",),
}
SCOPE_RELATIONS = ("Scope", "DiscScope")
CUE_RELATION = "DiscMarker"
LICENCE_NAME = "CC BY-SA 3.0 ES"
LICENCE_URL = "http://creativecommons.org/licenses/by-sa/3.0/es/"
NOTICE = f"""This folder holds material derived from NUBes (negation and uncertainty annotations of Spanish
clinical text), samples 001-008 of Vicomtech/NUBes-negation-uncertainty-biomedical-corpus
(commit 91c81c1f5eee2b5b9d377cc78c2442e8e8b198a1).

NUBes is licensed under the Creative Commons Attribution-ShareAlike 3.0 Spain License ({LICENCE_NAME},
{LICENCE_URL}); see LICENSE (copied verbatim from the corpus). ShareAlike: this derived material
(converted corpus files, trained models) is distributed under the same licence, and anything built from it
and redistributed must be too.

Changes: the BRAT annotations were converted by spacy-clinical-es (`convert nubes`) into spaCy DocBin files,
one Doc per sentence, with character offsets snapped to tokens; see stats.json and report.json for what was
adjusted or left out.

Cite: Lima Lopez, Perez, Cuadros, Rigau. "NUBes: A Corpus of Negation and Uncertainty in Spanish Clinical
Texts". LREC 2020.
"""


def nubes_root(data_dir: PathLike | None = None) -> Path:
    """The folder holding ``SAMPLE-00N`` (``nubes/NUBes`` in the data directory)."""
    root = corpus_dir(CORPUS, data_dir) / "NUBes"
    if not root.is_dir():
        raise DataDirError(f"NUBes samples not found at {root}; the nubes corpus folder must hold NUBes/SAMPLE-00N.")
    return root


def write_licence_files(folder: PathLike, data_dir: PathLike | None = None) -> list[Path]:
    """Write ``LICENSE`` (the corpus licence, verbatim) and ``NOTICE`` into ``folder``; return their paths."""
    out = ensure_dir(folder)
    source = corpus_dir(CORPUS, data_dir) / "LICENSE"
    if not source.is_file():
        raise DataDirError(f"NUBes licence file not found at {source}; it must travel with every derived file.")
    licence = out / "LICENSE"
    licence.write_bytes(source.read_bytes())
    notice = out / "NOTICE"
    notice.write_text(NOTICE, encoding="utf-8")
    return [licence, notice]


def cue_label(brat_label: str) -> str | None:
    """``NegSynMarker`` → ``NegSyn``; ``None`` for a label that is not a cue."""
    if brat_label.endswith(MARKER_SUFFIX) and brat_label[: -len(MARKER_SUFFIX)] in CUE_LABELS:
        return brat_label[: -len(MARKER_SUFFIX)]
    return None


def _line_starts(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every line (without the line break)."""
    lines: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        end = pos + len(line.rstrip("\r"))
        lines.append((pos, end))
        pos += len(line) + 1
    return lines


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def sentence_docs(document: Document, nlp: Any, report: ConversionReport, *, sample: str = "") -> list[Any]:
    """The Docs of one NUBes file: one per non-empty line (see the module docstring)."""
    lines = _line_starts(document.text)
    by_id: dict[str, Annotation] = {}
    line_of: dict[str, int] = {}
    for ann in document.annotations:
        first = _line_index(lines, ann.start)
        last = _line_index(lines, ann.end - 1)
        if first != last:
            report.add_skipped(CORPUS, "annotation_across_lines", path=document.path, annotation_id=ann.id)
            continue
        if cue_label(ann.label) is None and ann.label not in SCOPE_LABELS and ann.label not in ITEM_LABELS:
            report.add_skipped(
                CORPUS, "unknown_label", path=document.path, annotation_id=ann.id, detail=f"label {ann.label}"
            )
            continue
        by_id[ann.id] = ann
        line_of[ann.id] = first
    # Cues: pieces joined by DiscMarker; scope targets of each cue.
    pieces = _UnionFind()
    scope_links: list[tuple[str, str]] = []
    for rel in document.relations:
        a1, a2 = by_id.get(rel.arg1), by_id.get(rel.arg2)
        if a1 is None or a2 is None:
            report.add_skipped(
                CORPUS, "relation_argument_not_carried", path=document.path, annotation_id=rel.id
            )
            continue
        if line_of[a1.id] != line_of[a2.id]:
            report.add_skipped(CORPUS, "relation_across_lines", path=document.path, annotation_id=rel.id)
            continue
        if rel.type == CUE_RELATION:
            if cue_label(a1.label) is None or cue_label(a2.label) is None:
                report.add_skipped(
                    CORPUS, "relation_bad_arguments", path=document.path, annotation_id=rel.id,
                    detail=f"{rel.type} between {a1.label} and {a2.label}",
                )  # fmt: skip
                continue
            pieces.union(a1.id, a2.id)
            report.add_converted(CORPUS, "relations_DiscMarker")
        elif rel.type in SCOPE_RELATIONS:
            if cue_label(a1.label) is None or a2.label not in SCOPE_LABELS:
                report.add_skipped(
                    CORPUS, "relation_bad_arguments", path=document.path, annotation_id=rel.id,
                    detail=f"{rel.type} from {a1.label} to {a2.label}",
                )  # fmt: skip
                continue
            scope_links.append((a1.id, a2.id))
            report.add_converted(CORPUS, f"relations_{rel.type}")
        else:
            report.add_skipped(
                CORPUS, "unknown_relation_type", path=document.path, annotation_id=rel.id, detail=f"type {rel.type}"
            )
    cue_ids = [a.id for a in by_id.values() if cue_label(a.label) is not None]
    groups: dict[str, list[str]] = {}
    for ann_id in cue_ids:
        groups.setdefault(pieces.find(ann_id), []).append(ann_id)
    group_id: dict[str, str] = {}
    for members in groups.values():
        leftmost = min(members, key=lambda i: (by_id[i].start, by_id[i].end, i))
        for member in members:
            group_id[member] = leftmost
    targets: dict[str, list[str]] = {}
    for cue_id, target_id in scope_links:
        gid = group_id[cue_id]
        if target_id not in targets.setdefault(gid, []):
            targets[gid].append(target_id)

    docs = []
    for index, (start, end) in enumerate(lines):
        if not document.text[start:end].strip():
            continue
        doc = nlp.make_doc(document.text[start:end])
        on_line = [a for a in by_id.values() if line_of[a.id] == index]
        cues, scopes, concepts, items = [], [], [], []
        for ann in on_line:
            label = cue_label(ann.label)
            if label is not None:
                cues += _spans(doc, ann, start, label, group_id[ann.id], document, report)
            elif ann.label in SCOPE_LABELS:
                concepts += _spans(doc, ann, start, ann.label, ann.id, document, report)
            else:
                items += _spans(doc, ann, start, ann.label, ann.id, document, report)
        for gid in sorted({group_id[a.id] for a in on_line if a.id in group_id}):
            for target_id in targets.get(gid, []):
                target = by_id[target_id]
                scopes += _spans(doc, target, start, target.label, gid, document, report, count=False)
        doc.spans[CUES_KEY] = sorted(cues, key=_order)
        doc.spans[SCOPES_KEY] = sorted(scopes, key=_order)
        doc.spans[CONCEPTS_KEY] = sorted(concepts, key=_order)
        doc.spans[ITEMS_KEY] = sorted(items, key=_order)
        doc.user_data["spacy_clinical_es"] = {
            "document": {
                "id": f"{document.id}:{index + 1}",
                "corpus": CORPUS,
                "path": document.path,
                "meta": {"line": str(index + 1), "sample": sample},
            }
        }
        report.add_converted(CORPUS, "sentences")
        docs.append(doc)
    return docs


def _order(span: Any) -> tuple[int, int, str, str]:
    return (span.start, span.end, span.label_, span.id_)


def _line_index(lines: Sequence[tuple[int, int]], offset: int) -> int:
    lo, hi = 0, len(lines) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if lines[mid][0] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _spans(
    doc: Any,
    ann: Annotation,
    line_start: int,
    label: str,
    span_id: str,
    document: Document,
    report: ConversionReport,
    *,
    count: bool = True,
) -> list[Any]:
    """Token spans of an annotation's fragments on a sentence Doc (expanded to tokens when needed)."""
    out = []
    for start, end in ann.fragments:
        s, e = start - line_start, end - line_start
        span = doc.char_span(s, e, label=label, span_id=span_id)
        if span is None:
            span = doc.char_span(s, e, label=label, span_id=span_id, alignment_mode="expand")
            if span is None or len(span) == 0:
                if count:
                    report.add_skipped(
                        CORPUS, "unalignable_fragment", path=document.path, annotation_id=ann.id,
                        detail=f"fragment {start}-{end} covers no token",
                    )  # fmt: skip
                continue
            if count:
                report.add_adjusted(
                    CORPUS, "misaligned_expanded", path=document.path, annotation_id=ann.id,
                    detail=f"fragment {start}-{end} expanded to whole tokens",
                )  # fmt: skip
        out.append(span)
    if count:
        report.add_converted(CORPUS, "annotations")
    return out


def split_stats(docs: Iterable[Any]) -> dict[str, Any]:
    """Counts of one split: sentences, words, cues, scopes, concepts, items and scope tokens per polarity."""
    cues: Counter = Counter()
    disc_cues = 0
    scopes: Counter = Counter()
    disc_scopes = 0
    cues_without_scope = 0
    concepts: Counter = Counter()
    items: Counter = Counter()
    scope_tokens: Counter = Counter()
    sentences = words = with_cue = 0
    for doc in docs:
        sentences += 1
        words += sum(1 for t in doc if not t.is_space)
        cue_pieces: dict[str, list[Any]] = {}
        for span in doc.spans[CUES_KEY]:
            cue_pieces.setdefault(span.id_, []).append(span)
        with_cue += bool(cue_pieces)
        scope_pieces: dict[str, list[Any]] = {}
        for span in doc.spans[SCOPES_KEY]:
            scope_pieces.setdefault(span.id_, []).append(span)
        for cue_id, spans in cue_pieces.items():
            cues[spans[0].label_] += 1
            disc_cues += len(spans) > 1
            cues_without_scope += cue_id not in scope_pieces
        for cue_id, spans in scope_pieces.items():
            if cue_id not in cue_pieces:
                continue
            polarity = CUE_POLARITY[cue_pieces[cue_id][0].label_]
            for span in spans:
                scopes[span.label_] += 1
            disc_scopes += len(spans) > 1
            scope_tokens[polarity] += len({i for s in spans for i in range(s.start, s.end)})
        concepts.update(s.label_ for s in doc.spans[CONCEPTS_KEY])
        items.update(s.label_ for s in doc.spans[ITEMS_KEY])
    return {
        "sentences": sentences,
        "sentences_with_cue": with_cue,
        "words": words,
        "cues": {label: cues[label] for label in CUE_LABELS},
        "discontinuous_cues": disc_cues,
        "cues_without_scope": cues_without_scope,
        "scope_fragments": {label: scopes[label] for label in SCOPE_LABELS},
        "discontinuous_scopes": disc_scopes,
        "scope_tokens": {polarity: scope_tokens[polarity] for polarity in (NEGATION, "uncertainty")},
        "concepts": {label: concepts[label] for label in SCOPE_LABELS},
        "items": {label: items[label] for label in ITEM_LABELS},
    }


def build_nubes(
    output_dir: PathLike,
    data_dir: PathLike | None = None,
    *,
    nlp: Any = None,
    report: ConversionReport | None = None,
    split_samples: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """Write the NUBes DocBins, statistics, report and licence files to ``output_dir``; return the stats."""
    from spacy.tokens import DocBin

    out = ensure_dir(output_dir)
    report = report if report is not None else ConversionReport()
    nlp = nlp if nlp is not None else make_clinical_nlp()
    root = nubes_root(data_dir)
    splits: dict[str, Any] = {}
    for split, samples in (split_samples or SPLIT_SAMPLES).items():
        docs: list[Any] = []
        for sample in samples:
            folder = root / sample
            if not folder.is_dir():
                raise DataDirError(f"NUBes sample {sample} not found at {folder}; the {split} part needs it.")
            for document in iter_brat_dir(folder, corpus=CORPUS):
                report.add_converted(CORPUS, "files")
                docs += sentence_docs(document, nlp, report, sample=sample)
        DocBin(docs=docs, store_user_data=True).to_disk(out / f"{split}.spacy")
        splits[split] = {"samples": list(samples), **split_stats(docs)}
        logger.info("nubes %s: %d sentences from %s", split, len(docs), ", ".join(samples))
    stats: dict[str, Any] = {
        "corpus": CORPUS,
        "licence": LICENCE_NAME,
        "span_keys": {"cues": CUES_KEY, "scopes": SCOPES_KEY, "concepts": CONCEPTS_KEY, "items": ITEMS_KEY},
        "splits": splits,
        "converted": {kind: n for (corpus, kind), n in sorted(report.converted.items()) if corpus == CORPUS},
        "adjusted": {reason: n for (corpus, reason), n in sorted(report.adjusted.items()) if corpus == CORPUS},
        "skipped": {reason: n for (corpus, reason), n in sorted(report.skipped.items()) if corpus == CORPUS},
    }
    write_json(out / "stats.json", stats)
    (out / "stats.md").write_text("# NUBes negation and uncertainty corpus\n\n" + statistics_table(stats) + "\n", encoding="utf-8")
    write_json(out / "report.json", report.to_dict())
    write_licence_files(out, data_dir)
    return stats


def statistics_table(stats: dict[str, Any]) -> str:
    """Per split: samples, sentences, words, cues per type, scopes per type, what was adjusted or skipped."""
    header = ["split", "samples", "sentences", "words", *CUE_LABELS, "disc. cues", *SCOPE_LABELS, "disc. scopes",
              "neg. scope tokens", "unc. scope tokens"]  # fmt: skip
    rows = []
    for split, s in stats["splits"].items():
        rows.append(
            [split, " ".join(x.removeprefix("SAMPLE-") for x in s["samples"]), s["sentences"], s["words"],
             *[s["cues"][lab] for lab in CUE_LABELS], s["discontinuous_cues"],
             *[s["scope_fragments"][lab] for lab in SCOPE_LABELS], s["discontinuous_scopes"],
             s["scope_tokens"][NEGATION], s["scope_tokens"]["uncertainty"]]
        )  # fmt: skip
    lines = [markdown_table(header, rows), ""]
    lines.append(
        "Cues count once however many pieces they have; scopes count fragments (one row per concept a cue reaches). "
        f"Licence of everything here: {LICENCE_NAME} (ShareAlike), see LICENSE and NOTICE."
    )
    for what in ("adjusted", "skipped"):
        counts = ", ".join(f"{k} {n}" for k, n in stats[what].items()) or "none"
        lines.append(f"- {what}: {counts}")
    return "\n".join(lines)


def create_nubes_licence_callback() -> Any:
    """``spacy_clinical_es.nubes_licence.v1``: a ``[training.before_to_disk]`` callback that marks a pipeline
    trained on NUBes with its licence (``meta.json``: ``license`` CC BY-SA 3.0 ES, NUBes in ``sources``), so
    the saved and packaged model says it is ShareAlike."""

    def mark(nlp: Any) -> Any:
        nlp.meta["license"] = LICENCE_NAME
        sources = [s for s in nlp.meta.get("sources", []) if s.get("name") != "NUBes"]
        sources.append(
            {
                "name": "NUBes",
                "url": "https://github.com/Vicomtech/NUBes-negation-uncertainty-biomedical-corpus",
                "license": f"{LICENCE_NAME} ({LICENCE_URL})",
                "author": "Lima Lopez, Perez, Cuadros, Rigau (LREC 2020)",
            }
        )
        nlp.meta["sources"] = sources
        return nlp

    return mark
