"""clinical_context: rules on the issue's examples, target flags, config errors, round trips, overfitting."""
from __future__ import annotations

from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import registry
from thinc.api import Adam, fix_random_seed

import spacy_clinical_es.pipeline.clinical_context  # noqa: F401  (registers the factory)
from spacy_clinical_es.context.schema import CUES_KEY, SCOPES_KEY
from spacy_clinical_es.context.tagging import CUE_TAGS
from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.tokenizer import make_clinical_nlp

# (text, cues (start, end, label), scopes (start, end, label, index of the cue)), token offsets.
TRAIN = [
    ("No se observan adenopatías .", [(0, 1, "NegSyn")], [(1, 4, "Phrase", 0)]),
    ("Imagen sugestiva de espondilolisis .", [(1, 3, "UncertLex")], [(3, 4, "DISO", 0)]),
    ("Sugestivo de espondilolisis", [(0, 2, "UncertLex")], [(2, 3, "DISO", 0)]),
    ("Se descarta TEP .", [(0, 2, "NegLex")], [(2, 3, "DISO", 0)]),
    ("se descarta neumonía", [(0, 2, "NegLex")], [(2, 3, "DISO", 0)]),
    ("Cultivos negativos .", [(1, 2, "NegLex")], [(0, 1, "PROC", 0)]),
    ("Cultivos negativos", [(1, 2, "NegLex")], [(0, 1, "PROC", 0)]),
    ("Paciente afebril , sin dolor pero con tos .", [(1, 2, "NegMor"), (3, 4, "NegSyn")], [(4, 5, "DISO", 1)]),
    ("sin fiebre", [(0, 1, "NegSyn")], [(1, 2, "DISO", 0)]),
    ("no tos", [(0, 1, "NegSyn")], [(1, 2, "DISO", 0)]),
]


def _reference(nlp, text, cues, scopes) -> Doc:
    doc = nlp.make_doc(text)
    doc.spans[CUES_KEY] = [Span(doc, s, e, label=label, span_id=f"T{i}") for i, (s, e, label) in enumerate(cues)]
    doc.spans[SCOPES_KEY] = [Span(doc, s, e, label=label, span_id=f"T{k}") for s, e, label, k in scopes]
    return doc


def _examples(nlp, rows=TRAIN) -> list[Example]:
    return [Example(nlp.make_doc(text), _reference(nlp, text, cues, scopes)) for text, cues, scopes in rows]


def _annotations(doc: Doc) -> tuple:
    return (
        [(s.start, s.end, s.label_, s.id_) for s in doc.spans[CUES_KEY]],
        [(s.start, s.end, s.label_, s.id_) for s in doc.spans[SCOPES_KEY]],
    )


@pytest.fixture(scope="module")
def rules_nlp():
    nlp = make_clinical_nlp()
    nlp.add_pipe("clinical_es_context", name="clinical_context", config={"implementation": {"min_count": 1}})
    examples = _examples(nlp)
    nlp.initialize(lambda: examples)
    return nlp


def _with_ents(nlp, text: str, ents: list[tuple[int, int, str]]) -> Doc:
    doc = nlp.make_doc(text)
    doc.ents = [Span(doc, s, e, label=label) for s, e, label in ents]
    return nlp(doc)


def test_rules_on_the_issue_examples(rules_nlp) -> None:
    doc = _with_ents(rules_nlp, "No se observan adenopatías", [(3, 4, "ENFERMEDAD")])
    assert [(s.text, s.label_) for s in doc.spans[CUES_KEY]] == [("No", "NegSyn")]
    assert [s.text for s in doc.spans[SCOPES_KEY]] == ["se observan adenopatías"]
    ent = doc.ents[0]
    assert (ent._.negated, ent._.uncertain, ent._.context_cue) == (True, False, "No")

    doc = _with_ents(rules_nlp, "Imagen sugestiva de espondilolisis", [(3, 4, "ENFERMEDAD")])
    ent = doc.ents[0]
    assert (ent._.negated, ent._.uncertain, ent._.context_cue) == (False, True, "sugestiva de")

    doc = _with_ents(rules_nlp, "se descarta TEP", [(2, 3, "ENFERMEDAD")])
    assert (doc.ents[0]._.negated, doc.ents[0]._.context_cue) == (True, "se descarta")


def test_rules_accent_variants_backward_cues_and_terminators(rules_nlp) -> None:
    doc = _with_ents(rules_nlp, "SE DESCARTÁ tep , hemocultivos negativas", [(2, 3, "E"), (4, 5, "P")])
    assert [e._.negated for e in doc.ents] == [True, True]
    doc = _with_ents(rules_nlp, "sin dolor pero con fiebre", [(1, 2, "E"), (4, 5, "E")])
    assert [e._.negated for e in doc.ents] == [True, False]
    doc = _with_ents(rules_nlp, "Paciente afebril", [(1, 2, "E")])
    assert doc.ents[0]._.negated and doc.ents[0]._.context_cue == "afebril"
    doc = _with_ents(rules_nlp, "Buen estado general", [(0, 3, "E")])
    assert not doc.ents[0]._.negated and doc.ents[0]._.context_cue is None


