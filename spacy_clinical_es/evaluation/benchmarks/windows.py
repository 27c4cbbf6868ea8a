"""Naive half-overlap windows vs. sentence packing on one trained transformer NER pipeline.

For every window size (``--window``, default: the encoder's limit and 128)
and strategy (naive half overlap = the paper's setting; sentence packing),
and every merge mode (``--merge``), the *same* trained pipeline is run over
the gold texts of ``DATA`` and we report:

* ``cost``: wordpieces processed / document wordpieces (special tokens
  excluded; ``cost_with_special_tokens`` counts them too), from the window
  plans the model really runs;
* ``words_per_second`` on CPU (``nlp.pipe`` only, non-space tokens);
* strict span and IOB2 F1 (the evaluation package's scorer).

Naive half overlap costs ``~2.0`` only for documents much longer than the
window; a document of one to two windows costs less (its last window is
short), so the corpus' length distribution is reported alongside.
"""
from __future__ import annotations

import logging
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import spacy
import torch

from ...errors import ConfigError
from ...models import NaiveHalfOverlap, SentencePacking
from ...models import transformer as tr
from ..evaluate import read_gold_docs, score_pipeline
from ..report import write_json

logger = logging.getLogger(__name__)
STRATEGIES = {"naive": lambda w: NaiveHalfOverlap(w, 0.5), "packed": lambda w: SentencePacking(w)}


def find_component(nlp: spacy.Language, name: str | None) -> Any:
    """The transformer_ner component (by name, or the only one)."""
    names = [n for n, pipe in nlp.pipeline if type(pipe).__name__ == "TransformerNER"]
    if name is not None:
        names = [n for n in names if n == name]
    if len(names) != 1:
        raise ConfigError(f"Expected one transformer_ner component, found {names}: name it with --component.")
    return nlp.get_pipe(names[0])


def window_costs(component: Any, docs: list) -> dict[str, Any]:
    """Pieces processed per document piece for the model's current window options."""
    module = tr.get_module(component.model)
    strategy = tr.resolved_windows(component.model)
    encoded = tr.encode_docs(module, docs)
    processed = pieces = n_windows = 0
    per_doc = []
    for enc in encoded:
        windows = strategy.plan(enc.pieces, enc.sentence_starts)
        length = sum(w.length for w in windows)
        processed += length
        pieces += enc.n_pieces
        n_windows += len(windows)
        if enc.n_pieces:
            per_doc.append(length / enc.n_pieces)
    return {
        "cost": processed / pieces,
        "cost_with_special_tokens": (processed + module.n_special * n_windows) / pieces,
        "mean_doc_cost": float(np.mean(per_doc)),
        "max_doc_cost": float(np.max(per_doc)),
        "windows": n_windows,
        "plan": repr(strategy),
    }


def corpus_stats(component: Any, docs: list, limits: list[int]) -> dict[str, Any]:
    """Wordpieces per document and how many documents need more than one window of each size."""
    module = tr.get_module(component.model)
    counts = np.array([enc.n_pieces for enc in tr.encode_docs(module, docs)])
    return {
        "documents": len(docs),
        "wordpieces": int(counts.sum()),
        "wordpieces_per_doc": {
            "mean": float(counts.mean()), "median": float(np.median(counts)),
            "p90": float(np.percentile(counts, 90)), "max": int(counts.max()),
        },
        "docs_longer_than_one_window": {
            str(w): int((counts > w - module.n_special).sum()) for w in limits
        },
    }


def run_windows(
    model: Path,
    data: Path,
    *,
    output: Path | None = None,
    window_sizes: Sequence[str] = ("limit", "128"),
    merges: Sequence[str] | None = None,
    component_name: str | None = None,
    batch_size: int = 16,
    command: str = "",
) -> dict[str, Any]:
    """Every window size x strategy x merge mode on the same pipeline; write ``output`` (JSON), return the report.

    ``window_sizes``: ``"limit"`` (the encoder's) or ids per window; ``merges``: ``average`` / ``central``
    (default: the pipeline's).
    """
    nlp = spacy.load(model)
    component = find_component(nlp, component_name)
    module = tr.get_module(component.model)
    merges = list(merges) if merges else [tr.get_options(component.model).merge]
    windows = [module.limit if w == "limit" else int(w) for w in window_sizes]
    gold = read_gold_docs(data, nlp)
    docs = [nlp.make_doc(doc.text) for doc in gold]
    list(nlp.pipe([d.text for d in gold[:2]]))  # warm-up
    load_before = os.getloadavg()
    results = []
    for window in windows:
        for strategy_name, make in STRATEGIES.items():
            tr.set_options(component.model, windows=make(window))
            costs = window_costs(component, docs)
            for merge in merges:
                tr.set_options(component.model, merge=merge)
                scores = score_pipeline(nlp, gold, batch_size=batch_size)
                row = {
                    "window": window, "strategy": strategy_name, "merge": merge, **costs,
                    "strict_f": scores["strict"]["f"], "strict_p": scores["strict"]["p"],
                    "strict_r": scores["strict"]["r"], "iob2_f": scores["iob2"]["f"],
                    "words_per_second": scores["speed"]["words_per_second"],
                    "seconds": scores["speed"]["seconds"], "words": scores["speed"]["words"],
                }
                results.append(row)
                logger.info(
                    "window %4d %-6s %-7s cost %.3f (%.3f with specials)  %5d windows  "
                    "strict F1 %.4f  IOB2 F1 %.4f  %.0f words/s",
                    window, strategy_name, merge, row["cost"], row["cost_with_special_tokens"],
                    row["windows"], row["strict_f"], row["iob2_f"], row["words_per_second"],
                )
    comparison = []
    for window in windows:
        for merge in merges:
            by = {r["strategy"]: r for r in results if r["window"] == window and r["merge"] == merge}
            naive, packed = by["naive"], by["packed"]
            comparison.append({
                "window": window, "merge": merge,
                "naive_cost": naive["cost"], "packed_cost": packed["cost"],
                "strict_f_delta_points": 100 * (packed["strict_f"] - naive["strict_f"]),
                "iob2_f_delta_points": 100 * (packed["iob2_f"] - naive["iob2_f"]),
                "speedup": packed["words_per_second"] / naive["words_per_second"],
            })
            logger.info(
                "window %4d %-7s: cost naive %.3f -> packed %.3f, strict F1 %+.2f points, "
                "IOB2 F1 %+.2f points, %.2fx words/s",
                window, merge, naive["cost"], packed["cost"], comparison[-1]["strict_f_delta_points"],
                comparison[-1]["iob2_f_delta_points"], comparison[-1]["speedup"],
            )
    report = {
        "command": command,
        "model": str(model),
        "data": str(data),
        "encoder_limit": module.limit,
        "special_tokens": module.n_special,
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(0),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "batch_size": batch_size,
        "corpus": corpus_stats(component, docs, windows),
        "results": results,
        "comparison": comparison,
    }
    if output is not None:
        write_json(report, output)
        logger.info("Wrote %s", output)
    return report


