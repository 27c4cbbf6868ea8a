"""End-to-end concept normalisation: mentions found *and* coded, scored as (document, start, end, code).

The chain (concept NER -> linker) is judged as the shared tasks judge it
(MedProcNER subtask 3, DisTEMIST entity linking): a prediction is a true
positive when its document, start, end and code all equal a gold one's.
Per-stage loss splits every gold item into

* ``not_found``: no predicted concept at exactly its offsets (lost by the NER
  / span finders, whatever code the linker would have given);
* ``wrong_code``: a predicted concept at its offsets, with another code or
  none (lost by the linker);
* ``correct``: both right.

CodiEsp-X style (:data:`CODIESP_TASKS`, with ``codiesp``): the same strict
match with CodiEsp test's ICD-10-CM / ICD-10-PCS codes against the
``CIE-10-ES`` codes of the pipeline, its text reference being the concept's
overall start and end.

Gold: a ``.spacy`` DocBin whose span group ``gold_span_key`` holds the
concepts with their codes in the package's annotation records
(``span._.codes[gold_system]``, as the converters write them): the test part
of the concept corpus (``convert concepts``), whose documents neither the
concept NER nor the knowledge base has seen. Predictions: the pipeline's
concept records (:func:`spacy_clinical_es.runtime.annotate.concept_records`).
Discontinuous concepts count by their overall start and end, as the shared
tasks' TSV files do.

One run scores several :class:`E2ETask`: a label (``PROCEDIMIENTO`` for
MedProcNER, ``ENFERMEDAD`` for DisTEMIST), the gold code system and the
predicted one. As in the shared tasks, a task is scored on the documents
its corpus coded (those with at least one gold code of that label and
system); predictions of other labels are not that task's.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...corpora.builders.imaging import SPAN_KEY as CONCEPT_SPAN_KEY
from ...errors import EvaluationError
from ..evaluate import DEFAULT_BATCH_SIZE, load_model, read_gold_docs
from ..report import table, write_json, write_text

logger = logging.getLogger(__name__)

Item = tuple[str, int, int, str]  # (document, start, end, code)
LINKER_FACTORY = "clinical_es_entity_linker"
#: Where ``benchmark e2e`` and ``package --e2e-gold`` write their scores.
DEFAULT_OUTPUT = Path("metrics/e2e.json")


@dataclass(frozen=True)
class E2ETask:
    """One end-to-end score: concepts of ``label`` (``"*"``: any), gold codes of ``gold_system`` vs predicted ones of ``pred_system``."""

    name: str
    label: str = "*"
    gold_system: str = "SNOMEDCT"
    pred_system: str = "SNOMED CT"
    #: The shared task's best end-to-end F1 for this task, when there is one (for the report).
    shared_task_best: float | None = None
    #: The predicted concepts' label when the gold corpus names it otherwise (CodiEsp's DIAGNOSTICO: ENFERMEDAD).
    pred_label: str | None = None

    @classmethod
    def parse(cls, text: str) -> E2ETask:
        """``LABEL:GOLD_SYSTEM:PRED_SYSTEM`` (the CLI's ``--task``), named after itself."""
        parts = text.split(":")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise EvaluationError(
                f"--task {text!r}: write LABEL:GOLD_SYSTEM:PRED_SYSTEM, e.g. 'PROCEDIMIENTO:SNOMEDCT:SNOMED CT' "
                "('*' as LABEL for every label)."
            )
        label, gold, pred = (p.strip() for p in parts)
        return cls(name=text, label=label, gold_system=gold, pred_system=pred)


#: CodiEsp-X style (code + text reference) on CodiEsp test (``convert discontinuous``, span group ``codiesp``).
CODIESP_SPAN_KEY = "codiesp"
CODIESP_TASKS: tuple[E2ETask, ...] = (
    E2ETask("CodiEsp-X ICD-10-CM", "DIAGNOSTICO", "ICD10-CM", "CIE-10-ES", pred_label="ENFERMEDAD"),
    E2ETask("CodiEsp-X ICD-10-PCS", "PROCEDIMIENTO", "ICD10-PCS", "CIE-10-ES"),
)

#: The tasks of ``es_clinical_concepts`` on the concept corpus. MedProcNER subtask 3's best end-to-end F1 is from
#: the CLEF 2023 overview (Lima-López et al.); DisTEMIST's linking subtrack scored gold mentions, not the chain.
CONCEPT_TASKS: tuple[E2ETask, ...] = (
    E2ETask("MedProcNER SNOMED CT", "PROCEDIMIENTO", "SNOMEDCT", "SNOMED CT", shared_task_best=0.571),
    E2ETask("DisTEMIST SNOMED CT", "ENFERMEDAD", "SNOMEDCT", "SNOMED CT"),
    E2ETask("DisTEMIST ICD-10 (cross-map)", "ENFERMEDAD", "ICD10", "CIE-10"),
)


def e2e_scores(
    gold: Iterable[Item], predicted: Iterable[Item], uncoded: Iterable[tuple[str, int, int]] = ()
) -> dict[str, Any]:
    """Strict (document, start, end, code) P/R/F and the per-stage loss of the gold items.

    ``uncoded``: predicted concepts the linker gave no code (not predictions, but found for the stage split).
    """
    gold_set, pred_set = set(gold), set(predicted)
    tp = len(gold_set & pred_set)
    fp, fn = len(pred_set) - tp, len(gold_set) - tp
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    found = {(d, s, e) for d, s, e, _ in pred_set} | set(uncoded)
    stages = {"not_found": 0, "wrong_code": 0, "correct": 0}
    for item in gold_set:
        if item in pred_set:
            stages["correct"] += 1
        elif item[:3] in found:
            stages["wrong_code"] += 1
        else:
            stages["not_found"] += 1
    n = len(gold_set)
    shares = {f"{k}_share": (v / n if n else 0.0) for k, v in stages.items()}
    return {"p": p, "r": r, "f": f, "tp": tp, "fp": fp, "fn": fn, "gold": n, "stages": {**stages, **shares}}


def gold_items(docs: Iterable[Any], *, span_key: str, system: str, label: str = "*") -> list[Item]:
    """``(doc_id, start, end, code)`` of every gold concept of ``docs`` with ``label`` coded in ``system``."""
    from ...corpora.representation import doc_to_document

    items: list[Item] = []
    for i, doc in enumerate(docs):
        document = doc_to_document(doc, span_key)
        doc_id = document.id or str(i)
        for annotation in document.annotations:
            code = annotation.codes.get(system)
            if code and label in ("*", annotation.label):
                items.append((doc_id, annotation.start, annotation.end, code))
    return items


def predicted_items(
    records_per_doc: Iterable[tuple[str, list[Mapping[str, Any]]]], *, system: str, label: str = "*"
) -> tuple[list[Item], list[tuple[str, int, int]]]:
    """``(doc_id, start, end, code)`` of every predicted ``label`` concept coded in ``system``, and the uncoded ones' spans."""
    coded: list[Item] = []
    uncoded: list[tuple[str, int, int]] = []
    for doc_id, records in records_per_doc:
        for record in records:
            if label not in ("*", record.get("label")):
                continue
            code = (record.get("codes") or {}).get(system, {}).get("code")
            if code:
                coded.append((doc_id, record["start"], record["end"], code))
            else:
                uncoded.append((doc_id, record["start"], record["end"]))
    return coded, uncoded


def score_task(
    task: E2ETask, gold: Sequence[Item], records: Sequence[tuple[str, list[Mapping[str, Any]]]]
) -> dict[str, Any]:
    """One task's scores on the documents its corpus coded (``gold``: the task's :func:`gold_items`)."""
    coded_docs = {doc_id for doc_id, *_ in gold}
    in_scope = [(doc_id, recs) for doc_id, recs in records if doc_id in coded_docs]
    predicted, uncoded = predicted_items(in_scope, system=task.pred_system, label=task.pred_label or task.label)
    return {**asdict(task), "n_docs": len(coded_docs), **e2e_scores(gold, predicted, uncoded)}


def run_e2e(
    model: str | Path,
    data: str | Path,
    *,
    gold_span_key: str = CONCEPT_SPAN_KEY,
    tasks: Sequence[E2ETask] = CONCEPT_TASKS,
    codiesp: str | Path | None = None,
    output: str | Path | None = None,
    markdown_path: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    linker_thresholds: Sequence[float] = (),
    command: str = "",
) -> dict[str, Any]:
    """Run ``model`` on the gold texts of ``data`` (and of ``codiesp``) and score every task end to end.

    ``codiesp``: CodiEsp test as ``convert discontinuous`` writes it, scored with :data:`CODIESP_TASKS`.
    ``linker_thresholds``: also score the chain with every entity linker's
    threshold set to each of these values (a code under it is withheld), the
    precision/coverage curve from which a threshold is chosen on dev.
    """
    from ...corpora.representation import doc_to_document
    from ...runtime.annotate import concept_records

    if not tasks:
        raise EvaluationError("No end-to-end task to score: give at least one --task.")
    nlp = load_model(model)
    suites = [(data, gold_span_key, tasks)]
    if codiesp is not None:
        suites.append((codiesp, CODIESP_SPAN_KEY, CODIESP_TASKS))
    loaded = []  # per gold file: its path, texts, document ids and each task's gold items (read once)
    for path, span_key, suite_tasks in suites:
        gold_docs = read_gold_docs(path, nlp)
        ids = [doc_to_document(doc, span_key).id or str(i) for i, doc in enumerate(gold_docs)]
        golds = [
            (task, gold_items(gold_docs, span_key=span_key, system=task.gold_system, label=task.label))
            for task in suite_tasks
        ]
        loaded.append((path, [doc.text for doc in gold_docs], ids, golds))

    def score_all() -> tuple[list[dict[str, Any]], float, int]:
        scored: list[dict[str, Any]] = []
        seconds, words = 0.0, 0
        for path, texts, ids, golds in loaded:
            start = time.perf_counter()
            docs = list(nlp.pipe(texts, batch_size=batch_size))
            seconds += time.perf_counter() - start
            words += sum(1 for doc in docs for t in doc if not t.is_space)
            records = [(doc_id, concept_records(doc, doc_id)) for doc_id, doc in zip(ids, docs)]
            scored += [{**score_task(task, gold, records), "data": str(path)} for task, gold in golds]
        return scored, seconds, words

    scored, seconds, words = score_all()
    linkers = {name: pipe for name, pipe in nlp.pipeline if nlp.get_pipe_meta(name).factory == LINKER_FACTORY}
    if linker_thresholds and not linkers:
        raise EvaluationError(f"{model} has no entity linker ({LINKER_FACTORY}): no threshold to vary.")
    thresholds = {name: linker.cfg["threshold"] for name, linker in linkers.items()}
    curve = []
    for threshold in linker_thresholds:
        for linker in linkers.values():
            linker.cfg["threshold"] = float(threshold)
        point, _, _ = score_all()
        curve.append({"threshold": threshold, "tasks": [{k: t[k] for k in ("name", "p", "r", "f")} for t in point]})
    for name, linker in linkers.items():  # the pipeline's own thresholds again
        linker.cfg["threshold"] = thresholds[name]
    result = {
        "command": command,
        "model": str(model),
        "data": str(data) if codiesp is None else f"{data} + {codiesp}",
        "gold_span_key": gold_span_key,
        "n_docs": sum(len(texts) for _, texts, _, _ in loaded),
        "seconds": round(seconds, 2),
        "words_per_second": round(words / seconds, 1) if seconds else None,
        "linker_thresholds": thresholds,
        "tasks": scored,
    }
    if curve:
        result["threshold_curve"] = curve
    if output is not None:
        write_json(result, output)
    if markdown_path is not None:
        write_text(markdown_report(result), markdown_path)
    return result


def summary_line(task: Mapping[str, Any]) -> str:
    """One task's scores in one line (what the CLIs print)."""
    return (
        f"{task['name']}: end-to-end F1 {task['f']:.4f} (P {task['p']:.4f}, R {task['r']:.4f}, "
        f"{task['gold']} gold concepts)"
    )


def markdown_report(result: Mapping[str, Any]) -> str:
    """Per task: P/R/F with the shared-task best beside ours, and the per-stage loss of the gold concepts."""
    rows = []
    for t in result["tasks"]:
        best = "" if t.get("shared_task_best") is None else f"{t['shared_task_best']:.3f}"
        rows.append([t["name"], str(t["n_docs"]), str(t["gold"]), f"{t['p']:.4f}", f"{t['r']:.4f}",
                     f"**{t['f']:.4f}**", best])
    stage_rows = [
        [t["name"], *[f"{t['stages'][k]} ({t['stages'][k + '_share']:.3f})" for k in ("not_found", "wrong_code", "correct")]]
        for t in result["tasks"]
    ]
    lines = [
        f"# End-to-end ({result['data']}, {result['n_docs']} documents, model {result['model']})",
        "",
        "Strict (document, start, end, code); each task on the documents its corpus coded.",
        "",
        table(["task", "documents", "gold", "P", "R", "F1", "shared-task best F1"], rows),
        "",
        "Per-stage loss of the gold concepts: not found by the NER / span finders, found with another code or none, correct.",
        "",
        table(["task", "not found", "wrong code", "correct"], stage_rows),
        "",
        (f"{result['n_docs']} documents in {result['seconds']} s ({result['words_per_second']} words/s, whole pipeline, "
         f"one process); linker thresholds {result['linker_thresholds']}."),
    ]
    if result.get("threshold_curve"):
        names = [t["name"] for t in result["threshold_curve"][0]["tasks"]]
        lines += [
            "",
            "Every linker's threshold varied (a code scoring under it is withheld): P / R / F1 per task.",
            "",
            table(
                ["threshold", *names],
                [[str(point["threshold"]), *[f"{t['p']:.3f} / {t['r']:.3f} / {t['f']:.3f}" for t in point["tasks"]]]
                 for point in result["threshold_curve"]],
            ),
        ]
    return "\n".join(lines) + "\n"
