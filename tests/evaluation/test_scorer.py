"""The spaCy layer: scoring real Docs and the registered NER scorer."""

from __future__ import annotations

import subprocess
import sys

import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

from spacy_clinical_es.errors import EvaluationError
from spacy_clinical_es.evaluation.scorer import make_ner_scorer, score_docs

SCORER = "spacy_clinical_es.ner_scorer.v1"
# Invented text. Tokens: Juan(0,4) Pérez(5,10) vive(11,15) en(16,18) Madrid(19,25)
# con(26,29) Ana(30,33) .(33,34)
TEXT = "Juan Pérez vive en Madrid con Ana."


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("es")


def make_gold(nlp) -> Doc:
    doc = nlp.make_doc(TEXT)
    doc.ents = [Span(doc, 0, 2, "PER"), Span(doc, 4, 5, "LOC"), Span(doc, 6, 7, "PER")]
    return doc


def make_pred(nlp) -> Doc:
    doc = nlp.make_doc(TEXT)
    doc.ents = [Span(doc, 0, 1, "PER"), Span(doc, 4, 5, "LOC")]
    return doc


def test_score_docs_hand_computed(nlp):
    scores = score_docs([Example(make_pred(nlp), make_gold(nlp))])
    # strict: "Juan" != "Juan Pérez" -> PER tp 0 fp 1 fn 2; LOC tp 1.
    # micro tp 1, fp 1, fn 2 -> P 1/2, R 1/3, F 0.4
    strict = scores["strict"]
    assert (strict["tp"], strict["fp"], strict["fn"]) == (1, 1, 2)
    assert strict["f"] == pytest.approx(0.4)
    assert strict["per_type"]["PER"]["f"] == 0.0
    # IOB2 on gold tokens: Juan B-PER/B-PER TP, Pérez I-PER/O FN, Madrid TP,
    # Ana B-PER/O FN -> tp 2, fp 0, fn 2: P 1, R 1/2, F 2/3
    iob2 = scores["iob2"]
    assert (iob2["tp"], iob2["fp"], iob2["fn"]) == (2, 0, 2)
    assert iob2["per_type"]["PER"]["r"] == pytest.approx(1 / 3)
    # de-id tokens: gold {Juan, Pérez, Madrid, Ana}, pred {Juan, Madrid}: leak 2/4
    assert scores["deid_token"]["leak_rate"] == pytest.approx(0.5)
    # de-id chars (spaces excluded): gold 4+5+6+3 = 18, pred 4+6 = 10 -> R 10/18
    assert scores["deid_char"]["r"] == pytest.approx(10 / 18)
    # exact fragment match equals strict for contiguous spans
    assert scores["exact"]["f"] == pytest.approx(0.4)
    assert (scores["n_docs"], scores["n_docs_skipped"]) == (1, 0)


def test_score_docs_pair_input_and_different_tokenization(nlp):
    gold = make_gold(nlp)
    # Same text, other tokenization: "Juan Pérez" is one token in the prediction.
    words = ["Juan Pérez", "vive", "en", "Madrid", "con", "Ana", "."]
    spaces = [True, True, True, True, True, False, False]
    pred = Doc(nlp.vocab, words=words, spaces=spaces)
    pred.ents = [
        Span(pred, 0, 1, "PER"),
        Span(pred, 3, 4, "LOC"),
        Span(pred, 5, 6, "PER"),
    ]
    assert pred.text == gold.text
    scores = score_docs(([gold], [pred]))
    # Character offsets agree although the token boundaries do not.
    assert scores["strict"]["f"] == 1.0
    assert scores["iob2"]["f"] == 1.0
    assert scores["deid_token"]["leak_rate"] == 0.0


def test_score_docs_text_mismatch_raises_without_quoting(nlp):
    gold = make_gold(nlp)
    pred = nlp.make_doc("Otro texto distinto")
    with pytest.raises(EvaluationError) as err:
        score_docs([Example(pred, gold)])
    message = str(err.value)
    assert "Juan" not in message and "Otro" not in message
    assert "lengths 19 and 34" in message


@pytest.mark.parametrize("bad", [([], [object()]), [object()], (object(), object())])
def test_score_docs_rejects_bad_input(bad):
    with pytest.raises(EvaluationError):
        score_docs(bad)