def test_targets_include_configured_span_groups() -> None:
    nlp = make_clinical_nlp()
    nlp.add_pipe("clinical_context", config={"targets": ["ents", "concepts"]})  # the alias of clinical_es_context
    nlp.initialize(lambda: _examples(nlp))
    doc = nlp.make_doc("no tos")
    doc.spans["concepts"] = [Span(doc, 1, 2, label="DISO")]
    doc = nlp(doc)
    assert doc.spans["concepts"][0]._.negated


def test_bad_configuration_raises_the_package_error() -> None:
    nlp = make_clinical_nlp()
    with pytest.raises(ConfigError, match="different"):
        nlp.add_pipe("clinical_es_context", config={"cues_key": "x", "scopes_key": "x"})
    with pytest.raises(ConfigError, match="targets"):
        nlp.add_pipe("clinical_es_context", name="c2", config={"targets": [CUES_KEY]})
    with pytest.raises(ConfigError, match="min_count"):
        nlp.add_pipe("clinical_es_context", name="c3", config={"implementation": {"min_count": 0}})


def test_rules_round_trip_disk_and_bytes(rules_nlp, tmp_path: Path) -> None:
    texts = ["No se observan adenopatías", "Cultivos negativos , sin fiebre", "posible neumonía"]
    before = [_annotations(d) for d in rules_nlp.pipe(texts)]
    rules_nlp.to_disk(tmp_path / "rules")
    assert (tmp_path / "rules" / "clinical_context" / "cues.jsonl").is_file()
    loaded = spacy.load(tmp_path / "rules")
    assert [_annotations(d) for d in loaded.pipe(texts)] == before
    fresh = make_clinical_nlp()
    fresh.add_pipe("clinical_es_context", name="clinical_context")
    fresh.get_pipe("clinical_context").from_bytes(rules_nlp.get_pipe("clinical_context").to_bytes())
    assert [_annotations(d) for d in fresh.pipe(texts)] == before


TAGGER = {
    "@misc": "spacy_clinical_es.ContextTagger.v1",
    "model": {
        "@architectures": "spacy_clinical_es.ContextTaggerModel.v1",
        "tok2vec": {
            "@architectures": "spacy.HashEmbedCNN.v2",
            "pretrained_vectors": None,
            "width": 32,
            "depth": 2,
            "embed_size": 500,
            "window_size": 1,
            "maxout_pieces": 2,
            "subword_features": True,
        },
    },
}


#: v2: the same heads after a bidirectional LSTM (what configs/nubes_context.cfg trains)
TAGGER_V2 = {
    **TAGGER,
    "model": {**TAGGER["model"], "@architectures": "spacy_clinical_es.ContextTaggerModel.v2", "lstm_width": 16,
              "lstm_depth": 1, "dropout": 0.0},
}


#: v3: scopes conditioned on the cues (teacher-forced gold cues in training, predicted ones when predicting)
TAGGER_V3 = {
    **TAGGER,
    "model": {**TAGGER_V2["model"], "@architectures": "spacy_clinical_es.ContextTaggerModel.v3", "scope_lstm_depth": 1},
}


@pytest.mark.parametrize(
    "tagger,steps", [(TAGGER, 80), (TAGGER_V2, 80), (TAGGER_V3, 160)], ids=["v1", "v2-lstm", "v3-cue-conditioned"]
)
def test_trained_overfits_two_examples_and_round_trips(tmp_path: Path, tagger: dict, steps: int) -> None:
    fix_random_seed(0)
    nlp = make_clinical_nlp()
    pipe = nlp.add_pipe("clinical_es_context", name="clinical_context", config={"implementation": tagger})
    assert pipe.is_trainable
    examples = _examples(nlp, TRAIN[:2])
    optimizer = Adam(0.01)
    nlp.initialize(lambda: examples, sgd=optimizer)
    for _ in range(steps):
        losses = nlp.update(examples, sgd=optimizer, drop=0.0)
    assert losses["clinical_context"] < 1.0
    texts = [text for text, _, _ in TRAIN[:2]]
    predicted = [_annotations(d) for d in nlp.pipe(texts)]
    gold = [
        ([(s, e, label, f"c{i}") for i, (s, e, label) in enumerate(cues)], [(s, e, label, f"c{k}") for s, e, label, k in scopes])
        for _, cues, scopes in TRAIN[:2]
    ]
    assert predicted == gold
    scores = nlp.evaluate(examples)
    assert scores["context_neg_cue_f"] == 1.0 and scores["context_unc_scope_f"] == 1.0
    nlp.to_disk(tmp_path / "tagger")
    loaded = spacy.load(tmp_path / "tagger")
    assert [_annotations(d) for d in loaded.pipe(texts)] == predicted


