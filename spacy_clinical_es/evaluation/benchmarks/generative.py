"""Evaluate a generative NER pipeline on a gold DocBin, or report the format round trip.

``model`` (default): run ``generative_ner`` over the gold texts and score it
with :mod:`spacy_clinical_es.evaluation` (strict per class, IOB2, exact),
plus the generation counts of the run: chunks, parsed items, aligned spans,
hallucinations (labels outside the label set, strings not in the text) and
other problems by reason, and how many docs had a hallucination. The
pipeline is ``--pipeline DIR`` (a saved spaCy pipeline, e.g. with
``generative_ner`` or spacy-llm's ``llm`` + ``spacy_clinical_es.GenerativeNER.v1``)
or built from ``--model DIR`` (a model saved by ``python -m spacy_clinical_es finetune-seq2seq``:
format, prompt and chunking come from its ``generative_training.json``).
``--smoke-note`` marks the output as a smoke run (tiny model), never a model
result.

``round-trip``: render every gold span of the DocBin in List, Tag (flat and
nested), JSON and JSON with concept strings (a discontinuous concept as one
string, aligned back by the concept-string aligner) per sentence, parse the
targets back and align them; write how many came back exactly and how many
each format cannot express, by reason, discontinuous concepts apart (the
acceptance check of the formats, as numbers).
"""
from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from ...corpora.builders.imaging import LABELS
from ...generative import JsonFormat, ListFormat, TagFormat
from ...generative.chunks import plan_chunks, round_trip_counts
from ...generative.spacy_layer.annotate import aggregate_counts, gold_spans
from ...tokenizer import make_clinical_nlp
from ..evaluate import read_gold_docs
from ..report import write_json
from ..scorer import score_docs

logger = logging.getLogger(__name__)

META_NAME = "generative_training.json"
FORMAT_BLOCKS = {
    "list": {"@misc": "spacy_clinical_es.ListFormat.v1"},
    "tag": {"@misc": "spacy_clinical_es.TagFormat.v1"},
    "json": {"@misc": "spacy_clinical_es.JsonFormat.v1"},
}


@dataclass(frozen=True)
class GenerationSettings:
    """How the ``model`` mode builds and runs the pipeline (the CLI's options)."""

    output_format: str | None = None  # default: the model's
    prompt_template: str | None = None  # default: the model's
    num_beams: int = 1
    max_new_tokens: int = 128
    batch_size: int = 16  # prompts per generate call
    doc_batch_size: int = 8  # docs per nlp.pipe batch
    device: str = "cpu"
    torch_threads: int | None = None
    limit_docs: int | None = None
    max_chunk_tokens: int = 100


def build_pipeline(model: Path, settings: GenerationSettings) -> tuple[Language, dict[str, Any]]:
    """Clinical tokenizer + ``clinical_es_generative_ner`` over the seq2seq model in ``model``."""
    meta_path = model / META_NAME
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    nlp = make_clinical_nlp()
    nlp.add_pipe(
        "clinical_es_generative_ner",
        config={
            "labels": list(LABELS),
            "max_chunk_tokens": int(meta.get("max_chunk_tokens", settings.max_chunk_tokens)),
            "pack_sentences": False,
            "output_format": FORMAT_BLOCKS[settings.output_format or meta.get("format", "list")],
            "backend": {
                "@misc": "spacy_clinical_es.Seq2SeqBackend.v1",
                "name_or_path": str(model),
                "prompt_template": settings.prompt_template or meta.get("prompt_template", "en"),
                "num_beams": settings.num_beams,
                "max_new_tokens": settings.max_new_tokens,
                "batch_size": settings.batch_size,
                "device": settings.device,
            },
        },
    )
    nlp.initialize()
    return nlp, meta


def run_generative_model(
    data: Path,
    output: Path | None,
    *,
    model: Path | None = None,
    pipeline: Path | None = None,
    settings: GenerationSettings = GenerationSettings(),
    gold_span_key: str | None = None,
    smoke_note: str | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Score a generative pipeline (``pipeline``, or one built over ``model``) and count its hallucinations."""
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    if pipeline is not None:
        nlp, meta = spacy.load(pipeline), {}
    elif model is not None:
        nlp, meta = build_pipeline(model, settings)
    else:
        from ...errors import ConfigError

        raise ConfigError("Give a seq2seq model (--model) or a saved pipeline (--pipeline).")
    gold = read_gold_docs(data, nlp)
    if settings.limit_docs:
        gold = gold[: settings.limit_docs]
    start = time.perf_counter()
    pred = list(nlp.pipe([doc.text for doc in gold], batch_size=settings.doc_batch_size))
    seconds = time.perf_counter() - start
    scores = score_docs((gold, pred), gold_span_key=gold_span_key)
    words = sum(1 for doc in pred for token in doc if not token.is_space)
    result: dict[str, Any] = {}
    if smoke_note:
        result["note"] = smoke_note
    result.update(
        {
            "command": command,
            "data": str(data),
            "pipeline": {"components": list(nlp.pipe_names), "path": str(pipeline or model)},
            "training": meta,
            "generation": aggregate_counts(pred),
            **scores,
            "speed": {"seconds": seconds, "words": words, "words_per_second": words / seconds if seconds else 0.0},
            "python": platform.python_version(),
            "spacy": spacy.__version__,
        }
    )
    logger.info(
        "%d docs in %.1f s: strict F1 %.4f, %d hallucinations",
        len(pred),
        seconds,
        scores["strict"]["f"],
        result["generation"]["n_hallucinations"],
    )
    if output is not None:
        write_json(result, output)
    return result


def run_round_trip(
    data: Path,
    output: Path | None,
    *,
    gold_span_key: str | None = None,
    max_chunk_tokens: int = 100,
    command: str = "",
) -> dict[str, Any]:
    """Render every gold span in each format per sentence, parse back, align: counts per format."""
    nlp = spacy.blank("es")
    gold = read_gold_docs(data, nlp)
    docs = [(doc.text, gold_spans(doc, gold_span_key)) for doc in gold]

    def chunker(text: str) -> list[tuple[int, int]]:
        return plan_chunks(text, max_chunk_tokens, pack=False)

    formats = {
        "list": ListFormat(),
        "tag": TagFormat(),
        "tag_nested": TagFormat(nested=True),
        "json": JsonFormat(),
        "json_concepts": JsonFormat(concept_strings=True),
    }
    # the label set: the image-entity labels, plus whatever else the gold holds (CodiEsp: DIAGNOSTICO, PROCEDIMIENTO)
    labels = sorted(set(LABELS) | {label for _, spans in docs for _, label in spans})
    result = {
        "description": (
            "Gold spans rendered per sentence, parsed back and aligned: 'exact' of 'rendered' came back exactly; "
            "'not_expressible' counts the gold spans a format cannot write, by reason"
        ),
        "command": command,
        "data": str(data),
        "gold": gold_span_key or "doc.ents",
        "chunks": f"sentences, cut at {max_chunk_tokens} words (as for fine-tuning)",
        "formats": {
            name: round_trip_counts(fmt, docs, chunker=chunker, labels=labels) for name, fmt in formats.items()
        },
    }
    if output is not None:
        write_json(result, output)
    return result
