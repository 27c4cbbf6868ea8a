"""Find the token fragments of a sentence that spell a concept string (spaCy-free).

A generative extractor or a terminology lookup names a concept as one string
("edema pierna izquierda"); the sentence may hold its words apart ("edema con
fóvea en pierna derecha > izquierda"). :func:`align_concept` returns the
minimal set of text fragments that spell the concept:

* Both strings are cut into tokens: runs of digits, runs of letters, and
  single other non-space characters ("38años" gives "38" and "años"). Tokens
  compare case-folded and without accents (NFKD, combining marks dropped).
  Concept punctuation is ignored; every concept word must be matched, in
  order, by one text token (a subsequence of the text tokens).
* A fragment is a run of matched text tokens with nothing skipped between
  them, except punctuation glued to both neighbours ("abdomen-pelvis" spells
  "abdomen pelvis" as one fragment). Any other skipped token starts a new
  fragment.
* Among all matches the fewest fragments win, then the fewest skipped tokens
  between the first and last matched token (closest), then the earliest
  start. The search is exact (dynamic programming over the occurrences of
  each concept word), so the result does not depend on search order.

Fragments are ``(start, end)`` character offsets into ``text`` in text order.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from .. import textfold
from ..errors import ConfigError

Fragment = tuple[int, int]

_TOKEN = re.compile(r"\d+|[^\W\d_]+|[^\w\s]|_")


class ConceptMatch(NamedTuple):
    """Where a concept is spelled: fragments in text order and how it was found.

    ``skipped`` counts the text tokens between the first and last matched
    token that are not part of the concept (0 for a continuous match), and
    ``tokens`` the matched text token indices.
    """

    fragments: tuple[Fragment, ...]
    skipped: int
    tokens: tuple[int, ...]

    @property
    def is_discontinuous(self) -> bool:
        return len(self.fragments) > 1

    @property
    def start(self) -> int:
        return self.fragments[0][0]

    @property
    def end(self) -> int:
        return self.fragments[-1][1]


#: Case-folded, accent-free form used to compare tokens ("Fóvea" → "fovea"): the package's one folding helper.
fold = textfold.fold


def word_tokens(text: str) -> list[Fragment]:
    """Token offsets of ``text``: digit runs, letter runs, single other characters."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _is_word(text: str, start: int, end: int) -> bool:
    return any(ch.isalnum() for ch in text[start:end])


def align_concept(
    text: str,
    concept: str,
    *,
    tokens: Sequence[Fragment] | None = None,
    start: int = 0,
    end: int | None = None,
    max_fragments: int | None = None,
) -> ConceptMatch | None:
    """The minimal fragments of ``text`` that spell ``concept``, or None.

    text: the sentence (or any text) to search.
    concept: the concept string; its words must occur in ``text`` in this order.
    tokens: token offsets of ``text`` to align to (e.g. a spaCy doc's
        ``(token.idx, token.idx + len(token))``); whitespace tokens are
        ignored. Default: :func:`word_tokens`. A concept word must equal one
        token (after folding), so pass tokens at least as fine as the words.
    start, end: search only tokens inside ``text[start:end]``.
    max_fragments: give up (None) when the best match needs more fragments.
    RETURNS: a :class:`ConceptMatch`, or None when the concept has no words
        or they do not all occur in order.
    """
    if max_fragments is not None and max_fragments < 1:
        raise ConfigError("max_fragments must be at least 1 (or None for no limit).")
    stop = len(text) if end is None else end
    spans = word_tokens(text) if tokens is None else [(int(s), int(e)) for s, e in tokens]
    spans = [(s, e) for s, e in spans if start <= s and e <= stop and text[s:e].strip()]
    words = [fold(concept[s:e]) for s, e in word_tokens(concept) if _is_word(concept, s, e)]
    if not words or not spans:
        return None
    keys = [fold(text[s:e]) for s, e in spans]
    # glued[k]: token k is punctuation touching both neighbours, so skipping it keeps a fragment whole.
    glued = [
        0 < k < len(spans) - 1
        and not _is_word(text, *spans[k])
        and spans[k - 1][1] == spans[k][0]
        and spans[k][1] == spans[k + 1][0]
        for k in range(len(spans))
    ]
    # breaks_before[k]: skipped non-glued tokens before token k (prefix sums), to test "nothing skipped".
    breaks_before = [0]
    for k in range(len(spans)):
        breaks_before.append(breaks_before[-1] + (0 if glued[k] else 1))
    occurrences: list[list[int]] = []
    for word in words:
        found = [k for k, key in enumerate(keys) if key == word]
        if not found:
            return None
        occurrences.append(found)
    # best[k] for the current word: (fragments, skipped, -first token... ) cost and back-pointer.
    big = len(spans) + 1
    costs: dict[int, tuple[int, int]] = {k: (1 * big, k) for k in occurrences[0]}  # k -> (cost, first token)
    back: list[dict[int, int]] = [{}]
    for i in range(1, len(words)):
        new_costs: dict[int, tuple[int, int]] = {}
        pointers: dict[int, int] = {}
        previous = sorted(costs)
        for k in occurrences[i]:
            best: tuple[int, int, int] | None = None  # (cost, first, prev)
            for p in previous:
                if p >= k:
                    break
                cost, first = costs[p]
                gap = k - p - 1
                new_fragment = breaks_before[k] - breaks_before[p + 1] > 0
                candidate = (cost + gap + (big if new_fragment else 0), first, p)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
            if best is not None:
                new_costs[k] = (best[0], best[1])
                pointers[k] = best[2]
        if not new_costs:
            return None
        costs = new_costs
        back.append(pointers)
    last = min(costs, key=lambda k: (costs[k][0], costs[k][1], k))
    chosen = [last]
    for i in range(len(words) - 1, 0, -1):
        chosen.append(back[i][chosen[-1]])
    chosen.reverse()
    fragments: list[Fragment] = []
    run_start = chosen[0]
    for a, b in zip(chosen, chosen[1:] + [None]):
        if b is None or breaks_before[b] - breaks_before[a + 1] > 0:
            fragments.append((spans[run_start][0], spans[a][1]))
            if b is not None:
                run_start = b
    if max_fragments is not None and len(fragments) > max_fragments:
        return None
    skipped = chosen[-1] - chosen[0] + 1 - len(chosen)
    return ConceptMatch(tuple(fragments), skipped, tuple(chosen))


def fragments_text(text: str, fragments: Sequence[Fragment]) -> str:
    """The fragment slices joined by one space (how BRAT writes a discontinuous text)."""
    return " ".join(text[s:e] for s, e in fragments)
