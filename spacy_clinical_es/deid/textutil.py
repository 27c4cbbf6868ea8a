"""Text helpers shared by the surrogate generators: normalization, case, shape.

``normalize`` is the comparison every guarantee of the package uses: case-
and accent-insensitive (:func:`spacy_clinical_es.textfold.fold`, the package's
one folding helper), whitespace runs collapsed. ``apply_case`` carries the
letter case of an original (``GARCÍA``, ``garcía``) onto a surrogate, and
``shape_surrogate`` is the last-resort generator: digit → digit, letter →
letter of the same case, everything else kept.
"""
from __future__ import annotations

import random
import unicodedata

from ..textfold import fold, strip_marks

_VOWELS = "aeiou"
_CONSONANTS = "bcdfghjklmnprstvz"


def normalize(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` with whitespace runs collapsed."""
    return " ".join(fold(text).split())


def strip_accents(text: str) -> str:
    """``text`` without combining marks (``ñ`` becomes ``n``)."""
    return unicodedata.normalize("NFC", strip_marks(text))


def fold_accents(text: str) -> str:
    """``text`` with accents removed character by character (same length, same offsets)."""
    out = []
    for char in text:
        base = strip_marks(char)
        out.append(base if len(base) == 1 else char)
    return "".join(out)


def case_pattern(text: str) -> str:
    """``"upper"``, ``"lower"``, ``"title"`` or ``"mixed"`` for the letters of ``text``."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "mixed"
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return "upper"
    if all(c.islower() for c in letters):
        return "lower"
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return "title"
    return "mixed"


def apply_case(original: str, surrogate: str) -> str:
    """``surrogate`` in the letter case of ``original`` (upper, lower or as written)."""
    pattern = case_pattern(original)
    if pattern == "upper":
        return surrogate.upper()
    if pattern == "lower":
        return surrogate.lower()
    if pattern == "title" and surrogate[:1].islower():
        return surrogate[:1].upper() + surrogate[1:]
    return surrogate


def count_overlapping(haystack: str, needle: str) -> int:
    """Occurrences of ``needle`` in ``haystack``, overlapping ones included."""
    if not needle:
        return 0
    count = 0
    i = haystack.find(needle)
    while i != -1:
        count += 1
        i = haystack.find(needle, i + 1)
    return count


def shape_surrogate(text: str, rng: random.Random) -> str:
    """Replace digits by digits and letters by letters of the same case; keep the rest.

    A digit run that starts with a non-zero digit keeps a non-zero first
    digit (so ``7345645/87`` keeps its magnitude); vowels become vowels and
    consonants consonants so words stay pronounceable.
    """
    out = []
    previous_digit = False
    for char in text:
        if char.isdigit() and char.isascii():
            if not previous_digit and char != "0":
                out.append(str(rng.randint(1, 9)))
            else:
                out.append(str(rng.randint(0, 9)))
            previous_digit = True
            continue
        previous_digit = False
        if char.isalpha():
            base = strip_accents(char).lower()
            pool = _VOWELS if base in _VOWELS else _CONSONANTS
            new = rng.choice(pool)
            out.append(new.upper() if char.isupper() else new)
        else:
            out.append(char)
    return "".join(out)


def digits_surrogate(text: str, rng: random.Random) -> str:
    """Replace only the ASCII digits of ``text`` (a non-zero first digit of a run stays non-zero)."""
    out = []
    previous_digit = False
    for char in text:
        if char.isdigit() and char.isascii():
            low = 1 if not previous_digit and char != "0" else 0
            out.append(str(rng.randint(low, 9)))
            previous_digit = True
        else:
            out.append(char)
            previous_digit = False
    return "".join(out)
