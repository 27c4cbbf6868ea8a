"""Token tags for the trained context tagger: encode gold cues/scopes, decode predictions (spaCy-free).

Three tag sets, one softmax each over every token:

* cues: BIO over the cue labels (``O``, ``B-NegSyn``, ``I-NegSyn``, …); each piece of a discontinuous cue is
  tagged on its own (the pieces of one cue are not re-joined on decoding);
* negation scope and uncertainty scope: the concept type of the scope that covers the token (``O`` outside).
  Overlapping scopes of one polarity: the longest wins (its tokens are in scope either way, which is what
  the token-level metric counts).

:func:`decode` turns tag sequences back into cues (``c0``, ``c1``… in text order) and scopes: each run of
tokens with one scope label is a scope piece, tied (``id``) to the nearest cue of its polarity; a piece
with no cue of its polarity in the sentence is dropped (a scope without a cue is no statement).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .lexicon import TokenSpan
from .schema import CUE_LABELS, CUE_POLARITY, NEGATION, POLARITIES, SCOPE_LABELS
from .scope import ContextResult

OUTSIDE = "O"
CUE_TAGS: tuple[str, ...] = (OUTSIDE, *[f"{p}-{label}" for label in CUE_LABELS for p in ("B", "I")])
SCOPE_TAGS: tuple[str, ...] = (OUTSIDE, *SCOPE_LABELS)
#: Column blocks of the model output: cues, negation scope, uncertainty scope.
HEADS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cues", CUE_TAGS),
    (NEGATION, SCOPE_TAGS),
    ("uncertainty", SCOPE_TAGS),
)
N_COLUMNS = sum(len(tags) for _, tags in HEADS)
#: Cue features a cue-conditioned scope tagger reads per token: outside, then B/I of each polarity.
CUE_FEATURES: tuple[str, ...] = (OUTSIDE, *[f"{p}-{polarity}" for polarity in POLARITIES for p in ("B", "I")])


def cue_feature_table() -> np.ndarray:
    """One-hot rows ``(len(CUE_TAGS), len(CUE_FEATURES))``: a cue tag's polarity and B/I (``B-NegLex`` →
    ``B-negation``). Scopes are per polarity, so the scope tagger needs the polarity, not the cue type."""
    table = np.zeros((len(CUE_TAGS), len(CUE_FEATURES)), dtype="float32")
    for i, tag in enumerate(CUE_TAGS):
        feature = tag if tag == OUTSIDE else f"{tag[:2]}{CUE_POLARITY[tag[2:]]}"
        table[i, CUE_FEATURES.index(feature)] = 1.0
    return table


def encode(n_tokens: int, cues: Sequence[TokenSpan], scopes: Sequence[TokenSpan]) -> dict[str, list[str]]:
    """Gold tags of one sentence per head (see the module docstring)."""
    cue_tags = [OUTSIDE] * n_tokens
    for cue in sorted(cues, key=lambda c: (c.start, -(c.end - c.start))):
        if any(t != OUTSIDE for t in cue_tags[cue.start : cue.end]):
            continue
        for k in range(cue.start, cue.end):
            cue_tags[k] = ("B-" if k == cue.start else "I-") + cue.label
    polarity_of_cue = {c.id: CUE_POLARITY[c.label] for c in cues}
    out = {"cues": cue_tags}
    for polarity in POLARITIES:
        tags = [OUTSIDE] * n_tokens
        pieces = [s for s in scopes if polarity_of_cue.get(s.id) == polarity]
        for piece in sorted(pieces, key=lambda s: s.end - s.start):  # longest last: it wins
            for k in range(piece.start, piece.end):
                tags[k] = piece.label
        out[polarity] = tags
    return out


def decode(tags: dict[str, Sequence[str]]) -> ContextResult:
    """Cues and scopes from tag sequences (see the module docstring)."""
    result = ContextResult()
    start = None
    label = ""
    cue_tags = list(tags["cues"]) + [OUTSIDE]
    for k, tag in enumerate(cue_tags):
        inside = tag.startswith("I-") and start is not None and tag[2:] == label
        if start is not None and not inside:
            result.cues.append(TokenSpan(start, k, label, f"c{len(result.cues)}"))
            start = None
        if tag != OUTSIDE and not inside:
            start, label = k, tag[2:]
    for polarity in POLARITIES:
        cues = [c for c in result.cues if CUE_POLARITY[c.label] == polarity]
        seq = list(tags[polarity]) + [OUTSIDE]
        run_start = None
        for k, tag in enumerate(seq):
            if run_start is not None and (tag != seq[run_start]):
                if cues:
                    cue = min(cues, key=lambda c: (_distance(c, run_start, k), c.start))
                    result.scopes.append(TokenSpan(run_start, k, seq[run_start], cue.id))
                run_start = None
            if tag != OUTSIDE and run_start is None:
                run_start = k
    result.scopes.sort(key=lambda s: (s.start, s.end, s.id))
    return result


def _distance(cue: TokenSpan, start: int, end: int) -> int:
    if end <= cue.start:
        return cue.start - end
    if start >= cue.end:
        return start - cue.end
    return 0


def best_tags(probs: Any, tagset: Sequence[str], threshold: float | None = None) -> list[str]:
    """Tags of one head from its ``(n_tokens, len(tagset))`` probabilities (column 0 is ``O``).

    ``threshold`` None: the most probable tag. Otherwise a token gets the most probable non-``O`` tag when the
    probability of not being ``O`` is at least ``threshold`` (below 0.5: more recall), else ``O``.
    """
    if len(probs) == 0:
        return []
    if threshold is None:
        return [tagset[i] for i in probs.argmax(axis=1)]
    inside = 1.0 - probs[:, 0]
    best = probs[:, 1:].argmax(axis=1) + 1
    return [tagset[int(b)] if p >= threshold else tagset[0] for b, p in zip(best, inside)]
