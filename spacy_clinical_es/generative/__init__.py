"""spaCy-free target formats, parsers and aligner for generative (decoder LLM) NER.

Register the formats with spaCy through :mod:`.registry` (the only module
here that imports spaCy).
"""
from .align import AlignedSpan, AlignResult, align, normalize
from .chunks import RoundTrip, round_trip, split_spans
from .formats import (
    FORMATS,
    NO_ENTITIES,
    GoldSpan,
    Item,
    JsonFormat,
    ListFormat,
    OutputFormat,
    ParseResult,
    TagFormat,
)

__all__ = [
    "FORMATS",
    "NO_ENTITIES",
    "AlignResult",
    "AlignedSpan",
    "GoldSpan",
    "Item",
    "JsonFormat",
    "ListFormat",
    "OutputFormat",
    "ParseResult",
    "RoundTrip",
    "TagFormat",
    "align",
    "normalize",
    "round_trip",
    "split_spans",
]
