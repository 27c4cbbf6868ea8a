"""The ``phi_gazetteer`` component (invented texts, an entity_ruler standing in for the detector)."""
from __future__ import annotations

import logging
import pickle

import pytest
import spacy
import srsly
from spacy.training import Example

from spacy_clinical_es.deid import DeidError
from spacy_clinical_es.pipeline.phi_gazetteer import (
    FALLBACK_KEY_ENV,
    GAZETTEER_KEY_ENV,
    PHI_GAZETTEER_USER_DATA_KEY,
    PhiGazetteer,
)
from spacy_clinical_es.tokenizer import make_clinical_nlp

TRAIN = [
    ("Remitido desde el Hospital La Paz de Madrid.", [(18, 33, "HOSPITAL"), (37, 43, "TERRITORIO")]),
    ("Vive en Madrid con su madre.", [(8, 14, "TERRITORIO")]),
    ("Control en la Fundación Puigvert.", [(14, 32, "INSTITUCION")]),
    ("El paciente Juan Pérez.", [(12, 22, "NOMBRE_SUJETO_ASISTENCIA")]),
]
TEXT = "Juan Pérez, de Madrid, acude a la Fundación Puigvert. Juan Pérez mejora."


KEY = "a-test-key-for-the-gazetteer-hashes"


@pytest.fixture(autouse=True)
def gazetteer_key(monkeypatch):
    """Every test runs with a hashing key in the environment unless it removes it."""
    monkeypatch.setenv(GAZETTEER_KEY_ENV, KEY)
    monkeypatch.delenv(FALLBACK_KEY_ENV, raising=False)


def learnt(gaz: PhiGazetteer, candidates) -> dict:
    """The candidate phrases the (hashed) gazetteer holds, with their labels."""
    return {tuple(c): gaz.label_of(c) for c in candidates if gaz.label_of(c) is not None}


CANDIDATES = [("Hospital", "La", "Paz"), ("Madrid",), ("Fundación", "Puigvert"), ("Juan", "Pérez"), ("La", "Paz")]


def ents(doc) -> list[tuple[str, str]]:
    return [(e.text, e.label_) for e in doc.ents]


def make_nlp(**cfg):
    nlp = make_clinical_nlp()
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "NOMBRE_SUJETO_ASISTENCIA", "pattern": [{"TEXT": "Juan"}, {"TEXT": "Pérez"}, {"TEXT": ","}]}])
    nlp.add_pipe("phi_gazetteer", config=cfg)
    return nlp


def examples(nlp) -> list[Example]:
    return [Example.from_dict(nlp.make_doc(text), {"entities": spans}) for text, spans in TRAIN]


def test_gazetteer_from_examples_and_propagation() -> None:
    nlp = make_nlp()
    nlp.get_pipe("phi_gazetteer").initialize(lambda: examples(nlp))
    gaz = nlp.get_pipe("phi_gazetteer")
    # Names are not a default gazetteer label; Madrid is annotated in 2 of its 2 free occurrences.
    assert learnt(gaz, CANDIDATES) == {
        ("Hospital", "La", "Paz"): "HOSPITAL",
        ("Madrid",): "TERRITORIO",
        ("Fundación", "Puigvert"): "INSTITUCION",
    }
    doc = nlp(TEXT)
    # The detector's (too long) "Juan Pérez ," stays; its phrase is spread to the second mention.
    assert ents(doc) == [
        ("Juan Pérez,", "NOMBRE_SUJETO_ASISTENCIA"),
        ("Madrid", "TERRITORIO"),
        ("Fundación Puigvert", "INSTITUCION"),
    ]
    assert doc.user_data[PHI_GAZETTEER_USER_DATA_KEY] == {"gazetteer": 2, "propagated": 0}
    # A detector that found only the first mention: the second one is propagated, the third (no
    # comma) is another phrase.
    doc2 = nlp.make_doc("Juan Pérez, otra vez. Juan Pérez, y Juan Pérez.")
    doc2.ents = [doc2.char_span(0, 11, "NOMBRE_SUJETO_ASISTENCIA")]
    gaz(doc2)
    assert [e.text for e in doc2.ents] == ["Juan Pérez,", "Juan Pérez,"]
    assert [e.start_char for e in doc2.ents] == [0, 22]
    assert doc2.user_data[PHI_GAZETTEER_USER_DATA_KEY] == {"gazetteer": 0, "propagated": 1}
    assert [s.text for s in doc2.spans["phi_gazetteer"]] == ["Juan Pérez,"]


def test_options_change_the_output() -> None:
    nlp = make_nlp(propagate=False, labels=None, min_ratio=1.0)
    nlp.get_pipe("phi_gazetteer").initialize(lambda: examples(nlp))
    gaz = nlp.get_pipe("phi_gazetteer")
    assert ("Juan", "Pérez") in learnt(gaz, CANDIDATES)
    doc = nlp("Juan Pérez, otra vez. Juan Pérez, y Madrid.")
    assert ents(doc) == [("Juan Pérez,", "NOMBRE_SUJETO_ASISTENCIA"), ("Juan Pérez,", "NOMBRE_SUJETO_ASISTENCIA"), ("Madrid", "TERRITORIO")]
    nlp2 = make_nlp(set_ents=False)
    nlp2.get_pipe("phi_gazetteer").add_phrases([{"label": "TERRITORIO", "pattern": "Madrid"}])
    doc = nlp2("Vive en Madrid.")
    assert ents(doc) == [] and [s.text for s in doc.spans["phi_gazetteer"]] == ["Madrid"]
    with pytest.raises(DeidError):
        make_nlp(min_ratio=2.0)
    with pytest.raises(DeidError):
        nlp2.get_pipe("phi_gazetteer").add_phrases([{"label": "X"}])


