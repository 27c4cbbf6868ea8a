"""Spark ``local[2]``: :func:`deidentify` and :func:`annotate` on a dozen invented notes with a tiny rule pipeline."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import spacy

KEY_ENV = "SPACY_CLINICAL_ES_SPARK_TEST_KEY"
NAMES = ["Ernesto Rivera", "Lucía Ortega", "Ramón Vidal"]
PHI = ("Ernesto", "Rivera", "Lucía", "Ortega", "Ramón", "Vidal", "368503", "956 203 145", "03/03/1946")


def note(i: int) -> str:
    name = NAMES[i % len(NAMES)]
    return f"Nombre: {name}. NHC: {368503 + i if i % 2 else 368503}. Tfno. 956 203 145. Fecha: 03/03/1946. Caso {i}.\n"


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    nlp = spacy.blank("es")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "NOMBRE_SUJETO_ASISTENCIA", "pattern": name} for name in NAMES]
    )
    nlp.add_pipe("phi_rules")
    path = tmp_path_factory.mktemp("spark_model") / "model"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def spark() -> Iterator:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed (PySpark needs a JVM: install OpenJDK 17 or set JAVA_HOME)")
    from spacy_clinical_es.runtime.spark import local_session

    previous = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = "spark-test-key"  # before the JVM starts: local workers inherit it
    session = local_session("local[2]", "spacy-clinical-es-tests")
    try:
        yield session
    finally:
        session.stop()
        if previous is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = previous


@pytest.fixture(scope="session")
def notes(spark):
    rows = [(f"n{i:02d}", note(i)) for i in range(12)] + [("empty", None)]
    return spark.createDataFrame(rows, "note_id string, body string").repartition(6)


def test_deidentify_matches_offline_and_loads_once_per_worker(spark, notes, model) -> None:
    from spacy_clinical_es.runtime.batch import prepare_pipeline
    from spacy_clinical_es.runtime.spark import deid_records, deidentify, worker_loads

    out = deidentify(notes, text_col="body", id_col="note_id", model=model, key_env=KEY_ENV)
    rows = {r["id"]: r.asDict(recursive=True) for r in out.collect()}
    assert sorted(rows) == sorted([f"n{i:02d}" for i in range(12)] + ["empty"])
    assert rows["empty"]["error"].startswith("bad_record") and rows["empty"]["deid_text"] is None

    nlp, _ = prepare_pipeline(spacy.load(model), mode=None, seed=None, key="spark-test-key")
    offline = {r["id"]: r for r in deid_records(nlp, [f"n{i:02d}" for i in range(12)], [note(i) for i in range(12)])}
    for doc_id, expected in offline.items():
        row = rows[doc_id]
        assert row["error"] is None
        assert not any(phi in row["deid_text"] for phi in PHI)
        assert row["deid_text"] == expected["deid_text"]
        assert row["n_spans"] == 4 == len(row["spans"])
        assert [s["label"] for s in row["spans"]] == [s["label"] for s in expected["spans"]]
        assert {s["action"] for s in row["spans"]} == {"surrogate"}
    # The same name gets the same surrogate in every partition (one key everywhere).
    names = set()
    for i in range(0, 12, 3):
        row = rows[f"n{i:02d}"]
        span = row["spans"][0]
        names.add(row["deid_text"][span["out_start"] : span["out_end"]])
    assert len(names) == 1

    loads = worker_loads(spark, "deid", model)
    assert max(loads.values()) == 1, loads  # 6 tasks on 2 reused workers: one load each, not one per task


def test_annotate_returns_labels_and_offsets(notes, model) -> None:
    from spacy_clinical_es.runtime.spark import annotate

    rows = {r["id"]: r.asDict(recursive=True) for r in annotate(notes, text_col="body", id_col="note_id", model=model).collect()}
    row = rows["n01"]
    assert row["error"] is None
    text = note(1)
    ents = [s for s in row["spans"] if s["group"] == "ents"]
    assert [(s["label"], s["text"]) for s in ents][:2] == [("NOMBRE_SUJETO_ASISTENCIA", "Lucía Ortega"), ("ID_SUJETO_ASISTENCIA", "368504")]
    assert all(text[s["start"] : s["end"]] == s["text"] for s in row["spans"])
    assert rows["empty"]["error"] == "null text"


def test_missing_key_variable_is_a_clear_error(notes, model) -> None:
    from spacy_clinical_es.runtime.spark import deidentify

    with pytest.raises(Exception, match="SPACY_CLINICAL_ES_SPARK_NO_SUCH_KEY"):
        deidentify(notes, text_col="body", id_col="note_id", model=model, key_env="SPACY_CLINICAL_ES_SPARK_NO_SUCH_KEY").collect()
    with pytest.raises(Exception, match="no column 'text'"):
        deidentify(notes, id_col="note_id", model=model)
