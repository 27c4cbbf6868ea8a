"""Discontinuous finder on CodiEsp text evidence: exact fragment-set match, discontinuous-only apart, BRAT round trip.

Gold: every CodiEsp reference of the corpus (span group ``codiesp``) at its
exact character offsets (the records ``document_to_doc`` keeps), so a
fragment that does not fall on token boundaries counts as an error.
Predictions: ``doc.spans['codiesp']`` of the pipeline run on the gold texts,
fragments grouped by ``span.id_``. Scores
(:func:`spacy_clinical_es.evaluation.metrics.fragment_match_prf`): an entity
is right when its label and its *set* of fragments are right; ``all``,
``continuous`` (one fragment) and ``discontinuous`` (two or more, on either
side) are reported apart, per label too, plus recall by number of gold
fragments, and the discontinuous ones by gap pattern
(:func:`spacy_clinical_es.concepts.patterns.gap_pattern`: cross-sentence,
coordination, long gap, interposed; a predicted concept gets the pattern of its
own fragments). Two settings are scored: the thresholds saved with the model
(``config``) and part/link thresholds tuned on the first split (``tuned``,
grid search, best all F1 + discontinuous F1), so the first split is biased for
``tuned`` and the others are not. With a ``baseline`` pipeline (an older
decoder) the same is scored for it, side by side. Every split's predictions are
written to BRAT (``start end;start end``), read back with the BRAT reader and
compared with the predicted entities (``brat_round_trip``).
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from ...concepts.patterns import PATTERNS, gap_pattern
from ...corpora.brat import read_brat_document
from ...corpora.representation import doc_to_document, write_brat_predictions
from ..evaluate import load_model, read_gold_docs
from ..metrics import fragment_match_prf
from ..report import prf_cell, table, write_json, write_text

logger = logging.getLogger(__name__)

SPAN_KEY = "codiesp"
#: Factory names of the discontinuous finder (current, then the name saved pipelines may carry).
FACTORIES = ("clinical_es_discontinuous_ner", "discontinuous_ner")
#: Part thresholds down to 0.02: at 0.05 a third of CodiEsp dev's discontinuous concepts have every fragment
#: proposed, at 0.5 one in twenty-five (2026-12-07); links trained with hard negatives are confident, so low link
#: thresholds too.
PART_GRID = (0.5, 0.2, 0.1, 0.05, 0.02)
LINK_GRID = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)

Item = tuple[int, str, frozenset]


def gold_items(docs: list[Doc]) -> list[Item]:
    """Gold annotations at their exact offsets (doc_to_document reads the stored records)."""
    return [
        (i, ann.label, frozenset(ann.fragments))
        for i, doc in enumerate(docs)
        for ann in doc_to_document(doc, SPAN_KEY).annotations
    ]


def find_component(nlp: Language) -> Any:
    """The pipeline's discontinuous finder (by factory name)."""
    for name in nlp.pipe_names:
        if nlp.get_pipe_meta(name).factory in FACTORIES:
            return nlp.get_pipe(name)
    from ...errors import ConfigError

    raise ConfigError(f"The pipeline has no discontinuous_ner component (pipes: {nlp.pipe_names}).")


def predicted_items(docs: list[Doc]) -> list[Item]:
    """Predicted entities as ``(doc index, label, fragment set)`` (fragments grouped by ``span.id_``)."""
    items: list[Item] = []
    for i, doc in enumerate(docs):
        groups: dict[tuple[str, str], set] = {}
        for span in doc.spans.get(SPAN_KEY, []):
            groups.setdefault((span.id_, span.label_), set()).add((span.start_char, span.end_char))
        items.extend((i, label, frozenset(frags)) for (_, label), frags in groups.items())
    return items


def by_pattern(gold: list[Item], pred: list[Item], texts: list[str]) -> dict[str, Any]:
    """Discontinuous-only exact match per gap pattern; ``texts[i]`` is the text of doc ``i``. The label
    stays part of the match (it moves into the item's doc id; the pattern takes the label's place)."""

    def by_gap(items: list[Item]) -> list[tuple[str, str, frozenset]]:
        return [
            (f"{i}/{label}", gap_pattern(texts[i], list(frags)), frags) for i, label, frags in items if len(frags) > 1
        ]

    scores = fragment_match_prf(by_gap(gold), by_gap(pred), labels=PATTERNS)["per_type"]
    keep = ("p", "r", "f", "tp", "fp", "fn")
    return {pattern: {k: scores[pattern][k] for k in keep} for pattern in PATTERNS}


