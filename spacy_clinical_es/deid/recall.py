"""Recall spans: PHI the entity detector missed, read off per-token class probabilities.

A leak costs more than an over-masked word, so a de-identifier should replace
every token a token classifier thinks *might* be PHI, not only the spans the
entity recognizer commits to. :func:`recall_spans` turns per-token
probabilities over ``outside + labels`` into labelled spans:

1. a token is a candidate when ``1 - P(outside) >= threshold`` and no existing
   span (the detector's entities) covers it. ``P`` is the classifier's
   distribution at ``temperature`` T: ``P ∝ p ** (1 / T)``, i.e. its logits
   divided by T. A trained classifier is over-confident (almost every token
   gets ``P(outside) > 0.99``), and lowering the threshold alone buys little;
   T > 1 softens the distribution, raising most the tokens whose PHI mass is
   spread over several labels, which are the ambiguous ones;
2. consecutive candidates form runs, split where the most probable label
   changes (so "Madrid , España" can become TERRITORIO and PAIS);
3. each piece is trimmed of tokens without a letter or digit at an end that
   touches no covered token, and dropped if no letter or digit is left; an
   end that touches a covered token is kept whole (", 5" after the entity
   "C/ Mayor" continues it), and a piece of punctuation alone is kept when it
   bridges two covered tokens (the comma between two parts of one address),
   since the classifier put it inside the PHI.

No spaCy here: the ``phi_recall`` component
(:mod:`spacy_clinical_es.pipeline.phi_recall`) feeds it its model's scores.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import DeidError

#: A span over token indices, end exclusive, with its label.
TokenSpan = tuple[int, int, str]


def recall_spans(
    probabilities: np.ndarray,
    labels: Sequence[str],
    *,
    threshold: float,
    covered: Sequence[bool],
    content: Sequence[bool],
    temperature: float = 1.0,
) -> list[TokenSpan]:
    """Spans of uncovered tokens whose PHI probability reaches ``threshold``.

    probabilities: ``(n_tokens, 1 + len(labels))``; column 0 is "outside",
        column ``j + 1`` is ``labels[j]``. Rows need not sum to one exactly.
    covered: per token, whether an existing span already holds it.
    content: per token, whether it has a letter or digit (see the trimming
        rule in the module docstring).
    temperature: T > 0 (1: the probabilities as given).
    RETURNS: ``(start, end, label)`` token spans, sorted, never overlapping
        each other or a covered token; each end is a content token or touches
        a covered one.
    """
    probabilities = np.asarray(probabilities)
    n_tokens = len(covered)
    if probabilities.ndim != 2 or probabilities.shape != (n_tokens, len(labels) + 1):
        raise DeidError(
            f"recall_spans expects probabilities of shape ({n_tokens}, {len(labels) + 1}) "
            f"(tokens, outside + labels), got {probabilities.shape}."
        )
    if len(content) != n_tokens:
        raise DeidError(f"recall_spans got {len(content)} content flags for {n_tokens} tokens.")
    if not 0.0 < threshold <= 1.0:
        raise DeidError(f"threshold must be in (0, 1], got {threshold}.")
    if not temperature > 0.0:
        raise DeidError(f"temperature must be positive, got {temperature}.")
    if n_tokens == 0 or not labels:
        return []
    if temperature != 1.0:
        probabilities = soften(probabilities, temperature)
    phi = 1.0 - probabilities[:, 0]
    best = probabilities[:, 1:].argmax(axis=1)
    spans: list[TokenSpan] = []
    start: int | None = None
    piece_label: int | None = None  # best label of the piece's content tokens
    for i in range(n_tokens + 1):
        candidate = i < n_tokens and not covered[i] and phi[i] >= threshold
        if not candidate:
            if start is not None:
                spans.extend(_trim(start, i, piece_label, best, labels, content, covered))
            start, piece_label = None, None
            continue
        if start is None:
            start = i
        if content[i]:
            if piece_label is not None and best[i] != piece_label:
                spans.extend(_trim(start, i, piece_label, best, labels, content, covered))
                start = i
            piece_label = int(best[i])
    return spans


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (max-shifted, float64)."""
    scaled = np.asarray(logits, dtype="float64") / temperature
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of ``probabilities`` at ``temperature``: ``p ** (1 / T)``, renormalized (logits / T under a softmax)."""
    return softmax(np.log(np.clip(np.asarray(probabilities, dtype="float64"), 1e-30, None)), temperature)


def _trim(
    start: int,
    end: int,
    label: int | None,
    best: np.ndarray,
    labels: Sequence[str],
    content: Sequence[bool],
    covered: Sequence[bool],
) -> list[TokenSpan]:
    """The piece ``[start, end)`` trimmed as the module docstring says: ``[(start', end', label)]`` or ``[]``."""
    left_attached = start > 0 and covered[start - 1]
    right_attached = end < len(covered) and covered[end]
    if label is None:  # no letter or digit: keep it only as a bridge between two covered tokens
        return [(start, end, labels[int(best[start])])] if left_attached and right_attached else []
    if not left_attached:
        while not content[start]:
            start += 1
    if not right_attached:
        while not content[end - 1]:
            end -= 1
    return [(start, end, labels[label])]
