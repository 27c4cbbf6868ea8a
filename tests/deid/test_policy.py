"""ReplacementPolicy: per label/source actions, protections and the examples of issue 15."""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es.deid import (
    MASK_TAGS,
    DeidError,
    DeidOptions,
    ReplacementPolicy,
    normalize,
    randomize,
)
from spacy_clinical_es.deid.policy import (
    category_is_certain,
    field_label_intervals,
    load_clinical_terms,
)

TYPED_TAG_RE = re.compile(r"\[(?:{})\]".format("|".join(map(re.escape, MASK_TAGS.values()))))


def _span(text: str, surface: str, label: str, source: str = "entity", nth: int = 0) -> tuple[int, int, str, str]:
    start = -1
    for _ in range(nth + 1):
        start = text.index(surface, start + 1)
    return start, start + len(surface), label, source


def _out(text: str, spans: list, **kwargs) -> str:
    return randomize(text, spans, seed=kwargs.pop("seed", 0), **kwargs).text


# --------------------------------------------------------------------------- the examples


def test_field_labels_are_never_replaced():
    text = "NASS: 28 12345678 90\nDomicilio: Calle Mayor 5\nMédico: Dr. Pérez Gil, nº col. 282812345"
    spans = [
        _span(text, "NASS", "NOMBRE_SUJETO_ASISTENCIA", "recall"),
        _span(text, "Domicilio", "CALLE", "recall"),
        _span(text, "nº col.", "ID_TITULACION_PERSONAL_SANITARIO", "recall"),
        _span(text, "Médico", "NOMBRE_PERSONAL_SANITARIO"),
        _span(text, "Pérez Gil", "NOMBRE_PERSONAL_SANITARIO"),
    ]
    for seed in range(5):
        out = _out(text, spans, seed=seed)
        assert out.startswith("NASS: 28 12345678 90\nDomicilio: Calle Mayor 5\nMédico: Dr. ")
        assert "nº col. 282812345" in out and "Pérez" not in out
    # a span that starts with a label is trimmed: the label stays, the value is replaced
    trimmed = randomize(text, [_span(text, "Domicilio: Calle Mayor 5", "CALLE")], seed=1)
    assert trimmed.text.startswith("NASS: 28 12345678 90\nDomicilio: Calle ") and "Mayor" not in trimmed.text
    assert trimmed.stats["trimmed_field_label"] == 1
    assert field_label_intervals("Nº Col.: 1234") and not field_label_intervals("Domicilio en Madrid")


def test_punctuation_only_spans_and_no_mask_tag_in_surrogate_text():
    text = "Martínez Soto, 62 años"
    spans = [_span(text, "Martínez Soto", "NOMBRE_SUJETO_ASISTENCIA"), (13, 15, "CALLE", "recall"), (13, 15, "CALLE")]
    for seed in range(10):
        result = randomize(text, spans, seed=seed)
        assert result.text.endswith(", 62 años") and "[" not in result.text
        assert "Martínez" not in result.text and "Soto" not in result.text
    assert result.stats["kept_punctuation"] == 2


def test_eponyms_and_clinical_vocabulary_are_kept():
    text = (
        "Enfermedad de Crohn. Maniobra de Valsalva positiva. Tinción de Gram negativa. "
        "Insuficiencia cardiaca congestiva. Dolor torácico."
    )
    spans = [
        _span(text, "Crohn", "NOMBRE_PERSONAL_SANITARIO"),  # an entity inside a longer term
        _span(text, "Valsalva", "NOMBRE_SUJETO_ASISTENCIA"),  # eponym head "maniobra de"
        _span(text, "Gram", "NOMBRE_PERSONAL_SANITARIO", "recall"),
        _span(text, "Insuficiencia", "NOMBRE_SUJETO_ASISTENCIA", "recall"),
        _span(text, "Dolor", "NOMBRE_SUJETO_ASISTENCIA", "recall"),
    ]
    result = randomize(text, spans, seed=0)
    assert result.text == text
    assert result.stats["kept_clinical_term"] == 5
    # a lone entity equal to a term word is still replaced; a real name next to a term too
    other = "Visto por el Dr. Gram en consulta."
    assert "Gram" not in _out(other, [_span(other, "Gram", "NOMBRE_PERSONAL_SANITARIO")])
    off = randomize(text, spans, seed=0, policy=ReplacementPolicy(keep_clinical_terms=False))
    assert "Crohn" not in off.text


