"""De-identify and annotate a Spark DataFrame with a saved pipeline (``mapInPandas``, one pipeline per worker).

    from spacy_clinical_es.runtime.spark import deidentify, annotate
    out = deidentify(df, text_col="text", id_col="note_id", model="/models/es_clinical_deid",
                     key_env="SPACY_CLINICAL_ES_DEID_KEY")

* The pipeline is loaded **once per Python worker**: the function Spark ships to the executors is a
  :func:`functools.partial` of a module-level function over a small :class:`PipelineSpec` (model path
  or package name and options, a few strings), never the pipeline itself; the worker looks the spec
  up in a module-level cache and loads the model on the first batch only. With
  ``spark.python.worker.reuse`` (Spark's default) the next tasks on that worker reuse it.
* The secret key never appears in the plan: ``key_env`` is the *name* of an environment variable,
  read on the executor (``spark.executorEnv.NAME`` / a Kubernetes secret; in ``local[N]`` the
  driver's environment when the session was started). A missing variable is an error on the
  executor that names the variable, not a silently random run.
* Nothing is lost: a row whose text is null, not a string or makes the pipeline raise comes back
  with ``error`` set (a reason, never text) and a null output; the other rows of its batch are
  processed normally.
* Only the id and the outputs are returned; other input columns (they may hold PHI) are not
  copied: join on the id when you need them.

De-identification goes through :func:`spacy_clinical_es.runtime.batch.deidentify_batch`, the per-batch
function of every shell (:func:`deid_records` flattens its results into rows); :func:`annotate_records`
is shared with the HTTP service (:mod:`spacy_clinical_es.runtime.service`).
"""
from __future__ import annotations

import functools
import logging
import math
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from ..errors import ClinicalEsError
from ..pipeline.deid_randomizer import DEFAULT_KEY_ENV, DeidRandomizer

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

#: Output schema of :func:`deidentify` (Spark DDL).
DEID_SCHEMA = (
    "id string, deid_text string, mode string, n_spans int, "
    "spans array<struct<start:int,end:int,out_start:int,out_end:int,label:string,category:string,action:string>>, "
    "stats map<string,bigint>, error string"
)
#: Output schema of :func:`annotate` (Spark DDL).
ANNOTATE_SCHEMA = (
    "id string, n_spans int, "
    "spans array<struct<group:string,start:int,end:int,label:string,text:string,kb_id:string,span_id:string,"
    "codes:map<string,string>>>, error string"
)
ENTS_GROUP = "ents"


class SparkRuntimeError(ClinicalEsError):
    """The Spark shell cannot run as asked (pyspark missing, bad column, key variable not set)."""


@dataclass(frozen=True)
class PipelineSpec:
    """What a worker needs to build its pipeline: plain values only (this is what Spark pickles)."""

    model: str
    task: str = "deid"  # "deid" or "annotate"
    mode: str | None = None
    seed: int | None = None
    key_env: str | None = DEFAULT_KEY_ENV
    batch_size: int = 32

    @property
    def name(self) -> str:
        """``"task:model"``: the key of :data:`LOADS`."""
        return f"{self.task}:{self.model}"


# Per Python process: spec -> (nlp, randomizer or None). Filled on first use, never pickled.
_PIPELINES: dict[PipelineSpec, tuple[Language, DeidRandomizer | None]] = {}
#: Pipeline loads in this process per ``"task:model"`` (read by tests and the scale benchmark).
LOADS: Counter = Counter()


def load_pipeline(spec: PipelineSpec) -> tuple[Language, DeidRandomizer | None]:
    """The pipeline of ``spec`` for this process, loaded on first use and cached (module level)."""
    cached = _PIPELINES.get(spec)
    if cached is not None:
        return cached
    if spec.task == "deid":
        if spec.key_env and not os.environ.get(spec.key_env):
            raise SparkRuntimeError(
                f"The environment variable {spec.key_env} (key_env) is not set on this executor. Set it with "
                f"--conf spark.executorEnv.{spec.key_env}=… or a cluster secret (local mode: before the "
                "SparkSession starts), or pass key_env=None with a seed for keyless runs."
            )
        from .batch import prepare_pipeline, read_key_from

        nlp, randomizer = prepare_pipeline(spacy.load(spec.model), mode=spec.mode, seed=spec.seed, key=None)
        read_key_from(randomizer, spec.key_env)
        cached = (nlp, randomizer)
    elif spec.task == "annotate":
        cached = (spacy.load(spec.model), None)
    else:
        raise SparkRuntimeError(f"Unknown task {spec.task!r}: use 'deid' or 'annotate'.")
    LOADS[spec.name] += 1
    logger.info("Loaded pipeline %s for %s in process %d", spec.model, spec.task, os.getpid())
    _PIPELINES[spec] = cached
    return cached