def test_score_docs_skips_gold_without_entity_annotation(nlp):
    unannotated = nlp.make_doc(TEXT)
    pred = make_pred(nlp)
    scores = score_docs(([make_gold(nlp), unannotated], [make_pred(nlp), pred]))
    assert (scores["n_docs"], scores["n_docs_skipped"]) == (1, 1)
    assert scores["strict"]["fp"] == 1  # the skipped doc's predictions are not counted


def test_score_docs_empty_gold_and_predictions(nlp):
    gold = nlp.make_doc(TEXT)
    gold.ents = []
    scores = score_docs(([gold], [nlp.make_doc(TEXT)]))
    assert scores["n_docs"] == 1
    assert scores["strict"]["f"] == 0.0
    assert scores["deid_token"]["leak_rate"] == 0.0
    assert score_docs([])["n_docs"] == 0


def test_score_docs_labels_filter(nlp):
    scores = score_docs(
        [Example(make_pred(nlp), make_gold(nlp))], labels=["LOC", "DATE"]
    )
    assert scores["strict"]["f"] == 1.0
    assert set(scores["strict"]["per_type"]) == {"LOC", "DATE"}
    # de-id only sees LOC spans: Madrid predicted
    assert scores["deid_token"]["leak_rate"] == 0.0


def test_score_docs_span_groups_discontinuous_fragments(nlp):
    # Tokens: dolor(0) de(1) cabeza(2) y(3) de(4) espalda(5)
    text = "dolor de cabeza y de espalda"
    gold = nlp.make_doc(text)
    gold.spans["sc"] = [
        Span(gold, 0, 3, "SINTOMA", span_id="T1"),  # "dolor de cabeza"
        Span(gold, 0, 1, "SINTOMA", span_id="T2"),  # "dolor ... de espalda"
        Span(gold, 4, 6, "SINTOMA", span_id="T2"),
    ]
    pred = nlp.make_doc(text)
    pred.spans["sc"] = [
        Span(pred, 0, 3, "SINTOMA", span_id="a"),
        Span(pred, 4, 6, "SINTOMA", span_id="b"),  # fragment predicted alone
    ]
    scores = score_docs([Example(pred, gold)], span_key="sc")
    # Exact: gold {T1:{(0,15)}, T2:{(0,5),(18,28)}}, pred {{(0,15)}, {(18,28)}}
    # -> tp 1, fp 1, fn 1; discontinuous: gold 1, pred 0 -> tp 0, fn 1
    exact = scores["exact"]
    assert (exact["tp"], exact["fp"], exact["fn"]) == (1, 1, 1)
    disc = exact["discontinuous"]
    assert (disc["tp"], disc["fp"], disc["fn"]) == (0, 0, 1)
    # Strict scores each fragment: gold (0,15), (0,5), (18,28); pred (0,15), (18,28)
    assert (scores["strict"]["tp"], scores["strict"]["fn"]) == (2, 1)
    # IOB2 cannot hold (0,5) nested in (0,15): one gold span dropped and reported
    assert scores["iob2"]["dropped_gold_spans"] == 1
    assert scores["iob2"]["f"] == 1.0
    # Without grouping each fragment is its own item.
    ungrouped = score_docs([Example(pred, gold)], span_key="sc", group_fragments=False)
    assert ungrouped["exact"]["discontinuous"]["fn"] == 0
    # A missing span key means "no spans", not an error.
    assert score_docs([Example(pred, gold)], span_key="other")["strict"]["tp"] == 0


def test_group_fragments_is_off_for_ents_by_default(nlp):
    # entity_ruler pattern ids land in ent_id: they must not glue mentions together.
    gold = make_gold(nlp)
    pred = nlp.make_doc(TEXT)
    pred.ents = [
        Span(pred, 0, 2, "PER", span_id="p"),
        Span(pred, 6, 7, "PER", span_id="p"),
    ]
    scores = score_docs([Example(pred, gold)])
    assert scores["exact"]["tp"] == 2
    assert scores["exact"]["discontinuous"]["fp"] == 0


