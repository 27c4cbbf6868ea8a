"""Fine-tune a seq2seq model (T5 / mT5 / Medical-mT5) to write entities in List or Tag format.

Sentence-level examples, as in the image-entity study: every gold document
is cut into the chunks the ``generative_ner`` component will send at
inference (:func:`~spacy_clinical_es.generative.chunks.plan_chunks`, one
sentence per chunk, sentences longer than ``--max-chunk-tokens`` words cut);
the input is the prompt (``--prompt-template``: ``en`` = "Extract named
entities: {sentence}", ``es`` or a string with ``{sentence}``) and the target
the gold spans rendered in ``--format`` (``list``: ``Varón | SEXO; 38 años |
EDAD`` or ``NO ENTITIES``; ``tag``: inline tags; ``json``). Gold spans: the
flat ``doc.ents`` (default, what the imaging scores use) or a span group
(``--span-key imaging``: nested spans too). What a format cannot express is
counted, never dropped silently.

Per split (train, dev, and test if given, counted only) it logs and
writes the paper's Table 4 counts: sentences, sentences with entities,
entities (plus the spans a format could not express). Training uses
``transformers.Seq2SeqTrainer``; the model, the tokenizer and
``generative_training.json`` (settings, counts, command) are saved in
``--output``, which ``spacy_clinical_es.Seq2SeqBackend.v1`` loads.

Command line: ``python -m spacy_clinical_es finetune-seq2seq`` (see ``--help``);
``--tiny-base DIR`` builds a 2-layer T5 (:mod:`spacy_clinical_es.models.tiny`)
whose tokenizer is trained on the training inputs and targets: it learns next
to nothing and only proves the loop (smoke runs).
"""
from __future__ import annotations

import json
import logging
import platform
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import Doc, DocBin

from ...errors import ConfigError
from ..formats import FORMATS
from ..prompts import resolve_seq2seq_template, seq2seq_prompt
from ..types import OutputFormat
from .annotate import ChunkExample, chunk_examples, example_counts

logger = logging.getLogger(__name__)

META_NAME = "generative_training.json"


@dataclass(frozen=True)
class FinetuneSettings:
    """Everything a fine-tuning run needs (the CLI's options; defaults written here once)."""

    train: Path
    output: Path
    base_model: str | None = None  # local directory or hub name of a seq2seq model
    tiny_base: Path | None = None  # build a tiny local T5 here instead (smoke runs)
    dev: Path | None = None
    test: Path | None = None
    output_format: str = "list"
    prompt_template: str = "en"
    span_key: str | None = None
    max_chunk_tokens: int = 100
    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float = 3e-4
    batch_size: int = 8
    grad_accum: int = 1
    max_source_length: int = 256
    max_target_length: int = 256
    seed: int = 0
    bf16: bool = False
    cpu: bool = False
    lr_scheduler: str = "linear"
    torch_threads: int | None = None
    limit_docs: int | None = None
    tiny_vocab_size: int = 600
    counts_output: Path | None = None


def read_docs(path: Path, limit: int | None = None) -> list[Doc]:
    """The docs of a ``.spacy`` file (the first ``limit``)."""
    if not path.is_file():
        raise ConfigError(f"{path} is not a .spacy file: build the corpus first (spacy project run corpus-imaging)")
    docs = list(DocBin().from_disk(path).get_docs(spacy.blank("es").vocab))
    return docs[:limit] if limit else docs


def split_examples(
    path: Path, fmt: OutputFormat, settings: FinetuneSettings
) -> tuple[list[ChunkExample], dict[str, Any]]:
    """Sentence examples of one split and their counts."""
    problems: Counter = Counter()
    examples = chunk_examples(
        read_docs(path, settings.limit_docs),
        fmt,
        span_key=settings.span_key,
        max_tokens=settings.max_chunk_tokens,
        pack=False,
        problems=problems,
    )
    return examples, example_counts(examples, problems)


def log_table(counts: dict[str, dict[str, Any]]) -> None:
    """The per-split counts as a table in the log."""
    logger.info(f"{'split':<8}{'docs':>7}{'sentences':>11}{'with entities':>15}{'entities':>10}  not expressible")
    for split, row in counts.items():
        logger.info(
            f"{split:<8}{row['docs']:>7}{row['sentences']:>11}{row['sentences_with_entities']:>15}"
            f"{row['entities']:>10}  {row['not_expressible'] or '-'}"
        )