def score(gold: list[Item], pred: list[Item], texts: list[str] | None = None) -> dict[str, Any]:
    """All / continuous / discontinuous exact-match scores, per label, recall by fragment count and, given
    the doc texts, discontinuous scores by gap pattern."""
    full = fragment_match_prf(gold, pred)
    gold_set, pred_set = set(gold), set(pred)
    by_count: dict[str, Any] = {}
    for k in sorted({len(item[2]) for item in gold_set}):
        bucket = {item for item in gold_set if len(item[2]) == k}
        found = len(bucket & pred_set)
        by_count[str(k)] = {"gold": len(bucket), "found": found, "r": found / len(bucket) if bucket else 0.0}
    keep = ("p", "r", "f", "tp", "fp", "fn")
    continuous = fragment_match_prf(
        [i for i in gold_set if len(i[2]) == 1], [i for i in pred_set if len(i[2]) == 1]
    )
    return {
        "all": {k: full[k] for k in keep},
        "continuous": {k: continuous[k] for k in keep},
        "discontinuous": {k: full["discontinuous"][k] for k in keep},
        "per_type": {label: {k: row[k] for k in keep} for label, row in full["per_type"].items()},
        "discontinuous_per_type": {
            label: {k: row[k] for k in keep} for label, row in full["discontinuous"]["per_type"].items()
        },
        "recall_by_gold_fragments": by_count,
        "predicted": {
            "entities": len(pred_set),
            "discontinuous": sum(1 for item in pred_set if len(item[2]) > 1),
        },
        **({"discontinuous_by_pattern": by_pattern(gold, pred, texts)} if texts is not None else {}),
    }


def brat_round_trip(docs: list[Doc], out_dir: Path) -> dict[str, Any]:
    """Write predictions to BRAT, read them back, count documents whose entities differ."""
    names = [f"doc{i:04d}" for i in range(len(docs))]
    written = write_brat_predictions(docs, out_dir, span_key=SPAN_KEY, names=names)
    pred = predicted_items(docs)
    expected: dict[int, set] = {}
    for i, label, frags in pred:
        expected.setdefault(i, set()).add((label, frags))
    mismatched = 0
    lines = Counter()
    for i, (txt, ann) in enumerate(written):
        document = read_brat_document(txt, ann)
        back = {(a.label, frozenset(a.fragments)) for a in document.annotations}
        lines["T"] += len(document.annotations)
        lines["discontinuous"] += sum(1 for a in document.annotations if a.is_discontinuous)
        mismatched += back != expected.get(i, set())
    return {
        "documents": len(docs),
        "entities_written": lines["T"],
        "discontinuous_written": lines["discontinuous"],
        "documents_differing_after_read_back": mismatched,
    }


def run(nlp: Language, gold_docs: list[Doc]) -> tuple[list[Doc], float]:
    """Predicted docs for the gold texts and the seconds it took."""
    begin = time.perf_counter()
    docs = list(nlp.pipe([d.text for d in gold_docs], batch_size=16))
    return docs, time.perf_counter() - begin


def evaluate_split(nlp: Language, gold_docs: list[Doc], gold: list[Item]) -> tuple[dict[str, Any], list[Doc]]:
    """Scores and words/s of one split with the component's current thresholds."""
    docs, seconds = run(nlp, gold_docs)
    words = sum(1 for doc in docs for t in doc if not t.is_space)
    entry = {"documents": len(docs), **score(gold, predicted_items(docs), [d.text for d in gold_docs])}
    entry["words_per_second"] = words / seconds if seconds else 0.0
    return entry, docs


def tune(nlp: Language, gold_docs: list[Doc], gold: list[Item]) -> tuple[dict[str, float], dict[str, Any]]:
    """Grid over part/link thresholds; the best ``all F1 + discontinuous F1`` wins (ties: the config's)."""
    pipe = find_component(nlp)
    default = {"part_threshold": pipe.cfg["part_threshold"], "link_threshold": pipe.cfg["link_threshold"]}
    grid: dict[str, Any] = {}
    best, best_value = dict(default), -1.0
    try:
        for part in PART_GRID:
            for link in LINK_GRID:
                pipe.cfg["part_threshold"], pipe.cfg["link_threshold"] = part, link
                docs, _ = run(nlp, gold_docs)
                s = score(gold, predicted_items(docs))
                value = s["all"]["f"] + s["discontinuous"]["f"]
                grid[f"part {part} link {link}"] = {"all": s["all"], "discontinuous": s["discontinuous"]}
                is_default = (part, link) == (default["part_threshold"], default["link_threshold"])
                if value > best_value + 1e-9 or (abs(value - best_value) <= 1e-9 and is_default):
                    best, best_value = {"part_threshold": part, "link_threshold": link}, value
    finally:
        pipe.cfg.update(default)
    return best, grid


