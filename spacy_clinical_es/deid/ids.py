"""Identifier surrogates: format-preserving, check characters recomputed.

Digits become digits and letters letters of the same case; separators stay
(``28 28 70973``, ``7345645/87``). A valid NIF (``12345678Z``) or NIE
(``X1234567L``) becomes another valid one with its check letter recomputed;
a valid social security number (NASS, ``28 12345678 40``: the last two digits
are the first ten mod 97) stays valid too.
"""
from __future__ import annotations

import random
import re

from .context import SurrogateContext
from .textutil import normalize, shape_surrogate

NIF_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
NIF_RE = re.compile(r"^(\d{8})([\s-]?)([A-Za-z])$")
NIE_RE = re.compile(r"^([XYZxyz])([\s-]?)(\d{7})([\s-]?)([A-Za-z])$")
NASS_RE = re.compile(r"^(\d{2})([\s/-]?)(\d{7,8})([\s/-]?)(\d{2})$")


def nif_letter(number: int) -> str:
    """The check letter of a DNI/NIF number."""
    return NIF_LETTERS[number % 23]


def is_valid_nif(text: str) -> bool:
    m = NIF_RE.match(text.strip())
    return bool(m) and nif_letter(int(m.group(1))) == m.group(3).upper()


def is_valid_nie(text: str) -> bool:
    m = NIE_RE.match(text.strip())
    if not m:
        return False
    number = int("XYZ".index(m.group(1).upper()).__str__() + m.group(3))
    return nif_letter(number) == m.group(5).upper()


def nass_control(province: str, number: str) -> int:
    """The two control digits of a social security number."""
    return int(province + number) % 97


def is_valid_nass(text: str) -> bool:
    m = NASS_RE.match(text.strip())
    return bool(m) and nass_control(m.group(1), m.group(3)) == int(m.group(5))


def _digits(rng: random.Random, n: int, nonzero_first: bool = False) -> str:
    first = str(rng.randint(1, 9)) if nonzero_first else str(rng.randint(0, 9))
    return (first + "".join(str(rng.randint(0, 9)) for _ in range(n - 1)))[:n]


def _case_like(template: str, letter: str) -> str:
    return letter.lower() if template.islower() else letter.upper()


def surrogate_id(text: str, ctx: SurrogateContext, attempt: int, *, kind: str = "ID") -> str | None:
    """A format-preserving identifier (``None`` when it has no digit or letter)."""
    stripped = text.strip()
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    rng = ctx.rng(kind, normalize(text), str(attempt))
    m = NIF_RE.match(stripped)
    if m and is_valid_nif(stripped):
        number = _digits(rng, 8)
        return f"{lead}{number}{m.group(2)}{_case_like(m.group(3), nif_letter(int(number)))}{trail}"
    m = NIE_RE.match(stripped)
    if m and is_valid_nie(stripped):
        prefix = rng.choice("XYZ")
        number = _digits(rng, 7)
        letter = nif_letter(int(str("XYZ".index(prefix)) + number))
        return (
            f"{lead}{_case_like(m.group(1), prefix)}{m.group(2)}{number}{m.group(4)}"
            f"{_case_like(m.group(5), letter)}{trail}"
        )
    m = NASS_RE.match(stripped)
    if m and is_valid_nass(stripped):
        province = f"{rng.randint(1, 52):02d}"
        number = _digits(rng, len(m.group(3)))
        return f"{lead}{province}{m.group(2)}{number}{m.group(4)}{nass_control(province, number):02d}{trail}"
    if not any(c.isalnum() for c in text):
        return None
    return shape_surrogate(text, rng)