def test_rules_update_is_a_no_op(rules_nlp) -> None:
    pipe = rules_nlp.get_pipe("clinical_context")
    assert not pipe.is_trainable
    before = pipe.implementation.lexicon.to_records()
    losses = pipe.update(_examples(rules_nlp, TRAIN[:1]))
    assert losses == {"clinical_context": 0.0}
    assert pipe.implementation.lexicon.to_records() == before


def test_tagger_thresholds_are_checked() -> None:
    nlp = make_clinical_nlp()
    with pytest.raises(ConfigError, match="threshold"):
        nlp.add_pipe("clinical_es_context", config={"implementation": {**TAGGER, "scope_threshold": 1.5}})
    bad_lstm = {**TAGGER_V2, "model": {**TAGGER_V2["model"], "lstm_width": 15}}
    with pytest.raises(ConfigError, match="lstm_width"):
        nlp.add_pipe("clinical_es_context", name="odd_lstm", config={"implementation": bad_lstm})


def test_rules_learn_from_an_initialize_corpus(tmp_path: Path) -> None:
    """``[initialize.components.clinical_context.examples]``: the rules are learned from a corpus reader, as where
    the concepts product is assembled (no training data of its own); a missing or cue-less corpus is a clear error."""
    from spacy.tokens import DocBin
    from spacy.training import Corpus

    nlp = make_clinical_nlp()
    DocBin(docs=[eg.reference for eg in _examples(nlp)]).to_disk(tmp_path / "train.spacy")
    DocBin(docs=[nlp.make_doc("Sin cues aquí .")]).to_disk(tmp_path / "empty.spacy")
    nlp.add_pipe("clinical_es_context", name="clinical_context", config={"implementation": {"min_count": 1}})
    dummy = [Example(nlp.make_doc("x"), nlp.make_doc("x"))]  # what `spacy assemble` passes: no cues at all
    nlp.get_pipe("clinical_context").initialize(lambda: dummy, nlp=nlp, examples=Corpus(tmp_path / "train.spacy"))
    doc = _with_ents(nlp, "se descarta neumonía", [(2, 3, "ENFERMEDAD")])
    assert (doc.ents[0]._.negated, doc.ents[0]._.context_cue) == (True, "se descarta")
    for path, message in ((tmp_path / "missing.spacy", "do not exist"), (tmp_path / "empty.spacy", "have no cues")):
        with pytest.raises(ConfigError, match=message):
            nlp.get_pipe("clinical_context").initialize(lambda: dummy, nlp=nlp, examples=Corpus(path))


def test_v3_scopes_read_the_cue_tags_they_are_given() -> None:
    """v3's scope columns depend on the cue tags of its input (gold in training), its cue columns do not;
    given Docs alone it reads its own most probable cue tags."""
    fix_random_seed(0)
    nlp = make_clinical_nlp()
    pipe = nlp.add_pipe("clinical_es_context", name="clinical_context", config={"implementation": TAGGER_V3})
    examples = _examples(nlp, TRAIN[:2])
    optimizer = Adam(0.01)
    nlp.initialize(lambda: examples, sgd=optimizer)
    for _ in range(5):  # the softmax heads start at zero weights: uniform outputs whatever the input
        nlp.update(examples, sgd=optimizer, drop=0.0)
    model = pipe.implementation.model
    docs = [eg.predicted for eg in examples]
    n_cue = len(CUE_TAGS)
    own = model.predict(docs)
    own_tags = [o[:, :n_cue].argmax(axis=1).astype("int32") for o in own]
    given_own = model.predict((docs, own_tags))
    assert all(numpy.allclose(a, b) for a, b in zip(own, given_own))
    # every token told it is the start of an uncertainty cue
    forced = [numpy.full(len(doc), CUE_TAGS.index("B-UncertLex"), dtype="int32") for doc in docs]
    given_forced = model.predict((docs, forced))
    assert all(numpy.allclose(a[:, :n_cue], b[:, :n_cue]) for a, b in zip(own, given_forced))
    assert not all(numpy.allclose(a[:, n_cue:], b[:, n_cue:]) for a, b in zip(own, given_forced))


def test_v3_needs_both_lstms() -> None:
    bad = {**TAGGER_V3["model"], "scope_lstm_depth": 0}
    with pytest.raises(ConfigError, match="scope_lstm_depth"):
        registry.resolve({"model": bad})
