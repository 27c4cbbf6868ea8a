"""Benchmark the MEDDOCAN de-identification pipeline: accuracy with/without ``phi_rules``, speed.

1. Scores the detector on the MEDDOCAN dev DocBin (gold: span group
   ``meddocan`` with exact offsets), alone and followed by ``phi_rules``
   (each merge policy): strict micro P/R/F and per label, PHI token P/R/F and
   leak rate (:mod:`spacy_clinical_es.evaluation`).
2. Times detector + ``phi_rules`` + ``deid_randomizer`` with ``nlp.pipe`` over
   the dev texts on 1 and 2 processes (the key for 2 processes is a random one
   put in ``SPACY_CLINICAL_ES_DEID_KEY``, never written).
3. Writes ``--output`` (JSON): numbers, targets met or not, model path and
   config, the command and the machine (cores, load average).

    python scripts/deid_benchmark.py training/deid_cnn/model-best corpus/deid/dev.spacy \
        --output metrics/deid.json
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import secrets
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import spacy
import srsly
from spacy.language import Language

import spacy_clinical_es
from spacy_clinical_es.evaluation.evaluate import read_gold_docs, score_pipeline
from spacy_clinical_es.pipeline import deid_randomizer as _deid_randomizer  # noqa: F401  (factory)
from spacy_clinical_es.pipeline import phi_rules as _phi_rules  # noqa: F401  (factory)
from spacy_clinical_es.pipeline.deid_randomizer import DEFAULT_KEY_ENV
from spacy_clinical_es.pipeline.phi_rules import MERGE_POLICIES

logger = logging.getLogger("deid_benchmark")

TARGETS = {"strict_micro_f1": 0.965, "phi_token_recall": 0.99, "words_per_second_1_process": 8000.0}
GOLD_SPAN_KEY = "meddocan"


def summarize(scores: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's numbers from :func:`score_pipeline`'s result."""
    strict = scores["strict"]
    token = scores["deid_token"]
    return {
        "strict": {k: strict[k] for k in ("p", "r", "f", "tp", "fp", "fn") if k in strict},
        "strict_per_label": strict["per_type"],
        "phi_token": {k: token[k] for k in ("p", "r", "f", "leak_rate") if k in token},
        "phi_char": {k: scores["deid_char"][k] for k in ("p", "r", "f", "leak_rate") if k in scores["deid_char"]},
        "n_docs": scores["n_docs"],
        "speed_ner_scoring_run": scores["speed"],
    }


def load(model: Path, *, phi_rules: str | None, randomizer: bool = False) -> Language:
    """The detector, optionally followed by ``phi_rules`` (merge policy) and the randomizer."""
    nlp = spacy.load(model)
    if phi_rules is not None:
        nlp.add_pipe("phi_rules", config={"merge": phi_rules})
    if randomizer:
        nlp.add_pipe("deid_randomizer", config={"mode": "surrogate"})
    return nlp


def time_pipe(nlp: Language, texts: list[str], *, n_process: int, batch_size: int, repeats: int) -> dict[str, Any]:
    """Words per second of ``nlp.pipe`` over ``texts`` (best of ``repeats``; words: non-space tokens)."""
    list(nlp.pipe(texts[:8], batch_size=batch_size))  # warm-up (lazy initialization)
    runs = []
    words = 0
    for _ in range(repeats):
        start = time.perf_counter()
        docs = list(nlp.pipe(texts, n_process=n_process, batch_size=batch_size))
        seconds = time.perf_counter() - start
        words = sum(1 for doc in docs for token in doc if not token.is_space)
        if any(doc._.deid_text is None for doc in docs):
            raise RuntimeError("the randomizer did not run on every document")
        runs.append(seconds)
    best = min(runs)
    return {
        "n_process": n_process,
        "batch_size": batch_size,
        "docs": len(texts),
        "words": words,
        "seconds_runs": runs,
        "seconds_best": best,
        "words_per_second": words / best,
    }


def machine() -> dict[str, Any]:
    """Cores, load average and versions (the timings depend on them)."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "spacy_clinical_es": getattr(spacy_clinical_es, "__version__", ""),
    }
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        info["loadavg_1_5_15_at_start"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="detector pipeline (MEDDOCAN labels in doc.ents)")
    parser.add_argument("data", type=Path, help="MEDDOCAN dev DocBin (gold in span group 'meddocan')")
    parser.add_argument("--output", type=Path, default=Path("metrics/deid.json"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="timing runs per setting (best is kept)")
    parser.add_argument("--processes", default="1,2", help="comma-separated n_process values to time")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    started = machine()

    accuracy: dict[str, Any] = {}
    gold_docs = None
    for setting in (None, *MERGE_POLICIES):
        name = "detector" if setting is None else f"detector+phi_rules[{setting}]"
        nlp = load(args.model, phi_rules=setting)
        if gold_docs is None:
            gold_docs = read_gold_docs(args.data, nlp)
        logger.info("Scoring %s", name)
        scores = score_pipeline(nlp, gold_docs, gold_span_key=GOLD_SPAN_KEY, batch_size=args.batch_size)
        accuracy[name] = summarize(scores)
    assert gold_docs is not None
    texts = [doc.text for doc in gold_docs]

    speed: dict[str, Any] = {}
    os.environ[DEFAULT_KEY_ENV] = secrets.token_hex(16)  # random, for this run only
    nlp = load(args.model, phi_rules="prefer_ner", randomizer=True)
    for n_process in (int(n) for n in args.processes.split(",")):
        logger.info("Timing detector+phi_rules+deid_randomizer on %d process(es)", n_process)
        speed[f"n_process_{n_process}"] = time_pipe(
            nlp, texts, n_process=n_process, batch_size=args.batch_size, repeats=args.repeats
        )

    main_result = accuracy["detector+phi_rules[prefer_ner]"]
    measured = {
        "strict_micro_f1": main_result["strict"]["f"],
        "phi_token_recall": main_result["phi_token"]["r"],
        "words_per_second_1_process": speed.get("n_process_1", {}).get("words_per_second", 0.0),
    }
    result = {
        "model": str(args.model),
        "data": str(args.data),
        "gold_span_key": GOLD_SPAN_KEY,
        "command": command,
        "config": {
            "pipeline": nlp.pipe_names,
            "phi_rules": dict(nlp.get_pipe("phi_rules").cfg),
            "deid_randomizer": {k: v for k, v in nlp.get_pipe("deid_randomizer").cfg.items()},
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "model_meta": {k: nlp.meta.get(k) for k in ("lang", "name", "version", "spacy_version")},
            "model_config": {"nlp": dict(nlp.config["nlp"]), "training": {
                k: nlp.config["training"].get(k) for k in ("max_steps", "seed", "dropout", "patience")
            }},
        },
        "machine": started,
        "accuracy": accuracy,
        "speed": speed,
        "targets": {
            name: {"target": target, "measured": measured[name], "met": measured[name] >= target}
            for name, target in TARGETS.items()
        },
    }
    result["config"]["model_config"]["nlp"].pop("tokenizer", None)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(args.output, result)
    for name, row in result["targets"].items():
        logger.info("%s: %.4f (target %.4g) %s", name, row["measured"], row["target"], "met" if row["met"] else "NOT met")
    logger.info("Wrote %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
