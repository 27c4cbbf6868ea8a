"""The ``phi_gazetteer`` component (invented texts, an entity_ruler standing in for the detector)."""
from __future__ import annotations

import pickle

import pytest
import spacy
from spacy.training import Example

from spacy_clinical_es.deid import DeidError
from spacy_clinical_es.pipeline.phi_gazetteer import (
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
    assert {tuple(p["tokens"]): p["label"] for p in gaz.phrases} == {
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
    assert ("Juan", "Pérez") in {tuple(p["tokens"]) for p in gaz.phrases}
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
    assert (tmp_path / "model" / "phi_gazetteer" / "phrases.jsonl").exists()
    loaded = spacy.load(tmp_path / "model")
    assert ents(loaded(TEXT)) == expected
    assert loaded.get_pipe("phi_gazetteer").phrases == nlp.get_pipe("phi_gazetteer").phrases
    clone = PhiGazetteer(loaded).from_bytes(nlp.get_pipe("phi_gazetteer").to_bytes())
    assert clone.phrases == nlp.get_pipe("phi_gazetteer").phrases and clone.cfg == nlp.get_pipe("phi_gazetteer").cfg
    assert ents(pickle.loads(pickle.dumps(nlp))(TEXT)) == expected