def score_model(nlp: Language, data: list[str | Path], *, brat_dir: str | Path | None = None) -> dict[str, Any]:
    """``tuned_thresholds`` and ``tuning_grid`` (on the first file of ``data``) and, per file (``splits``),
    the ``config`` and ``tuned`` scores and the BRAT round trip of the ``config`` predictions."""
    pipe = find_component(nlp)
    out: dict[str, Any] = {"splits": {}}
    tuned: dict[str, float] | None = None
    for path in data:
        gold_docs = read_gold_docs(path, nlp)
        gold = gold_items(gold_docs)
        split = Path(path).stem
        if tuned is None:
            tuned, grid = tune(nlp, gold_docs, gold)
            out["tuned_thresholds"] = tuned
            out["tuning_grid"] = grid
        entry: dict[str, Any] = {"data": str(path)}
        entry["config"], docs = evaluate_split(nlp, gold_docs, gold)
        if brat_dir:
            entry["brat_round_trip"] = brat_round_trip(docs, Path(brat_dir) / split)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                entry["brat_round_trip"] = brat_round_trip(docs, Path(tmp))
        saved = {k: pipe.cfg[k] for k in tuned}
        pipe.cfg.update(tuned)
        try:
            entry["tuned"], _ = evaluate_split(nlp, gold_docs, gold)
        finally:
            pipe.cfg.update(saved)
        out["splits"][split] = entry
        for setting in ("config", "tuned"):
            logger.info(
                "%s (%s): F1 %.4f, discontinuous F1 %.4f",
                split,
                setting,
                entry[setting]["all"]["f"],
                entry[setting]["discontinuous"]["f"],
            )
    return out


