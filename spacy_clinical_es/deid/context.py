"""Per-document state shared by the surrogate generators.

A :class:`SurrogateContext` knows the document's keyed seeder, its date
shift, the locale's surrogate pools and its *blocklist*: the normalized
originals (three characters or more) of every span that gets a surrogate.
A candidate surrogate is accepted only when it differs from its original,
contains none of the blocked originals, and shares no *significant token*
with its own original (a word or number of three characters or more that is
not a stop word or a generic word such as "calle", "hospital" or a month:
:func:`significant_tokens`), so "Calle 80 nº 678, Marianao" never yields a
surrogate that still says "Marianao".

Checks are linear in the candidate's length: the blocklist is indexed by
trigram (a document with thousands of originals costs no more per check).
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable

from .locales import LocaleData, locale_data
from .options import DeidOptions
from .resources.institutions_es import HEALTH_CENTRE_WORDS, HOSPITAL_WORDS
from .resources.names_es import NAME_PARTICLES, NAME_TITLES
from .resources.streets_es import STREET_TYPES
from .resources.vocab_es import EMAIL_DOMAINS, MONTHS, WEEKDAYS
from .seeding import Seeder
from .textutil import normalize, shape_surrogate

#: Originals shorter than this (normalized) are not looked for inside other surrogates.
MIN_BLOCK_LENGTH = 3
_TOKEN_TRIES = 24
_TOKEN_RE = re.compile(r"[^\W_]+")

#: Words that may appear in an original and in its surrogate: stop words, street
#: types, institution words, titles, months, weekdays, e-mail and web words (normalized).
GENERIC_TOKENS: frozenset[str] = frozenset(
    {normalize(w) for w in STREET_TYPES | NAME_PARTICLES | NAME_TITLES}
    | {normalize(w) for w in (*MONTHS, *WEEKDAYS)}
    | {t for phrase in (*HOSPITAL_WORDS, *HEALTH_CENTRE_WORDS) for t in _TOKEN_RE.findall(normalize(phrase))}
    | {t for domain in EMAIL_DOMAINS for t in _TOKEN_RE.findall(domain)}
    | {
        "con", "por", "para", "sin", "sobre", "entre", "hacia", "desde", "hasta", "una", "uno", "unos", "unas",
        "les", "que", "san", "santa", "santo", "sant", "hospital", "universitario", "universitaria", "general",
        "clinico", "clinica", "centro", "salud", "complejo", "hospitalario", "servicio", "unidad", "instituto",
        "fundacion", "universidad", "asociacion", "numero", "piso", "puerta", "portal", "bajo", "escalera",
        "izquierda", "derecha", "izda", "dcha", "com", "net", "org", "www", "http", "https", "gmail", "hotmail",
        "yahoo", "outlook", "correo", "ext", "extension", "tel", "telf", "telefono", "fax", "movil", "km", "anos", "ano", "meses", "mes", "dias", "semanas", "horas", "edad", "mas",
    }
)  # fmt: skip


def significant_tokens(text: str) -> frozenset[str]:
    """Normalized words and numbers of ``text`` (three characters or more) that are not generic."""
    return frozenset(
        t for t in _TOKEN_RE.findall(normalize(text)) if len(t) >= MIN_BLOCK_LENGTH and t not in GENERIC_TOKENS
    )


class Blocklist:
    """Normalized originals, indexed by their first three characters for substring checks."""

    def __init__(self, originals: Iterable[str]) -> None:
        self.items: tuple[str, ...] = tuple(sorted({b for b in (normalize(x) for x in originals) if len(b) >= MIN_BLOCK_LENGTH}))
        self._by_trigram: dict[str, list[str]] = {}
        for item in self.items:
            self._by_trigram.setdefault(item[:MIN_BLOCK_LENGTH], []).append(item)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def bucket(self, trigram: str) -> list[str]:
        """The blocked originals that start with ``trigram``."""
        return self._by_trigram.get(trigram, [])

    def found_in(self, norm: str) -> bool:
        """Whether the normalized text ``norm`` contains a blocked original."""
        index = self._by_trigram
        if not index:
            return False
        for i in range(len(norm) - MIN_BLOCK_LENGTH + 1):
            bucket = index.get(norm[i : i + MIN_BLOCK_LENGTH])
            if bucket and any(norm.startswith(b, i) for b in bucket):
                return True
        return False


class SurrogateContext:
    """Seeder, options, locale pools, date shift, blocklist and token caches of one document."""

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
        self.data: LocaleData = locale_data(options.locale)
        self.blocklist = blocklist if isinstance(blocklist, Blocklist) else Blocklist(blocklist)
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
        return self.blocklist.found_in(normalize(candidate))

    def acceptable(self, candidate: str, original: str) -> bool:
        """Differs from ``original`` (normalized), contains no blocked original and no significant token of ``original``."""
        norm = normalize(candidate)
        if norm == normalize(original):
            return False
        if self.blocklist.found_in(norm):
            return False
        own = significant_tokens(original)
        return not own or own.isdisjoint(_TOKEN_RE.findall(norm))

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