# -- per-batch work shared by the shells -------------------------------------------------------------


def _bad_text(text: Any) -> str | None:
    if text is None:
        return "null text"
    if not isinstance(text, str):
        return f"text is {type(text).__name__}, not str"
    return None


def _run_docs(nlp: Language, texts: Sequence[str], batch_size: int, disable: Sequence[str] = ()) -> list[Doc | str]:
    """``nlp.pipe`` over ``texts``; when the batch raises, each text alone, so one bad text fails alone."""
    try:
        return list(nlp.pipe(texts, batch_size=batch_size, disable=list(disable)))
    except Exception:  # noqa: BLE001 (any pipeline error: isolate the document, keep the others)
        results: list[Doc | str] = []
        for text in texts:
            try:
                results.append(nlp(text, disable=list(disable)))
            except Exception as err:  # noqa: BLE001
                results.append(f"pipeline raised {type(err).__name__}")  # the message may quote text: not kept
        return results


def deid_records(
    nlp: Language, ids: Sequence[str], texts: Sequence[Any], *, batch_size: int = 32, max_chars: int = 0
) -> list[dict[str, Any]]:
    """De-identify one batch with :func:`spacy_clinical_es.runtime.batch.deidentify_batch` (the function
    every shell calls) and flatten its results to rows: ``id``, ``deid_text``, ``mode``, ``n_spans``,
    ``spans`` (audit rows: offsets, label, category, action; no text), ``stats`` and ``error``
    (``reason: detail`` without text, or ``None``)."""
    from .batch import DeidRecord, deidentify_batch, find_randomizer

    mode = find_randomizer(nlp).cfg["mode"]
    records = [DeidRecord(doc_id, text) for doc_id, text in zip(ids, texts)]
    rows = []
    for result in deidentify_batch(nlp, records, batch_size=batch_size, max_chars=max_chars):
        audit = result.audit or {}
        rows.append(
            {
                "id": result.id,
                "deid_text": result.text,
                "mode": audit.get("mode", mode),
                "n_spans": int(audit.get("n_spans", 0)),
                "spans": list(audit.get("spans", [])),
                "stats": {k: int(v) for k, v in audit.get("stats", {}).items()},
                "error": None if result.ok else f"{result.reason}: {result.detail}" if result.detail else result.reason,
            }
        )
    return rows


def concept_rows(doc: Doc) -> list[dict[str, Any]]:
    """The concepts of ``doc``: its entities (group ``"ents"``) and every span group, in text order."""
    groups: list[tuple[str, Any]] = [(ENTS_GROUP, doc.ents)]
    groups.extend((name, group) for name, group in sorted(doc.spans.items()))
    rows = []
    for name, spans in groups:
        for span in spans:
            codes = span._.codes if span.has_extension("codes") else {}
            rows.append(
                {
                    "group": name,
                    "start": span.start_char,
                    "end": span.end_char,
                    "label": span.label_,
                    "text": span.text,
                    "kb_id": span.kb_id_ or None,
                    "span_id": span.id_ or None,
                    "codes": {str(k): str(v) for k, v in (codes or {}).items()},
                }
            )
    rows.sort(key=lambda r: (r["start"], r["end"], r["group"], r["label"]))
    return rows


