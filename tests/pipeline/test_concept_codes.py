"""concept_codes: each linker's results kept under its code system."""
from __future__ import annotations

import pytest
from spacy.tokens import DocBin

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.linking import Concept, TerminologyKB
from spacy_clinical_es.tokenizer import make_clinical_nlp


def _kb(code: str, system: str) -> TerminologyKB:
    kb = TerminologyKB()
    kb.add(Concept(code, "apendicitis aguda", (), "ENFERMEDAD", system))
    kb.add(Concept(code + "9", "hipertensión arterial", ("HTA",), "ENFERMEDAD", system))
    return kb


def test_two_linkers_two_code_systems() -> None:
    nlp = make_clinical_nlp()
    for system, code in (("SNOMED CT", "74400008"), ("CIE-10", "K35.8")):
        name = "snomed" if system == "SNOMED CT" else "cie10"
        linker = nlp.add_pipe("clinical_es_entity_linker", name=f"{name}_linker", config={"spans_key": "concepts"})
        linker.set_kb(_kb(code, system.replace(" ", "")))
        nlp.add_pipe("clinical_es_concept_codes", name=f"{name}_codes", config={"linker": f"{name}_linker", "code_system": system})
    doc = nlp.make_doc("Ingresa por apendicitis aguda y fiebre.")
    doc.spans["concepts"] = [doc.char_span(12, 29, "ENFERMEDAD"), doc.char_span(32, 38, "ENFERMEDAD")]
    for _, pipe in nlp.pipeline:
        doc = pipe(doc)
    appendicitis, fever = doc.spans["concepts"]
    assert appendicitis._.concept_codes["SNOMED CT"]["code"] == "74400008"
    assert appendicitis._.concept_codes["CIE-10"]["code"] == "K35.8"
    assert appendicitis._.concept_codes["CIE-10"]["score"] == pytest.approx(1.0)
    assert fever._.concept_codes["SNOMED CT"]["code"] is None  # nothing reaches the threshold: NIL
    db = DocBin(store_user_data=True)
    db.add(doc)
    again = next(DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab))
    assert again.spans["concepts"][0]._.concept_codes == appendicitis._.concept_codes


def test_unknown_linker_is_named() -> None:
    nlp = make_clinical_nlp()
    pipe = nlp.add_pipe("clinical_es_concept_codes", config={"linker": "nowhere", "code_system": "X"})
    with pytest.raises(ConfigError, match="nowhere"):
        pipe(nlp.make_doc("texto"))


def test_spans_a_linker_does_not_link_get_no_code_record() -> None:
    nlp = make_clinical_nlp()
    linker = nlp.add_pipe(
        "clinical_es_entity_linker", name="cie10_linker", config={"spans_key": "concepts", "labels": ["ENFERMEDAD"]}
    )
    linker.set_kb(_kb("K35.8", "CIE-10"))
    nlp.add_pipe("clinical_es_concept_codes", name="cie10_codes", config={"linker": "cie10_linker", "code_system": "CIE-10"})
    doc = nlp.make_doc("Varón con apendicitis aguda.")
    doc.spans["concepts"] = [doc.char_span(0, 5, "SEXO"), doc.char_span(10, 27, "ENFERMEDAD")]
    for _, pipe in nlp.pipeline:
        doc = pipe(doc)
    sex, appendicitis = doc.spans["concepts"]
    assert appendicitis._.concept_codes["CIE-10"]["code"] == "K35.8"
    assert not sex._.concept_codes  # "varón" is a concept without a code
