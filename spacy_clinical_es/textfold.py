"""The one accent and case folding helper of the package (spaCy-free).

Every comparison that should ignore case and accents goes through here: the
linker's exact-match key (:func:`spacy_clinical_es.linking.normalize_term`),
the generative aligner, the concept-string aligner and the de-identification
guarantees (``deid.textutil``). Folding = compatibility decomposition (NFKD),
case folding, combining marks dropped: ``"Ñandú"`` → ``"nandu"``,
``"ﬁbrosis"`` → ``"fibrosis"``.
"""
from __future__ import annotations

import unicodedata


class _CombiningMarks(dict):  # type: ignore[type-arg]
    """``str.translate`` table deleting combining marks, filled on first sight of each character."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        self[code] = value
        return value


_COMBINING_MARKS = _CombiningMarks()


def strip_marks(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks; case kept (``"Ñ"`` → ``"N"``)."""
    if text.isascii():  # NFKD leaves ASCII alone and it has no combining marks
        return text
    return unicodedata.normalize("NFKD", text).translate(_COMBINING_MARKS)


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` (NFKD, casefold, marks dropped); whitespace kept.

    Decomposes again after case folding, which can itself produce marks or
    compatibility characters, so ``fold(fold(x)) == fold(x)`` for any text a
    clinical corpus holds.
    """
    if text.isascii():
        return text.casefold()
    return strip_marks(strip_marks(text).casefold())


def fold_with_index(text: str, *, skip: str = "") -> tuple[str, list[int]]:
    """:func:`fold` per character, with the source index of every output character.

    Characters in ``skip`` and whitespace are left out (aligners match across
    re-tokenized spacing); one source character may give several output
    characters (``"ß"`` → ``"ss"``) or none (a lone combining mark).
    """
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace() or ch in skip:
            continue
        for folded in fold(ch):
            chars.append(folded)
            index.append(i)
    return "".join(chars), index