def annotate_records(
    nlp: Language, ids: Sequence[str], texts: Sequence[Any], *, batch_size: int = 32, disable: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Annotate one batch: per document ``id``, ``n_spans``, ``spans`` (:func:`concept_rows`) and ``error``
    (``disable``: components not to run, e.g. a ``deid_randomizer``)."""
    records: list[dict[str, Any] | None] = [None] * len(texts)
    good = []
    for i, (doc_id, text) in enumerate(zip(ids, texts)):
        reason = _bad_text(text)
        if reason is None:
            good.append(i)
        else:
            records[i] = {"id": doc_id, "n_spans": 0, "spans": [], "error": reason}
    for i, doc in zip(good, _run_docs(nlp, [texts[i] for i in good], batch_size, disable)):
        if isinstance(doc, str):
            records[i] = {"id": ids[i], "n_spans": 0, "spans": [], "error": doc}
        else:
            rows = concept_rows(doc)
            records[i] = {"id": ids[i], "n_spans": len(rows), "spans": rows, "error": None}
    return [r for r in records if r is not None]


# -- mapInPandas functions (module level: Spark pickles them by reference) ----------------------------


def _frames(spec: PipelineSpec, text_col: str, id_col: str, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    import pandas as pd

    nlp, _ = load_pipeline(spec)
    for frame in batches:
        ids = [None if v is None else str(v) for v in frame[id_col].tolist()]
        texts = [None if _is_missing(v) else v for v in frame[text_col].tolist()]
        if spec.task == "deid":
            records = deid_records(nlp, ids, texts, batch_size=spec.batch_size)
        else:
            records = annotate_records(nlp, ids, texts, batch_size=spec.batch_size)
        yield pd.DataFrame.from_records(records, columns=_columns(spec.task))


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _columns(task: str) -> list[str]:
    schema = DEID_SCHEMA if task == "deid" else ANNOTATE_SCHEMA
    columns, depth, current = [], 0, ""
    for char in schema:  # split the DDL on top-level commas
        depth += char == "<"
        depth -= char == ">"
        if char == "," and depth == 0:
            columns.append(current.strip().split(" ")[0])
            current = ""
        else:
            current += char
    columns.append(current.strip().split(" ")[0])
    return columns


def _check_columns(df: DataFrame, text_col: str, id_col: str) -> None:
    missing = [c for c in (text_col, id_col) if c not in df.columns]
    if missing:
        raise SparkRuntimeError(
            f"The DataFrame has no column {', '.join(map(repr, missing))}; its columns are {df.columns}. "
            "Pass text_col= and id_col=."
        )


def deidentify(
    df: DataFrame,
    *,
    text_col: str = "text",
    id_col: str = "id",
    model: str | Path,
    key_env: str | None = DEFAULT_KEY_ENV,
    mode: str | None = None,
    seed: int | None = None,
    batch_size: int = 32,
) -> DataFrame:
    """De-identify ``df[text_col]`` with the pipeline ``model`` (a path every executor can read, or an
    installed package name); returns ``id, deid_text, mode, n_spans, spans, stats, error`` (schema
    :data:`DEID_SCHEMA`), one row per input row.

    ``key_env`` names the environment variable holding the secret key on the executors (``None``:
    no key; give ``seed`` for reproducible keyless output).
    """
    _check_columns(df, text_col, id_col)
    spec = PipelineSpec(str(model), "deid", mode, seed, key_env, batch_size)
    return df.select(id_col, text_col).mapInPandas(functools.partial(_frames, spec, text_col, id_col), DEID_SCHEMA)


def annotate(
    df: DataFrame, *, text_col: str = "text", id_col: str = "id", model: str | Path, batch_size: int = 32
) -> DataFrame:
    """Annotate ``df[text_col]`` with the pipeline ``model``; returns ``id, n_spans, spans, error`` where
    ``spans`` holds every entity and span-group span with its label, text, ``kb_id`` and codes
    (schema :data:`ANNOTATE_SCHEMA`)."""
    _check_columns(df, text_col, id_col)
    spec = PipelineSpec(str(model), "annotate", None, None, None, batch_size)
    return df.select(id_col, text_col).mapInPandas(
        functools.partial(_frames, spec, text_col, id_col), ANNOTATE_SCHEMA
    )


def _worker_loads(name: str, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    import pandas as pd

    for _ in batches:
        pass
    yield pd.DataFrame({"pid": [os.getpid()], "loads": [LOADS[name]]})


def worker_loads(spark: SparkSession, task: str, model: str | Path, n_partitions: int = 8) -> dict[int, int]:
    """Loads of ``model`` for ``task`` per Python worker process (pid → loads), read by a small job.

    With worker reuse each worker reports the loads it did for the earlier jobs of this session.
    """
    name = PipelineSpec(str(model), task).name
    df = spark.range(n_partitions, numPartitions=n_partitions)
    rows = df.mapInPandas(functools.partial(_worker_loads, name), "pid long, loads long").collect()
    return {int(r["pid"]): int(r["loads"]) for r in rows}


def local_session(master: str = "local[2]", app_name: str = "spacy-clinical-es", **conf: str) -> SparkSession:
    """A local SparkSession whose Python workers run this interpreter (``PYSPARK_PYTHON`` unless set;
    no UI, small shuffles).

    Environment variables the workers need (the ``key_env`` variable) must be set before this call.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise SparkRuntimeError("pyspark is not installed: pip install 'spacy-clinical-es[spark]'") from err
    # Read when the JVM starts its Python workers (the spark.pyspark.python setting is not, in local mode).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    for name, value in conf.items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


__all__ = [
    "ANNOTATE_SCHEMA",
    "DEID_SCHEMA",
    "LOADS",
    "PipelineSpec",
    "SparkRuntimeError",
    "annotate",
    "annotate_records",
    "concept_rows",
    "deid_records",
    "deidentify",
    "load_pipeline",
    "local_session",
    "worker_loads",
]