def test_serialization_round_trip(tmp_path) -> None:
    nlp = make_nlp()
    nlp.get_pipe("phi_gazetteer").initialize(lambda: examples(nlp))
    expected = ents(nlp(TEXT))
    nlp.to_disk(tmp_path / "model")
    saved = tmp_path / "model" / "phi_gazetteer" / "phrases.jsonl"
    assert saved.exists()
    # Hashes only: no phrase text anywhere in the component's files.
    for path in (tmp_path / "model" / "phi_gazetteer").iterdir():
        data = path.read_bytes()
        assert b"Puigvert" not in data and b"Madrid" not in data and "Fundación".encode() not in data
    assert {r["label"] for r in srsly.read_jsonl(saved)} == {"HOSPITAL", "TERRITORIO", "INSTITUCION"}
    loaded = spacy.load(tmp_path / "model")
    assert ents(loaded(TEXT)) == expected
    assert loaded.get_pipe("phi_gazetteer").phrases == nlp.get_pipe("phi_gazetteer").phrases
    clone = PhiGazetteer(loaded).from_bytes(nlp.get_pipe("phi_gazetteer").to_bytes())
    assert clone.phrases == nlp.get_pipe("phi_gazetteer").phrases and clone.cfg == nlp.get_pipe("phi_gazetteer").cfg
    assert ents(pickle.loads(pickle.dumps(nlp))(TEXT)) == expected


def test_without_the_key_nothing_is_kept_or_matched(monkeypatch, caplog) -> None:
    monkeypatch.delenv(GAZETTEER_KEY_ENV)
    nlp = make_nlp()
    with caplog.at_level(logging.WARNING):
        nlp.get_pipe("phi_gazetteer").initialize(lambda: examples(nlp))
    assert len(nlp.get_pipe("phi_gazetteer")) == 0 and "no hashing key" in caplog.text
    assert "Madrid" not in caplog.text  # never the phrases in logs
    with pytest.raises(DeidError):
        nlp.get_pipe("phi_gazetteer").add_phrases([{"label": "TERRITORIO", "pattern": "Madrid"}])


def test_the_key_must_match_at_runtime(tmp_path, monkeypatch, caplog) -> None:
    nlp = make_nlp(propagate=False)
    nlp.get_pipe("phi_gazetteer").initialize(lambda: examples(nlp))
    assert ents(nlp("Vive en Madrid.")) == [("Madrid", "TERRITORIO")]
    nlp.to_disk(tmp_path / "model")
    monkeypatch.setenv(GAZETTEER_KEY_ENV, "another key")
    loaded = spacy.load(tmp_path / "model")
    with caplog.at_level(logging.WARNING):
        assert ents(loaded("Vive en Madrid.")) == []
    assert "not the one its phrases were hashed with" in caplog.text
    assert loaded.get_pipe("phi_gazetteer").key_status() == "wrong"
    assert nlp.get_pipe("phi_gazetteer").key_status() == "wrong"  # it reads the environment too
    assert make_nlp().get_pipe("phi_gazetteer").key_status() == "not needed"
    monkeypatch.delenv(GAZETTEER_KEY_ENV)
    # The deid key is the fallback; set_key wins over the environment.
    monkeypatch.setenv(FALLBACK_KEY_ENV, KEY)
    assert ents(spacy.load(tmp_path / "model")("Vive en Madrid.")) == [("Madrid", "TERRITORIO")]
    again = spacy.load(tmp_path / "model")
    assert again.get_pipe("phi_gazetteer").key_status() == "ok"
    again.get_pipe("phi_gazetteer").set_key("wrong")
    assert ents(again("Vive en Madrid.")) == []
    assert KEY not in repr(again.get_pipe("phi_gazetteer")) and KEY.encode() not in pickle.dumps(again.get_pipe("phi_gazetteer"))


def test_store_none_keeps_nothing(tmp_path) -> None:
    nlp = make_nlp(store="none")
    nlp.get_pipe("phi_gazetteer").initialize(lambda: examples(nlp))
    assert len(nlp.get_pipe("phi_gazetteer")) == 0
    doc = nlp.make_doc("Juan Pérez, otra vez. Juan Pérez, y Madrid.")
    doc.ents = [doc.char_span(0, 11, "NOMBRE_SUJETO_ASISTENCIA")]
    assert [e.text for e in nlp.get_pipe("phi_gazetteer")(doc).ents] == ["Juan Pérez,", "Juan Pérez,"]  # propagation
    with pytest.raises(DeidError):
        make_nlp(store="verbatim")


def test_verbatim_phrases_of_an_earlier_version_are_hashed_on_load(tmp_path) -> None:
    nlp = make_nlp(propagate=False)
    nlp.to_disk(tmp_path / "old")
    # What an earlier version wrote: the phrases' tokens in clear.
    srsly.write_jsonl(tmp_path / "old" / "phi_gazetteer" / "phrases.jsonl", [{"label": "TERRITORIO", "tokens": ["Madrid"]}])
    loaded = spacy.load(tmp_path / "old")
    assert ents(loaded("Vive en Madrid.")) == [("Madrid", "TERRITORIO")]
    loaded.to_disk(tmp_path / "new")
    assert b"Madrid" not in (tmp_path / "new" / "phi_gazetteer" / "phrases.jsonl").read_bytes()
    assert ents(spacy.load(tmp_path / "new")("Vive en Madrid.")) == [("Madrid", "TERRITORIO")]