def test_kinship_is_kept_and_names_of_relatives_replaced():
    text = "Acude con su hija. Su padre falleció de cáncer de colon. Le acompaña su hermana Lucía Ortega."
    spans = [
        _span(text, "hija", "FAMILIARES_SUJETO_ASISTENCIA"),
        _span(text, "padre", "NOMBRE_SUJETO_ASISTENCIA", "recall"),  # even when the label is wrong
        _span(text, "hermana Lucía Ortega", "FAMILIARES_SUJETO_ASISTENCIA"),
    ]
    for seed in range(5):
        out = _out(text, spans, seed=seed)
        assert out.startswith("Acude con su hija. Su padre falleció de cáncer de colon. Le acompaña su hermana ")
        assert "Lucía" not in out and "Ortega" not in out
    recall_su = [*spans, _span(text, "su", "FAMILIARES_SUJETO_ASISTENCIA", "recall", nth=1)]  # "su hermana"
    assert _out(text, recall_su).startswith("Acude con su hija. Su padre falleció de cáncer de colon. Le acompaña su hermana ")
    swapped = _out(text, spans[:1], options=DeidOptions(keep_relatives=False))
    assert "su hija." not in swapped


def test_recall_spans_get_a_neutral_mask_unless_their_category_is_certain():
    text = "Ingresa el 12/03/2015 por Hualde con Ana García."
    spans = [
        _span(text, "12/03/2015", "FECHAS", "recall"),
        _span(text, "Hualde", "NOMBRE_SUJETO_ASISTENCIA", "recall"),
        _span(text, "Ana García", "NOMBRE_SUJETO_ASISTENCIA", "recall"),
    ]
    result = randomize(text, spans, seed=0)
    date, unknown, name = (result.text[r.out_start : r.out_end] for r in result.replacements)
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", date) and date != "12/03/2015"
    assert unknown == "[***]" and result.replacements[1].how == "neutral"
    assert "[" not in name and "García" not in name
    assert result.stats["recall_certain"] == 2 and result.stats["recall_uncertain"] == 1
    # entities are replaced whatever their content; with the policy's recall = "surrogate", recall spans too
    entity = randomize(text, [s[:3] for s in spans], seed=0)
    assert "[" not in entity.text
    assert "[" not in _out(text, spans, policy=ReplacementPolicy(recall="surrogate"))


def test_an_uncertain_recall_span_next_to_an_entity_of_its_category_follows_it():
    text = "Paciente Hualde Zubiaurreta, vive en Calle Real 5, Ardales."
    spans = [
        _span(text, "Hualde", "NOMBRE_SUJETO_ASISTENCIA"),
        _span(text, "Zubiaurreta", "NOMBRE_SUJETO_ASISTENCIA", "recall"),  # unknown surname: uncertain alone
        _span(text, "Calle Real", "CALLE"),
        _span(text, "5", "CALLE", "recall"),
        _span(text, "Ardales", "TERRITORIO", "recall"),  # not next to a place entity: neutral mask
    ]
    result = randomize(text, spans, seed=0)
    assert "Zubiaurreta" not in result.text and "Hualde" not in result.text
    assert result.text.count("[***]") == 1 and result.text.endswith(", [***].")
    assert result.stats["recall_joined_to_neighbour"] == 2


def test_function_words_are_kept_alone_and_replaced_inside_a_span():
    text = "Acude con su hija. Vive en Calle de la Paz 5."
    spans = [
        _span(text, "su", "NOMBRE_SUJETO_ASISTENCIA", "recall"),
        _span(text, "Calle", "CALLE"),
        _span(text, "de la", "CALLE", "recall"),
        _span(text, "Paz 5", "CALLE"),
    ]
    result = randomize(text, spans, seed=0)
    assert result.text.startswith("Acude con su hija. Vive en ") and "Paz" not in result.text
    assert result.stats["kept_function_words"] == 2 and result.stats["function_words_joined"] == 1
    assert [r.action for r in result.replacements] == ["keep", "surrogate", "surrogate", "surrogate"]


def test_no_typed_tag_in_surrogate_mode():
    text = "Tatuaje en la región pectoral; trabaja de minero en Huelva; vive en la c/ Real 5."
    spans = [
        _span(text, "Tatuaje en la región pectoral", "OTROS_SUJETO_ASISTENCIA"),
        _span(text, "minero", "PROFESION"),
        _span(text, "Huelva", "TERRITORIO"),
        _span(text, "c/ Real 5", "CALLE"),
    ]
    for seed in range(10):
        assert not TYPED_TAG_RE.search(_out(text, spans, seed=seed))


# --------------------------------------------------------------------------- the policy object


def test_actions_per_label_and_source():
    text = "Ana García, enfermera, 12/03/2015."
    spans = [
        _span(text, "Ana García", "NOMBRE_SUJETO_ASISTENCIA", "rule"),
        _span(text, "enfermera", "PROFESION"),
        _span(text, "12/03/2015", "FECHAS", "gazetteer"),
    ]
    policy = ReplacementPolicy(labels={"PROFESION": "keep", "FECHAS": {"gazetteer": "redact", "*": "surrogate"}}, rule="mask")
    result = randomize(text, spans, seed=0, policy=policy)
    assert result.text == "[NOMBRE], enfermera, ."
    assert [r.source for r in result.replacements] == ["rule", "entity", "gazetteer"]
    assert policy.action_for("FECHAS", "entity") == "surrogate" and policy.action_for("X", "recall") == "replace_if_certain"


