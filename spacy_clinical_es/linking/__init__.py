"""Entity linking without spaCy: knowledge base, encoders, index, candidates.

The spaCy component lives in :mod:`spacy_clinical_es.pipeline.entity_linker`;
the registry entries in :mod:`spacy_clinical_es.linking.registry`.
"""
from __future__ import annotations

from .candidates import (
    Candidate,
    CandidateGenerator,
    LinkResult,
    Reranker,
    prefer_preferred_terms,
    semantic_type_match,
    vocabulary_rank,
)
from .encoders import Encoder, TfidfCharEncoder
from .index import ExactCosineIndex, VectorIndex
from .kb import Concept, KnowledgeBase, LinkingError
from .normalize import normalize_term

__all__ = [
    "Candidate",
    "CandidateGenerator",
    "Concept",
    "Encoder",
    "ExactCosineIndex",
    "KnowledgeBase",
    "LinkResult",
    "LinkingError",
    "Reranker",
    "TfidfCharEncoder",
    "VectorIndex",
    "normalize_term",
    "prefer_preferred_terms",
    "semantic_type_match",
    "vocabulary_rank",
]