class Seq2SeqData:
    """Tokenized (prompt, target) pairs for the Trainer."""

    def __init__(self, tokenizer: Any, pairs: list[tuple[str, str]], max_source: int, max_target: int) -> None:
        self.features = []
        self.truncated = 0
        for prompt, target in pairs:
            source = tokenizer(prompt, truncation=True, max_length=max_source)
            labels = tokenizer(text_target=target, truncation=False)["input_ids"]
            if len(labels) > max_target:
                self.truncated += 1
                labels = labels[: max_target - 1] + [tokenizer.eos_token_id]
            self.features.append({**source, "labels": labels})

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


def run_finetune(settings: FinetuneSettings, *, command: str = "") -> dict[str, Any]:
    """Count the splits, fine-tune, save model + tokenizer + ``generative_training.json``; return that metadata."""
    if (settings.base_model is None) == (settings.tiny_base is None):
        raise ConfigError("Give exactly one of --base-model and --tiny-base.")
    if settings.output_format not in FORMATS:
        raise ConfigError(f"Unknown format {settings.output_format!r}: choose one of {sorted(FORMATS)}.")
    template = resolve_seq2seq_template(settings.prompt_template)
    fmt = FORMATS[settings.output_format]()

    splits: dict[str, list[ChunkExample]] = {}
    counts: dict[str, dict[str, Any]] = {}
    for split, path in (("train", settings.train), ("dev", settings.dev), ("test", settings.test)):
        if path is not None:
            splits[split], counts[split] = split_examples(path, fmt, settings)
    log_table(counts)
    if settings.counts_output is not None:
        settings.counts_output.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "description": "Sentence-level generative targets per split (Table 4 of the image-entity paper)",
            "command": command,
            "format": settings.output_format,
            "span_key": settings.span_key,
            "max_chunk_tokens": settings.max_chunk_tokens,
            "splits": counts,
        }
        settings.counts_output.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    def pairs(split: str) -> list[tuple[str, str]]:
        return [(seq2seq_prompt(template, e.text), e.target) for e in splits.get(split, [])]

    train_pairs = pairs("train")
    if not train_pairs:
        raise ConfigError(f"{settings.train} gives no training sentence")

    import torch
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        set_seed,
    )

    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    set_seed(settings.seed)
    base_model = settings.base_model
    if settings.tiny_base is not None:
        from ...models.tiny import build_tiny_t5

        texts = [text for pair in train_pairs for text in pair]
        base_model = str(build_tiny_t5(settings.tiny_base, texts, vocab_size=settings.tiny_vocab_size))
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForSeq2SeqLM.from_pretrained(base_model)
    train_data = Seq2SeqData(tokenizer, train_pairs, settings.max_source_length, settings.max_target_length)
    dev_data = (
        Seq2SeqData(tokenizer, pairs("dev"), settings.max_source_length, settings.max_target_length)
        if "dev" in splits
        else None
    )
    if train_data.truncated:
        logger.warning("%d training targets cut at %d tokens", train_data.truncated, settings.max_target_length)

    training_args = Seq2SeqTrainingArguments(
        output_dir=str(settings.output / "checkpoints"),
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        seed=settings.seed,
        bf16=settings.bf16,
        use_cpu=settings.cpu or not torch.cuda.is_available(),
        disable_tqdm=True,
    )
    trainer = Seq2SeqTrainer(
        model=model,
        args=training_args,
        train_dataset=train_data,
        eval_dataset=dev_data,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100),
        processing_class=tokenizer,
    )
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    dev_loss = trainer.evaluate()["eval_loss"] if dev_data is not None and len(dev_data) else None
    settings.output.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(settings.output))
    tokenizer.save_pretrained(str(settings.output))
    meta = {
        "command": command,
        "base_model": base_model if settings.tiny_base is None else f"tiny T5 built in {settings.tiny_base}",
        "tiny": settings.tiny_base is not None,
        "format": settings.output_format,
        "prompt_template": template,
        "span_key": settings.span_key,
        "max_chunk_tokens": settings.max_chunk_tokens,
        "steps": result.global_step,
        "train_loss": result.training_loss,
        "dev_loss": dev_loss,
        "train_seconds": seconds,
        "splits": counts,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    (settings.output / META_NAME).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    logger.info(
        "saved %s after %d steps (%.1f s, train loss %.4f, dev loss %s)",
        settings.output,
        result.global_step,
        seconds,
        result.training_loss,
        "-" if dev_loss is None else f"{dev_loss:.4f}",
    )
    return meta
