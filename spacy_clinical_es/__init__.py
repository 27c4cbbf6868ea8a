"""spacy-clinical-es: spaCy components for Spanish clinical text.

Importing the package registers nothing beyond spaCy registry entries; spaCy
also finds every factory and function through entry points, so ``spacy.load``
works without importing this package. The import also caches srsly's msgpack
hook lookup (:mod:`.msgpack_hooks`), which otherwise dominates reading a DocBin.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    ClinicalEsError,
    ConfigError,
    CorpusFormatError,
    DataDirError,
    EvaluationError,
)
from .msgpack_hooks import cache_msgpack_hooks

cache_msgpack_hooks()

__all__ = [
    "ClinicalEsError",
    "ConfigError",
    "CorpusFormatError",
    "DataDirError",
    "EvaluationError",
    "__version__",
]
