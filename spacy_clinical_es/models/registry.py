"""Register the window strategies in spaCy's ``misc`` registry (thin layer)."""
from __future__ import annotations

from spacy.util import registry

from .windows import NaiveHalfOverlap, SentencePacking


@registry.misc("spacy_clinical_es.NaiveWindows.v1")
def create_naive_windows(
    window: int = 512, overlap: float = 0.5, special_tokens: int = 2
) -> NaiveHalfOverlap:
    """Full-size wordpiece windows overlapping by ``overlap`` (the paper's setting)."""
    return NaiveHalfOverlap(window, overlap, special_tokens=special_tokens)


@registry.misc("spacy_clinical_es.SentenceWindows.v1")
def create_sentence_windows(
    window: int = 512, min_context: int | None = None, special_tokens: int = 2
) -> SentencePacking:
    """Whole sentences per window plus ``min_context`` pieces at each seam."""
    return SentencePacking(window, min_context, special_tokens=special_tokens)
