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

Gold: a ``.spacy`` DocBin whose span group ``gold_span_key`` holds the
concepts with their codes in the package's annotation records
(``span._.codes[gold_system]``, as the converters write them). Predictions:
the pipeline's concept records
(:func:`spacy_clinical_es.runtime.annotate.concept_records`), code system
``pred_system`` (``"SNOMED CT"`` for ``es_clinical_concepts``; ``"kb"`` for
``kb_id_`` of a bare linker). Discontinuous concepts count by their overall
start and end, as the shared tasks' TSV files do.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..evaluate import DEFAULT_BATCH_SIZE, load_model, read_gold_docs
from ..report import table, write_json, write_text

logger = logging.getLogger(__name__)

Item = tuple[str, int, int, str]  # (document, start, end, code)

#: Best end-to-end F1 of the shared tasks, for the report (MedProcNER subtask 3, CLEF 2023 overview).
SHARED_TASK_BEST = {"MedProcNER subtask 3 (SNOMED CT)": 0.571}


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


def gold_items(docs: Iterable[Any], *, span_key: str, system: str) -> list[Item]:
    """``(doc_id, start, end, code)`` of every gold concept of ``docs`` coded in ``system``."""
    from ...corpora.representation import doc_to_document

    items: list[Item] = []
    for i, doc in enumerate(docs):
        document = doc_to_document(doc, span_key)
        doc_id = document.id or str(i)
        for annotation in document.annotations:
            code = annotation.codes.get(system)
            if code:
                items.append((doc_id, annotation.start, annotation.end, code))
    return items


def predicted_items(
    records_per_doc: Iterable[tuple[str, list[Mapping[str, Any]]]], *, system: str
) -> tuple[list[Item], list[tuple[str, int, int]]]:
    """``(doc_id, start, end, code)`` of every predicted concept coded in ``system``, and the uncoded ones' spans."""
    coded: list[Item] = []
    uncoded: list[tuple[str, int, int]] = []
    for doc_id, records in records_per_doc:
        for record in records:
            code = (record.get("codes") or {}).get(system, {}).get("code")
            if code:
                coded.append((doc_id, record["start"], record["end"], code))
            else:
                uncoded.append((doc_id, record["start"], record["end"]))
    return coded, uncoded


def run_e2e(
    model: str | Path,
    data: str | Path,
    *,
    gold_span_key: str,
    gold_system: str = "SNOMEDCT",
    pred_system: str = "SNOMED CT",
    output: str | Path | None = None,
    markdown_path: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    command: str = "",
) -> dict[str, Any]:
    """Run ``model`` on the gold texts of ``data`` and score the chain end to end."""
    from ...corpora.representation import doc_to_document
    from ...runtime.annotate import concept_records

    nlp = load_model(model)
    gold_docs = read_gold_docs(data, nlp)
    ids = [doc_to_document(doc, gold_span_key).id or str(i) for i, doc in enumerate(gold_docs)]
    start = time.perf_counter()
    predicted_docs = list(nlp.pipe((doc.text for doc in gold_docs), batch_size=batch_size))
    seconds = time.perf_counter() - start
    records = [(doc_id, concept_records(doc, doc_id)) for doc_id, doc in zip(ids, predicted_docs)]
    gold = gold_items(gold_docs, span_key=gold_span_key, system=gold_system)
    predicted, uncoded = predicted_items(records, system=pred_system)
    scores = e2e_scores(gold, predicted, uncoded)
    result = {
        "command": command,
        "model": str(model),
        "data": str(data),
        "gold_span_key": gold_span_key,
        "gold_system": gold_system,
        "pred_system": pred_system,
        "n_docs": len(gold_docs),
        "seconds": round(seconds, 2),
        "e2e": scores,
        "shared_task_best": SHARED_TASK_BEST,
    }
    if output is not None:
        write_json(result, output)
    if markdown_path is not None:
        write_text(markdown_report(result), markdown_path)
    return result


def markdown_report(result: Mapping[str, Any]) -> str:
    """The e2e table: P/R/F, per-stage loss, and the shared-task best beside ours."""
    s = result["e2e"]
    st = s["stages"]
    rows = [
        ["ours", f"{s['p']:.4f}", f"{s['r']:.4f}", f"**{s['f']:.4f}**", str(s["gold"])],
        *[[name, "", "", f"{f:.3f}", ""] for name, f in result.get("shared_task_best", {}).items()],
    ]
    lines = [
        f"# End-to-end ({result['gold_system']} on {result['data']}, {result['n_docs']} documents)",
        "",
        table(["system", "P", "R", "F1", "gold"], rows),
        "",
        table(
            ["stage", "gold concepts", "share"],
            [[k, str(st[k]), f"{st[k + '_share']:.3f}"] for k in ("not_found", "wrong_code", "correct")],
        ),
    ]
    return "\n".join(lines) + "\n"
