"""Transformer token classification: wordpiece windows, logit merging, tag decoding.

What is imported here is spaCy-free and torch-free: :mod:`.windows` (window
planning, merging and their backward passes) and :mod:`.tagging` (BIO/BILUO
tag sets, constrained Viterbi). :mod:`.registry` registers the window
strategies with spaCy; :mod:`.transformer` is the thinc/PyTorch model
(``spacy_clinical_es.TransformerTokenClassifier.v1``) and needs the
``transformers`` extra. :mod:`.fragment_graph` is the discontinuous linker's
span/pair scorer (``spacy_clinical_es.FragmentGraph.v1``) and :mod:`.blas_ops`
the ``spacy_clinical_es.numpy_blas_ops.v1`` callback. All are loaded by spaCy
through entry points.
"""
from .tagging import (
    SCHEMES,
    TagSet,
    make_tag_set,
    tag_set_from_names,
    tags_to_spans,
    viterbi,
)
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
    merge_logits_backward,
    piece_to_token_backward,
    piece_to_token_logits,
    with_central_ownership,
)

__all__ = [
    "MERGE_MODES",
    "SCHEMES",
    "STRATEGIES",
    "TOKEN_REDUCTIONS",
    "NaiveHalfOverlap",
    "SentencePacking",
    "TagSet",
    "Window",
    "WindowError",
    "WindowStrategy",
    "central_owners",
    "cost",
    "make_tag_set",
    "merge_logits",
    "merge_logits_backward",
    "piece_to_token_backward",
    "piece_to_token_logits",
    "tag_set_from_names",
    "tags_to_spans",
    "viterbi",
    "with_central_ownership",
]
