"""The gap pattern of a discontinuous concept, from the text between its fragments (spaCy-free).

* ``cross_sentence``: a gap holds a sentence end (". " / newline);
* ``coordination``: a gap holds a conjunction or a list separator ("y", "e", "o", "u", "ni", ",", ";", "/":
  "fractura de tibia y peroné");
* ``long_gap``: a gap of more than :data:`LONG_GAP_WORDS` words;
* ``interposed``: a short gap of other words ("dolor a nivel de hipogastrio").

Used by the error analysis (``benchmark discontinuous-errors``) and the per-pattern scores of ``benchmark
discontinuous``, on gold and predicted concepts alike.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

CROSS_SENTENCE, COORDINATION, LONG_GAP, INTERPOSED = ("cross_sentence", "coordination", "long_gap", "interposed")
PATTERNS = (CROSS_SENTENCE, COORDINATION, LONG_GAP, INTERPOSED)
#: A gap of more words than this is a long gap.
LONG_GAP_WORDS = 5
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n")
_COORDINATION = re.compile(r"(?:^|\s)(?:y|e|o|u|ni)(?:\s|$)|[,;/]", re.IGNORECASE)
_WORD = re.compile(r"\w+")


def gap_pattern(text: str, fragments: Sequence[tuple[int, int]]) -> str:
    """The pattern of a discontinuous concept (character ``fragments`` of ``text``; see the module docstring)."""
    ordered = sorted(fragments)
    gaps = [text[a_end:b_start] for (_, a_end), (b_start, _) in itertools.pairwise(ordered)]
    if any(_SENTENCE_END.search(gap) for gap in gaps):
        return CROSS_SENTENCE
    if any(_COORDINATION.search(gap) for gap in gaps):
        return COORDINATION
    if any(len(_WORD.findall(gap)) > LONG_GAP_WORDS for gap in gaps):
        return LONG_GAP
    return INTERPOSED
