"""Tests for the ``phi_rules`` component (invented texts, no trained model)."""
from __future__ import annotations

import pickle

import pytest
import spacy
from spacy.tokens import Span
from thinc.api import Config

from spacy_clinical_es.deid import DeidError
from spacy_clinical_es.pipeline.phi_rules import (
    MERGE_POLICIES,
    PHI_RULES_USER_DATA_KEY,
    PhiRules,
    merge_spans,
)

# Tokens: NHC(0) :(1) 368503(2) .(3) Tfno(4) .(5) 956(6) 203(7) 145(8) ,(9) Ana(10) el(11) 03/03/1946(12) .(13)
TEXT = "NHC: 368503. Tfno. 956 203 145, Ana el 03/03/1946."


def ents(doc) -> list[tuple[str, str]]:
    return [(e.text, e.label_) for e in doc.ents]


def make_nlp(merge: str = "prefer_ner", ner_patterns: list | None = None, **cfg):
    """Blank Spanish pipeline: an entity_ruler standing in for the detector, then phi_rules."""
    nlp = spacy.blank("es")
    if ner_patterns:
        nlp.add_pipe("entity_ruler").add_patterns(ner_patterns)
    nlp.add_pipe("phi_rules", config={"merge": merge, **cfg})
    return nlp


# The "detector" tags "368503 ." as an id (too long) and "203 145" as a phone (too short).
NER = [
    {"label": "ID_SUJETO_ASISTENCIA", "pattern": [{"TEXT": "368503"}, {"TEXT": "."}]},
    {"label": "NUMERO_TELEFONO", "pattern": [{"TEXT": "203"}, {"TEXT": "145"}]},
    {"label": "NOMBRE_SUJETO_ASISTENCIA", "pattern": "Ana"},
]


def test_rules_alone() -> None:
    doc = make_nlp()(TEXT)
    assert ents(doc) == [
        ("368503", "ID_SUJETO_ASISTENCIA"),
        ("956 203 145", "NUMERO_TELEFONO"),
        ("03/03/1946", "FECHAS"),
    ]
    assert [s.text for s in doc.spans["phi_rules"]] == ["368503", "956 203 145", "03/03/1946"]
    assert doc.user_data[PHI_RULES_USER_DATA_KEY] == {"matches": 3, "unaligned": 0, "in_ents": 3, "refined": 0}


@pytest.mark.parametrize(
    "merge,expected",
    [
        (
            "prefer_ner",
            [
                ("368503.", "ID_SUJETO_ASISTENCIA"),
                ("203 145", "NUMERO_TELEFONO"),
                ("Ana", "NOMBRE_SUJETO_ASISTENCIA"),
                ("03/03/1946", "FECHAS"),
            ],
        ),
        (
            "prefer_rules",
            [
                ("368503", "ID_SUJETO_ASISTENCIA"),
                ("956 203 145", "NUMERO_TELEFONO"),
                ("Ana", "NOMBRE_SUJETO_ASISTENCIA"),
                ("03/03/1946", "FECHAS"),
            ],
        ),
        (
            "union_longest",
            [
                ("368503.", "ID_SUJETO_ASISTENCIA"),
                ("956 203 145", "NUMERO_TELEFONO"),
                ("Ana", "NOMBRE_SUJETO_ASISTENCIA"),
                ("03/03/1946", "FECHAS"),
            ],
        ),
    ],
)
def test_merge_policies(merge: str, expected: list[tuple[str, str]]) -> None:
    doc = make_nlp(merge, NER)(TEXT)
    assert ents(doc) == expected
    # the rule spans themselves are always in the span group
    assert [s.text for s in doc.spans["phi_rules"]] == ["368503", "956 203 145", "03/03/1946"]


def test_union_longest_tie_prefers_the_entity() -> None:
    nlp = make_nlp("union_longest", [{"label": "OTRO", "pattern": "368503"}])
    assert ents(nlp(TEXT))[0] == ("368503", "OTRO")


