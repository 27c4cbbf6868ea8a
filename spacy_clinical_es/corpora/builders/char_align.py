r"""Map character offsets between two near-identical texts (spaCy-free).

The SPACCC corpora annotate the same clinical cases with different texts:
a MEDDOCAN text is the case text plus a synthetic PHI header/footer, section
titles ("Antecedentes:") and small edits, while DisTEMIST/MedProcNER keep the
original case text. :class:`CharAlignment` aligns two such texts so that a
span annotated on one can be moved onto the other.

Algorithm (about 2 ms per document; robust to repeated strings):

1. Both texts are cut into word and punctuation tokens (``\w+|[^\w\s]``);
   whitespace is not a token, so "de\n53" and "de 53" still match as a run.
   :class:`difflib.SequenceMatcher` (``autojunk=False``) aligns the token
   sequences monotonically: long runs of identical tokens anchor the
   alignment, so the "53 años" of a synthetic header is not aligned with the
   "53 años" of the case text when the case text's own occurrence continues
   a long run.
2. Runs of fewer than ``min_anchor_tokens`` tokens between two changes are
   dropped (a lone "70" or "años" shared by a header and an edited sentence
   is a coincidence).
3. Moved text: MEDDOCAN sometimes moves a sentence (the case's first
   sentence placed after an "Antecedentes:" section), which a monotonic
   alignment cannot follow. Unaligned source and target stretches are
   compared pairwise and runs of at least ``min_move_tokens`` tokens are
   accepted, longest first, each token once. A moved run may take the tokens
   of a short run (< ``max_short_run_tokens``) that sits between two changes:
   the longer evidence wins.
4. Inside each run of equal tokens the token characters are mapped one to
   one; the whitespace between two tokens is mapped only where it is
   identical in both texts ("\n" vs "\n\n" stays unmapped).
5. Each changed region between two monotonic runs is refined on characters
   only when both sides are short (``max_refine_chars``) and similar
   (``SequenceMatcher.ratio() >= min_refine_ratio``). An unrelated region (a
   synthetic header against the case's first words) is left unmapped instead
   of being matched character by character, which would produce spurious
   one-letter anchors.

A span maps when the target slice between the images of its first and last
character has exactly the source text, or when one end is aligned and the
target holds exactly the source text from that end (the edit lies beside the
span: "Varón de 50 años, consulta" vs "Varón de 50 años con … a los 25 años,
consulta" aligns the second "años"). Spans whose images differ only in
whitespace are NOT mapped: they get their own reason
(:data:`WHITESPACE_DIFFERS`) so callers can count them (strict equality keeps
the mapped corpus byte-faithful to both sources).

This is a text alignment, not a provenance record: when MEDDOCAN removed the
age from the case sentence and kept it only in the synthetic header, the
header's "67 años" aligns with the case text's "67 años" (9 EDAD mentions of
the 559 shared documents), which is where the case text states that age.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from typing import NamedTuple

# Reasons a span does not map (values are stable: reports count them).
MAPPED = "mapped"
INSERTED = "in inserted region"
PARTIAL = "partially edited"
TEXT_DIFFERS = "text differs after mapping"
WHITESPACE_DIFFERS = "differs only in whitespace"
EMPTY = "empty or invalid span"
REASONS = (INSERTED, PARTIAL, TEXT_DIFFERS, WHITESPACE_DIFFERS, EMPTY)

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_WS_RE = re.compile(r"\s+")


class Block(NamedTuple):
    """``size`` characters starting at ``src`` equal those starting at ``tgt``."""

    src: int
    tgt: int
    size: int


class SpanMapping(NamedTuple):
    """Result of mapping one span: target offsets, or ``None`` and a reason."""

    start: int | None
    end: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.reason == MAPPED


def _tokens(text: str) -> tuple[list[str], list[int]]:
    words: list[str] = []
    starts: list[int] = []
    for m in _TOKEN_RE.finditer(text):
        words.append(m.group())
        starts.append(m.start())
    return words, starts


class CharAlignment:
    """Character alignment of ``source`` onto ``target``.

    source (str): The text the offsets to map refer to.
    target (str): The text to map them onto.
    max_refine_chars (int): Changed regions longer than this (on either side)
        are not refined on characters.
    min_refine_ratio (float): Changed regions less similar than this are not
        refined on characters (they are insertions/replacements, not edits).
    min_anchor_tokens (int): Runs of fewer equal tokens between two changes
        are dropped as coincidences.
    max_short_run_tokens (int): Runs shorter than this between two changes
        give way to a longer moved run that uses the same tokens.
    min_move_tokens (int): Shortest run of equal tokens accepted as moved
        text (0 disables the moved-text pass).
    """

    def __init__(
        self,
        source: str,
        target: str,
        *,
        max_refine_chars: int = 400,
        min_refine_ratio: float = 0.6,
        min_anchor_tokens: int = 2,
        min_move_tokens: int = 4,
        max_short_run_tokens: int = 6,
    ) -> None:
        self.source = source
        self.target = target
        self.max_refine_chars = max_refine_chars
        self.min_refine_ratio = min_refine_ratio
        self.min_anchor_tokens = min_anchor_tokens
        self.min_move_tokens = min_move_tokens
        self.max_short_run_tokens = max_short_run_tokens
        self.blocks: list[Block] = self._align()
        self._block_starts = [b.src for b in self.blocks]

    @property
    def identical(self) -> bool:
        return self.source == self.target

    # ------------------------------------------------------------------
    # Building the alignment
    # ------------------------------------------------------------------

    def _align(self) -> list[Block]:
        src, tgt = self.source, self.target
        if src == tgt:
            return [Block(0, 0, len(src))] if src else []
        a_words, a_starts = _tokens(src)
        b_words, b_starts = _tokens(tgt)
        matcher = SequenceMatcher(None, a_words, b_words, autojunk=False)
        runs = _drop_isolated_runs(matcher.get_matching_blocks(), self.min_anchor_tokens)
        weak = [
            r for r, isolated in zip(runs, _isolated(runs)) if isolated and r[2] < self.max_short_run_tokens
        ]
        moved = _moved_runs(a_words, b_words, runs, weak, self.min_move_tokens)
        # Longer moved evidence wins over a short coincidental run.
        runs = [r for r in runs if r not in weak or not any(_overlap(r, m) for m in moved)]
        blocks: list[Block] = []
        for i, j, n in moved:
            self._add_run(i, j, n, a_words, a_starts, b_starts, blocks)
        # Character end of the last aligned token on each side (region start).
        a_prev = b_prev = 0
        i_prev = j_prev = 0
        for i, j, n in runs:
            a_next = a_starts[i] if i < len(a_starts) else len(src)
            b_next = b_starts[j] if j < len(b_starts) else len(tgt)
            # The changed (or whitespace-only) region before this run, unless
            # a moved run took part of it.
            if not any(
                (i_prev < mi + mn and mi < i) or (j_prev < mj + mn and mj < j) for mi, mj, mn in moved
            ):
                self._refine(a_prev, a_next, b_prev, b_next, blocks)
            self._add_run(i, j, n, a_words, a_starts, b_starts, blocks)
            if n:
                a_prev = a_starts[i + n - 1] + len(a_words[i + n - 1])
                b_prev = b_starts[j + n - 1] + len(b_words[j + n - 1])
                i_prev, j_prev = i + n, j + n
        return _merge(blocks)

    def _add_run(
        self,
        i: int,
        j: int,
        n: int,
        a_words: list[str],
        a_starts: list[int],
        b_starts: list[int],
        blocks: list[Block],
    ) -> None:
        """Map the characters of ``n`` equal tokens, and equal whitespace between them."""
        src, tgt = self.source, self.target
        for k in range(n):
            a0, b0 = a_starts[i + k], b_starts[j + k]
            size = len(a_words[i + k])
            blocks.append(Block(a0, b0, size))
            if k + 1 < n:
                a1, b1 = a_starts[i + k + 1], b_starts[j + k + 1]
                gap_a = src[a0 + size : a1]
                if gap_a and gap_a == tgt[b0 + size : b1]:
                    blocks.append(Block(a0 + size, b0 + size, len(gap_a)))

    def _refine(self, a0: int, a1: int, b0: int, b1: int, blocks: list[Block]) -> None:
        """Align the characters of one changed region when it is an edit."""
        if a1 <= a0 or b1 <= b0:
            return
        a, b = self.source[a0:a1], self.target[b0:b1]
        if a == b:
            blocks.append(Block(a0, b0, a1 - a0))
            return
        if max(len(a), len(b)) > self.max_refine_chars:
            return
        matcher = SequenceMatcher(None, a, b, autojunk=False)
        if matcher.quick_ratio() < self.min_refine_ratio:
            return
        if matcher.ratio() < self.min_refine_ratio:
            return
        for i, j, n in matcher.get_matching_blocks():
            if n:
                blocks.append(Block(a0 + i, b0 + j, n))

    # ------------------------------------------------------------------
    # Queries
    # ------------------------------------------------------------------

    def map_offset(self, offset: int) -> int | None:
        """Target index of source character ``offset``, or ``None`` if unmapped."""
        k = bisect.bisect_right(self._block_starts, offset) - 1
        if k < 0:
            return None
        block = self.blocks[k]
        if offset < block.src + block.size:
            return block.tgt + offset - block.src
        return None

    def mapped_chars(self, start: int, end: int) -> int:
        """Number of source characters in ``[start, end)`` that are mapped."""
        total = 0
        k = max(bisect.bisect_right(self._block_starts, start) - 1, 0)
        while k < len(self.blocks) and self.blocks[k].src < end:
            block = self.blocks[k]
            lo, hi = max(start, block.src), min(end, block.src + block.size)
            if hi > lo:
                total += hi - lo
            k += 1
        return total

    def align_span(self, start: int, end: int) -> SpanMapping:
        """Map ``source[start:end]`` onto the target, with the reason if it fails."""
        if not (0 <= start < end <= len(self.source)):
            return SpanMapping(None, None, EMPTY)
        covered = self.mapped_chars(start, end)
        if covered == 0:
            return SpanMapping(None, None, INSERTED)
        text = self.source[start:end]
        t_start = self.map_offset(start)
        t_last = self.map_offset(end - 1)
        if t_start is not None and t_last is not None and t_last >= t_start:
            mapped = self.target[t_start : t_last + 1]
            if mapped == text:
                return SpanMapping(t_start, t_last + 1, MAPPED)
        else:
            mapped = None
        # One end is aligned and the target holds the same text from there:
        # the change lies next to the span, not inside it (e.g. a clause
        # deleted right after "50 años" when "años" recurs after the clause).
        size = end - start
        if t_start is not None and self.target[t_start : t_start + size] == text:
            return SpanMapping(t_start, t_start + size, MAPPED)
        if (
            t_last is not None
            and t_last + 1 >= size
            and self.target[t_last + 1 - size : t_last + 1] == text
        ):
            return SpanMapping(t_last + 1 - size, t_last + 1, MAPPED)
        if mapped is None:
            return SpanMapping(None, None, PARTIAL)
        if _WS_RE.sub(" ", mapped).strip() == _WS_RE.sub(" ", text).strip():
            return SpanMapping(None, None, WHITESPACE_DIFFERS)
        if covered < size:
            return SpanMapping(None, None, PARTIAL)
        return SpanMapping(None, None, TEXT_DIFFERS)

    def map_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Target ``(start, end)`` of ``source[start:end]``, or ``None``."""
        result = self.align_span(start, end)
        if result.ok:
            return (result.start, result.end)  # type: ignore[return-value]
        return None

    def align_fragments(
        self, fragments: Iterable[tuple[int, int]]
    ) -> tuple[list[tuple[int, int]] | None, str]:
        """Map every fragment of a (possibly discontinuous) mention.

        Returns the mapped fragments (source order kept) and :data:`MAPPED`,
        or ``None`` and the reason of the first fragment that fails.
        """
        mapped: list[tuple[int, int]] = []
        for start, end in fragments:
            result = self.align_span(start, end)
            if not result.ok:
                return None, result.reason
            mapped.append((result.start, result.end))  # type: ignore[arg-type]
        return mapped, MAPPED

    def coverage(self) -> float:
        """Share of source characters that are mapped (1.0 for equal texts)."""
        if not self.source:
            return 1.0
        return sum(b.size for b in self.blocks) / len(self.source)


