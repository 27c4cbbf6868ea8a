"""Benchmark the MEDDOCAN de-identification pipeline: accuracy with/without the rule components, speed.

The detector is a trained pipeline whose statistical NER is followed by
``phi_rules`` (structured PHI) and ``phi_gazetteer`` (training phrases and
in-document propagation), as ``configs/deid_cnn.cfg`` trains it. A detector
without them gets ``phi_rules`` added, and ``phi_gazetteer`` too when
``--train`` gives the corpus to build its gazetteer from.

1. Scores on the MEDDOCAN dev DocBin (gold: span group ``meddocan`` with
   exact offsets): the NER alone, NER + ``phi_rules`` (each merge policy),
   NER + ``phi_gazetteer``, and the whole detector: strict micro P/R/F and per
   label, PHI token P/R/F and leak rate (:mod:`spacy_clinical_es.evaluation`).
2. Times the whole detector + ``deid_randomizer`` with ``nlp.pipe`` over the
   dev texts on 1 and 2 processes (the key is a random one put in
   ``SPACY_CLINICAL_ES_DEID_KEY``, never written), plus the seconds of each
   component on one process.
3. Writes ``--output`` (JSON): numbers, targets met or not, model path and
   config, the command and the machine (cores, load average, BLAS threads).

NumPy's BLAS gets one thread per process (``OPENBLAS_NUM_THREADS=1`` and
friends, unless set in the environment), so "one process" means one core.

    python scripts/deid_benchmark.py training/deid_cnn/model-best corpus/deid/dev.spacy \
        --output metrics/deid.json
"""
from __future__ import annotations

import os

# Before NumPy is imported: one BLAS thread per process (see the docstring).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import logging
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
from spacy.tokens import DocBin
from spacy.training import Example

import spacy_clinical_es
from spacy_clinical_es.evaluation.evaluate import read_gold_docs, score_pipeline
from spacy_clinical_es.evaluation.scorer import score_docs
from spacy_clinical_es.pipeline import deid_randomizer as _deid_randomizer  # noqa: F401  (factory)
from spacy_clinical_es.pipeline import phi_gazetteer as _phi_gazetteer  # noqa: F401  (factory)
from spacy_clinical_es.pipeline import phi_rules as _phi_rules  # noqa: F401  (factory)
from spacy_clinical_es.pipeline.deid_randomizer import DEFAULT_KEY_ENV
from spacy_clinical_es.pipeline.phi_recall import replacement_spans_key
from spacy_clinical_es.pipeline.phi_rules import MERGE_POLICIES

logger = logging.getLogger("deid_benchmark")

TARGETS = {"strict_micro_f1": 0.965, "phi_token_recall": 0.99, "words_per_second_1_process": 8000.0}
GOLD_SPAN_KEY = "meddocan"
RULE_COMPONENTS = ("phi_rules", "phi_gazetteer")
RECALL_COMPONENT = "phi_recall"
FULL = "detector"  # the whole detector: NER + phi_rules + phi_gazetteer (its doc.ents)
REPLACED = "replaced"  # what the randomizer replaces: phi_recall's group (entities + recall spans)


