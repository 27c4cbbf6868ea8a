"""Entity linking without spaCy: knowledge base, encoders, index, candidates.

The spaCy component lives in :mod:`spacy_clinical_es.pipeline.entity_linker`;
the registry entries in :mod:`spacy_clinical_es.linking.registry`.
"""
from __future__ import annotations

from .candidates import (
    Candidate,
    CandidateGenerator,
    LinkerOptions,
    LinkResult,
    Reranker,
    code_prior,
    prefer_preferred_terms,
    semantic_type_match,
    vocabulary_rank,
)
from .encoders import (
    Encoder,
    SentenceTransformerEncoder,
    TfidfCharEncoder,
    TransformerEncoder,
    encoder_from_bytes,
)
from .generative import DEFINITION_PROMPT, GenerativeLinker, TextGenerator
from .index import (
    AnnOptions,
    ExactCosineIndex,
    FaissIndex,
    VectorIndex,
    build_index,
    index_from_bytes,
)
from .kb import Concept, KnowledgeBase, LinkingError, TerminologyKB, iter_jsonl
from .normalize import normalize_term, token_key

__all__ = [
    "DEFINITION_PROMPT",
    "AnnOptions",
    "Candidate",
    "CandidateGenerator",
    "Concept",
    "Encoder",
    "ExactCosineIndex",
    "FaissIndex",
    "GenerativeLinker",
    "KnowledgeBase",
    "LinkResult",
    "LinkerOptions",
    "LinkingError",
    "Reranker",
    "SentenceTransformerEncoder",
    "TerminologyKB",
    "TextGenerator",
    "TfidfCharEncoder",
    "TransformerEncoder",
    "VectorIndex",
    "build_index",
    "code_prior",
    "encoder_from_bytes",
    "index_from_bytes",
    "iter_jsonl",
    "normalize_term",
    "prefer_preferred_terms",
    "semantic_type_match",
    "token_key",
    "vocabulary_rank",
]