def run_discontinuous(
    model: str | Path,
    data: list[str | Path],
    *,
    output: str | Path | None = None,
    markdown_path: str | Path | None = None,
    brat_dir: str | Path | None = None,
    baseline: str | Path | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Score ``model`` (and ``baseline``, an older pipeline, when given) on each gold file of ``data`` (the
    first one tunes the thresholds); write JSON (and Markdown)."""
    start = time.perf_counter()
    nlp = load_model(model)
    pipe = find_component(nlp)
    config_settings = {k: v for k, v in pipe.cfg.items() if k != "labels"}
    results: dict[str, Any] = {
        "command": command,
        "model": str(model),
        "settings": config_settings,
        "labels": list(pipe.labels),
        "gold": f"doc.spans[{SPAN_KEY!r}] at the exact CodiEsp offsets; an entity matches when its label and fragment set match",
        "protocol": (
            f"'config': the thresholds saved with the model. 'tuned': part/link thresholds chosen on "
            f"{Path(data[0]).stem} (grid part {list(PART_GRID)} x link {list(LINK_GRID)}, best all F1 + "
            "discontinuous F1); only the other splits are unbiased for 'tuned'."
        ),
    }
    meta = Path(model) / "meta.json"
    if meta.is_file():
        perf = json.loads(meta.read_text(encoding="utf-8")).get("performance", {})
        results["best_dev_score_during_training"] = {k: v for k, v in perf.items() if not isinstance(v, dict)}
    stats_path = Path(data[0]).parent / "stats.json"
    if stats_path.is_file():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        results["corpus"] = {
            split: {k: s[k] for k in ("annotations", "discontinuous", "not_learnable")}
            for split, s in stats["splits"].items()
        }
    results.update(score_model(nlp, data, brat_dir=brat_dir))
    if baseline is not None:
        old = load_model(baseline)
        results["baseline"] = {
            "model": str(baseline),
            "settings": {k: v for k, v in find_component(old).cfg.items() if k != "labels"},
            **score_model(old, data),
        }
    results["seconds"] = round(time.perf_counter() - start, 1)
    if output is not None:
        write_json(results, output)
    if markdown_path is not None:
        write_text(markdown(results), markdown_path)
    return results


def _pattern_table(results: dict[str, Any]) -> str:
    rows = []
    for split, entry in results["splits"].items():
        for setting in ("config", "tuned"):
            patterns = entry[setting].get("discontinuous_by_pattern", {})
            rows.append([split, setting, *(
                f"{row['tp'] + row['fn']}; {prf_cell(row)}" if (row := patterns.get(p)) else "-" for p in PATTERNS
            )])
    return table(["split", "thresholds", *PATTERNS], rows, [":---", ":---"] + [":---"] * len(PATTERNS))


def _comparison_table(results: dict[str, Any]) -> str:
    rows = []
    for split, entry in results["splits"].items():
        for setting in ("config", "tuned"):
            for decoder, source in (("old", results["baseline"]["splits"][split]), ("new", entry)):
                s = source[setting]
                rows.append([
                    split, setting, decoder, prf_cell(s["all"]), prf_cell(s["continuous"]), prf_cell(s["discontinuous"]),
                    f"{s['words_per_second']:.0f}",
                ])
    header = ["split", "thresholds", "decoder", "all", "continuous", "discontinuous only", "words/s"]
    return table(header, rows, [":---", ":---", ":---", ":---", ":---", ":---", "---:"])


def markdown(results: dict[str, Any]) -> str:
    """The tables of ``metrics/discontinuous.md``."""
    settings = results["settings"]
    tuned = results["tuned_thresholds"]
    lines = [
        "# Discontinuous concepts: CodiEsp text evidence",
        "",
        f"Model `{results['model']}`; gold: {results['gold']}. Cells: P / R / F1.",
        "",
        (
            f"Thresholds: config = part {settings['part_threshold']}, link {settings['link_threshold']}; "
            f"tuned = part {tuned['part_threshold']}, link {tuned['link_threshold']}. {results['protocol']}"
        ),
        "",
    ]
    rows = []
    for split, entry in results["splits"].items():
        for setting in ("config", "tuned"):
            s = entry[setting]
            gold = s["all"]["tp"] + s["all"]["fn"]
            disc = s["discontinuous"]["tp"] + s["discontinuous"]["fn"]
            per = s["per_type"]
            rows.append([
                split, setting, f"{gold} ({disc})", prf_cell(s["all"]), prf_cell(s["continuous"]),
                prf_cell(s["discontinuous"]),
                *(prf_cell(per[label]) if label in per else "-" for label in ("DIAGNOSTICO", "PROCEDIMIENTO")),
                f"{s['words_per_second']:.0f}",
            ])
    header = [
        "split", "thresholds", "gold entities (discontinuous)", "all", "continuous", "discontinuous only",
        "DIAGNOSTICO", "PROCEDIMIENTO", "words/s",
    ]
    lines.append(table(header, rows, [":---", ":---", "---:"] + [":---"] * 5 + ["---:"]))
    rows = []
    for split, entry in results["splits"].items():
        cells = [split]
        for k in ("1", "2", "3", "4"):
            row = entry["config"]["recall_by_gold_fragments"].get(k)
            cells.append(f"{row['r']:.4f} ({row['found']}/{row['gold']})" if row else "-")
        rows.append(cells)
    lines += ["", "Recall by number of gold fragments (config thresholds):", "", table(["split", "1", "2", "3", "4"], rows)]
    lines += ["", "Discontinuous only, by gap pattern (gold count; P / R / F1):", "", _pattern_table(results)]
    if "baseline" in results:
        old = results["baseline"]
        lines += [
            "",
            (
                f"Old decoder (baseline `{old['model']}`, tuned = part {old['tuned_thresholds']['part_threshold']}, "
                f"link {old['tuned_thresholds']['link_threshold']}) vs new (this model), same gold:"
            ),
            "",
            _comparison_table(results),
            "",
            "By gap pattern, old decoder:",
            "",
            _pattern_table(old),
        ]
    rows = [
        [name, f"{row['all']['f']:.4f}", *(f"{row['discontinuous'][k]:.4f}" for k in ("p", "r", "f"))]
        for name, row in results["tuning_grid"].items()
    ]
    lines += [
        "",
        "Threshold grid on the tuning split (all F1; discontinuous P / R / F1):",
        "",
        table(["setting", "all F1", "disc P", "disc R", "disc F1"], rows),
    ]
    lines += ["", "BRAT export (`start end;start end`, config thresholds) read back with the BRAT reader:", ""]
    for split, entry in results["splits"].items():
        b = entry["brat_round_trip"]
        lines.append(
            f"- {split}: {b['entities_written']} entities ({b['discontinuous_written']} discontinuous) in "
            f"{b['documents']} files; documents differing after read-back: {b['documents_differing_after_read_back']}"
        )
    if "corpus" in results:
        lines += ["", "Gold items the finder cannot reach (corpus/discontinuous/stats.json): " + "; ".join(
            f"{split}: {', '.join(f'{k} {v}' for k, v in c['not_learnable'].items()) or 'none'}" for split, c in results["corpus"].items()
        )]
    lines += ["", f"Command: `{results['command']}`", ""]
    return "\n".join(lines)