def _isolated(runs: Sequence[tuple[int, int, int]]) -> list[bool]:
    """Whether each run has changes on both sides (the sentinel never has)."""
    out = []
    prev_i = prev_j = 0
    for k, (i, j, n) in enumerate(runs):
        nxt_i, nxt_j, _ = runs[k + 1] if k + 1 < len(runs) else (i + n, j + n, 0)
        out.append(n > 0 and (i > prev_i or j > prev_j) and (nxt_i > i + n or nxt_j > j + n))
        prev_i, prev_j = i + n, j + n
    return out


def _drop_isolated_runs(
    runs: Sequence[tuple[int, int, int]], min_tokens: int
) -> list[tuple[int, int, int]]:
    """Drop runs of fewer than ``min_tokens`` equal tokens between two changes.

    A lone "años" or "70" shared by a synthetic header and an edited first
    sentence is a coincidence, not an anchor. The dropped run becomes part of
    a changed region, which is still refined on characters when it is an edit.
    The final ``(len_a, len_b, 0)`` sentinel is kept.
    """
    kept = list(runs)
    while True:
        flags = _isolated(kept)
        drop = [k for k, (r, f) in enumerate(zip(kept, flags)) if f and r[2] < min_tokens]
        if not drop:
            return kept
        kept = [r for k, r in enumerate(kept) if k not in set(drop)]


