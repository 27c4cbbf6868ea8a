"""``spacy-clinical-es finetune-seq2seq``: fine-tune the seq2seq model behind ``spacy_clinical_es.Seq2SeqBackend.v1``."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..generative.spacy_layer.finetune import FinetuneSettings, run_finetune
from . import app
from .benchmark._common import invoked_command, user_errors

_D = FinetuneSettings(train=Path("."), output=Path("."))  # the defaults, written once in FinetuneSettings



@app.command("finetune-seq2seq")
def finetune_command(
    train: Annotated[Path, typer.Option("--train", exists=True, dir_okay=False, help="Training DocBin (.spacy).")],
    output: Annotated[Path, typer.Option("--output", help="Where the fine-tuned model is saved.")],
    base_model: Annotated[Optional[str], typer.Option("--base-model", help="Local dir or hub name (T5, mT5, Medical-mT5).")] = None,
    tiny_base: Annotated[Optional[Path], typer.Option("--tiny-base", help="Build a tiny local T5 here (smoke run).")] = None,
    dev: Annotated[Optional[Path], typer.Option("--dev", exists=True, dir_okay=False, help="Dev DocBin: counted, loss reported.")] = None,
    test: Annotated[Optional[Path], typer.Option("--test", exists=True, dir_okay=False, help="Test DocBin: counted only.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="list, tag or json.")] = _D.output_format,
    prompt_template: Annotated[str, typer.Option("--prompt-template", help="'en', 'es' or a string with {sentence}.")] = _D.prompt_template,
    span_key: Annotated[Optional[str], typer.Option("--span-key", help="Gold span group (default: doc.ents).")] = None,
    max_chunk_tokens: Annotated[int, typer.Option("--max-chunk-tokens", min=1)] = _D.max_chunk_tokens,
    epochs: Annotated[float, typer.Option("--epochs")] = _D.epochs,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Stop after this many steps (overrides epochs).")] = _D.max_steps,
    learning_rate: Annotated[float, typer.Option("--learning-rate")] = _D.learning_rate,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = _D.batch_size,
    grad_accum: Annotated[int, typer.Option("--grad-accum", min=1)] = _D.grad_accum,
    max_source_length: Annotated[int, typer.Option("--max-source-length", min=1)] = _D.max_source_length,
    max_target_length: Annotated[int, typer.Option("--max-target-length", min=1)] = _D.max_target_length,
    seed: Annotated[int, typer.Option("--seed")] = _D.seed,
    bf16: Annotated[bool, typer.Option("--bf16", help="bfloat16 mixed precision (GPU).")] = _D.bf16,
    cpu: Annotated[bool, typer.Option("--cpu", help="Train on the CPU even when a GPU is visible.")] = _D.cpu,
    lr_scheduler: Annotated[str, typer.Option("--lr-scheduler", help="transformers scheduler name.")] = _D.lr_scheduler,
    torch_threads: Annotated[Optional[int], typer.Option("--torch-threads")] = None,
    limit_docs: Annotated[Optional[int], typer.Option("--limit-docs", help="First N docs of each split.")] = None,
    tiny_vocab_size: Annotated[int, typer.Option("--tiny-vocab-size", min=10)] = _D.tiny_vocab_size,
    counts_output: Annotated[Optional[Path], typer.Option("--counts-output", help="Also write the counts (JSON).")] = None,
) -> None:
    """Sentence-level fine-tuning in List/Tag/JSON format; writes the model and generative_training.json."""
    settings = FinetuneSettings(
        train=train, output=output, base_model=base_model, tiny_base=tiny_base, dev=dev, test=test,
        output_format=output_format, prompt_template=prompt_template, span_key=span_key,
        max_chunk_tokens=max_chunk_tokens, epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
        batch_size=batch_size, grad_accum=grad_accum, max_source_length=max_source_length,
        max_target_length=max_target_length, seed=seed, bf16=bf16, cpu=cpu, lr_scheduler=lr_scheduler,
        torch_threads=torch_threads, limit_docs=limit_docs, tiny_vocab_size=tiny_vocab_size,
        counts_output=counts_output,
    )
    with user_errors():
        run_finetune(settings, command=invoked_command())