def summarize(scores: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's numbers from :func:`score_pipeline`'s result."""
    strict = scores["strict"]
    token = scores["deid_token"]
    return {
        "strict": {k: strict[k] for k in ("p", "r", "f", "tp", "fp", "fn") if k in strict},
        "strict_per_label": strict["per_type"],
        "phi_token": {k: token[k] for k in ("p", "r", "f", "fn", "leak_rate") if k in token},
        "phi_char": {k: scores["deid_char"][k] for k in ("p", "r", "f", "leak_rate") if k in scores["deid_char"]},
        "n_docs": scores["n_docs"],
        "speed_scoring_run": scores["speed"],
    }


def load_detector(model: Path, train: Path | None) -> Language:
    """The detector with ``phi_rules`` and, when it has one or ``train`` is given, ``phi_gazetteer``."""
    nlp = spacy.load(model)
    if "phi_rules" not in nlp.pipe_names:
        logger.info("%s has no phi_rules: adding one with the default config", model)
        nlp.add_pipe("phi_rules")
    if "phi_gazetteer" not in nlp.pipe_names and train is not None:
        logger.info("%s has no phi_gazetteer: building one from %s", model, train)
        gazetteer = nlp.add_pipe("phi_gazetteer")
        train_docs = list(DocBin().from_disk(train).get_docs(nlp.vocab))
        gazetteer.initialize(lambda: (Example(nlp.make_doc(d.text), d) for d in train_docs), nlp=nlp)
    return nlp


def settings(nlp: Language) -> dict[str, tuple[list[str], str]]:
    """Scored settings: name -> (components disabled, phi_rules merge policy)."""
    has_gazetteer = "phi_gazetteer" in nlp.pipe_names
    default_merge = nlp.get_pipe("phi_rules").cfg["merge"]
    # phi_recall never changes doc.ents (set_ents = false): off while the entities are scored.
    recall = [RECALL_COMPONENT] if RECALL_COMPONENT in nlp.pipe_names else []
    rows: dict[str, tuple[list[str], str]] = {"ner": ([*RULE_COMPONENTS, *recall], default_merge)}
    for policy in MERGE_POLICIES:
        rows[f"ner+phi_rules[{policy}]"] = (["phi_gazetteer", *recall], policy)
    if has_gazetteer:
        rows["ner+phi_gazetteer"] = (["phi_rules", *recall], default_merge)
        rows[FULL] = (recall, default_merge)
    present = set(nlp.pipe_names)
    return {name: ([c for c in disabled if c in present], merge) for name, (disabled, merge) in rows.items()}


def setting_key(threshold: float, temperature: float) -> str:
    """The key of one ``phi_recall`` setting in ``replaced.settings``."""
    return f"threshold={threshold:g} temperature={temperature:g}"


def score_replaced(
    nlp: Language,
    gold_docs: list[Any],
    *,
    key: str,
    thresholds: list[float],
    temperatures: list[float],
    batch_size: int,
) -> dict[str, Any]:
    """Scores of the span group the randomizer replaces, for each ``phi_recall`` threshold and temperature.

    The pipeline runs once; ``phi_recall`` re-annotates the docs from its stored
    probabilities for each setting (the entities do not depend on it).
    """
    recall = nlp.get_pipe(RECALL_COMPONENT)
    configured = (recall.cfg["threshold"], recall.cfg["temperature"])
    with nlp.select_pipes(disable=[RECALL_COMPONENT]):
        pred_docs = list(nlp.pipe([doc.text for doc in gold_docs], batch_size=batch_size))
    probabilities = recall.predict(pred_docs)
    rows: dict[str, Any] = {}
    grid = {(t, temp) for t in thresholds for temp in temperatures} | {configured}
    try:
        for threshold, temperature in sorted(grid, key=lambda s: (s[1], -s[0])):
            recall.cfg["threshold"], recall.cfg["temperature"] = threshold, temperature
            logger.info("Scoring the replaced spans at phi_recall %s", setting_key(threshold, temperature))
            recall.set_annotations(pred_docs, probabilities)
            scores = score_docs((gold_docs, pred_docs), span_key=key, gold_span_key=GOLD_SPAN_KEY)
            scores["speed"] = {}
            rows[setting_key(threshold, temperature)] = summarize(scores)
    finally:
        recall.cfg["threshold"], recall.cfg["temperature"] = configured
    return {"spans_key": key, "configured": setting_key(*configured), "settings": rows}


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


def time_components(nlp: Language, texts: list[str], *, batch_size: int) -> dict[str, float]:
    """Seconds of the tokenizer and of each component over ``texts`` on this process (one pass)."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    docs = [nlp.make_doc(text) for text in texts]
    result["tokenizer"] = time.perf_counter() - start
    for name, proc in nlp.pipeline:
        start = time.perf_counter()
        if hasattr(proc, "pipe"):
            docs = list(proc.pipe(docs, batch_size=batch_size))
        else:
            docs = [proc(doc) for doc in docs]
        result[name] = time.perf_counter() - start
    return result


def machine() -> dict[str, Any]:
    """Cores, load average, BLAS threads and versions (the timings depend on them)."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "spacy_clinical_es": getattr(spacy_clinical_es, "__version__", ""),
        "blas_threads": {var: os.environ.get(var) for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
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
    parser.add_argument("--train", type=Path, default=None, help="training DocBin, for a detector without phi_gazetteer")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="timing runs per setting (best is kept)")
    parser.add_argument("--processes", default="1,2", help="comma-separated n_process values to time")
    parser.add_argument("--limit", type=int, default=0, help="only the first N dev documents (smoke tests; 0: all)")
    parser.add_argument(
        "--thresholds",
        default="0.5,0.3,0.2,0.1,0.05,0.02",
        help="phi_recall thresholds to score the replaced spans at (the configured setting is always scored)",
    )
    parser.add_argument(
        "--temperatures",
        default="1,2,4",
        help="phi_recall temperatures, crossed with --thresholds",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    started = machine()

    nlp = load_detector(args.model, args.train)
    gold_docs = read_gold_docs(args.data, nlp)
    if args.limit:
        gold_docs = gold_docs[: args.limit]
    texts = [doc.text for doc in gold_docs]
    rules = nlp.get_pipe("phi_rules")
    default_merge = rules.cfg["merge"]
    accuracy: dict[str, Any] = {}
    for name, (disabled, merge) in settings(nlp).items():
        rules.cfg["merge"] = merge
        rules._validate()
        logger.info("Scoring %s", name)
        with nlp.select_pipes(disable=disabled):
            scores = score_pipeline(nlp, gold_docs, gold_span_key=GOLD_SPAN_KEY, batch_size=args.batch_size)
        accuracy[name] = summarize(scores)
    rules.cfg["merge"] = default_merge
    rules._validate()
    main_name = FULL if FULL in accuracy else f"ner+phi_rules[{default_merge}]"
    replaced_key = replacement_spans_key(nlp)
    replaced = None
    if replaced_key is not None:
        replaced = score_replaced(
            nlp,
            gold_docs,
            key=replaced_key,
            thresholds=[float(t) for t in args.thresholds.split(",") if t.strip()],
            temperatures=[float(t) for t in args.temperatures.split(",") if t.strip()],
            batch_size=args.batch_size,
        )

    speed: dict[str, Any] = {}
    os.environ[DEFAULT_KEY_ENV] = secrets.token_hex(16)  # random, for this run only
    nlp.add_pipe("deid_randomizer", config={"mode": "surrogate", "spans_key": replaced_key})
    logger.info("Timing each component on one process")
    speed["component_seconds_1_process"] = time_components(nlp, texts, batch_size=args.batch_size)
    for n_process in (int(n) for n in args.processes.split(",")):
        logger.info("Timing %s on %d process(es)", "+".join(nlp.pipe_names), n_process)
        speed[f"n_process_{n_process}"] = time_pipe(
            nlp, texts, n_process=n_process, batch_size=args.batch_size, repeats=args.repeats
        )

    main_result = accuracy[main_name]
    # Token recall counts what is replaced: phi_recall's group when there is one, else the entities.
    replaced_result = replaced["settings"][replaced["configured"]] if replaced is not None else main_result
    measured = {
        "strict_micro_f1": main_result["strict"]["f"],
        "phi_token_recall": replaced_result["phi_token"]["r"],
        "words_per_second_1_process": speed.get("n_process_1", {}).get("words_per_second", 0.0),
    }
    model_config = nlp.config
    result = {
        "model": str(args.model),
        "data": str(args.data),
        "train": str(args.train) if args.train else None,
        "limit": args.limit or None,
        "gold_span_key": GOLD_SPAN_KEY,
        "command": command,
        "tuning_note": "MEDDOCAN dev was used to choose the detector's configuration and rule options; "
        "these are dev scores, not held-out test scores.",
        "main_setting": main_name,
        "measured_on": {
            "strict_micro_f1": f"{main_name}: doc.ents",
            "phi_token_recall": (
                f"{REPLACED}: doc.spans[{replaced_key!r}] (entities + phi_recall spans), the spans the randomizer "
                "replaces"
                if replaced is not None
                else f"{main_name}: doc.ents"
            ),
        },
        "config": {
            "pipeline": nlp.pipe_names,
            "phi_rules": dict(rules.cfg),
            "phi_gazetteer": (
                {**nlp.get_pipe("phi_gazetteer").cfg, "phrases": len(nlp.get_pipe("phi_gazetteer"))}
                if "phi_gazetteer" in nlp.pipe_names
                else None
            ),
            "phi_recall": (
                {k: v for k, v in nlp.get_pipe(RECALL_COMPONENT).cfg.items() if k != "labels"}
                if RECALL_COMPONENT in nlp.pipe_names
                else None
            ),
            "deid_randomizer": dict(nlp.get_pipe("deid_randomizer").cfg),
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "model_meta": {k: nlp.meta.get(k) for k in ("lang", "name", "version", "spacy_version")},
            "model_config": {
                "nlp": {k: v for k, v in dict(model_config["nlp"]).items() if k != "tokenizer"},
                "tok2vec": {
                    k: v
                    for k, v in model_config["components"].get("tok2vec", {}).get("model", {}).get("encode", {}).items()
                },
                "ner_hidden_width": model_config["components"].get("ner", {}).get("model", {}).get("hidden_width"),
                "training": {
                    k: model_config["training"].get(k) for k in ("max_steps", "seed", "dropout", "patience")
                },
            },
        },
        "machine": started,
        "accuracy": accuracy,
        REPLACED: replaced,
        "speed": speed,
        "targets": {
            name: {"target": target, "measured": measured[name], "met": measured[name] >= target}
            for name, target in TARGETS.items()
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(args.output, result)
    for name, row in result["targets"].items():
        logger.info("%s: %.4f (target %.4g) %s", name, row["measured"], row["target"], "met" if row["met"] else "NOT met")
    logger.info("Wrote %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