def test_policy_files_and_errors(tmp_path):
    yaml_file = tmp_path / "policy.yml"
    yaml_file.write_text("recall: mask\nlabels:\n  PROFESION: keep\n  NOMBRE_SUJETO_ASISTENCIA:\n    recall: surrogate\n")
    policy = ReplacementPolicy.from_file(yaml_file)
    assert policy.recall == "mask" and policy.labels["NOMBRE_SUJETO_ASISTENCIA"] == {"recall": "surrogate"}
    json_file = tmp_path / "policy.json"
    json_file.write_text(json.dumps(policy.to_dict()))
    assert ReplacementPolicy.from_file(json_file) == policy
    for bad in ({"recal": "mask"}, {"recall": "blur"}, {"labels": {"X": {"ner": "keep"}}}, {"uncertain": "replace_if_certain"}):
        with pytest.raises(DeidError):
            ReplacementPolicy.from_dict(bad)
    (tmp_path / "bad.yml").write_text("recall: [unclosed\n  Ana García")
    with pytest.raises(DeidError) as info:
        ReplacementPolicy.from_file(tmp_path / "bad.yml")
    assert "Ana" not in str(info.value)
    with pytest.raises(DeidError):
        ReplacementPolicy.from_file(tmp_path / "missing.json")


def test_certainty_by_content():
    assert category_is_certain("12/03/2015", "DATE") and not category_is_certain("Domicilio", "DATE")
    assert category_is_certain("María López", "NAME") and not category_is_certain("Insuficiencia", "NAME")
    assert category_is_certain("Madrid", "TERRITORY") and not category_is_certain("Hualde", "TERRITORY")
    assert category_is_certain("915 86 80 00", "PHONE") and category_is_certain("a.b@c.es", "EMAIL")


def test_the_shipped_term_list_holds_eponyms_and_no_meddocan_phi(data_dir):
    from spacy_clinical_es.corpora.readers import iter_corpus

    terms = load_clinical_terms()
    assert len(terms) > 5000 and {"enfermedad", "maniobra", "tincion"} <= terms.heads
    flat = set()

    def walk(node: dict, prefix: tuple) -> None:
        for word, child in node.items():
            if word == "":
                flat.add(" ".join(prefix))
            else:
                walk(child, (*prefix, word))

    walk(terms.trie, ())
    assert {"enfermedad de crohn", "insuficiencia cardiaca", "tincion de gram"} <= flat
    names = {
        normalize(a.text)
        for d in iter_corpus("meddocan", "train", data_dir=data_dir)
        for a in d.annotations
        if a.label.startswith(("NOMBRE", "CALLE", "ID_", "CORREO", "NUMERO"))
    }
    assert not names & flat


def test_recall_spans_of_common_clinical_words_are_kept_names_and_entities_are_not():
    # recall spans without an entity nearby are kept as isolated: the rule is off here to test the vocabulary
    not_isolated = ReplacementPolicy(recall_isolation_chars=None)
    text = "Calcificaciones en pelvis menor. Se realizó TAC Multicorte. Instilación de Mitomicina C. Acude con Ana García."
    recall = [
        _span(text, "pelvis menor", "CALLE", "recall"),  # every word in the vocabulary
        _span(text, "Multicorte", "HOSPITAL", "recall"),  # continues "TAC"
        _span(text, "C.", "NOMBRE_SUJETO_ASISTENCIA", "recall"),  # continues "Mitomicina"
        _span(text, "Ana García", "NOMBRE_SUJETO_ASISTENCIA", "recall"),  # a name: replaced
    ]
    recall[2] = (recall[2][0], recall[2][0] + 1, *recall[2][2:])  # "C" without the full stop
    result = randomize(text, recall, seed=0, policy=not_isolated)
    assert result.text.startswith("Calcificaciones en pelvis menor. Se realizó TAC Multicorte. Instilación de Mitomicina C. ")
    assert "García" not in result.text
    assert result.stats["kept_clinical_vocab"] == 3
    # the same words as detector entities are replaced (the vocabulary is for recall-only spans)
    entities = [(s, e, label, "entity") for s, e, label, _ in recall[:2]]
    out = _out(text, entities)
    assert "pelvis menor" not in out and "Multicorte" not in out
    # a capitalized known name or place is not kept even when it folds to a vocabulary word ("Colón" / "colon")
    place = "Vive en la calle Colón."
    assert "Colón" not in _out(place, [_span(place, "Colón", "CALLE", "recall")], policy=not_isolated)
    # a name right after a capitalized clinical word is still replaced
    after = "Valorado en TAC García."
    assert "García" not in _out(after, [_span(after, "García", "NOMBRE_PERSONAL_SANITARIO", "recall")])
    off = randomize(text, recall, seed=0, policy=ReplacementPolicy(keep_clinical_vocab=False, recall_isolation_chars=None))
    assert "Multicorte" not in off.text and "pelvis menor" not in off.text


