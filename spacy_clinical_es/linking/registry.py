"""spaCy registry entries for the linking encoders (the only spaCy import here)."""
from __future__ import annotations

from spacy.util import registry

from .encoders import TfidfCharEncoder


@registry.misc("spacy_clinical_es.TfidfEncoder.v1")
def create_tfidf_encoder(ngram_min: int = 3, ngram_max: int = 4, min_df: int = 1) -> TfidfCharEncoder:
    """Offline character n-gram TF-IDF encoder (no weights to download)."""
    return TfidfCharEncoder(ngram_range=(ngram_min, ngram_max), min_df=min_df)