def test_registered_scorer_returns_spacy_and_extra_keys(nlp):
    assert spacy.registry.scorers.get(SCORER) is make_ner_scorer
    scores = make_ner_scorer()([Example(make_pred(nlp), make_gold(nlp))])
    assert scores["ents_f"] == pytest.approx(0.4)
    assert scores["ents_per_type"]["LOC"]["f"] == 1.0
    assert scores["strict_f"] == pytest.approx(0.4)
    assert scores["strict_p"] == pytest.approx(0.5)
    assert scores["strict_r"] == pytest.approx(1 / 3)
    assert scores["iob2_f"] == pytest.approx(2 / 3)
    assert scores["phi_token_r"] == pytest.approx(0.5)
    assert scores["leak_rate"] == pytest.approx(0.5)


def test_scorer_set_through_config_is_used_by_nlp_evaluate():
    nlp = spacy.blank("es")
    ruler = nlp.add_pipe("entity_ruler", config={"scorer": {"@scorers": SCORER}})
    ruler.add_patterns(
        [{"label": "PER", "pattern": "Juan"}, {"label": "LOC", "pattern": "Madrid"}]
    )
    assert nlp.config["components"]["entity_ruler"]["scorer"] == {"@scorers": SCORER}
    # The pipeline predicts exactly make_pred(): same hand-computed numbers.
    scores = nlp.evaluate([Example(nlp.make_doc(TEXT), make_gold(nlp))])
    assert scores["ents_f"] == pytest.approx(0.4)
    assert scores["strict_f"] == pytest.approx(0.4)
    assert scores["iob2_f"] == pytest.approx(2 / 3)
    assert scores["leak_rate"] == pytest.approx(0.5)


def test_scorer_config_on_a_blank_ner_component():
    nlp = spacy.blank("es")
    ner = nlp.add_pipe("ner", config={"scorer": {"@scorers": SCORER}})
    ner.add_label("PER")
    ner.add_label("LOC")
    nlp.initialize()
    nlp2 = spacy.util.load_model_from_config(nlp.config, auto_fill=True)
    assert nlp2.config["components"]["ner"]["scorer"] == {"@scorers": SCORER}
    scores = nlp.evaluate([Example(nlp.make_doc(TEXT), make_gold(nlp))])
    for key in (
        "ents_f",
        "strict_f",
        "strict_p",
        "strict_r",
        "iob2_f",
        "phi_token_r",
        "leak_rate",
    ):
        assert key in scores
    for key in ("strict_f", "iob2_f", "phi_token_r", "leak_rate"):
        assert 0.0 <= scores[key] <= 1.0


def test_scorer_found_through_entry_point_without_importing_the_package():
    code = (
        "import sys, spacy\n"
        f"f = spacy.registry.scorers.get({SCORER!r})\n"
        "assert f.__module__ == 'spacy_clinical_es.evaluation.scorer', f.__module__\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_gold_span_key_uses_exact_converter_offsets():
    """A gold span misaligned with the gold tokens is scored at its exact offsets."""
    from spacy_clinical_es.corpora.annotations import Annotation, Document
    from spacy_clinical_es.corpora.representation import document_to_doc
    from spacy_clinical_es.tokenizer import make_clinical_nlp

    text = "CP:28029 Madrid"
    document = Document(
        id="d1",
        text=text,
        corpus="meddocan",
        annotations=[
            Annotation("T1", "TERRITORIO", [(3, 8)], "28029"),
            Annotation("T2", "TERRITORIO", [(9, 15)], "Madrid"),
        ],
    )
    gold = document_to_doc(document, spacy.blank("es"))  # "CP:28029" stays one token
    assert [(s.start_char, s.end_char) for s in gold.spans["meddocan"]] == [(0, 8), (9, 15)]
    pred = make_clinical_nlp().make_doc(text)
    pred.ents = [pred.char_span(3, 8, "TERRITORIO"), pred.char_span(9, 15, "TERRITORIO")]
    exact = score_docs(([gold], [pred]), gold_span_key="meddocan")
    assert exact["strict"]["tp"] == 2 and exact["strict"]["f"] == 1.0
    expanded = score_docs(([gold], [pred]), span_key=None)
    # doc.ents holds only the aligned annotation: the misaligned one is not gold there
    assert expanded["strict"]["tp"] == 1 and expanded["strict"]["fp"] == 1
