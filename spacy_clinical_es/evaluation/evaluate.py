"""Run a saved pipeline over a gold ``.spacy`` corpus and score it.

The pipeline only ever sees the gold *texts*; predictions are compared with the
gold docs by :func:`.scorer.score_docs`. Speed is measured around ``nlp.pipe``
only (not loading, not scoring).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..errors import EvaluationError
from .metrics import Scores, domain_gap
from .scorer import score_docs

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64


def load_model(model: str | Path | Language) -> Language:
    """Return ``model`` when it is a pipeline, else ``spacy.load`` it."""
    if isinstance(model, Language):
        return model
    path = Path(model)
    if not path.exists():
        raise EvaluationError(
            f"Model not found: {path}. Pass a directory written by nlp.to_disk or spacy train."
        )
    return spacy.load(path)


def read_gold_docs(docbin_path: str | Path, nlp: Language) -> list[Doc]:
    """Read the gold docs of a ``.spacy`` file (a DocBin) with ``nlp``'s vocab."""
    path = Path(docbin_path)
    if not path.is_file():
        raise EvaluationError(
            f"Gold corpus not found: {path}. Convert a corpus to .spacy first "
            "(spacy-clinical-es convert)."
        )
    try:
        docbin = DocBin().from_disk(path)
    except Exception as err:  # msgpack/zlib errors carry no user-facing meaning
        raise EvaluationError(f"{path} is not a readable .spacy DocBin file.") from err
    return list(docbin.get_docs(nlp.vocab))


def score_pipeline(
    nlp: Language,
    gold_docs: Iterable[Doc],
    *,
    span_key: str | None = None,
    gold_span_key: str | None = None,
    n_process: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Scores:
    """Run ``nlp`` over the gold texts, score the predictions and time them.

    Adds ``speed``: ``seconds`` spent in ``nlp.pipe``, ``words`` (non-space
    tokens of the predicted docs), ``words_per_second`` and ``docs_per_second``.
    """
    gold_docs = list(gold_docs)
    texts = [doc.text for doc in gold_docs]
    start = time.perf_counter()
    pred_docs = list(nlp.pipe(texts, n_process=n_process, batch_size=batch_size))
    seconds = time.perf_counter() - start
    words = sum(1 for doc in pred_docs for token in doc if not token.is_space)
    scores = score_docs((gold_docs, pred_docs), span_key=span_key, gold_span_key=gold_span_key)
    scores["speed"] = {
        "seconds": seconds,
        "words": words,
        "words_per_second": words / seconds if seconds > 0 else 0.0,
        "docs_per_second": len(pred_docs) / seconds if seconds > 0 else 0.0,
        "n_process": n_process,
        "batch_size": batch_size,
    }
    logger.info(
        "Scored %d docs (%d words) in %.2f s: strict F1 %.4f",
        len(pred_docs),
        words,
        seconds,
        scores["strict"]["f"],
    )
    return scores


def _pipeline_meta(nlp: Language) -> dict[str, Any]:
    return {
        "name": f"{nlp.meta.get('lang', nlp.lang)}_{nlp.meta.get('name', 'pipeline')}",
        "version": nlp.meta.get("version", ""),
        "components": list(nlp.pipe_names),
        "spacy_version": spacy.__version__,
    }


def evaluate_pipeline(
    model_path: str | Path | Language,
    docbin_path: str | Path,
    *,
    span_key: str | None = None,
    gold_span_key: str | None = None,
    n_process: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Scores:
    """Load a pipeline, run it over a gold DocBin's texts and score it.

    model_path: a pipeline directory (or an already loaded ``Language``).
    RETURNS: :func:`.scorer.score_docs`'s result plus ``speed``, ``data`` (the
        DocBin path) and ``pipeline`` (name, version, components).
    """
    nlp = load_model(model_path)
    scores = score_pipeline(
        nlp,
        read_gold_docs(docbin_path, nlp),
        span_key=span_key,
        gold_span_key=gold_span_key,
        n_process=n_process,
        batch_size=batch_size,
    )
    scores["data"] = str(docbin_path)
    scores["pipeline"] = _pipeline_meta(nlp)
    return scores


def compare_domains(
    model: str | Path | Language,
    id_data: str | Path,
    ood_data: str | Path,
    *,
    span_key: str | None = None,
    gold_span_key: str | None = None,
    n_process: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Scores:
    """Evaluate one pipeline in domain and out of domain and report the gap.

    RETURNS: ``in_domain`` and ``out_of_domain`` (each an
        :func:`evaluate_pipeline` result) and ``gap``: ``strict`` and ``iob2``
        :func:`.metrics.domain_gap` results (Δ = ID − OOD).
    """
    nlp = load_model(model)
    kwargs: dict[str, Any] = {
        "span_key": span_key,
        "gold_span_key": gold_span_key,
        "n_process": n_process,
        "batch_size": batch_size,
    }
    in_domain = evaluate_pipeline(nlp, id_data, **kwargs)
    out_of_domain = evaluate_pipeline(nlp, ood_data, **kwargs)
    return {
        "in_domain": in_domain,
        "out_of_domain": out_of_domain,
        "gap": {
            "strict": domain_gap(in_domain["strict"], out_of_domain["strict"]),
            "iob2": domain_gap(in_domain["iob2"], out_of_domain["iob2"]),
        },
    }