def test_merge_spans_is_order_independent() -> None:
    nlp = spacy.blank("es")
    doc = nlp("a b c d e f")
    ents_ = [Span(doc, 0, 2, "N1"), Span(doc, 4, 5, "N2")]
    rules = [Span(doc, 1, 4, "R1"), Span(doc, 5, 6, "R2")]
    for policy in MERGE_POLICIES:
        forward = merge_spans(ents_, rules, policy)
        backward = merge_spans(ents_[::-1], rules[::-1], policy)
        assert [(s.start, s.end, s.label_) for s in forward] == [(s.start, s.end, s.label_) for s in backward]
    assert [s.label_ for s in merge_spans(ents_, rules, "prefer_ner")] == ["N1", "N2", "R2"]
    assert [s.label_ for s in merge_spans(ents_, rules, "prefer_rules")] == ["R1", "N2", "R2"]
    assert [s.label_ for s in merge_spans(ents_, rules, "union_longest")] == ["R1", "N2", "R2"]
    with pytest.raises(DeidError):
        merge_spans(ents_, rules, "nope")


def test_alignment_modes() -> None:
    # The tokenizer keeps "NHC:368503x" as one token: "expand" covers it, "contract"/"strict" drop the match.
    text = "Episodio:7345609x y más"
    nlp = spacy.blank("es")
    nlp.add_pipe("phi_rules", config={"rules": ["episodio"]})
    nlp.tokenizer.add_special_case("Episodio:7345609x", [{"ORTH": "Episodio:7345609x"}])
    doc = nlp(text)
    assert ents(doc) == [("Episodio:7345609x", "ID_CONTACTO_ASISTENCIAL")]
    for mode in ("contract", "strict"):
        nlp2 = spacy.blank("es")
        nlp2.tokenizer.add_special_case("Episodio:7345609x", [{"ORTH": "Episodio:7345609x"}])
        nlp2.add_pipe("phi_rules", config={"rules": ["episodio"], "alignment_mode": mode})
        doc = nlp2(text)
        assert ents(doc) == []
        assert doc.user_data[PHI_RULES_USER_DATA_KEY]["unaligned"] == 1


def test_options_and_errors() -> None:
    nlp = make_nlp(spans_key=None, set_ents=False)
    doc = nlp(TEXT)
    assert ents(doc) == [] and "phi_rules" not in doc.spans
    nlp = make_nlp(rules=["fax"])
    assert ents(nlp(TEXT)) == []
    with pytest.raises(DeidError, match="merge"):
        make_nlp("nope")
    with pytest.raises(DeidError, match="alignment_mode"):
        make_nlp(alignment_mode="nope")
    with pytest.raises(DeidError, match="rule"):
        make_nlp(rules=["nope"])


def test_add_patterns_and_round_trips(tmp_path) -> None:
    nlp = make_nlp("prefer_rules", rules=["email", "nhc"])
    pipe = nlp.get_pipe("phi_rules")
    assert isinstance(pipe, PhiRules)
    pipe.add_patterns([{"label": "OTRO_NUMERO_IDENTIF", "pattern": r"Ref\.\s*(?P<value>\d+)", "name": "ref"}])
    with pytest.raises(DeidError):
        pipe.add_patterns([{"label": "X", "pattern": "("}])
    assert len(pipe.patterns) == 1 and "OTRO_NUMERO_IDENTIF" in pipe.labels
    text = "NHC: 368503. Ref. 4411 y a@b.es; Tfno. 956 203 145"
    expected = [("368503", "ID_SUJETO_ASISTENCIA"), ("4411", "OTRO_NUMERO_IDENTIF"), ("a@b.es", "CORREO_ELECTRONICO")]
    assert ents(nlp(text)) == expected

    nlp.to_disk(tmp_path / "model")
    assert (tmp_path / "model" / "phi_rules" / "patterns.jsonl").exists()
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("phi_rules").cfg == pipe.cfg
    assert loaded.get_pipe("phi_rules").patterns == pipe.patterns
    assert ents(loaded(text)) == expected

    fresh = PhiRules(spacy.blank("es")).from_bytes(pipe.to_bytes())
    assert fresh.cfg == pipe.cfg and fresh.patterns == pipe.patterns
    assert ents(pickle.loads(pickle.dumps(nlp))(text)) == expected
    pipe.clear()
    assert pipe.patterns == [] and ents(nlp(text))[1] == ("a@b.es", "CORREO_ELECTRONICO")


