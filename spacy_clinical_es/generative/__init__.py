"""Generative NER: a model writes the entities, the package aligns them back to the text.

spaCy-free (imported here): :mod:`.types` (the value types: spans, items,
parse results, the OutputFormat protocol, problem reasons), :mod:`.formats` (List/Tag/JSON renderers and
never-raising parsers), :mod:`.align` (aligner, hallucination counts),
:mod:`.chunks` (chunk planning, round trip), :mod:`.decode` (per-document
decoding and counts), :mod:`.prompts` (seq2seq and Spanish LLM prompts,
k-shot selection) and :mod:`.seq2seq` (the package's one "prompts in, strings
out" protocol ``TextGenerator``, Hugging Face generation with a cache; needs
the ``transformers`` extra when used).

spaCy layer, apart in :mod:`.spacy_layer` (import explicitly): ``registry``
(format registry functions), ``annotate`` (predictions to docs, gold targets),
``backends`` (``spacy_clinical_es.Seq2SeqBackend.v1``) and ``llm_task``
(spacy-llm task ``spacy_clinical_es.GenerativeNER.v1``).
The component is :mod:`spacy_clinical_es.pipeline.generative_ner`.
"""
from .align import AlignedSpan, AlignResult, align, normalize
from .chunks import RoundTrip, plan_chunks, round_trip, round_trip_counts, split_spans
from .decode import DocPrediction, GenerationCounts, decode_chunks
from .formats import FORMATS, JsonFormat, ListFormat, TagFormat
from .types import NO_ENTITIES, GoldSpan, Item, OutputFormat, ParseResult

__all__ = [
    "FORMATS",
    "NO_ENTITIES",
    "AlignResult",
    "AlignedSpan",
    "DocPrediction",
    "GenerationCounts",
    "GoldSpan",
    "Item",
    "JsonFormat",
    "ListFormat",
    "OutputFormat",
    "ParseResult",
    "RoundTrip",
    "TagFormat",
    "align",
    "decode_chunks",
    "normalize",
    "plan_chunks",
    "round_trip",
    "round_trip_counts",
    "split_spans",
]
