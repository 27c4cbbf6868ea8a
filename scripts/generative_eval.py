"""Evaluate a generative NER pipeline on a gold DocBin, or report the format round trip.

``model`` (default): run ``generative_ner`` over the gold texts and score it
with :mod:`spacy_clinical_es.evaluation` (strict per class, IOB2, exact),
plus the generation counts of the run: chunks, parsed items, aligned spans,
hallucinations (labels outside the label set, strings not in the text) and
other problems by reason, and how many docs had a hallucination. The
pipeline is ``--pipeline DIR`` (a saved spaCy pipeline, e.g. with
``generative_ner`` or spacy-llm's ``llm`` + ``spacy_clinical_es.GenerativeNER.v1``)
or built from ``--model DIR`` (a model saved by ``scripts/finetune_seq2seq.py``:
format, prompt and chunking come from its ``generative_training.json``).
``--smoke-note`` marks the output as a smoke run (tiny model), never a model
result.

``round-trip``: render every gold span of the DocBin in List, Tag (flat and
nested) and JSON per sentence, parse the targets back and align them; write
how many came back exactly and how many each format cannot express, by
reason (the acceptance check of the formats, as numbers).

Usage::

    python scripts/generative_eval.py model --model training/generative_tiny \\
        --data corpus/imaging/dev.spacy --output metrics/generative_tiny.json --smoke-note "..."
    python scripts/generative_eval.py round-trip --data corpus/imaging/dev.spacy \\
        --output metrics/generative_round_trip.json
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from spacy_clinical_es.corpora.builders.imaging import LABELS
from spacy_clinical_es.evaluation.evaluate import read_gold_docs
from spacy_clinical_es.evaluation.report import write_json
from spacy_clinical_es.evaluation.scorer import score_docs
from spacy_clinical_es.generative import JsonFormat, ListFormat, TagFormat
from spacy_clinical_es.generative.annotate import aggregate_counts, gold_spans
from spacy_clinical_es.generative.chunks import plan_chunks, round_trip_counts
from spacy_clinical_es.tokenizer import make_clinical_nlp

logger = logging.getLogger("generative_eval")

META_NAME = "generative_training.json"
FORMAT_BLOCKS = {
    "list": {"@misc": "spacy_clinical_es.ListFormat.v1"},
    "tag": {"@misc": "spacy_clinical_es.TagFormat.v1"},
    "json": {"@misc": "spacy_clinical_es.JsonFormat.v1"},
}


def build_pipeline(model: Path, args: argparse.Namespace) -> tuple[Language, dict[str, Any]]:
    """Clinical tokenizer + ``generative_ner`` over the seq2seq model in ``model``."""
    meta_path = model / META_NAME
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    nlp = make_clinical_nlp()
    nlp.add_pipe(
        "generative_ner",
        config={
            "labels": list(LABELS),
            "max_chunk_tokens": int(meta.get("max_chunk_tokens", args.max_chunk_tokens)),
            "pack_sentences": False,
            "output_format": FORMAT_BLOCKS[args.format or meta.get("format", "list")],
            "backend": {
                "@misc": "spacy_clinical_es.Seq2SeqBackend.v1",
                "name_or_path": str(model),
                "prompt_template": args.prompt_template or meta.get("prompt_template", "en"),
                "num_beams": args.num_beams,
                "max_new_tokens": args.max_new_tokens,
                "batch_size": args.batch_size,
                "device": args.device,
            },
        },
    )
    nlp.initialize()
    return nlp, meta


def evaluate(args: argparse.Namespace, command: str) -> dict[str, Any]:
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.pipeline is not None:
        nlp, meta = spacy.load(args.pipeline), {}
    else:
        nlp, meta = build_pipeline(args.model, args)
    gold = read_gold_docs(args.data, nlp)
    if args.limit_docs:
        gold = gold[: args.limit_docs]
    start = time.perf_counter()
    pred = list(nlp.pipe([doc.text for doc in gold], batch_size=args.doc_batch_size))
    seconds = time.perf_counter() - start
    scores = score_docs((gold, pred), gold_span_key=args.gold_span_key)
    words = sum(1 for doc in pred for token in doc if not token.is_space)
    result: dict[str, Any] = {}
    if args.smoke_note:
        result["note"] = args.smoke_note
    result.update(
        {
            "command": command,
            "data": str(args.data),
            "pipeline": {"components": list(nlp.pipe_names), "path": str(args.pipeline or args.model)},
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
    return result


def round_trip(args: argparse.Namespace, command: str) -> dict[str, Any]:
    nlp = spacy.blank("es")
    gold = read_gold_docs(args.data, nlp)
    docs = [(doc.text, gold_spans(doc, args.gold_span_key)) for doc in gold]

    def chunker(text: str) -> list[tuple[int, int]]:
        return plan_chunks(text, args.max_chunk_tokens, pack=False)

    formats = {"list": ListFormat(), "tag": TagFormat(), "tag_nested": TagFormat(nested=True), "json": JsonFormat()}
    return {
        "description": (
            "Gold spans rendered per sentence, parsed back and aligned: 'exact' of 'rendered' came back exactly; "
            "'not_expressible' counts the gold spans a format cannot write, by reason"
        ),
        "command": command,
        "data": str(args.data),
        "gold": args.gold_span_key or "doc.ents",
        "chunks": f"sentences, cut at {args.max_chunk_tokens} words (as for fine-tuning)",
        "formats": {
            name: round_trip_counts(fmt, docs, chunker=chunker, labels=list(LABELS)) for name, fmt in formats.items()
        },
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    model = sub.add_parser("model", help="score a generative pipeline and count hallucinations")
    source = model.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="seq2seq model saved by scripts/finetune_seq2seq.py")
    source.add_argument("--pipeline", type=Path, help="a saved spaCy pipeline with a generative component")
    model.add_argument("--format", choices=sorted(FORMAT_BLOCKS), default=None, help="default: the model's")
    model.add_argument("--prompt-template", default=None, help="default: the model's")
    model.add_argument("--num-beams", type=int, default=1)
    model.add_argument("--max-new-tokens", type=int, default=128)
    model.add_argument("--batch-size", type=int, default=16, help="prompts per generate call")
    model.add_argument("--doc-batch-size", type=int, default=8, help="docs per nlp.pipe batch")
    model.add_argument("--device", default="cpu")
    model.add_argument("--torch-threads", type=int, default=None)
    model.add_argument("--limit-docs", type=int, default=None)
    model.add_argument("--smoke-note", default=None, help="mark the metrics as a smoke run (tiny model)")
    for p in (model, sub.add_parser("round-trip", help="format round trip counts on gold spans")):
        p.add_argument("--data", type=Path, required=True, help="gold DocBin (.spacy)")
        p.add_argument("--output", type=Path, required=True, help="metrics JSON")
        p.add_argument("--gold-span-key", default=None, help="gold span group (default: doc.ents)")
        p.add_argument("--max-chunk-tokens", type=int, default=100, help="sentences longer than this are cut")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    command = "python scripts/generative_eval.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = evaluate(args, command) if args.mode == "model" else round_trip(args, command)
    write_json(result, args.output)
    logger.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
