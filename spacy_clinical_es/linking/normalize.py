"""Surface-form normalization shared by exact lookup and the encoders.

Lowercased, diacritics removed (NFKD, combining marks dropped: ``ñ`` → ``n``),
whitespace runs collapsed to one space and trimmed. Punctuation is kept: it
distinguishes codes (``T4`` vs ``T-4`` is left to the dense encoder).
"""
from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")


def _once(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WS.sub(" ", stripped).strip()


def normalize_term(text: str) -> str:
    """Return the normalized form of ``text`` used as exact-match key.

    Idempotent: compatibility decomposition can reveal capitals (``ᴬ`` → ``A``)
    and casefolding can add combining marks, so the step repeats until stable.
    """
    result = _once(text)
    for _ in range(4):
        again = _once(result)
        if again == result:
            break
        result = again
    return result
