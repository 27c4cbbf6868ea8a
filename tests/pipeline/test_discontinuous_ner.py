"""discontinuous_ner: overfitting, serialization, plain spacy.load, BRAT export, scorer, options."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.cli.train import train
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_clinical_es.corpora.brat import read_brat_document
from spacy_clinical_es.corpora.representation import (
    predictions_to_document,
    write_brat_predictions,
)
from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.pipeline.discontinuous_ner import fragment_score
from spacy_clinical_es.tokenizer import make_clinical_nlp

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

TRAIN = [
    (
        "Edema con fóvea en pierna derecha > izquierda. Fiebre alta.",
        [
            ("DIAG", [(0, 5)]),
            ("DIAG", [(0, 15)]),
            ("DIAG", [(0, 5), (19, 33)]),
            ("DIAG", [(0, 5), (36, 45)]),
            ("DIAG", [(47, 53)]),
        ],
    ),
    (
        "Se realizó TAC de tórax y abdomen sin hallazgos.",
        [("PROC", [(11, 23)]), ("PROC", [(11, 14), (26, 33)])],
    ),
]


def gold_sets(entities: list[tuple[str, list[tuple[int, int]]]]) -> set[tuple[str, frozenset]]:
    return {(label, frozenset(frags)) for label, frags in entities}


def predicted_sets(doc, key: str = "sc") -> set[tuple[str, frozenset]]:
    groups: dict[tuple[str, str], set] = {}
    for span in doc.spans.get(key, []):
        groups.setdefault((span.id_, span.label_), set()).add((span.start_char, span.end_char))
    return {(label, frozenset(frags)) for (_, label), frags in groups.items()}


def make_example(nlp: Language, text: str, entities, key: str = "sc") -> Example:
    reference = nlp.make_doc(text)
    spans = []
    for i, (label, fragments) in enumerate(entities, 1):
        for start, end in fragments:
            span = reference.char_span(start, end, label=label, span_id=f"T{i}")
            assert span is not None
            spans.append(span)
    reference.spans[key] = spans
    return Example(nlp.make_doc(text), reference)


def make_nlp(**config) -> Language:
    nlp = make_clinical_nlp()
    nlp.add_pipe("clinical_es_discontinuous_ner", config={"spans_key": "sc", **config})
    return nlp


@pytest.fixture(scope="module")
def trained() -> Language:
    spacy.util.fix_random_seed(0)
    nlp = make_nlp()
    examples = [make_example(nlp, text, ents) for text, ents in TRAIN]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(150):
        nlp.update(examples, sgd=optimizer, drop=0.0, losses={})
    return nlp


def test_overfits_two_examples(trained: Language) -> None:
    for text, entities in TRAIN:
        doc = trained(text)
        assert predicted_sets(doc) == gold_sets(entities)
        scores = doc.spans["sc"].attrs["scores"]
        assert len(scores) == len(doc.spans["sc"]) and all(0.5 <= s <= 1.0 for s in scores)


def test_to_disk_from_disk_keeps_predictions(trained: Language, tmp_path: Path) -> None:
    trained.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("clinical_es_discontinuous_ner").labels == ("DIAG", "PROC")
    for text, _ in TRAIN:
        before, after = trained(text), loaded(text)
        assert [(s.start, s.end, s.label_, s.id_) for s in after.spans["sc"]] == [
            (s.start, s.end, s.label_, s.id_) for s in before.spans["sc"]
        ]
        numpy.testing.assert_allclose(after.spans["sc"].attrs["scores"], before.spans["sc"].attrs["scores"], rtol=1e-5)
    # bytes too
    again = make_nlp()
    again.from_bytes(trained.to_bytes())
    assert predicted_sets(again(TRAIN[0][0])) == gold_sets(TRAIN[0][1])


def test_plain_spacy_load_through_entry_points(trained: Language, tmp_path: Path) -> None:
    trained.to_disk(tmp_path / "model")
    code = (
        "import json, sys, spacy\n"
        f"nlp = spacy.load({str(tmp_path / 'model')!r})\n"
        f"doc = nlp({TRAIN[0][0]!r})\n"
        "print(json.dumps([[s.start_char, s.end_char, s.label_, s.id_] for s in doc.spans['sc']]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    doc = trained(TRAIN[0][0])
    assert json.loads(result.stdout) == [[s.start_char, s.end_char, s.label_, s.id_] for s in doc.spans["sc"]]


def test_brat_export_reads_back_the_same_entities(trained: Language, tmp_path: Path) -> None:
    docs = [trained(text) for text, _ in TRAIN]
    written = write_brat_predictions(docs, tmp_path / "brat", span_key="sc", names=["a", "b"])
    assert [p.name for pair in written for p in pair] == ["a.txt", "a.ann", "b.txt", "b.ann"]
    ann_text = written[0][1].read_text(encoding="utf-8")
    assert "DIAG 0 5;19 33\tEdema pierna derecha" in ann_text
    for doc, (txt, ann) in zip(docs, written):
        document = read_brat_document(txt, ann)
        assert document.text == doc.text
        assert {(a.label, frozenset(a.fragments)) for a in document.annotations} == predicted_sets(doc)
        assert [a.key() for a in document.annotations] == [a.key() for a in predictions_to_document(doc, "sc").annotations]
    with pytest.raises(Exception, match="distinct names"):
        write_brat_predictions(docs, tmp_path / "dup", span_key="sc", names=["x", "x"])


def test_empty_and_blank_docs(trained: Language) -> None:
    assert len(trained("").spans["sc"]) == 0
    assert len(trained("   \n ").spans["sc"]) == 0
    assert next(len(d.spans["sc"]) for d in trained.pipe(["", TRAIN[0][0]])) == 0


def test_scorer_counts_discontinuous_apart() -> None:
    nlp = make_clinical_nlp()
    text, entities = TRAIN[0]
    gold = make_example(nlp, text, entities)
    pred = make_example(nlp, text, [entities[0], entities[2], ("DIAG", [(0, 5), (47, 53)])])
    example = Example(pred.reference, gold.reference)
    scores = fragment_score([example], spans_key="sc")
    # 2 of 3 predictions right; 2 of 5 gold found; discontinuous: 1 of 2 predicted, 1 of 2 gold.
    assert scores["fragments_p"] == pytest.approx(2 / 3)
    assert scores["fragments_r"] == pytest.approx(2 / 5)
    assert scores["fragments_disc_p"] == pytest.approx(1 / 2)
    assert scores["fragments_disc_r"] == pytest.approx(1 / 2)
    assert set(scores["fragments_per_type"]) == {"DIAG"}


@pytest.mark.parametrize(
    "config",
    [{"threshold": 1.5}, {"link_threshold": -0.1}, {"max_length": 0}, {"max_fragments": 1}, {"negative_rate": 0.0},
     {"part_weight": 0.0}, {"hard_negatives": -1}, {"hard_negative_threshold": 1.5}],
)
def test_bad_options_raise(config: dict) -> None:
    with pytest.raises(ConfigError):
        make_nlp(**config)


def test_initialize_without_gold_spans_says_what_to_do() -> None:
    nlp = make_nlp(spans_key="missing")
    examples = [make_example(nlp, text, ents) for text, ents in TRAIN]
    with pytest.raises(ConfigError, match="spans_key"):
        nlp.initialize(lambda: examples)


def test_negative_sampling_keeps_every_positive(trained: Language) -> None:
    pipe = trained.get_pipe("clinical_es_discontinuous_ner")
    examples = [make_example(trained, text, ents) for text, ents in TRAIN]
    _, full_y, _full_w, full_links, _ = pipe._batch(examples)
    pipe.cfg["negative_rate"] = 0.05
    try:
        numpy.random.seed(0)
        batch, y, w, links, _ = pipe._batch(examples, sample=True)
    finally:
        pipe.cfg["negative_rate"] = 1.0
    assert float(y.sum()) == float(full_y.sum()) > 0
    assert y.shape[0] < full_y.shape[0]
    negatives = y.sum(axis=1) == 0
    assert numpy.allclose(w[negatives], 1 / 0.05) and numpy.allclose(w[~negatives], 1.0)
    assert numpy.array_equal(links, full_links) and float(links.sum()) == 3.0  # 2 DIAG links + 1 PROC link
    assert sum(s.shape[0] for s in batch.spans) == y.shape[0]
    loss, (d_spans, d_links) = pipe.get_loss(examples, pipe.model.predict(pipe._batch(examples)[0]))
    assert numpy.isfinite(loss) and d_spans.shape == full_y.shape and d_links.shape == full_links.shape


def test_hard_negatives_pair_the_models_own_fragments_never_two_gold_ones(tmp_path: Path) -> None:
    """Untrained (every span's part probability near 0.5), so every candidate is a part: the mined pairs are
    same-label, ordered, within max_distance, at most ``hard_negatives`` per doc, never both gold fragments;
    they join the gold pairs as negatives; training with them still overfits, and the pipeline saved and
    loaded predicts the same with its settings."""
    spacy.util.fix_random_seed(0)
    nlp = make_nlp(hard_negatives=5, hard_negative_threshold=0.01, max_distance=6)
    pipe = nlp.get_pipe("clinical_es_discontinuous_ner")
    examples = [make_example(nlp, text, ents) for text, ents in TRAIN]
    optimizer = nlp.initialize(lambda: examples)
    pipe.cfg["hard_negatives"] = 1000
    assert [len(pairs) for pairs in pipe._hard_pairs(examples)] == [10, 7]  # non-overlapping parts, 6 tokens apart
    pipe.cfg["hard_negatives"] = 5
    mined = pipe._hard_pairs(examples)
    assert [len(pairs) for pairs in mined] == [5, 5]
    for eg, pairs in zip(examples, mined):
        gold = {(s.start, s.end) for s in eg.reference.spans["sc"]}
        for a_start, a_end, b_start, b_end in pairs:
            assert a_end <= b_start and b_start - a_end <= 6
            assert not ((a_start, a_end) in gold and (b_start, b_end) in gold)
    _, _, _, plain_links, _ = pipe._batch(examples)
    numpy.random.seed(0)
    _, _, _, links, _ = pipe._batch(examples, extra_pairs=mined)
    assert links.shape[0] == plain_links.shape[0] + 10 and float(links.sum()) == float(plain_links.sum())
    for _ in range(150):
        nlp.update(examples, sgd=optimizer, drop=0.0, losses={})
    for text, entities in TRAIN:
        assert predicted_sets(nlp(text)) == gold_sets(entities)
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("clinical_es_discontinuous_ner").cfg["hard_negatives"] == 5
    for text, entities in TRAIN:
        assert predicted_sets(loaded(text)) == gold_sets(entities)


@pytest.mark.parametrize("part_weight", [1.0, 3.0])
def test_part_weight_loss_gradient_matches_finite_differences(trained: Language, part_weight: float) -> None:
    pipe = trained.get_pipe("clinical_es_discontinuous_ner")
    rng = numpy.random.default_rng(0)
    span_logits = rng.normal(size=(5, 4)).astype("float64")
    link_logits = rng.normal(size=(3, 1)).astype("float64")
    span_y = (rng.random((5, 4)) < 0.4).astype("float64")
    span_w = rng.uniform(1.0, 3.0, size=(5, 1))
    link_y = numpy.asarray([[1.0], [0.0], [1.0]])
    pipe.cfg["part_weight"] = part_weight
    try:
        def loss_of(spans: numpy.ndarray) -> float:
            return pipe._loss((spans, link_logits), span_y, span_w, link_y, 2)[0]

        _, (d_spans, d_links) = pipe._loss((span_logits, link_logits), span_y, span_w, link_y, 2)
        numeric = numpy.zeros_like(span_logits)
        for i, j in numpy.ndindex(*span_logits.shape):
            step = numpy.zeros_like(span_logits)
            step[i, j] = 1e-5
            numeric[i, j] = (loss_of(span_logits + step) - loss_of(span_logits - step)) / 2e-5
    finally:
        pipe.cfg["part_weight"] = 1.0
    numpy.testing.assert_allclose(d_spans, numeric, rtol=1e-3, atol=1e-5)
    probs = 1 / (1 + numpy.exp(-link_logits))
    numpy.testing.assert_allclose(d_links, (probs - link_y) / 2, rtol=1e-5)  # links are never re-weighted
    if part_weight == 1.0:  # plain binary cross-entropy
        numpy.testing.assert_allclose(d_spans, (1 / (1 + numpy.exp(-span_logits)) - span_y) * span_w / 2, rtol=1e-5)


def test_codiesp_config_trains_and_loads(tmp_path: Path) -> None:
    nlp = make_clinical_nlp()
    db = DocBin(store_user_data=True)
    for text, entities in TRAIN:
        db.add(make_example(nlp, text, entities, key="codiesp").reference)
    db.to_disk(tmp_path / "train.spacy")
    train(
        CONFIGS / "codiesp_discontinuous.cfg",
        tmp_path / "out",
        overrides={
            "paths.train": str(tmp_path / "train.spacy"),
            "paths.dev": str(tmp_path / "train.spacy"),
            "training.max_steps": 150,
            "training.eval_frequency": 50,
            "training.patience": 0,
            "training.dropout": 0.0,
            "components.discontinuous_ner.negative_rate": 1.0,
        },
    )
    loaded = spacy.load(tmp_path / "out" / "model-last")
    assert loaded.pipe_names == ["discontinuous_ner"]
    assert loaded.get_pipe_meta("discontinuous_ner").factory == "clinical_es_discontinuous_ner"
    for text, entities in TRAIN:
        assert predicted_sets(loaded(text), "codiesp") == gold_sets(entities)


WORDS = ["edema", "en", "pierna", "derecha", ">", "izquierda", "TAC", ",", "tórax", "y", "abdomen", "\n"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=14),
    st.lists(
        st.tuples(st.integers(0, 13), st.integers(1, 3), st.integers(0, 3), st.sampled_from(["DIAG", "PROC"])),
        max_size=8,
    ),
)
def test_any_predicted_groups_survive_brat(tmp_path_factory, words: list[str], picks) -> None:
    nlp = make_clinical_nlp()
    doc = nlp.make_doc(" ".join(words))
    spans = []
    for start, length, group, label in picks:
        start = min(start, len(doc) - 1)
        span = doc[start : min(len(doc), start + length)]
        if span.text.strip() != span.text or not span.text:
            continue  # BRAT fragments never start or end on whitespace here
        spans.append(spacy.tokens.Span(doc, span.start, span.end, label=label, span_id=f"E{group}"))
    doc.spans["sc"] = spans
    expected = predicted_sets(doc)
    out = tmp_path_factory.mktemp("brat")
    (txt, ann), = write_brat_predictions([doc], out, span_key="sc", names=["x"])
    back = read_brat_document(txt, ann)
    assert back.text == doc.text
    assert {(a.label, frozenset(a.fragments)) for a in back.annotations} == expected


def test_initialize_counts_what_the_candidates_cannot_hold() -> None:
    nlp = make_nlp(max_length=2, max_distance=3)
    examples = [make_example(nlp, text, ents) for text, ents in TRAIN]
    nlp.initialize(lambda: examples)
    # "Edema con fóvea" and "TAC de tórax" have 3 tokens; "Edema … izquierda" spans 6 tokens between fragments.
    assert nlp.get_pipe("clinical_es_discontinuous_ner").unlearnable == {
        "fragment_longer_than_max_length": 2,
        "fragments_further_than_max_distance": 1,
    }
