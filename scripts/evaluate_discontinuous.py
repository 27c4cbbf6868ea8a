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
fragments. Two settings are scored: the thresholds saved with the model
(``config``) and part/link thresholds tuned on the first split (``tuned``,
grid search, best all F1 + discontinuous F1), so the first split is biased for
``tuned`` and the others are not. Every split's predictions are
written to BRAT (``start end;start end``), read back with the BRAT reader and
compared with the predicted entities (``brat_round_trip``).

    python scripts/evaluate_discontinuous.py training/codiesp_discontinuous/model-best \
        corpus/discontinuous/dev.spacy corpus/discontinuous/test.spacy \
        --output metrics/discontinuous.json --markdown metrics/discontinuous.md --brat-dir training/codiesp_discontinuous/brat
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from spacy_clinical_es.corpora.brat import read_brat_document
from spacy_clinical_es.corpora.representation import (
    doc_to_document,
    write_brat_predictions,
)
from spacy_clinical_es.evaluation.evaluate import load_model, read_gold_docs
from spacy_clinical_es.evaluation.metrics import fragment_match_prf
from spacy_clinical_es.evaluation.report import to_json

logger = logging.getLogger("evaluate_discontinuous")

SPAN_KEY = "codiesp"
COMPONENT = "discontinuous_ner"
PART_GRID = (0.5, 0.3, 0.2, 0.1)
LINK_GRID = (0.3, 0.5, 0.7)

Item = tuple[int, str, frozenset]


def gold_items(docs: list[Doc]) -> list[Item]:
    """Gold annotations at their exact offsets (doc_to_document reads the stored records)."""
    return [
        (i, ann.label, frozenset(ann.fragments))
        for i, doc in enumerate(docs)
        for ann in doc_to_document(doc, SPAN_KEY).annotations
    ]


def predicted_items(docs: list[Doc]) -> list[Item]:
    items: list[Item] = []
    for i, doc in enumerate(docs):
        groups: dict[tuple[str, str], set] = {}
        for span in doc.spans.get(SPAN_KEY, []):
            groups.setdefault((span.id_, span.label_), set()).add((span.start_char, span.end_char))
        items.extend((i, label, frozenset(frags)) for (_, label), frags in groups.items())
    return items


def _prf(gold: set, pred: set) -> dict[str, Any]:
    tp = len(gold & pred)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    return {"p": p, "r": r, "f": 2 * p * r / (p + r) if p + r else 0.0, "tp": tp, "fp": len(pred) - tp, "fn": len(gold) - tp}


