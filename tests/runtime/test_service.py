"""The HTTP service with FastAPI's TestClient and a tiny rule pipeline (invented notes)."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import spacy
from fastapi.testclient import TestClient
from spacy.tokens import Doc

from spacy_clinical_es.runtime.batch import prepare_pipeline
from spacy_clinical_es.runtime.service import ServiceSettings, create_app
from spacy_clinical_es.runtime.spark import deid_records

KEY_ENV = "SPACY_CLINICAL_ES_SERVICE_TEST_KEY"
API_ENV = "SPACY_CLINICAL_ES_SERVICE_TEST_API_KEY"
API_KEY = "s3cret-api-key"
TEXT = "Nombre: Ernesto Rivera. NHC: 368503. Tfno. 956 203 145. Fecha: 03/03/1946.\n"
PHI = ("Ernesto", "Rivera", "368503", "956 203 145", "03/03/1946")
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def tiny_pipeline() -> spacy.language.Language:
    nlp = spacy.blank("es")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "NOMBRE_SUJETO_ASISTENCIA", "pattern": [{"TEXT": "Ernesto"}, {"TEXT": "Rivera"}]}]
    )
    nlp.add_pipe("phi_rules")
    return nlp


@pytest.fixture()
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(KEY_ENV, "service-test-key")
    monkeypatch.setenv(API_ENV, API_KEY)
    settings = ServiceSettings(model="tiny", key_env=KEY_ENV, api_key_env=API_ENV, max_body_bytes=4_000, max_batch=3)
    with TestClient(create_app(settings, nlp=tiny_pipeline())) as test_client:
        yield test_client


def offline(texts: list[str]) -> list[dict]:
    nlp, _ = prepare_pipeline(tiny_pipeline(), mode=None, seed=None, key="service-test-key")
    return deid_records(nlp, [str(i) for i in range(len(texts))], texts)


def test_health_ready_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["status"] == "ready" and ready["auth"] is True and ready["deid_key"] is True
    assert ready["pipeline"][-1] == "deid_randomizer"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/deid", "/annotate", "/health", "/ready"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_deid_one_text_and_batch_equal_offline_output(client: TestClient) -> None:
    (expected,) = offline([TEXT])
    one = client.post("/deid", json={"text": TEXT, "id": "a"}, headers=AUTH)
    assert one.status_code == 200
    (doc,) = one.json()["documents"]
    assert doc["id"] == "a" and doc["error"] is None
    assert doc["text"] == expected["deid_text"] and not any(phi in doc["text"] for phi in PHI)
    assert doc["spans"] == expected["spans"] and doc["n_spans"] == 4
    batch = client.post("/deid", json={"documents": [{"id": "x", "text": TEXT}, {"text": "Sin datos."}]}, headers=AUTH)
    assert batch.status_code == 200
    docs = batch.json()["documents"]
    assert [d["id"] for d in docs] == ["x", "1"]
    assert docs[0]["text"] == expected["deid_text"] and docs[1]["text"] == "Sin datos."


def test_annotate_returns_spans(client: TestClient) -> None:
    response = client.post("/annotate", json={"text": TEXT}, headers=AUTH)
    assert response.status_code == 200
    spans = response.json()["documents"][0]["spans"]
    ents = [(s["label"], s["text"]) for s in spans if s["group"] == "ents"]
    assert ents[0] == ("NOMBRE_SUJETO_ASISTENCIA", "Ernesto Rivera")
    assert all(TEXT[s["start"] : s["end"]] == s["text"] for s in spans)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}, {"Authorization": "Basic " + API_KEY}]
)
def test_401_without_the_right_key(client: TestClient, headers: dict[str, str]) -> None:
    for path in ("/deid", "/annotate"):
        response = client.post(path, json={"text": TEXT}, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/health").status_code == 200  # probes need no key


def test_413_for_an_oversized_body(client: TestClient) -> None:
    big = {"text": TEXT * 100}
    response = client.post("/deid", json=big, headers=AUTH)
    assert response.status_code == 413 and "4000 bytes" in response.json()["detail"]
    # A streamed body without Content-Length is counted as it arrives.
    chunks = iter([json.dumps(big).encode()[i : i + 1000] for i in range(0, 8000, 1000)])
    response = client.post("/deid", content=chunks, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413


def test_422_for_a_too_long_batch_without_echoing_text(client: TestClient) -> None:
    documents = [{"text": "Ernesto Rivera"} for _ in range(4)]
    response = client.post("/deid", json={"documents": documents}, headers=AUTH)
    assert response.status_code == 422 and "limit of 3" in response.json()["detail"]
    invalid = client.post("/deid", json={"text": TEXT, "documents": [{"text": TEXT}]}, headers=AUTH)
    assert invalid.status_code == 422
    assert not any(phi in invalid.text for phi in PHI)  # validation errors do not echo the input
    extra = client.post("/deid", json={"text": TEXT, "patient": "Ernesto Rivera"}, headers=AUTH)
    assert extra.status_code == 422 and "Ernesto" not in extra.text


def test_504_when_the_pipeline_is_too_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    nlp = tiny_pipeline()

    @spacy.Language.component("test_service_sleep")
    def sleep(doc: Doc) -> Doc:
        time.sleep(0.5)
        return doc

    nlp.add_pipe("test_service_sleep")
    monkeypatch.delenv(API_ENV, raising=False)
    with TestClient(create_app(ServiceSettings(model="tiny", api_key_env=API_ENV, seed=1, timeout_s=0.1), nlp=nlp)) as c:
        response = c.post("/deid", json={"text": TEXT})  # no API key configured: open
    assert response.status_code == 504 and "0.1 s" in response.json()["detail"]


def test_no_request_text_reaches_the_log(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client.post("/deid", json={"text": TEXT}, headers=AUTH)
    client.post("/annotate", json={"documents": [{"id": "n1", "text": TEXT}]}, headers=AUTH)
    client.post("/deid", json={"text": TEXT})  # 401
    client.post("/deid", json={"text": TEXT * 100}, headers=AUTH)  # 413
    client.post("/deid", json={"documents": [{"text": TEXT}] * 4}, headers=AUTH)  # 422
    client.post("/deid", json={"text": 12, "note": TEXT}, headers=AUTH)  # 422 (validation)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records, "the handlers log something (counts), so the scan below is not vacuous"
    assert not any(phi in logged for phi in PHI)
