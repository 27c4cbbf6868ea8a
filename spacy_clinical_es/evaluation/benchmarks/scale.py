"""Throughput of the three shells on the same texts: one process, ``nlp.pipe(n_process=N)`` and Spark ``local[N]``.

All three run the same pipeline (detector + ``deid_randomizer``) with the same secret key (a random one,
put in the environment variable before any worker process or the JVM starts, never written) over the
MEDDOCAN dev texts, and their outputs are compared document by document: de-identified text and audit
rows (offsets, labels, actions) must be identical.

* ``one_process``: :func:`spacy_clinical_es.runtime.batch.deidentify_batch` (through
  :func:`spacy_clinical_es.runtime.spark.deid_records`) over all texts, the pipeline already loaded;
* ``n_process``: ``nlp.pipe(texts, n_process=N)`` + the same audit rows (``piece_audit``); its time includes starting the worker processes and
  loading the pipeline in each (spaCy starts them per call);
* ``spark``: :func:`spacy_clinical_es.runtime.spark.deidentify` + ``collect()`` in ``local[N]``: ``cold``
  (the workers load the pipeline) and ``warm`` (the same job again: each worker reuses its cached
  pipeline); the session start is reported apart.

Words are the non-space tokens of the documents (as :func:`~spacy_clinical_es.evaluation.evaluate.score_pipeline`
counts them). NumPy's BLAS gets one thread per process, so N processes means N cores. No text is written.
"""
from __future__ import annotations

import logging
import os
import platform
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...corpora.representation import USER_DATA_KEY
from ...errors import ConfigError
from ...pipeline.deid_randomizer import DEFAULT_KEY_ENV
from ..report import write_json

logger = logging.getLogger(__name__)

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def read_texts(data: Path, limit: int | None = None) -> tuple[list[str], list[str]]:
    """``(ids, texts)`` of a DocBin (e.g. ``corpus/deid/dev.spacy``); ids from the documents' records."""
    import spacy
    from spacy.tokens import DocBin

    if not data.is_file():
        raise ConfigError(f"{data} not found: build the corpus first (spacy project run corpus-deid).")
    docs = list(DocBin().from_disk(data).get_docs(spacy.blank("es").vocab))
    if limit is not None:
        docs = docs[:limit]
    ids = []
    for i, doc in enumerate(docs):
        record = doc.user_data.get(USER_DATA_KEY)
        source = record.get("document", {}) if isinstance(record, dict) else {}
        ids.append(str(source.get("id") or f"doc{i:04d}"))
    if len(set(ids)) != len(ids):
        ids = [f"doc{i:04d}" for i in range(len(docs))]
    return ids, [doc.text for doc in docs]


def _speed(seconds: float, n_docs: int, words: int) -> dict[str, float]:
    return {
        "seconds": seconds,
        "docs_per_second": n_docs / seconds if seconds > 0 else 0.0,
        "words_per_second": words / seconds if seconds > 0 else 0.0,
    }


def _comparable(record: dict[str, Any]) -> tuple[Any, ...]:
    spans = tuple(tuple(sorted(row.items())) for row in record["spans"])
    return record["deid_text"], record["n_spans"], spans, record["error"]


def _differences(reference: dict[str, dict[str, Any]], other: dict[str, dict[str, Any]]) -> dict[str, int]:
    missing = sum(1 for doc_id in reference if doc_id not in other)
    extra = sum(1 for doc_id in other if doc_id not in reference)
    text = sum(1 for k, r in reference.items() if k in other and other[k]["deid_text"] != r["deid_text"])
    audit = sum(1 for k, r in reference.items() if k in other and _comparable(other[k]) != _comparable(r))
    return {"missing": missing, "extra": extra, "text_differs": text, "audit_differs": audit}


