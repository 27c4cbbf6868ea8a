"""spaCy-free helpers for transformer models: wordpiece windowing and logit merging.

Register the window strategies with spaCy through :mod:`.registry` (the only
module here that imports spaCy).
"""
from .windows import (
    MERGE_MODES,
    STRATEGIES,
    TOKEN_REDUCTIONS,
    NaiveHalfOverlap,
    SentencePacking,
    Window,
    WindowError,
    WindowStrategy,
    central_owners,
    cost,
    merge_logits,
    piece_to_token_logits,
    with_central_ownership,
)

__all__ = [
    "MERGE_MODES",
    "STRATEGIES",
    "TOKEN_REDUCTIONS",
    "NaiveHalfOverlap",
    "SentencePacking",
    "Window",
    "WindowError",
    "WindowStrategy",
    "central_owners",
    "cost",
    "merge_logits",
    "piece_to_token_logits",
    "with_central_ownership",
]
