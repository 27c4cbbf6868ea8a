"""Nested image entities: span_finder + spancat against the flat CNN NER on the same nested gold.

Gold: the span group ``imaging`` of the imaging corpus (every nested and
overlapping mention, exact character offsets). Both pipelines run on the gold
texts and are scored by :func:`spacy_clinical_es.evaluation.scorer.score_docs`
on the same four labels: strict per class (offsets + label) and nested exact
match (``exact``: each mention is an item, nested ones included). The flat
NER writes ``doc.ents``, so it cannot hold two overlapping mentions; the
``flat_ceiling`` row scores the gold ``doc.ents`` themselves against the
nested gold (what a perfect flat NER would get). ``hidden_from_flat`` is the
recall on the gold mentions that are not in the gold ``doc.ents`` (nested in
or overlapping a longer one).

When the flat model is missing, its numbers are taken from
``--flat-metrics`` (``metrics/imaging_cnn.json``, scored against the *flat*
gold), marked as such, and not compared row by row.

    python scripts/evaluate_nested.py training/imaging_nested/model-best corpus/imaging/dev.spacy \
        --flat-model training/imaging_cnn/model-best --output metrics/nested.json --markdown metrics/nested.md
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from spacy.tokens import Doc

from spacy_clinical_es.evaluation.evaluate import (
    DEFAULT_BATCH_SIZE,
    load_model,
    read_gold_docs,
)
from spacy_clinical_es.evaluation.report import to_json
from spacy_clinical_es.evaluation.scorer import score_docs

logger = logging.getLogger("evaluate_nested")

SPAN_KEY = "imaging"
LABELS = ("EDAD", "SEXO", "ENFERMEDAD", "PROCEDIMIENTO")


def _hidden_recall(gold_docs: list[Doc], pred_spans: list[set[tuple[int, int, str]]]) -> dict[str, Any]:
    """Recall on the gold mentions that the gold ``doc.ents`` leave out."""
    found = total = 0
    per_label: dict[str, list[int]] = {}
    for gold, pred in zip(gold_docs, pred_spans):
        ents = {(e.start_char, e.end_char, e.label_) for e in gold.ents}
        for span in gold.spans.get(SPAN_KEY, []):
            key = (span.start_char, span.end_char, span.label_)
            if key in ents:
                continue
            total += 1
            hit = key in pred
            found += hit
            row = per_label.setdefault(span.label_, [0, 0])
            row[0] += hit
            row[1] += 1
    return {
        "gold": total,
        "found": found,
        "r": found / total if total else 0.0,
        "per_type": {label: {"found": f, "gold": g, "r": f / g if g else 0.0} for label, (f, g) in sorted(per_label.items())},
    }


def _model_info(path: str) -> dict[str, Any]:
    info: dict[str, Any] = {"path": path}
    config = Path(path) / "config.cfg"
    meta = Path(path) / "meta.json"
    if config.is_file():
        from thinc.api import Config

        cfg = Config().from_disk(config, interpolate=False)
        info["max_steps"] = cfg["training"]["max_steps"]
        info["pipeline"] = list(cfg["nlp"]["pipeline"])
    if meta.is_file():
        data = json.loads(meta.read_text(encoding="utf-8"))
        perf = data.get("performance", {})
        info["best_dev_score_during_training"] = {k: v for k, v in perf.items() if not isinstance(v, dict)}
    return info


def _evaluate(model: str, gold_docs: list[Doc], span_key: str | None) -> tuple[dict[str, Any], list[set]]:
    """Run one pipeline on the gold texts; scores (plus words/s) and predicted (start, end, label) per doc."""
    nlp = load_model(model)
    begin = time.perf_counter()
    pred_docs = list(nlp.pipe([d.text for d in gold_docs], batch_size=DEFAULT_BATCH_SIZE))
    seconds = time.perf_counter() - begin
    scores = score_docs((gold_docs, pred_docs), span_key=span_key, gold_span_key=SPAN_KEY)
    words = sum(1 for doc in pred_docs for token in doc if not token.is_space)
    scores["words_per_second"] = words / seconds if seconds > 0 else 0.0
    predicted = [
        {(s.start_char, s.end_char, s.label_) for s in (doc.ents if span_key is None else doc.spans.get(span_key, []))}
        for doc in pred_docs
    ]
    return scores, predicted


def _summary(scores: dict[str, Any]) -> dict[str, Any]:
    strict = scores["strict"]
    return {
        "strict": {k: strict[k] for k in ("p", "r", "f", "tp", "fp", "fn")},
        "strict_per_type": {label: {k: row[k] for k in ("p", "r", "f", "tp", "fp", "fn")} for label, row in strict["per_type"].items()},
        "nested_exact": {k: scores["exact"][k] for k in ("p", "r", "f", "tp", "fp", "fn")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("nested_model")
    parser.add_argument("data", help="Gold .spacy with the span group 'imaging' (e.g. corpus/imaging/dev.spacy)")
    parser.add_argument("--flat-model", default="training/imaging_cnn/model-best")
    parser.add_argument("--flat-metrics", default="metrics/imaging_cnn.json")
    parser.add_argument("--output", required=True)
    parser.add_argument("--markdown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    start = time.perf_counter()

    nested_nlp = load_model(args.nested_model)
    gold_docs = read_gold_docs(args.data, nested_nlp)
    results: dict[str, Any] = {
        "command": "python scripts/evaluate_nested.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": args.data,
        "gold": f"doc.spans[{SPAN_KEY!r}] (all nested mentions, exact offsets)",
        "labels": list(LABELS),
        "documents": len(gold_docs),
    }
    nested_scores, nested_pred = _evaluate(args.nested_model, gold_docs, SPAN_KEY)
    results["nested"] = {
        "model": _model_info(args.nested_model),
        **_summary(nested_scores),
        "hidden_from_flat": _hidden_recall(gold_docs, nested_pred),
        "words_per_second": nested_scores["words_per_second"],
    }
    ceiling = score_docs((gold_docs, gold_docs), span_key=None, gold_span_key=SPAN_KEY)
    results["flat_ceiling"] = {
        "what": "gold doc.ents scored against the nested gold: the best any flat NER can do",
        **_summary(ceiling),
    }
    if Path(args.flat_model).exists():
        flat_scores, flat_pred = _evaluate(args.flat_model, gold_docs, None)
        results["flat"] = {
            "model": _model_info(args.flat_model),
            **_summary(flat_scores),
            "hidden_from_flat": _hidden_recall(gold_docs, flat_pred),
            "words_per_second": flat_scores["words_per_second"],
        }
        results["comparison"] = "same gold, same labels, same texts"
    else:
        flat = json.loads(Path(args.flat_metrics).read_text(encoding="utf-8"))
        results["flat_from_metrics_file"] = {
            "file": args.flat_metrics,
            "note": f"{args.flat_model} not found: numbers copied from {args.flat_metrics}, scored against the "
            "FLAT gold (doc.ents), so they are not directly comparable with the nested rows",
            "strict": {k: flat["strict"][k] for k in ("p", "r", "f")},
            "strict_per_type": {label: {k: row[k] for k in ("p", "r", "f")} for label, row in flat["strict"]["per_type"].items()},
        }
        results["comparison"] = "flat model missing: see flat_from_metrics_file"
    results["seconds"] = round(time.perf_counter() - start, 1)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(to_json(results), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results), encoding="utf-8")
    logger.info("wrote %s", args.output)
    return 0


def _row(name: str, part: dict[str, Any]) -> list[str]:
    cells = [name]
    for label in LABELS:
        row = part["strict_per_type"].get(label)
        cells.append(f"{row['f']:.4f}" if row else "-")
    strict = part["strict"]
    cells += [f"{strict['p']:.4f}", f"{strict['r']:.4f}", f"{strict['f']:.4f}"]
    exact = part.get("nested_exact")
    cells.append(f"{exact['f']:.4f}" if exact else "-")
    hidden = part.get("hidden_from_flat")
    cells.append(f"{hidden['r']:.4f} ({hidden['found']}/{hidden['gold']})" if hidden else "-")
    return cells


def markdown(results: dict[str, Any]) -> str:
    """The comparison table of ``metrics/nested.md``."""
    header = ["pipeline", *[f"{label} F1" for label in LABELS], "strict P", "strict R", "strict F1", "nested exact F1", "R on mentions flat gold leaves out"]
    rows = [_row("span_finder + spancat (nested)", results["nested"])]
    if "flat" in results:
        rows.append(_row("CNN NER (flat doc.ents)", results["flat"]))
    rows.append(_row("flat ceiling (gold doc.ents)", results["flat_ceiling"]))
    lines = [
        "# Nested image entities",
        "",
        (
            f"Gold: {results['gold']}, {results['data']} ({results['documents']} documents). "
            "Strict = exact character offsets and label, per class and micro; nested exact = every mention an item."
        ),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if "flat_from_metrics_file" in results:
        f = results["flat_from_metrics_file"]
        lines += ["", f"Flat CNN: {f['note']}. Strict micro F1 there: {f['strict']['f']:.4f}."]
    lines += ["", f"Command: `{results['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