def test_config_built_pipeline() -> None:
    config = Config().from_str(
        """
        [nlp]
        lang = "es"
        pipeline = ["phi_rules"]

        [components]

        [components.phi_rules]
        factory = "phi_rules"
        merge = "union_longest"
        rules = ["nhc", "date_numeric"]

        [initialize]

        [initialize.components]

        [initialize.components.phi_rules]
        patterns = [{"label": "OTRO_NUMERO_IDENTIF", "pattern": "Ref\\\\. (?P<value>\\\\d+)"}]
        """
    )
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    nlp.initialize()
    assert nlp.get_pipe("phi_rules").cfg["merge"] == "union_longest"
    doc = nlp("NHC: 368503. Ref. 12 el 03/03/1946 a@b.es")
    assert ents(doc) == [("368503", "ID_SUJETO_ASISTENCIA"), ("12", "OTRO_NUMERO_IDENTIF"), ("03/03/1946", "FECHAS")]


@pytest.mark.parametrize("merge", MERGE_POLICIES)
def test_feeds_the_randomizer(merge: str) -> None:
    nlp = make_nlp(merge, NER)
    nlp.add_pipe("deid_randomizer", config={"mode": "mask"})
    out = nlp(TEXT)._.deid_text
    assert "368503" not in out and "1946" not in out and "Ana" not in out
    # prefer_ner trusts the detector's too short phone span: its first group leaks.
    assert ("956" in out) == (merge == "prefer_ner")


def test_refine_drops_entities_across_line_breaks() -> None:
    text = "Asociación Americana de Diabetes. Buen estado general.\nRemitido por: Ana Gil"
    patterns = [
        {"label": "INSTITUCION", "pattern": [{"TEXT": "Asociación"}, {"OP": "*"}, {"TEXT": "Remitido"}]},
        {"label": "NOMBRE_PERSONAL_SANITARIO", "pattern": [{"TEXT": "Ana"}, {"TEXT": "Gil"}]},
    ]
    doc = make_nlp(ner_patterns=patterns)(text)
    assert ents(doc) == [("Ana Gil", "NOMBRE_PERSONAL_SANITARIO")]
    assert doc.user_data[PHI_RULES_USER_DATA_KEY]["refined"] == 1
    assert len(make_nlp(ner_patterns=patterns, refine=False)(text).ents) == 2


def test_refine_trims_titles_and_drops_general_practitioners() -> None:
    text = "Remitido por: Dr. Ana Gil. Su médico de familia y su familia."
    patterns = [
        {"label": "NOMBRE_PERSONAL_SANITARIO", "pattern": [{"TEXT": "Dr."}, {"TEXT": "Ana"}, {"TEXT": "Gil"}]},
        {"label": "FAMILIARES_SUJETO_ASISTENCIA", "pattern": "familia"},
    ]
    doc = make_nlp(ner_patterns=patterns)(text)
    assert ents(doc) == [("Ana Gil", "NOMBRE_PERSONAL_SANITARIO"), ("familia", "FAMILIARES_SUJETO_ASISTENCIA")]
    assert doc.ents[1].start_char == text.rindex("familia")
    assert doc.user_data[PHI_RULES_USER_DATA_KEY]["refined"] == 2
    doc = make_nlp(ner_patterns=patterns, refine=False)(text)
    assert ents(doc) == [
        ("Dr. Ana Gil", "NOMBRE_PERSONAL_SANITARIO"),
        ("familia", "FAMILIARES_SUJETO_ASISTENCIA"),
        ("familia", "FAMILIARES_SUJETO_ASISTENCIA"),
    ]
