"""Person name surrogates, word by word, keeping the name's form.

Each letter run of a name is a *particle* (``de``, ``del``…: kept), a
*title* (``Dr``, ``Sra``: kept), an *initial* (``J.``: another letter), a
*first name* or a *surname*. First names are recognized from the shipped
lists and replaced by a first name of the same gender (the gender of the
span's first known first name, so "José María" stays male); surnames and
unknown words become surnames (an unknown first word of a three-word or
longer name is taken as a first name). Case is kept per word ("GARCÍA" →
"ORTEGA"), and so are separators, hyphens and dots. Word surrogates are
cached per document, so "Ignacio Navarro Cuéllar" and a later "Dr. Navarro"
get the same surname.
"""
from __future__ import annotations

import re
import string

from .context import SurrogateContext
from .resources.names_es import (
    FEMALE_FIRST_NAMES,
    MALE_FIRST_NAMES,
    NAME_PARTICLES,
    NAME_TITLES,
    SURNAMES,
)
from .textutil import apply_case, normalize

_WORD_RE = re.compile(r"[^\W\d_]+")

MALE: tuple[str, ...] = tuple(dict.fromkeys(MALE_FIRST_NAMES))
FEMALE: tuple[str, ...] = tuple(dict.fromkeys(FEMALE_FIRST_NAMES))
SURNAME_POOL: tuple[str, ...] = tuple(dict.fromkeys(SURNAMES))
_MALE_SET = frozenset(normalize(n) for n in MALE)
_FEMALE_SET = frozenset(normalize(n) for n in FEMALE)
_SURNAME_SET = frozenset(normalize(n) for n in SURNAME_POOL)
_INITIALS = string.ascii_uppercase.replace("Q", "").replace("W", "").replace("K", "").replace("X", "").replace("Y", "")


def first_name_gender(word: str) -> str | None:
    """``"m"``, ``"f"`` or ``None`` (unknown or both) for a first name."""
    norm = normalize(word)
    male, female = norm in _MALE_SET, norm in _FEMALE_SET
    if male and not female:
        return "m"
    if female and not male:
        return "f"
    return None


def is_first_name(word: str) -> bool:
    norm = normalize(word)
    return norm in _MALE_SET or norm in _FEMALE_SET


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
        elif is_first_name(word) and (norm not in _SURNAME_SET or i == first_name_word):
            roles.append("first")
        elif norm in _SURNAME_SET:
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
    if role == "first":
        pool = MALE if gender == "m" else FEMALE if gender == "f" else MALE + FEMALE
        surrogate = ctx.token("first", word, lambda rng: rng.choice(pool), variant=gender or "", attempt=attempt)
    else:
        surrogate = ctx.token("surname", word, lambda rng: rng.choice(SURNAME_POOL), attempt=attempt)
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