def test_a_clinical_vocabulary_file_of_ones_own(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("# comment\nhualde\n", encoding="utf-8")
    text = "Visto en Hualde por Ana García."
    span = [_span(text, "Hualde", "TERRITORIO", "recall"), _span(text, "Ana García", "NOMBRE_SUJETO_ASISTENCIA")]
    assert _out(text, span, policy=ReplacementPolicy(clinical_vocab=str(vocab))).startswith("Visto en Hualde por ")
    assert "Hualde" not in _out(text, span)
    with pytest.raises(DeidError, match="not found"):
        _out(text, span, policy=ReplacementPolicy(clinical_vocab=str(tmp_path / "missing.txt")))


# --------------------------------------------------------------------------- isolated recall spans


def test_an_uncertain_recall_span_far_from_any_phi_is_kept_and_one_near_phi_is_not():
    narrative = "Sin otros hallazgos en la exploración física. " * 3 + "Valorada por Zurbitu."
    text = "Paciente: Ana García. Vive en Hualde. " + narrative
    spans = [
        _span(text, "Ana García", "NOMBRE_SUJETO_ASISTENCIA"),
        _span(text, "Hualde", "TERRITORIO", "recall"),  # 10 characters from the name: replaced
        _span(text, "Zurbitu", "INSTITUCION", "recall"),  # > 100 characters from any entity: kept
    ]
    result = randomize(text, spans, seed=0)
    assert "Hualde" not in result.text and "por Zurbitu." in result.text
    assert result.stats["kept_isolated"] == 1
    # the distance is the policy's; off, the far span gets the neutral mask
    off = randomize(text, spans, seed=0, policy=ReplacementPolicy(recall_isolation_chars=None))
    assert "Zurbitu" not in off.text and "[***]" in off.text and off.stats["kept_isolated"] == 0
    # a span of certain category is replaced however far it is, and anchors its neighbours
    far = "Sin otros hallazgos en la exploración física. " * 4 + "Control el 12/03/2015 en Hualde."
    recall_only = [_span(far, "12/03/2015", "FECHAS", "recall"), _span(far, "Hualde", "TERRITORIO", "recall")]
    out = _out(far, recall_only)
    assert "12/03/2015" not in out and "Hualde" not in out
    # entities are never kept for being isolated
    assert "Zurbitu" not in _out(text, [(s, e, label, "entity") for s, e, label, _ in spans[2:]])


def test_recall_isolation_chars_is_checked():
    assert ReplacementPolicy.from_dict({"recall_isolation_chars": 0}).recall_isolation_chars == 0
    for bad in (-1, 1.5, True, "100"):
        with pytest.raises(DeidError, match="recall_isolation_chars"):
            ReplacementPolicy(recall_isolation_chars=bad)


@given(
    anchors=st.lists(st.tuples(st.integers(0, 200), st.integers(1, 30)), max_size=8),
    start=st.integers(0, 200),
    length=st.integers(1, 30),
)
def test_anchor_distance_is_the_smallest_gap(anchors, start, length):
    from spacy_clinical_es.deid.randomizer import _Anchors

    spans = [(s, s + n) for s, n in anchors]
    end = start + length
    expected = min((max(0, s - end, start - e) for s, e in spans), default=float("inf"))
    assert _Anchors(spans).distance(start, end) == expected


# --------------------------------------------------------------------------- eponyms


def test_eponyms_after_a_head_are_kept_with_their_de_or_a_hyphenated_first_part():
    text = "Meses después el síndrome de Horner había desaparecido. Enfermedad de Erdheim-Chester orbitaria. Tinción de Diff-Quick."
    policy = ReplacementPolicy(recall_isolation_chars=None, keep_clinical_vocab=False)
    spans = [
        _span(text, "de Horner", "INSTITUCION", "recall"),
        _span(text, "Chester", "INSTITUCION", "recall"),
        _span(text, "Quick", "NOMBRE_PERSONAL_SANITARIO", "recall"),
    ]
    result = randomize(text, spans, seed=0, policy=policy)
    assert result.text == text and result.stats["kept_clinical_term"] == 3
    # a name after a word that is not an eponym head is still replaced
    other = "Remitida por Juan de Horner."
    assert "Horner" not in _out(other, [_span(other, "de Horner", "NOMBRE_PERSONAL_SANITARIO", "recall")], policy=policy)
