"""Person name surrogates, word by word, keeping the name's form.

Each letter run of a name is a *particle* (``de``, ``del``…: kept), a
*title* (``Dr``, ``Sra``: kept), an *initial* (``J.``: another letter), a
*first name* or a *surname*. First names are recognized from the shipped
lists and Faker's lists of every locale, and replaced by a first name of the
locale (:mod:`.locales`) of the same gender (the gender of the
span's first known first name, so "José María" stays male); surnames and
unknown words become surnames (an unknown first word of a three-word or
longer name is taken as a first name). Case is kept per word ("GARCÍA" →
"ORTEGA"), and so are separators, hyphens and dots. Word surrogates are
cached per document, so "Ignacio Navarro Cuéllar" and a later "Dr. Navarro"
get the same surname.
"""
from __future__ import annotations

import functools
import re
import string

from .context import SurrogateContext
from .locales import recognizer_lists
from .resources.names_es import (
    FEMALE_FIRST_NAMES,
    MALE_FIRST_NAMES,
    NAME_PARTICLES,
    NAME_TITLES,
)
from .textutil import apply_case, normalize

_WORD_RE = re.compile(r"[^\W\d_]+")


@functools.lru_cache(maxsize=1)
def _known() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Normalized single-word male first names, female first names and surnames (every locale)."""
    male, female, surnames = recognizer_lists()

    def words(names: frozenset[str]) -> frozenset[str]:
        return frozenset(normalize(n) for n in names if " " not in n.strip())

    return words(male), words(female), words(surnames)


@functools.lru_cache(maxsize=1)
def _shipped() -> tuple[frozenset[str], frozenset[str]]:
    return (
        frozenset(normalize(n) for n in MALE_FIRST_NAMES),
        frozenset(normalize(n) for n in FEMALE_FIRST_NAMES),
    )


_INITIALS = string.ascii_uppercase.replace("Q", "").replace("W", "").replace("K", "").replace("X", "").replace("Y", "")


def first_name_gender(word: str) -> str | None:
    """``"m"``, ``"f"`` or ``None`` (unknown or both) for a first name."""
    norm = normalize(word)
    for male_set, female_set in (_shipped(), _known()[:2]):  # the curated lists decide first
        male, female = norm in male_set, norm in female_set
        if male != female:
            break
    if male and not female:
        return "m"
    if female and not male:
        return "f"
    return None


def is_first_name(word: str) -> bool:
    """Whether ``word`` is a known first name (any locale)."""
    norm = normalize(word)
    male_set, female_set, _ = _known()
    return norm in male_set or norm in female_set


def is_surname(word: str) -> bool:
    """Whether ``word`` is a known surname (any locale)."""
    return normalize(word) in _known()[2]


def _roles(text: str, matches: list[re.Match[str]]) -> list[str]:
    """Role of each word: particle, title, initial, first or surname."""
    roles: list[str] = []
    name_words = [
        i for i, m in enumerate(matches)
        if normalize(m.group()) not in NAME_PARTICLES and normalize(m.group()) not in NAME_TITLES
    ]  # fmt: skip
    first_name_word = name_words[0] if name_words else -1
    for i, m in enumerate(matches):
        word = m.group()
        norm = normalize(word)
        followed_by_dot = text[m.end() : m.end() + 1] == "."
        if norm in NAME_PARTICLES and (word.islower() or i != first_name_word):
            roles.append("particle")
        elif norm in NAME_TITLES and (followed_by_dot or i < first_name_word or len(matches) > 1):
            roles.append("title")
        elif len(word) == 1 and (word.isupper() or followed_by_dot):
            roles.append("initial")
        elif is_first_name(word) and (not is_surname(word) or i == first_name_word):
            roles.append("first")
        elif is_surname(word):
            roles.append("surname")
        elif i == first_name_word and len(name_words) >= 3:
            roles.append("first")
        else:
            roles.append("surname")
    return roles


def map_word(ctx: SurrogateContext, word: str, role: str, gender: str | None, attempt: int = 0) -> str:
    """Surrogate of one name word in its original case (roles: first, surname, initial)."""
    if role == "initial":
        letter = ctx.token("initial", word, lambda rng: rng.choice(_INITIALS), attempt=attempt)
        return apply_case(word, letter)
    data = ctx.data
    if role == "first":
        pool = data.male_first if gender == "m" else data.female_first if gender == "f" else data.male_first + data.female_first
        surrogate = ctx.token("first", word, lambda rng: rng.choice(pool), variant=gender or "", attempt=attempt)
    else:
        surrogate = ctx.token("surname", word, lambda rng: rng.choice(data.surnames), attempt=attempt)
    return apply_case(word, surrogate)


def surrogate_name(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """A person name surrogate in the form of ``text``, or ``None`` when it has no name word."""
    matches = list(_WORD_RE.finditer(text))
    roles = _roles(text, matches)
    gender = next((first_name_gender(m.group()) for m, r in zip(matches, roles) if r == "first"), None)
    out: list[str] = []
    last = 0
    changed = False
    for m, role in zip(matches, roles):
        out.append(text[last : m.start()])
        last = m.end()
        if role in ("particle", "title"):
            out.append(m.group())
            continue
        word_gender = gender if role == "first" and gender is not None else first_name_gender(m.group())
        out.append(map_word(ctx, m.group(), role, word_gender, attempt))
        changed = True
    out.append(text[last:])
    return "".join(out) if changed else None
