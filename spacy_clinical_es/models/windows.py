"""Plan overlapping wordpiece windows for a transformer and merge their logits.

spaCy-free and torch-free: a document is described only by the number of
wordpieces of each of its tokens (``pieces``, 0 or more per token) and,
optionally, the token indices where sentences start. Windows are ranges of
the flat wordpiece sequence (``sum(pieces)`` long), so a token with more
pieces than the window is simply cut into sub-token piece ranges and no
window ever exceeds the limit.

Every :class:`Window` has a *context* range ``[context_start, context_end)``
(what the model sees, at most ``window - special_tokens`` pieces) and an
*owned* range ``[start, end)``. Owned ranges are assigned by the "central"
rule (:func:`central_owners`): each piece belongs to the window in which its
distance to the nearer context edge is largest, ties going to the earlier
window. Owned ranges are contiguous, and together they partition the
document exactly once, so ``merge_logits(mode="central")`` equals taking
each window's logits over its owned range.

Strategies (:class:`WindowStrategy`):

* :class:`NaiveHalfOverlap`: fixed windows of the full limit moved by a
  stride of ``(1 - overlap)`` windows (the paper's setting, ``overlap=0.5``).
  Costs about ``1 / (1 - overlap)`` ≈ 2.0 pieces processed per document piece.
* :class:`SentencePacking`: whole sentences packed greedily into a *core* of
  at most ``limit - 2 * context`` pieces, plus ``context`` pieces of the
  neighbouring text on each side (none at the document edges), so every
  owned piece sees its whole sentence and at least ``context`` pieces
  beyond the sentence boundary. A sentence too long for a core falls back to
  half overlap inside it. Costs about ``1 + 2 * context / core``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ClinicalEsError, ConfigError

#: Merge modes accepted by :func:`merge_logits`.
MERGE_MODES = ("average", "central")
#: Ways :func:`piece_to_token_logits` reduces the pieces of one token.
TOKEN_REDUCTIONS = ("first", "mean")


class WindowError(ClinicalEsError, ValueError):
    """Piece counts, sentence starts, windows or logits are inconsistent."""


@dataclass(frozen=True)
class Window:
    """One model input over wordpiece indices.

    ``[context_start, context_end)`` is what the model sees; ``[start, end)``
    (inside it, possibly empty) is the part whose predictions this window owns.
    """

    start: int
    end: int
    context_start: int
    context_end: int

    def __post_init__(self) -> None:
        if not (0 <= self.context_start <= self.start <= self.end <= self.context_end):
            raise WindowError(
                f"Invalid window: need 0 <= context_start ({self.context_start}) <= "
                f"start ({self.start}) <= end ({self.end}) <= context_end ({self.context_end})."
            )

    @property
    def length(self) -> int:
        """Pieces the model processes for this window (special tokens excluded)."""
        return self.context_end - self.context_start


@runtime_checkable
class WindowStrategy(Protocol):
    """Plans the windows of one document from its per-token piece counts.

    ``window`` is the model input length the plans respect (special tokens
    included), or None for "the model's limit" until :meth:`with_window`
    fixes it (the transformer model does so when it loads its encoder).
    """

    window: int | None

    def with_window(self, window: int, special_tokens: int) -> WindowStrategy:
        """The same strategy for a model whose inputs hold ``window`` ids, ``special_tokens`` of them added."""
        ...

    def plan(
        self, pieces: Sequence[int], sentence_starts: Sequence[int] | None = None
    ) -> list[Window]:
        """Windows covering all ``sum(pieces)`` wordpieces, each within the limit."""
        ...


def _limit(window: int | None, special_tokens: int) -> int | None:
    """Pieces available per window, or None while the window is not set yet."""
    if window is None:
        return None
    if special_tokens < 0:
        raise ConfigError(f"special_tokens must be >= 0, got {special_tokens}.")
    limit = window - special_tokens
    if limit < 1:
        raise ConfigError(
            f"window ({window}) must exceed special_tokens ({special_tokens}): "
            "use a window of at least special_tokens + 1 wordpieces."
        )
    return limit


def _offsets(pieces: Sequence[int]) -> np.ndarray:
    """Start offset of each token in the flat piece sequence, plus the total."""
    counts = np.asarray(pieces, dtype=np.int64).reshape(-1)
    if counts.size and counts.min() < 0:
        bad = int(np.argmax(counts < 0))
        raise WindowError(f"Token {bad} has a negative wordpiece count ({int(counts[bad])}).")
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _require(limit: int | None, strategy: object) -> int:
    if limit is None:
        raise WindowError(
            f"{strategy!r} has no window size yet (window=None means the model's limit): "
            "call with_window(window, special_tokens) or pass window=N."
        )
    return limit


def _strided(start: int, end: int, limit: int, stride: int) -> list[tuple]:
    """Context ranges of length ``limit`` moved by ``stride`` until ``end`` is reached."""
    ranges = []
    pos = start
    while True:
        ranges.append((pos, min(pos + limit, end)))
        if pos + limit >= end:
            return ranges
        pos += stride


def central_owners(windows: Sequence[Window], n_pieces: int) -> np.ndarray:
    """Index of the window owning each piece under the "central" rule.

    A piece belongs to the window where ``min(piece - context_start,
    context_end - 1 - piece)`` is largest; ties go to the earlier window.
    Uncovered pieces get ``-1``.
    """
    best = np.full(n_pieces, -1, dtype=np.int64)
    owner = np.full(n_pieces, -1, dtype=np.int64)
    for i, win in enumerate(windows):
        lo, hi = win.context_start, min(win.context_end, n_pieces)
        if hi <= lo:
            continue
        pos = np.arange(lo, hi, dtype=np.int64)
        dist = np.minimum(pos - lo, win.context_end - 1 - pos)
        better = dist > best[lo:hi]
        best[lo:hi][better] = dist[better]
        owner[lo:hi][better] = i
    return owner


def with_central_ownership(contexts: Sequence[tuple], n_pieces: int) -> list[Window]:
    """Build windows from ``(context_start, context_end)`` pairs, owned ranges by :func:`central_owners`."""
    provisional = [Window(cs, cs, cs, ce) for cs, ce in contexts]
    owner = central_owners(provisional, n_pieces)
    if n_pieces and owner.min() < 0:
        raise WindowError(f"Piece {int(np.argmax(owner < 0))} is covered by no window.")
    windows = []
    for i, (cs, ce) in enumerate(contexts):
        mine = np.flatnonzero(owner[cs:ce] == i)
        if mine.size == 0:
            windows.append(Window(cs, cs, cs, ce))
            continue
        start, end = cs + int(mine[0]), cs + int(mine[-1]) + 1
        if mine.size != end - start:  # cannot happen for tent-shaped distances
            raise WindowError(f"Window {i} would own a non-contiguous range.")
        windows.append(Window(start, end, cs, ce))
    return windows


class NaiveHalfOverlap:
    """Full-limit windows moved by ``(1 - overlap)`` of the limit (paper setting).

    ``window`` counts the special tokens; ``window - special_tokens`` pieces
    are available (``window=None``: set later by :meth:`with_window`).
    Sentence starts are ignored.
    """

    def __init__(
        self, window: int | None = 512, overlap: float = 0.5, *, special_tokens: int = 2
    ) -> None:
        if not 0.0 <= overlap < 1.0:
            raise ConfigError(f"overlap must be in [0, 1), got {overlap}.")
        self.window = window
        self.overlap = overlap
        self.special_tokens = special_tokens
        self.limit = _limit(window, special_tokens)
        self.stride = None if self.limit is None else max(1, self.limit - round(self.limit * overlap))

    def with_window(self, window: int, special_tokens: int) -> NaiveHalfOverlap:
        """A copy with ``window`` ids per input, ``special_tokens`` of them added by the model."""
        return NaiveHalfOverlap(window, self.overlap, special_tokens=special_tokens)

    def plan(
        self, pieces: Sequence[int], sentence_starts: Sequence[int] | None = None
    ) -> list[Window]:
        limit = _require(self.limit, self)
        n = int(_offsets(pieces)[-1])
        if n == 0:
            return []
        return with_central_ownership(_strided(0, n, limit, self.stride), n)

    def __repr__(self) -> str:
        return f"NaiveHalfOverlap(window={self.window}, overlap={self.overlap}, special_tokens={self.special_tokens})"


class SentencePacking:
    """Whole sentences packed per window, with a little context at the seams.

    Algorithm, left to right from the current sentence boundary ``s``:

    1. ``left = min(context, s)`` pieces of left context.
    2. If the rest of the document fits (``n - s <= limit - left``), it is the
       last window.
    3. Otherwise whole sentences are added while ``core + context <= limit -
       left`` (room kept for ``context`` pieces of right context).
    4. If not even the first sentence fits, that sentence ``[s, b)`` is covered
       by half-overlapping full windows over ``[s - left, b + context)``
       (which ends the plan when it reaches the end of the document).

    ``context`` defaults to ``limit // 16`` (31 pieces for a 512 window) and
    must leave a core of at least one piece (``2 * context < limit``). Without
    sentence starts the document is one long sentence, i.e. half overlap.
    """

    def __init__(
        self, window: int | None = 512, min_context: int | None = None, *, special_tokens: int = 2
    ) -> None:
        self.window = window
        self.special_tokens = special_tokens
        self.limit = _limit(window, special_tokens)
        self.min_context = min_context
        self.context: int | None = None
        self.stride = None
        if self.limit is None:
            if min_context is not None and min_context < 0:
                raise ConfigError(f"min_context must be >= 0, got {min_context}.")
            return
        context = self.limit // 16 if min_context is None else min_context
        if context < 0 or 2 * context >= self.limit:
            raise ConfigError(
                f"min_context ({context}) must be >= 0 and leave a core: 2 * min_context < "
                f"{self.limit} (window - special_tokens)."
            )
        self.context = context
        self.stride = NaiveHalfOverlap(window, 0.5, special_tokens=special_tokens).stride

    def with_window(self, window: int, special_tokens: int) -> SentencePacking:
        """A copy with ``window`` ids per input, ``special_tokens`` of them added by the model."""
        return SentencePacking(window, self.min_context, special_tokens=special_tokens)

    def plan(
        self, pieces: Sequence[int], sentence_starts: Sequence[int] | None = None
    ) -> list[Window]:
        limit = _require(self.limit, self)
        offsets = _offsets(pieces)
        n = int(offsets[-1])
        if n == 0:
            return []
        bounds = _sentence_bounds(offsets, sentence_starts)
        ctx = self.context
        contexts: list[tuple] = []
        i = 0  # index into bounds: current sentence starts at bounds[i]
        while bounds[i] < n:
            s = bounds[i]
            left = min(ctx, s)
            if n - s <= limit - left:
                contexts.append((s - left, n))
                break
            j = i
            while j + 1 < len(bounds) and bounds[j + 1] - s + ctx <= limit - left:
                j += 1
            if j > i:
                contexts.append((s - left, min(n, bounds[j] + ctx)))
            else:  # first sentence alone is too long: half overlap inside it
                j = i + 1
                end = min(n, bounds[j] + ctx)
                contexts.extend(_strided(s - left, end, limit, self.stride))
                if end == n:  # the last window already sees the rest of the document
                    break
            i = j
        return with_central_ownership(contexts, n)

    def __repr__(self) -> str:
        context = self.min_context if self.context is None else self.context
        return f"SentencePacking(window={self.window}, min_context={context}, special_tokens={self.special_tokens})"


def _sentence_bounds(offsets: np.ndarray, sentence_starts: Sequence[int] | None) -> list[int]:
    """Sorted distinct piece offsets of sentence starts, with 0 and ``n`` added."""
    n_tokens = offsets.size - 1
    starts = [] if sentence_starts is None else [int(t) for t in sentence_starts]
    for t in starts:
        if not 0 <= t <= n_tokens:
            raise WindowError(f"Sentence start {t} is outside the {n_tokens} tokens of the document.")
    n = int(offsets[-1])
    return sorted({0, n, *(int(offsets[t]) for t in starts)})


#: Strategy name → class, for configuration by name.
STRATEGIES: dict[str, type] = {"naive": NaiveHalfOverlap, "sentences": SentencePacking}


def cost(windows: Sequence[Window], n_pieces: int) -> float:
    """Wordpieces processed / document wordpieces (special tokens excluded); 1.0 for an empty doc."""
    if n_pieces <= 0:
        return 1.0
    return sum(w.length for w in windows) / n_pieces


def _check_logits(
    windows: Sequence[Window], window_logits: Sequence[np.ndarray], n_pieces: int
) -> int:
    if len(windows) != len(window_logits):
        raise WindowError(f"{len(windows)} windows but {len(window_logits)} logit arrays.")
    n_labels = None
    for i, (win, logits) in enumerate(zip(windows, window_logits)):
        if win.context_end > n_pieces:
            raise WindowError(f"Window {i} ends at piece {win.context_end} beyond the {n_pieces} pieces.")
        if logits.ndim != 2 or logits.shape[0] != win.length:
            raise WindowError(
                f"Window {i} covers {win.length} pieces but its logits have shape {logits.shape}; "
                "strip the special tokens' rows before merging."
            )
        if n_labels is None:
            n_labels = logits.shape[1]
        elif logits.shape[1] != n_labels:
            raise WindowError(f"Window {i} has {logits.shape[1]} labels, window 0 has {n_labels}.")
    return 0 if n_labels is None else n_labels


def merge_logits(
    windows: Sequence[Window],
    window_logits: Sequence[np.ndarray],
    n_pieces: int,
    mode: str = "average",
) -> np.ndarray:
    """Merge per-window logits (rows = context pieces) into ``[n_pieces, n_labels]``.

    ``"average"``: mean over every window covering the piece. ``"central"``:
    the logits of the window where the piece is farthest from the context
    edges (ties → earlier window), see :func:`central_owners`.
    """
    if mode not in MERGE_MODES:
        raise ConfigError(f"Unknown merge mode {mode!r}: use one of {', '.join(MERGE_MODES)}.")
    n_labels = _check_logits(windows, window_logits, n_pieces)
    if not windows:
        if n_pieces:
            raise WindowError(f"No windows for a document of {n_pieces} pieces.")
        return np.zeros((0, 0), dtype=np.float32)
    dtype = np.result_type(*window_logits)
    if mode == "central":
        owner = central_owners(windows, n_pieces)
        if n_pieces and owner.min() < 0:
            raise WindowError(f"Piece {int(np.argmax(owner < 0))} is covered by no window.")
        merged = np.empty((n_pieces, n_labels), dtype=dtype)
        for i, (win, logits) in enumerate(zip(windows, window_logits)):
            rows = np.flatnonzero(owner[win.context_start : win.context_end] == i)
            merged[win.context_start + rows] = logits[rows]
        return merged
    total = np.zeros((n_pieces, n_labels), dtype=np.float64)
    count = np.zeros(n_pieces, dtype=np.int64)
    for win, logits in zip(windows, window_logits):
        total[win.context_start : win.context_end] += logits
        count[win.context_start : win.context_end] += 1
    if n_pieces and count.min() == 0:
        raise WindowError(f"Piece {int(np.argmax(count == 0))} is covered by no window.")
    return (total / count[:, None]).astype(dtype, copy=False)


def piece_to_token_logits(
    piece_logits: np.ndarray, pieces: Sequence[int], how: str = "first"
) -> np.ndarray:
    """Token logits ``[n_tokens, n_labels]`` from piece logits.

    ``"first"`` takes each token's first wordpiece, ``"mean"`` averages its
    pieces. Tokens with no wordpiece (e.g. whitespace) get a row of NaN:
    callers decide (e.g. ``np.nan_to_num`` or the "O" label) instead of a
    silent guess.
    """
    if how not in TOKEN_REDUCTIONS:
        raise ConfigError(f"Unknown reduction {how!r}: use one of {', '.join(TOKEN_REDUCTIONS)}.")
    offsets = _offsets(pieces)
    n = int(offsets[-1])
    if piece_logits.ndim != 2 or piece_logits.shape[0] != n:
        raise WindowError(f"{n} wordpieces but piece logits have shape {piece_logits.shape}.")
    out_dtype = np.result_type(piece_logits.dtype, np.float32)
    out = np.full((offsets.size - 1, piece_logits.shape[1]), math.nan, dtype=out_dtype)
    starts, ends = offsets[:-1], offsets[1:]
    has = ends > starts
    if how == "first":
        out[has] = piece_logits[starts[has]]
    elif n:
        sums = np.add.reduceat(piece_logits.astype(np.float64), starts[has], axis=0)
        out[has] = sums / (ends[has] - starts[has])[:, None]
    return out


def merge_logits_backward(
    windows: Sequence[Window], d_merged: np.ndarray, mode: str = "average"
) -> list[np.ndarray]:
    """Gradient of :func:`merge_logits` with respect to each window's logits.

    ``d_merged`` is ``[n_pieces, n_labels]``; the result has one
    ``[window.length, n_labels]`` array per window. ``"average"`` splits each
    piece's gradient evenly over the windows covering it; ``"central"`` sends
    it to the owning window only (the others get zeros there).
    """
    if mode not in MERGE_MODES:
        raise ConfigError(f"Unknown merge mode {mode!r}: use one of {', '.join(MERGE_MODES)}.")
    n_pieces = d_merged.shape[0]
    for i, win in enumerate(windows):
        if win.context_end > n_pieces:
            raise WindowError(f"Window {i} ends at piece {win.context_end} beyond the {n_pieces} pieces.")
    if mode == "central":
        owner = central_owners(windows, n_pieces)
        grads = []
        for i, win in enumerate(windows):
            mine = (owner[win.context_start : win.context_end] == i)[:, None]
            grads.append(np.where(mine, d_merged[win.context_start : win.context_end], 0).astype(d_merged.dtype))
        return grads
    count = np.zeros(n_pieces, dtype=np.int64)
    for win in windows:
        count[win.context_start : win.context_end] += 1
    scaled = d_merged / np.maximum(count, 1)[:, None]
    return [scaled[w.context_start : w.context_end].astype(d_merged.dtype, copy=True) for w in windows]


def piece_to_token_backward(
    d_tokens: np.ndarray, pieces: Sequence[int], how: str = "first"
) -> np.ndarray:
    """Gradient of :func:`piece_to_token_logits`: ``[n_tokens, L]`` → ``[n_pieces, L]``.

    Rows of tokens without wordpieces are ignored (their logits were NaN).
    """
    if how not in TOKEN_REDUCTIONS:
        raise ConfigError(f"Unknown reduction {how!r}: use one of {', '.join(TOKEN_REDUCTIONS)}.")
    offsets = _offsets(pieces)
    if d_tokens.ndim != 2 or d_tokens.shape[0] != offsets.size - 1:
        raise WindowError(f"{offsets.size - 1} tokens but token gradients have shape {d_tokens.shape}.")
    d_pieces = np.zeros((int(offsets[-1]), d_tokens.shape[1]), dtype=d_tokens.dtype)
    starts, ends = offsets[:-1], offsets[1:]
    has = ends > starts
    if how == "first":
        d_pieces[starts[has]] = d_tokens[has]
    else:
        lengths = ends - starts
        token_of_piece = np.repeat(np.arange(starts.size), lengths)
        d_pieces[:] = (d_tokens / np.maximum(lengths, 1)[:, None])[token_of_piece]
    return d_pieces
