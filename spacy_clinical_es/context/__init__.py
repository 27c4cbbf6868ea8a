"""Negation and uncertainty of clinical concepts (NUBes scheme): spaCy-free cue lexicon, ConText-style scope
rules, tag encoding for the trained tagger and scores. ``registry`` is the only module here that imports
spaCy: it holds the two implementations the ``clinical_context`` component selects in its config.
"""
from __future__ import annotations

from .lexicon import CueEntry, CueLexicon, Sentence, TokenSpan, learn_lexicon, normalize
from .schema import CUE_LABELS, CUES_KEY, SCOPE_LABELS, SCOPES_KEY
from .scope import (
    ContextResult,
    ScopeRules,
    find_context,
    learn_scope_rules,
    mark_targets,
)

__all__ = [
    "CUES_KEY",
    "CUE_LABELS",
    "SCOPES_KEY",
    "SCOPE_LABELS",
    "ContextResult",
    "CueEntry",
    "CueLexicon",
    "ScopeRules",
    "Sentence",
    "TokenSpan",
    "find_context",
    "learn_lexicon",
    "learn_scope_rules",
    "mark_targets",
    "normalize",
]
