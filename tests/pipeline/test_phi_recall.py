"""The ``phi_recall`` component: overfitting, serialization, the randomizer reading its span group."""
from __future__ import annotations

import pytest
import spacy
from spacy.training import Example
from spacy.util import fix_random_seed

from spacy_clinical_es.deid import DeidError
from spacy_clinical_es.pipeline.phi_recall import RECALL_KB_ID
from spacy_clinical_es.tokenizer import make_clinical_nlp


def _annotate(text: str, *entities: tuple[str, str]) -> tuple[str, list[tuple[int, int, str]]]:
    return text, [(text.index(phrase), text.index(phrase) + len(phrase), label) for phrase, label in entities]


TRAIN = [
    _annotate(
        "Paciente Juan Pérez García, vecino de Tarragona, ingresa.",
        ("Juan Pérez García", "NOMBRE_SUJETO_ASISTENCIA"),
        ("Tarragona", "TERRITORIO"),
    ),
    _annotate(
        "Remitida desde el Hospital Clínic por la Dra. Ana Roca.",
        ("Hospital Clínic", "HOSPITAL"),
        ("Ana Roca", "NOMBRE_PERSONAL_SANITARIO"),
    ),
]


def make_nlp(**cfg):
    nlp = make_clinical_nlp()
    nlp.add_pipe("phi_recall", config=cfg)
    return nlp


def examples(nlp) -> list[Example]:
    return [Example.from_dict(nlp.make_doc(text), {"entities": spans}) for text, spans in TRAIN]


def spans(doc, key: str = "phi") -> list[tuple[str, str]]:
    return [(s.text, s.label_) for s in doc.spans[key]]


def train(nlp, steps: int = 60):
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples(nlp))
    for _ in range(steps):
        nlp.update(examples(nlp), sgd=optimizer, drop=0.0)
    return nlp


def test_overfits_two_examples_and_round_trips(tmp_path) -> None:
    nlp = train(make_nlp())
    recall = nlp.get_pipe("phi_recall")
    assert recall.labels == ("HOSPITAL", "NOMBRE_PERSONAL_SANITARIO", "NOMBRE_SUJETO_ASISTENCIA", "TERRITORIO")
    expected = [[(TRAIN[i][0][s:e], label) for s, e, label in TRAIN[i][1]] for i in range(2)]
    predicted = [spans(nlp(text)) for text, _ in TRAIN]
    assert predicted == expected
    scores = nlp.evaluate(examples(nlp))
    assert scores["phi_recall_token_r"] == 1.0 and scores["phi_recall_leak_rate"] == 0.0
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("phi_recall").cfg == recall.cfg
    assert [spans(loaded(text)) for text, _ in TRAIN] == predicted
    assert loaded.get_pipe("phi_recall").from_bytes(recall.to_bytes()).cfg == recall.cfg


def test_entities_are_kept_and_never_overlapped() -> None:
    nlp = make_clinical_nlp()
    ruler = nlp.add_pipe("entity_ruler")
    nlp.add_pipe("phi_recall", config={"threshold": 0.01})
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples(nlp))
    ruler.add_patterns([{"label": "TERRITORIO", "pattern": "Tarragona"}])  # initialize() clears patterns
    for _ in range(60):
        nlp.update(examples(nlp), sgd=optimizer, drop=0.0)
    doc = nlp(TRAIN[0][0])
    assert [(e.text, e.label_) for e in doc.ents] == [("Tarragona", "TERRITORIO")]
    group = doc.spans["phi"]
    assert ("Tarragona", "TERRITORIO") in spans(doc)
    for a, b in zip(group, list(group)[1:]):
        assert a.end <= b.start
    # A threshold of 0.01 flags more than the gold spans: recall over precision.
    assert sum(len(s) for s in group) >= len(nlp.make_doc("Juan Pérez García Tarragona"))


def test_set_ents_adds_recall_spans_to_ents() -> None:
    nlp = train(make_nlp(set_ents=True))
    doc = nlp(TRAIN[1][0])
    assert [(e.text, e.label_) for e in doc.ents] == spans(doc)


def test_randomizer_replaces_the_span_group() -> None:
    nlp = train(make_nlp())
    nlp.add_pipe("deid_randomizer", config={"spans_key": "phi", "seed": 1})
    doc = nlp(TRAIN[0][0])
    assert not doc.ents  # nothing but the recall group marks PHI here
    assert all(span.kb_id_ == RECALL_KB_ID for span in doc.spans["phi"])  # the randomizer's policy tells them apart
    assert "Juan" not in doc._.deid_text and "Tarragona" not in doc._.deid_text
    assert doc._.deid_text.startswith("Paciente ") and doc._.deid_text.endswith(", ingresa.")
    # recall spans whose category their content does not confirm get the neutral mask, never a made-up value
    stats = doc._.deid_stats
    assert stats.get("recall_certain", 0) + stats.get("recall_uncertain", 0) == len(doc.spans["phi"])


@pytest.mark.parametrize(
    "cfg", [{"threshold": 0.0}, {"threshold": 1.5}, {"temperature": 0.0}, {"temperature": -1}, {"spans_key": ""}]
)
def test_bad_options_raise(cfg) -> None:
    with pytest.raises(DeidError, match="phi_recall"):
        make_nlp(**cfg)


def test_no_labels_raise() -> None:
    nlp = make_nlp()
    with pytest.raises(DeidError, match="no labels"):
        nlp.initialize(lambda: [Example.from_dict(nlp.make_doc("Sin datos."), {"entities": []})])


def test_empty_docs() -> None:
    nlp = train(make_nlp(), steps=2)
    docs = list(nlp.pipe(["", "Hola."]))
    assert len(docs[0].spans["phi"]) == 0
    assert "phi" in docs[1].spans