def _overlap(r: tuple[int, int, int], m: tuple[int, int, int]) -> bool:
    """Whether two runs share a source or a target token."""
    return (r[0] < m[0] + m[2] and m[0] < r[0] + r[2]) or (r[1] < m[1] + m[2] and m[1] < r[1] + r[2])


def _moved_runs(
    a_words: Sequence[str],
    b_words: Sequence[str],
    runs: Sequence[tuple[int, int, int]],
    weak: Sequence[tuple[int, int, int]],
    min_tokens: int,
) -> list[tuple[int, int, int]]:
    """Runs of at least ``min_tokens`` equal tokens between unaligned stretches.

    The main alignment is monotonic, so text that MEDDOCAN moved ("Historia
    Actual: Varón de 40 años" placed after "Antecedentes:") stays unaligned.
    Every unaligned source stretch is compared with every unaligned target
    stretch; the longest runs are accepted first, each token at most once.
    Short runs (a header's "40 años") are never accepted as moved; ``weak``
    runs (short monotonic runs between two changes) count as unaligned here,
    so that "Mujer de 44 años , con antecedentes" moved in the source can take
    the target's "44 años" from the header's "Edad: 44 años". A candidate on
    the same diagonal as a weak run it overlaps is that run, not a move.
    """
    if min_tokens <= 0:
        return []

    def gaps(pairs: list[tuple[int, int]], total: int) -> list[tuple[int, int]]:
        out, prev = [], 0
        for start, n in pairs:
            if start - prev >= min_tokens:
                out.append((prev, start))
            prev = max(prev, start + n)
        if total - prev >= min_tokens:
            out.append((prev, total))
        return out

    strong = [r for r in runs if r not in weak]
    a_gaps = gaps([(i, n) for i, _, n in strong], len(a_words))
    b_gaps = gaps([(j, n) for _, j, n in strong], len(b_words))
    candidates: list[tuple[int, int, int]] = []
    for a0, a1 in a_gaps:
        for b0, b1 in b_gaps:
            matcher = SequenceMatcher(None, a_words[a0:a1], b_words[b0:b1], autojunk=False)
            for i, j, n in matcher.get_matching_blocks():
                cand = (a0 + i, b0 + j, n)
                if n >= min_tokens and not any(
                    w[0] - w[1] == cand[0] - cand[1] and _overlap(w, cand) for w in weak
                ):
                    candidates.append(cand)
    candidates.sort(key=lambda c: (-c[2], c[0], c[1]))
    taken: list[tuple[int, int, int]] = []
    for i, j, n in candidates:
        if all(i + n <= ti or ti + tn <= i for ti, _, tn in taken) and all(
            j + n <= tj or tj + tn <= j for _, tj, tn in taken
        ):
            taken.append((i, j, n))
    return sorted(taken)


def _merge(blocks: Sequence[Block]) -> list[Block]:
    """Sort blocks by source and merge those that continue each other on both sides.

    Blocks from moved text are not monotonic in the target, so no target
    order is assumed; overlapping source blocks cannot occur.
    """
    merged: list[Block] = []
    for block in sorted(blocks):
        if block.size <= 0:
            continue
        if merged:
            last = merged[-1]
            if last.src + last.size == block.src and last.tgt + last.size == block.tgt:
                merged[-1] = Block(last.src, last.tgt, last.size + block.size)
                continue
            if block.src < last.src + last.size:  # pragma: no cover - defensive
                continue
        merged.append(block)
    return merged


def align_texts(source: str, target: str, **kwargs: float) -> CharAlignment:
    """Shortcut for :class:`CharAlignment` (``source`` offsets → ``target``)."""
    return CharAlignment(source, target, **kwargs)  # type: ignore[arg-type]
