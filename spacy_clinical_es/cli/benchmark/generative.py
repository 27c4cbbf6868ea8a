"""``spacy-clinical-es benchmark generative {model,round-trip}``: generative NER scores and format round trip."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.generative import (
    FORMAT_BLOCKS,
    GenerationSettings,
    run_generative_model,
    run_round_trip,
)
from . import benchmark_app
from ._common import invoked_command, user_errors

generative_app = typer.Typer(help="Generative NER: score a model, or count the format round trip.", no_args_is_help=True)
benchmark_app.add_typer(generative_app, name="generative")

Data = Annotated[Path, typer.Option("--data", exists=True, dir_okay=False, help="Gold DocBin (.spacy).")]
Output = Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")]
GoldKey = Annotated[Optional[str], typer.Option("--gold-span-key", help="Gold span group (default: doc.ents).")]
ChunkTokens = Annotated[int, typer.Option("--max-chunk-tokens", min=1, help="Sentences longer than this are cut.")]


@generative_app.command("model")
def model_command(
    data: Data,
    output: Output,
    model: Annotated[Optional[Path], typer.Option("--model", help="Seq2seq model saved by finetune-seq2seq.")] = None,
    pipeline: Annotated[Optional[Path], typer.Option("--pipeline", help="Saved pipeline with a generative component.")] = None,
    output_format: Annotated[
        Optional[str], typer.Option("--format", help=f"One of {sorted(FORMAT_BLOCKS)} (default: the model's).")
    ] = None,
    prompt_template: Annotated[Optional[str], typer.Option("--prompt-template", help="Default: the model's.")] = None,
    num_beams: Annotated[int, typer.Option("--num-beams", min=1)] = 1,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 128,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Prompts per generate call.")] = 16,
    doc_batch_size: Annotated[int, typer.Option("--doc-batch-size", min=1, help="Docs per nlp.pipe batch.")] = 8,
    device: Annotated[str, typer.Option("--device")] = "cpu",
    torch_threads: Annotated[Optional[int], typer.Option("--torch-threads")] = None,
    limit_docs: Annotated[Optional[int], typer.Option("--limit-docs")] = None,
    smoke_note: Annotated[Optional[str], typer.Option("--smoke-note", help="Mark the metrics as a smoke run.")] = None,
    gold_span_key: GoldKey = None,
    max_chunk_tokens: ChunkTokens = 100,
) -> None:
    """Score a generative pipeline and count hallucinations."""
    settings = GenerationSettings(
        output_format=output_format, prompt_template=prompt_template, num_beams=num_beams,
        max_new_tokens=max_new_tokens, batch_size=batch_size, doc_batch_size=doc_batch_size, device=device,
        torch_threads=torch_threads, limit_docs=limit_docs, max_chunk_tokens=max_chunk_tokens,
    )
    with user_errors():
        run_generative_model(
            data, output, model=model, pipeline=pipeline, settings=settings, gold_span_key=gold_span_key,
            smoke_note=smoke_note, command=invoked_command(),
        )


@generative_app.command("round-trip")
def round_trip_command(data: Data, output: Output, gold_span_key: GoldKey = None, max_chunk_tokens: ChunkTokens = 100) -> None:
    """Format round-trip counts on the gold spans (what each format can express)."""
    with user_errors():
        run_round_trip(data, output, gold_span_key=gold_span_key, max_chunk_tokens=max_chunk_tokens, command=invoked_command())
