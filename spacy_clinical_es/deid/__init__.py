"""SpaCy-free de-identification: surrogate generation for PHI spans.

``randomize(text, spans, mode=..., seed=..., key=..., options=..., policy=...)``
returns the de-identified text, output spans carrying the original labels,
and an offset map from output to input. See :mod:`.randomizer` for the
guarantees, :mod:`.policy` for what happens per label and source,
:mod:`.locales` for the Faker surrogate pools and :mod:`.surrogates` for the
categories; the spaCy component is ``spacy_clinical_es.pipeline.deid_randomizer``.
"""
from __future__ import annotations

from .categories import CATEGORIES, LABEL_CATEGORIES, MASK_TAGS, category_of
from .errors import DeidError
from .locales import LOCALES
from .offsets import OffsetMap, Segment
from .options import MODES, DeidOptions
from .policy import ReplacementPolicy
from .randomizer import Replacement, Result, randomize
from .textutil import normalize

__all__ = [
    "CATEGORIES",
    "LABEL_CATEGORIES",
    "LOCALES",
    "MASK_TAGS",
    "MODES",
    "DeidError",
    "DeidOptions",
    "OffsetMap",
    "Replacement",
    "ReplacementPolicy",
    "Result",
    "Segment",
    "category_of",
    "normalize",
    "randomize",
]
