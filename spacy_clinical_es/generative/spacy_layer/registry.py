"""Register the generative output formats in spaCy's ``misc`` registry (thin layer)."""
from __future__ import annotations

from spacy.util import registry

from ..formats import NO_ENTITIES, JsonFormat, ListFormat, TagFormat


@registry.misc("spacy_clinical_es.ListFormat.v1")
def make_list_format(separator: str = "; ", empty: str = NO_ENTITIES) -> ListFormat:
    """``text | LABEL; …`` targets (``empty`` when a chunk has no entity)."""
    return ListFormat(separator=separator, empty=empty)


@registry.misc("spacy_clinical_es.TagFormat.v1")
def make_tag_format(nested: bool = False) -> TagFormat:
    """Inline ``<LABEL>…</LABEL>`` targets; ``nested`` also writes properly nested tags."""
    return TagFormat(nested=nested)


@registry.misc("spacy_clinical_es.JsonFormat.v1")
def make_json_format() -> JsonFormat:
    """JSON list targets (nested and discontinuous concepts)."""
    return JsonFormat()


@registry.misc("spacy_clinical_es.JsonFormat.v2")
def make_json_format_v2(concept_strings: bool = False) -> JsonFormat:
    """JSON list targets; with ``concept_strings`` a discontinuous concept is one string, aligned back by the
    concept-string aligner (CodiEsp references, LLM answers)."""
    return JsonFormat(concept_strings=concept_strings)
