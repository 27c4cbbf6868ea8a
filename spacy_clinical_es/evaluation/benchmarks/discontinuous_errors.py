"""Where discontinuous concepts are lost: fragment detection vs fragment linking, by pattern (counts only).

For every gold entity of two or more fragments (CodiEsp text evidence, span
group ``codiesp``, exact offsets) the prediction of a ``discontinuous_ner``
pipeline falls in one *outcome*:

* ``found``: an entity with the same label and the same fragment set;
* ``linking``: every gold fragment is a predicted fragment of the right label
  (exact offsets) but no predicted entity groups exactly those fragments;
* ``detection``: at least one gold fragment is not predicted as a fragment;
  counted apart: whether every such fragment at least overlaps a predicted
  span (a boundary or grouping error: "ecografía de próstata" predicted as
  one continuous span) or one lies outside every predicted span (missed).

and its *pattern* comes from the text between its fragments
(:func:`spacy_clinical_es.concepts.patterns.gap_pattern`: cross-sentence,
coordination, long gap, interposed modifier).

Apart, by outcome: the entities one of whose fragments overlaps a fragment of
another gold entity ("fractura de" in "fractura de tibia" and "fractura de …
peroné"): a decoder must reuse that text for both.

:func:`outcome` is a pure function of offsets; :func:`analyse_docs` reads the gold and predicted Docs. No document
text is written: examples are short fragment strings of the public corpus.
Run it with ``python -m spacy_clinical_es benchmark discontinuous-errors``.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from spacy.tokens import Doc

from ...concepts.patterns import PATTERNS, gap_pattern
from ...corpora.representation import doc_to_document
from ..report import table, write_json, write_text
from .discontinuous import SPAN_KEY

Fragment = tuple[int, int]

FOUND, LINKING, DETECTION = "found", "linking", "detection"
OUTCOMES = (FOUND, LINKING, DETECTION)
EXAMPLES_PER_CELL = 2
_EXAMPLE_CHARS = 50


def outcome(
    label: str,
    fragments: Iterable[Fragment],
    predicted_fragments: set[tuple[int, int, str]],
    predicted_entities: set[tuple[str, frozenset]],
) -> str:
    """``found``, ``linking`` or ``detection`` for one gold entity (see the module docstring)."""
    frags = frozenset(fragments)
    if (label, frags) in predicted_entities:
        return FOUND
    if all((s, e, label) in predicted_fragments for s, e in frags):
        return LINKING
    return DETECTION


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


def analyse_docs(gold_docs: Sequence[Doc], pred_docs: Sequence[Doc]) -> dict[str, Any]:
    """Outcome × pattern counts of the gold discontinuous entities, with a few short examples per cell."""
    counts: dict[str, Counter] = defaultdict(Counter)
    by_fragments: Counter = Counter()
    sharing: Counter = Counter()
    detection_kind: Counter = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    for gold, pred in zip(gold_docs, pred_docs):
        annotations = doc_to_document(gold, SPAN_KEY).annotations
        spans = list(pred.spans.get(SPAN_KEY, []))
        predicted_fragments = {(s.start_char, s.end_char, s.label_) for s in spans}
        groups: dict[tuple[str, str], set] = defaultdict(set)
        for s in spans:
            groups[(s.id_, s.label_)].add((s.start_char, s.end_char))
        predicted_entities = {(label, frozenset(frags)) for (_, label), frags in groups.items()}
        for ann in annotations:
            if len(ann.fragments) < 2:
                continue
            pattern = gap_pattern(gold.text, ann.fragments)
            result = outcome(ann.label, ann.fragments, predicted_fragments, predicted_entities)
            counts[pattern][result] += 1
            if result == DETECTION:
                missing = [(s, e) for s, e in ann.fragments if (s, e, ann.label) not in predicted_fragments]
                overlapped = all(any(ps < e and s < pe for ps, pe, _ in predicted_fragments) for s, e in missing)
                detection_kind["overlaps_a_predicted_span" if overlapped else "outside_every_predicted_span"] += 1
            if any(
                other is not ann and any(s < oe and os < e for s, e in ann.fragments for os, oe in other.fragments)
                for other in annotations
            ):
                sharing[result] += 1
            by_fragments[f"{len(ann.fragments)}:{result}"] += 1
            cell = f"{pattern}/{result}"
            if len(examples[cell]) < EXAMPLES_PER_CELL:
                examples[cell].append(" … ".join(_short(gold.text[s:e]) for s, e in sorted(ann.fragments)))
    total = Counter()
    for row in counts.values():
        total.update(row)
    return {
        "entities": sum(total.values()),
        "outcomes": {o: total[o] for o in OUTCOMES},
        "by_pattern": {p: {o: counts[p][o] for o in OUTCOMES} for p in PATTERNS},
        "by_fragment_count": dict(sorted(by_fragments.items())),
        "sharing_text_with_another_entity": {o: sharing[o] for o in OUTCOMES},
        "detection_misses": {
            k: detection_kind[k] for k in ("overlaps_a_predicted_span", "outside_every_predicted_span")
        },
        "examples": dict(examples),
    }


def run_discontinuous_errors(
    model: str | Path,
    data: str | Path,
    *,
    output: str | Path | None = None,
    markdown_path: str | Path | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Run ``model`` on the gold ``data`` and write the error analysis (JSON and Markdown)."""
    from ..evaluate import load_model, read_gold_docs

    nlp = load_model(model)
    gold_docs = read_gold_docs(data, nlp)
    pred_docs = list(nlp.pipe([d.text for d in gold_docs], batch_size=16))
    result = {"command": command, "model": str(model), "data": str(data), **analyse_docs(gold_docs, pred_docs)}
    if output is not None:
        write_json(result, output)
    if markdown_path is not None:
        write_text(markdown(result), markdown_path)
    return result


