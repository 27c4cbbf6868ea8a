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
or overlapping a longer one), from
:func:`spacy_clinical_es.evaluation.metrics.strict_span_prf`.

When the flat model is missing, its numbers are taken from ``flat_metrics``
(``metrics/imaging_cnn.json``, scored against the *flat* gold), marked as
such, and not compared row by row.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from spacy.tokens import Doc

from ..evaluate import DEFAULT_BATCH_SIZE, load_model, read_gold_docs
from ..metrics import strict_span_prf
from ..report import table, write_json, write_text
from ..scorer import score_docs

logger = logging.getLogger(__name__)

SPAN_KEY = "imaging"
LABELS = ("EDAD", "SEXO", "ENFERMEDAD", "PROCEDIMIENTO")
_KEEP = ("p", "r", "f", "tp", "fp", "fn")

SpanSet = set[tuple[int, int, str]]


def hidden_recall(gold_docs: list[Doc], pred_spans: list[SpanSet]) -> dict[str, Any]:
    """Recall on the gold mentions that the gold ``doc.ents`` leave out."""
    gold: list[tuple[int, int, int, str]] = []
    pred: list[tuple[int, int, int, str]] = []
    for i, (doc, predicted) in enumerate(zip(gold_docs, pred_spans)):
        ents = {(e.start_char, e.end_char, e.label_) for e in doc.ents}
        hidden = {
            (s.start_char, s.end_char, s.label_) for s in doc.spans.get(SPAN_KEY, [])
        } - ents
        gold.extend((i, *key) for key in hidden)
        pred.extend((i, *key) for key in hidden & predicted)
    scores = strict_span_prf(gold, pred)
    return {
        "gold": scores["tp"] + scores["fn"],
        "found": scores["tp"],
        "r": scores["r"],
        "per_type": {
            label: {"found": row["tp"], "gold": row["tp"] + row["fn"], "r": row["r"]}
            for label, row in scores["per_type"].items()
        },
    }


def model_info(path: str | Path) -> dict[str, Any]:
    """Path, training steps, pipeline and best dev scores of a saved pipeline (what of it exists)."""
    info: dict[str, Any] = {"path": str(path)}
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


def _evaluate(model: str | Path, gold_docs: list[Doc], span_key: str | None) -> tuple[dict[str, Any], list[SpanSet]]:
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
        "strict": {k: strict[k] for k in _KEEP},
        "strict_per_type": {label: {k: row[k] for k in _KEEP} for label, row in strict["per_type"].items()},
        "nested_exact": {k: scores["exact"][k] for k in _KEEP},
    }


def run_nested(
    nested_model: str | Path,
    data: str | Path,
    *,
    flat_model: str | Path = "training/imaging_cnn/model-best",
    flat_metrics: str | Path = "metrics/imaging_cnn.json",
    output: str | Path | None = None,
    markdown_path: str | Path | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Score the nested and the flat pipeline on the nested gold of ``data``; write JSON (and Markdown)."""
    start = time.perf_counter()
    gold_docs = read_gold_docs(data, load_model(nested_model))
    results: dict[str, Any] = {
        "command": command,
        "data": str(data),
        "gold": f"doc.spans[{SPAN_KEY!r}] (all nested mentions, exact offsets)",
        "labels": list(LABELS),
        "documents": len(gold_docs),
    }
    nested_scores, nested_pred = _evaluate(nested_model, gold_docs, SPAN_KEY)
    results["nested"] = {
        "model": model_info(nested_model),
        **_summary(nested_scores),
        "hidden_from_flat": hidden_recall(gold_docs, nested_pred),
        "words_per_second": nested_scores["words_per_second"],
    }
    ceiling = score_docs((gold_docs, gold_docs), span_key=None, gold_span_key=SPAN_KEY)
    results["flat_ceiling"] = {
        "what": "gold doc.ents scored against the nested gold: the best any flat NER can do",
        **_summary(ceiling),
    }
    if Path(flat_model).exists():
        flat_scores, flat_pred = _evaluate(flat_model, gold_docs, None)
        results["flat"] = {
            "model": model_info(flat_model),
            **_summary(flat_scores),
            "hidden_from_flat": hidden_recall(gold_docs, flat_pred),
            "words_per_second": flat_scores["words_per_second"],
        }
        results["comparison"] = "same gold, same labels, same texts"
    else:
        flat = json.loads(Path(flat_metrics).read_text(encoding="utf-8"))
        results["flat_from_metrics_file"] = {
            "file": str(flat_metrics),
            "note": f"{flat_model} not found: numbers copied from {flat_metrics}, scored against the "
            "FLAT gold (doc.ents), so they are not directly comparable with the nested rows",
            "strict": {k: flat["strict"][k] for k in ("p", "r", "f")},
            "strict_per_type": {
                label: {k: row[k] for k in ("p", "r", "f")} for label, row in flat["strict"]["per_type"].items()
            },
        }
        results["comparison"] = "flat model missing: see flat_from_metrics_file"
    results["seconds"] = round(time.perf_counter() - start, 1)
    if output is not None:
        write_json(results, output)
        logger.info("wrote %s", output)
    if markdown_path is not None:
        write_text(markdown(results), markdown_path)
    return results


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
    header = [
        "pipeline", *[f"{label} F1" for label in LABELS], "strict P", "strict R", "strict F1",
        "nested exact F1", "R on mentions flat gold leaves out",
    ]
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
        table(header, rows),
    ]
    if "flat_from_metrics_file" in results:
        f = results["flat_from_metrics_file"]
        lines += ["", f"Flat CNN: {f['note']}. Strict micro F1 there: {f['strict']['f']:.4f}."]
    lines += ["", f"Command: `{results['command']}`", ""]
    return "\n".join(lines)
