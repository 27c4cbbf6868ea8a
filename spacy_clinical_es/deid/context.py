"""Per-document state shared by the surrogate generators.

A :class:`SurrogateContext` knows the document's keyed seeder, its date
shift and its *blocklist*: the normalized originals (three characters or
more) of every span that gets a surrogate. A candidate surrogate is accepted
only when it differs from its original and contains none of them, so an
original never reappears inside another surrogate by chance.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from .options import DeidOptions
from .seeding import Seeder
from .textutil import normalize, shape_surrogate

#: Originals shorter than this (normalized) are not looked for inside other surrogates.
MIN_BLOCK_LENGTH = 3
_TOKEN_TRIES = 24


class SurrogateContext:
    """Seeder, options, date shift, blocklist and token caches of one document."""

    def __init__(
        self,
        seeder: Seeder,
        options: DeidOptions,
        *,
        blocklist: Iterable[str] = (),
        date_shift: int = 0,
        round_: int = 0,
    ) -> None:
        self.seeder = seeder
        self.options = options
        self.blocklist: tuple[str, ...] = tuple(
            sorted({b for b in (normalize(x) for x in blocklist) if len(b) >= MIN_BLOCK_LENGTH})
        )
        self.date_shift = date_shift
        self.round = round_
        self._tokens: dict[tuple[str, ...], str] = {}
        #: (category, normalized original) → index of the surrogate step that was accepted
        self.attempts: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:  # no originals in reprs
        return f"SurrogateContext({len(self.blocklist)} blocked originals, round {self.round})"

    def rng(self, *parts: str) -> random.Random:
        """Keyed generator for ``parts`` (the retry round is mixed in)."""
        return self.seeder.rng(str(self.round), *parts)

    def is_blocked(self, candidate: str) -> bool:
        """Whether ``candidate`` contains an original of this document."""
        norm = normalize(candidate)
        return any(b in norm for b in self.blocklist)

    def acceptable(self, candidate: str, original: str) -> bool:
        """Differs from ``original`` (normalized) and contains no blocked original."""
        norm = normalize(candidate)
        if norm == normalize(original):
            return False
        return not any(b in norm for b in self.blocklist)

    def token(
        self,
        kind: str,
        original: str,
        choose: Callable[[random.Random], str],
        *,
        variant: str = "",
        attempt: int = 0,
    ) -> str:
        """Surrogate of one word (a first name, a surname, a kinship word…), cached.

        The same ``(kind, normalized original, variant, attempt)`` always
        gives the same word within the document. ``choose`` draws a candidate;
        after :data:`_TOKEN_TRIES` refused candidates the word's shape is
        randomized instead.
        """
        key = (kind, normalize(original), variant, str(attempt))
        cached = self._tokens.get(key)
        if cached is not None:
            return cached
        result = None
        for i in range(_TOKEN_TRIES):
            candidate = choose(self.rng("token", *key, str(i)))
            if self.acceptable(candidate, original):
                result = candidate
                break
        if result is None:
            for i in range(_TOKEN_TRIES):
                candidate = shape_surrogate(original, self.rng("token-shape", *key, str(i)))
                if self.acceptable(candidate, original):
                    result = candidate
                    break
        if result is None:
            result = "X" if normalize(original) != "x" else "Z"
        self._tokens[key] = result
        return result
