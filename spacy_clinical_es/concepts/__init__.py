"""Nested and discontinuous concepts (spaCy-free).

* :mod:`.align`: :func:`align_concept` finds the minimal token fragments of a
  sentence that spell a concept string ("edema pierna izquierda").
* :mod:`.fragments`: the fragment graph of the discontinuous finder —
  candidate spans, training targets (span roles and fragment links) and
  decoding by maximal cliques.
"""
from __future__ import annotations

from .align import ConceptMatch, align_concept, fold, fragments_text, word_tokens
from .fragments import (
    Entity,
    ScoredSpan,
    Targets,
    candidate_spans,
    decode,
    encode,
    make_entity,
    maximal_cliques,
    non_overlapping,
    pair_candidates,
)

__all__ = [
    "ConceptMatch",
    "Entity",
    "ScoredSpan",
    "Targets",
    "align_concept",
    "candidate_spans",
    "decode",
    "encode",
    "fold",
    "fragments_text",
    "make_entity",
    "maximal_cliques",
    "non_overlapping",
    "pair_candidates",
    "word_tokens",
]