def markdown(result: dict[str, Any]) -> str:
    """``metrics/discontinuous_errors.md``: outcome by pattern, with short public-corpus examples."""
    n = result["entities"] or 1
    rows = []
    for pattern, row in result["by_pattern"].items():
        total = sum(row.values())
        if not total:
            continue
        rows.append([pattern, str(total), f"{total / n:.1%}", *(str(row[o]) for o in OUTCOMES)])
    outcomes = result["outcomes"]
    rows.append(["all", str(result["entities"]), "100%", *(str(outcomes[o]) for o in OUTCOMES)])
    lines = [
        f"# Discontinuous concepts: where they are lost (`{result['model']}` on `{result['data']}`)",
        "",
        ("Gold entities of two or more fragments. Outcome: `found` (same label and fragment set predicted), "
        "`linking` (every fragment predicted, not grouped into this entity), `detection` (a fragment not "
        "predicted). Pattern: from the text between the fragments (see "
        "`spacy_clinical_es.evaluation.benchmarks.discontinuous_errors`)."),
        "",
        table(["pattern", "entities", "share", *OUTCOMES], rows),
        "",
        "By number of fragments (fragments:outcome): "
        + ", ".join(f"{k} {v}" for k, v in result["by_fragment_count"].items()),
        "",
        "Sharing text with another gold entity (a decoder must reuse it), by outcome: "
        + ", ".join(f"{k} {v}" for k, v in result["sharing_text_with_another_entity"].items()),
        "",
        ("Detection misses: every missing fragment overlaps a predicted span (boundary or grouping error) "
        f"{result['detection_misses']['overlaps_a_predicted_span']}; a fragment lies outside every predicted span "
        f"{result['detection_misses']['outside_every_predicted_span']}."),
        "",
        "Examples (fragments of the public corpus, joined by …):",
        "",
    ]
    for cell, texts in sorted(result["examples"].items()):
        lines.append(f"- {cell}: " + "; ".join(f"“{t}”" for t in texts))
    lines += ["", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)
