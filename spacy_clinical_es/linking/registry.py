"""spaCy registry entries for the linking encoders and generator (the only spaCy import here)."""
from __future__ import annotations

from spacy.util import registry

from ..generative.seq2seq import LazySeq2SeqGenerator
from .encoders import (
    SAPBERT_MODEL,
    CharCNNEncoder,
    SentenceTransformerEncoder,
    TfidfCharEncoder,
    TransformerEncoder,
)
from .kb import LinkingError


@registry.misc("spacy_clinical_es.TfidfEncoder.v1")
def create_tfidf_encoder(ngram_min: int = 3, ngram_max: int = 4, min_df: int = 1) -> TfidfCharEncoder:
    """Offline character n-gram TF-IDF encoder (no weights to download)."""
    return TfidfCharEncoder(ngram_range=(ngram_min, ngram_max), min_df=min_df)


@registry.misc("spacy_clinical_es.TfidfEncoder.v2")
def create_tfidf_encoder_v2(
    ngram_min: int = 2,
    ngram_max: int = 4,
    min_df: int = 1,
    analyzer: str = "char_wb",
    abbreviations: bool = True,
    word_weight: float = 0.0,
) -> TfidfCharEncoder:
    """TF-IDF over n-grams inside words, clinical abbreviations expanded (tuned on the dev split)."""
    return TfidfCharEncoder(
        ngram_range=(ngram_min, ngram_max),
        min_df=min_df,
        analyzer=analyzer,
        abbreviations=abbreviations,
        word_weight=word_weight,
    )


@registry.misc("spacy_clinical_es.SapBertEncoder.v1")
def create_sapbert_encoder(
    name_or_path: str = SAPBERT_MODEL,
    pooling: str = "cls",
    max_length: int = 25,
    batch_size: int = 64,
    device: str = "cpu",
) -> TransformerEncoder:
    """SapBERT-style encoder: transformers AutoModel with [CLS] pooling (local path or hub name)."""
    return TransformerEncoder(
        name_or_path, pooling=pooling, max_length=max_length, batch_size=batch_size, device=device
    )


@registry.misc("spacy_clinical_es.SentenceTransformerEncoder.v1")
def create_sentence_transformer_encoder(
    name_or_path: str, batch_size: int = 64, device: str = "cpu"
) -> SentenceTransformerEncoder:
    """Any sentence-transformers model (local directory or hub name)."""
    return SentenceTransformerEncoder(name_or_path, batch_size=batch_size, device=device)


@registry.misc("spacy_clinical_es.DenseEncoder.v1")
def create_dense_encoder(
    path: str, kind: str = "transformer", batch_size: int = 256, device: str = "cpu"
) -> CharCNNEncoder | TransformerEncoder:
    """A fine-tuned encoder (finetune-linker): ``kind`` "char-cnn" or "transformer" (mean pooling).

    The model is read on first use, so a pipeline whose linker saved its own
    copy (``dense_encoder/``) loads even where ``path`` does not exist.
    """
    if kind == CharCNNEncoder.kind:
        return CharCNNEncoder(path, batch_size=batch_size, device=device)
    if kind == TransformerEncoder.kind:
        return TransformerEncoder(path, pooling="mean", max_length=25, batch_size=batch_size, device=device)
    raise LinkingError(f"DenseEncoder kind must be 'char-cnn' or 'transformer', got {kind!r}.")


@registry.misc("spacy_clinical_es.DefinitionGenerator.v1")
def create_definition_generator(
    name_or_path: str,
    num_beams: int = 1,
    max_new_tokens: int = 32,
    batch_size: int = 8,
    device: str = "cpu",
    cache: bool = True,
) -> LazySeq2SeqGenerator:
    """Seq2seq model for the generative linking backend, loaded on first use."""
    return LazySeq2SeqGenerator(
        name_or_path,
        num_beams=num_beams,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        device=device,
        cache=cache,
    )