def run_scale(
    model: Path,
    data: Path,
    output: Path,
    *,
    limit: int | None = None,
    n_process: int = 2,
    master: str | None = None,
    partitions: int | None = None,
    batch_size: int = 32,
    command: str = "",
) -> dict[str, Any]:
    """Time the three shells over the texts of ``data``, compare their outputs, write ``output``."""
    for var in BLAS_ENV:  # for the worker processes and Spark's Python workers (started below)
        os.environ.setdefault(var, "1")
    os.environ[DEFAULT_KEY_ENV] = secrets.token_hex(16)  # before any worker or the JVM starts; never written
    master = master or f"local[{n_process}]"
    partitions = partitions or 2 * n_process

    import spacy
    from threadpoolctl import threadpool_limits

    from ...runtime import spark as spark_shell
    from ...runtime.batch import piece_audit, prepare_pipeline, read_key_from

    if not model.exists():
        raise ConfigError(f"Model {model} not found: train it first (spacy project run train-deid-cnn).")
    ids, texts = read_texts(data, limit)
    load_before = os.getloadavg()
    started = time.perf_counter()
    nlp, randomizer = prepare_pipeline(spacy.load(model), mode=None, seed=None, key=None)
    read_key_from(randomizer, DEFAULT_KEY_ENV)  # read from the environment here and in every worker
    load_seconds = time.perf_counter() - started
    results: dict[str, Any] = {}

    with threadpool_limits(limits=1):
        logger.info("One process: %d documents", len(texts))
        started = time.perf_counter()
        one = spark_shell.deid_records(nlp, ids, texts, batch_size=batch_size)
        seconds = time.perf_counter() - started
    words = sum(1 for doc in nlp.tokenizer.pipe(texts) for token in doc if not token.is_space)
    reference = {r["id"]: r for r in one}
    results["one_process"] = {**_speed(seconds, len(texts), words), "pipeline_load_seconds": load_seconds}

    logger.info("nlp.pipe(n_process=%d)", n_process)
    started = time.perf_counter()
    multi: dict[str, dict[str, Any]] = {}
    stream = nlp.pipe(zip(texts, ids), as_tuples=True, n_process=n_process, batch_size=batch_size)
    for doc, doc_id in stream:
        spans = piece_audit(doc, randomizer, keep_originals=False)
        multi[doc_id] = {"deid_text": doc._.deid_text, "n_spans": len(spans), "spans": spans, "error": None}
    results[f"nlp_pipe_n_process_{n_process}"] = {
        **_speed(time.perf_counter() - started, len(texts), words),
        "note": "includes starting the worker processes and loading the pipeline in each",
        "differences_vs_one_process": _differences(reference, multi),
    }

    logger.info("Spark %s, %d partitions", master, partitions)
    started = time.perf_counter()
    session = spark_shell.local_session(master, "spacy-clinical-es-scale")
    session_seconds = time.perf_counter() - started
    try:
        rdd = session.sparkContext.parallelize(list(zip(ids, texts)), partitions)
        frame = session.createDataFrame(rdd, "id string, text string").cache()
        frame.count()
        spark_runs: dict[str, Any] = {}
        for run in ("cold", "warm"):
            started = time.perf_counter()
            rows = spark_shell.deidentify(frame, model=model.resolve(), batch_size=batch_size).collect()
            seconds = time.perf_counter() - started
            got = {r["id"]: r.asDict(recursive=True) for r in rows}
            spark_runs[run] = {**_speed(seconds, len(texts), words), "differences_vs_one_process": _differences(reference, got)}
        loads = spark_shell.worker_loads(session, "deid", model.resolve(), n_partitions=partitions)
    finally:
        session.stop()
    results[f"spark_{master}"] = {
        "session_start_seconds": session_seconds,
        "partitions": partitions,
        "cold": {**spark_runs["cold"], "note": "the Python workers load the pipeline (once each)"},
        "warm": {**spark_runs["warm"], "note": "the same job again: each worker reuses its cached pipeline"},
        "pipeline_loads_per_worker": sorted(loads.values(), reverse=True),
    }

    diffs = [results[f"nlp_pipe_n_process_{n_process}"]["differences_vs_one_process"]]
    diffs += [results[f"spark_{master}"][run]["differences_vs_one_process"] for run in ("cold", "warm")]
    identical = all(not any(d.values()) for d in diffs)
    report = {
        "model": str(model),
        "data": str(data),
        "command": command,
        "documents": len(texts),
        "words": words,
        "failed_documents": sum(1 for r in one if r["error"]),
        "batch_size": batch_size,
        "pipeline": list(nlp.pipe_names),
        "outputs_identical": identical,
        "identity_checked_on": "de-identified text and audit rows (offsets, label, category, action) per document",
        "results": results,
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average_before_after": [load_before[0], os.getloadavg()[0]],
            "blas_threads_per_process": {var: os.environ.get(var) for var in BLAS_ENV},
            "python": platform.python_version(),
            "spacy": spacy.__version__,
            "pyspark": _pyspark_version(),
        },
        "key": "random, in the environment variable " + DEFAULT_KEY_ENV + " (not written)",
    }
    write_json(report, output)
    logger.info("Outputs identical across the three shells: %s; wrote %s", identical, output)
    return report


def _pyspark_version() -> str:
    import pyspark

    return pyspark.__version__


def summary_rows(report: dict[str, Any]) -> Sequence[tuple[str, float, float]]:
    """``(shell, docs/s, words/s)`` rows of a report, for the CLI's table."""
    rows = []
    for name, value in report["results"].items():
        for run in ("cold", "warm"):
            if run in value:
                rows.append((f"{name} ({run})", value[run]["docs_per_second"], value[run]["words_per_second"]))
        if "docs_per_second" in value:
            rows.append((name, value["docs_per_second"], value["words_per_second"]))
    return rows
