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

Per split (train, dev, and test if given, counted only) the script prints and
writes the paper's Table 4 counts: sentences, sentences with entities,
entities (plus the spans a format could not express). Training uses
``transformers.Seq2SeqTrainer``; the model, the tokenizer and
``generative_training.json`` (settings, counts, command) are saved in
``--output``, which ``spacy_clinical_es.Seq2SeqBackend.v1`` loads.

Usage (GPU, the paper's best model; see the README)::

    python scripts/finetune_seq2seq.py --base-model HiTZ/Medical-mT5-large \\
        --train corpus/imaging/train.spacy --dev corpus/imaging/dev.spacy --test corpus/imaging/test.spacy \\
        --format list --output training/generative_mt5 --epochs 10 --batch-size 8 \\
        --learning-rate 3e-4 --bf16

Smoke run on CPU (``--tiny-base DIR`` builds a 2-layer T5 with
``spacy_clinical_es/models/tiny.py`` whose tokenizer is trained on the training inputs
and targets; it learns next to nothing and only proves the loop)::

    python scripts/finetune_seq2seq.py --tiny-base training/tiny_t5_base --train corpus/imaging/train.spacy \\
        --dev corpus/imaging/dev.spacy --test corpus/imaging/test.spacy --output training/generative_tiny \\
        --max-steps 30 --counts-output metrics/generative_sentences.json
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import Doc, DocBin

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.generative.spacy_layer.annotate import (
    ChunkExample,
    chunk_examples,
    example_counts,
)
from spacy_clinical_es.generative.formats import FORMATS, OutputFormat
from spacy_clinical_es.generative.prompts import (
    resolve_seq2seq_template,
    seq2seq_prompt,
)

logger = logging.getLogger("finetune_seq2seq")

META_NAME = "generative_training.json"


def read_docs(path: Path, limit: int | None = None) -> list[Doc]:
    if not path.is_file():
        raise ConfigError(f"{path} is not a .spacy file: build the corpus first (spacy project run corpus-imaging)")
    docs = list(DocBin().from_disk(path).get_docs(spacy.blank("es").vocab))
    return docs[:limit] if limit else docs


def split_examples(
    path: Path, fmt: OutputFormat, args: argparse.Namespace
) -> tuple[list[ChunkExample], dict[str, Any]]:
    problems: Counter = Counter()
    examples = chunk_examples(
        read_docs(path, args.limit_docs),
        fmt,
        span_key=args.span_key,
        max_tokens=args.max_chunk_tokens,
        pack=False,
        problems=problems,
    )
    return examples, example_counts(examples, problems)


def print_table(counts: dict[str, dict[str, Any]]) -> None:
    header = f"{'split':<8}{'docs':>7}{'sentences':>11}{'with entities':>15}{'entities':>10}  not expressible"
    print(header)
    for split, row in counts.items():
        print(
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


def build_tiny_base(path: Path, texts: list[str], vocab_size: int) -> str:
    """A 2-layer T5 (:mod:`spacy_clinical_es.models.tiny`) with a tokenizer trained on ``texts`` (smoke runs only)."""
    from spacy_clinical_es.models.tiny import build_tiny_t5

    return str(build_tiny_t5(path, texts, vocab_size=vocab_size))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    base = parser.add_mutually_exclusive_group(required=True)
    base.add_argument("--base-model", help="local directory or hub name of a seq2seq model (T5, mT5, Medical-mT5)")
    base.add_argument("--tiny-base", type=Path, help="build a tiny local T5 here and fine-tune it (smoke run)")
    parser.add_argument("--train", type=Path, required=True, help="training DocBin (.spacy)")
    parser.add_argument("--dev", type=Path, help="dev DocBin: counted, and its loss reported after training")
    parser.add_argument("--test", type=Path, help="test DocBin: counted only")
    parser.add_argument("--output", type=Path, required=True, help="where the fine-tuned model is saved")
    parser.add_argument("--format", choices=sorted(FORMATS), default="list")
    parser.add_argument("--prompt-template", default="en", help="'en', 'es' or a string with {sentence}")
    parser.add_argument("--span-key", default=None, help="gold span group (default: doc.ents)")
    parser.add_argument("--max-chunk-tokens", type=int, default=100, help="sentences longer than this are cut")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (overrides epochs)")
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--max-source-length", type=int, default=256)
    parser.add_argument("--max-target-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 mixed precision (GPU)")
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is visible")
    parser.add_argument("--lr-scheduler", default="linear", help="transformers scheduler name (linear, constant, …)")
    parser.add_argument("--torch-threads", type=int, default=None, help="CPU threads for torch (1 is fastest for tiny models)")
    parser.add_argument("--limit-docs", type=int, default=None, help="use only the first N docs of each split")
    parser.add_argument("--tiny-vocab-size", type=int, default=600)
    parser.add_argument("--counts-output", type=Path, help="also write the per-split counts (JSON) here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    command = "python scripts/finetune_seq2seq.py " + " ".join(sys.argv[1:] if argv is None else argv)
    template = resolve_seq2seq_template(args.prompt_template)
    fmt = FORMATS[args.format]()

    splits: dict[str, list[ChunkExample]] = {}
    counts: dict[str, dict[str, Any]] = {}
    for split, path in (("train", args.train), ("dev", args.dev), ("test", args.test)):
        if path is not None:
            splits[split], counts[split] = split_examples(path, fmt, args)
    print_table(counts)
    if args.counts_output is not None:
        args.counts_output.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "description": "Sentence-level generative targets per split (Table 4 of the image-entity paper)",
            "command": command,
            "format": args.format,
            "span_key": args.span_key,
            "max_chunk_tokens": args.max_chunk_tokens,
            "splits": counts,
        }
        args.counts_output.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    def pairs(split: str) -> list[tuple[str, str]]:
        return [(seq2seq_prompt(template, e.text), e.target) for e in splits.get(split, [])]

    train_pairs = pairs("train")
    if not train_pairs:
        raise ConfigError(f"{args.train} gives no training sentence")

    import torch
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        set_seed,
    )

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    set_seed(args.seed)
    base_model = args.base_model
    if args.tiny_base is not None:
        texts = [text for pair in train_pairs for text in pair]
        base_model = build_tiny_base(args.tiny_base, texts, args.tiny_vocab_size)
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForSeq2SeqLM.from_pretrained(base_model)
    train_data = Seq2SeqData(tokenizer, train_pairs, args.max_source_length, args.max_target_length)
    dev_data = (
        Seq2SeqData(tokenizer, pairs("dev"), args.max_source_length, args.max_target_length) if "dev" in splits else None
    )
    if train_data.truncated:
        logger.warning("%d training targets cut at %d tokens", train_data.truncated, args.max_target_length)

    training_args = Seq2SeqTrainingArguments(
        output_dir=str(args.output / "checkpoints"),
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.lr_scheduler,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        seed=args.seed,
        bf16=args.bf16,
        use_cpu=args.cpu or not torch.cuda.is_available(),
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
    args.output.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(args.output))
    tokenizer.save_pretrained(str(args.output))
    meta = {
        "command": command,
        "base_model": base_model if args.tiny_base is None else f"tiny T5 built in {args.tiny_base}",
        "tiny": args.tiny_base is not None,
        "format": args.format,
        "prompt_template": template,
        "span_key": args.span_key,
        "max_chunk_tokens": args.max_chunk_tokens,
        "steps": result.global_step,
        "train_loss": result.training_loss,
        "dev_loss": dev_loss,
        "train_seconds": seconds,
        "splits": counts,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    (args.output / META_NAME).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    logger.info(
        "saved %s after %d steps (%.1f s, train loss %.4f, dev loss %s)",
        args.output,
        result.global_step,
        seconds,
        result.training_loss,
        "-" if dev_loss is None else f"{dev_loss:.4f}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