def score(gold: list[Item], pred: list[Item]) -> dict[str, Any]:
    """All / continuous / discontinuous exact-match scores, per label, and recall by fragment count."""
    full = fragment_match_prf(gold, pred)
    gold_set, pred_set = set(gold), set(pred)
    by_count: dict[str, Any] = {}
    for k in sorted({len(item[2]) for item in gold_set}):
        bucket = {item for item in gold_set if len(item[2]) == k}
        found = len(bucket & pred_set)
        by_count[str(k)] = {"gold": len(bucket), "found": found, "r": found / len(bucket) if bucket else 0.0}
    keep = ("p", "r", "f", "tp", "fp", "fn")
    return {
        "all": {k: full[k] for k in keep},
        "continuous": _prf({i for i in gold_set if len(i[2]) == 1}, {i for i in pred_set if len(i[2]) == 1}),
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
    begin = time.perf_counter()
    docs = list(nlp.pipe([d.text for d in gold_docs], batch_size=16))
    return docs, time.perf_counter() - begin


def evaluate_split(nlp: Language, gold_docs: list[Doc], gold: list[Item]) -> tuple[dict[str, Any], list[Doc]]:
    docs, seconds = run(nlp, gold_docs)
    words = sum(1 for doc in docs for t in doc if not t.is_space)
    entry = {"documents": len(docs), **score(gold, predicted_items(docs))}
    entry["words_per_second"] = words / seconds if seconds else 0.0
    return entry, docs


def tune(nlp: Language, gold_docs: list[Doc], gold: list[Item]) -> tuple[dict[str, float], dict[str, Any]]:
    """Grid over part/link thresholds; the best ``all F1 + discontinuous F1`` wins (ties: the config's)."""
    pipe = nlp.get_pipe(COMPONENT)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("data", nargs="+", help="Gold .spacy files (the first one tunes the thresholds)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--markdown")
    parser.add_argument("--brat-dir", help="Keep the BRAT files here (default: a temporary folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start = time.perf_counter()
    nlp = load_model(args.model)
    pipe = nlp.get_pipe(COMPONENT)
    config_settings = {k: v for k, v in pipe.cfg.items() if k != "labels"}
    results: dict[str, Any] = {
        "command": "python scripts/evaluate_discontinuous.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "model": args.model,
        "settings": config_settings,
        "labels": list(pipe.labels),
        "gold": f"doc.spans[{SPAN_KEY!r}] at the exact CodiEsp offsets; an entity matches when its label and fragment set match",
        "protocol": (
            f"'config': the thresholds saved with the model. 'tuned': part/link thresholds chosen on "
            f"{Path(args.data[0]).stem} (grid part {list(PART_GRID)} x link {list(LINK_GRID)}, best all F1 + "
            "discontinuous F1); only the other splits are unbiased for 'tuned'."
        ),
        "splits": {},
    }
    meta = Path(args.model) / "meta.json"
    if meta.is_file():
        perf = json.loads(meta.read_text(encoding="utf-8")).get("performance", {})
        results["best_dev_score_during_training"] = {k: v for k, v in perf.items() if not isinstance(v, dict)}
    stats_path = Path(args.data[0]).parent / "stats.json"
    if stats_path.is_file():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        results["corpus"] = {
            split: {k: s[k] for k in ("annotations", "discontinuous", "not_learnable")}
            for split, s in stats["splits"].items()
        }
    tuned: dict[str, float] | None = None
    for path in args.data:
        gold_docs = read_gold_docs(path, nlp)
        gold = gold_items(gold_docs)
        split = Path(path).stem
        if tuned is None:
            tuned, grid = tune(nlp, gold_docs, gold)
            results["tuned_thresholds"] = tuned
            results["tuning_grid"] = grid
        entry: dict[str, Any] = {"data": path}
        entry["config"], docs = evaluate_split(nlp, gold_docs, gold)
        if args.brat_dir:
            entry["brat_round_trip"] = brat_round_trip(docs, Path(args.brat_dir) / split)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                entry["brat_round_trip"] = brat_round_trip(docs, Path(tmp))
        saved = {k: pipe.cfg[k] for k in tuned}
        pipe.cfg.update(tuned)
        try:
            entry["tuned"], _ = evaluate_split(nlp, gold_docs, gold)
        finally:
            pipe.cfg.update(saved)
        results["splits"][split] = entry
        for setting in ("config", "tuned"):
            logger.info(
                "%s (%s): F1 %.4f, discontinuous F1 %.4f",
                split,
                setting,
                entry[setting]["all"]["f"],
                entry[setting]["discontinuous"]["f"],
            )
    results["seconds"] = round(time.perf_counter() - start, 1)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(to_json(results), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results), encoding="utf-8")
    return 0


def _f(row: dict[str, Any]) -> str:
    return f"{row['p']:.4f} / {row['r']:.4f} / **{row['f']:.4f}**"


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
        "| split | thresholds | gold entities (discontinuous) | all | continuous | discontinuous only | DIAGNOSTICO | PROCEDIMIENTO | words/s |",
        "|---|---|---:|---|---|---|---|---|---:|",
    ]
    for split, entry in results["splits"].items():
        for setting in ("config", "tuned"):
            s = entry[setting]
            gold = s["all"]["tp"] + s["all"]["fn"]
            disc = s["discontinuous"]["tp"] + s["discontinuous"]["fn"]
            per = s["per_type"]
            lines.append(
                f"| {split} | {setting} | {gold} ({disc}) | {_f(s['all'])} | {_f(s['continuous'])} | "
                f"{_f(s['discontinuous'])} | "
                + " | ".join(_f(per[label]) if label in per else "-" for label in ("DIAGNOSTICO", "PROCEDIMIENTO"))
                + f" | {s['words_per_second']:.0f} |"
            )
    lines += ["", "Recall by number of gold fragments (config thresholds):", "", "| split | 1 | 2 | 3 | 4 |", "|---|---:|---:|---:|---:|"]
    for split, entry in results["splits"].items():
        cells = []
        for k in ("1", "2", "3", "4"):
            row = entry["config"]["recall_by_gold_fragments"].get(k)
            cells.append(f"{row['r']:.4f} ({row['found']}/{row['gold']})" if row else "-")
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    lines += ["", "Threshold grid on the tuning split (all F1; discontinuous P / R / F1):", "", "| setting | all F1 | disc P | disc R | disc F1 |", "|---|---:|---:|---:|---:|"]
    for name, row in results["tuning_grid"].items():
        d = row["discontinuous"]
        lines.append(f"| {name} | {row['all']['f']:.4f} | {d['p']:.4f} | {d['r']:.4f} | {d['f']:.4f} |")
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


if __name__ == "__main__":
    sys.exit(main())
