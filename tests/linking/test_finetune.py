"""Self-alignment fine-tuning (finetune.py), the character encoder and the learned re-ranker (rerank*.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from spacy_clinical_es.linking import (
    CandidateGenerator,
    LinkerOptions,
    LinkingError,
    TerminologyKB,
)
from spacy_clinical_es.linking.char_model import (
    build_char_cnn,
    char_vocab,
    load_char_cnn,
)
from spacy_clinical_es.linking.encoders import (
    CharCNNEncoder,
    encoder_from_bytes,
    load_dense_encoder,
)
from spacy_clinical_es.linking.finetune import (
    CharTermModel,
    LiveEncoder,
    TrainSettings,
    hard_negatives,
    info_nce,
    make_pairs,
    synonym_groups,
    train_encoder,
)
from spacy_clinical_es.linking.rerank import (
    FEATURES,
    LinearReranker,
    Retrieved,
    candidate_features,
)
from spacy_clinical_es.linking.rerank_train import abstention_curve, train_reranker

#: code → forms (two codes whose forms look alike across codes, so training must separate them).
SYNONYMS = {
    "111": ["tomografia computarizada", "tac", "escaner", "tc"],
    "222": ["resonancia magnetica", "rm", "rmn", "resonancia"],
    "333": ["hipertension arterial", "hta", "tension alta"],
    "444": ["apendicectomia", "extirpacion del apendice", "apendicectomia laparoscopica"],
}


def _rows(split: str = "train") -> list[dict]:
    rows = []
    for i, (code, forms) in enumerate(SYNONYMS.items()):
        for j, form in enumerate(forms):
            rows.append({"corpus": "medprocner", "system": "SNOMEDCT", "doc_id": f"{split}{j % 3}", "mention": form,
                         "code": code, "label": "PROCEDIMIENTO"})
    return rows


def test_synonym_groups_pairs_and_hard_negatives() -> None:
    groups = synonym_groups(_rows(), {"SNOMEDCT:111": ["Tomografía axial"], "SNOMEDCT:999": ["ignored"]})
    assert groups["SNOMEDCT:111"][-1] == "tomografia axial"  # normalized, added to a known code
    assert "SNOMEDCT:999" not in groups
    pairs = make_pairs(groups, max_pairs_per_code=2, seed=1)
    assert len(pairs) == 2 * len(groups)
    assert all(p.anchor != p.positive and p.anchor in groups[p.key] and p.positive in groups[p.key] for p in pairs)
    negatives = hard_negatives(pairs, groups)
    assert all(n.negative is not None and n.negative not in groups[n.key] for n in negatives)


def test_info_nce_masks_forms_of_the_same_code() -> None:
    anchors = torch.tensor([[1.0, 0.0], [1.0, 0.1]])
    candidates = torch.tensor([[1.0, 0.0], [1.0, 0.1]])
    masked = info_nce(anchors, candidates, ["a", "a"], ["a", "a"], 0.05)
    unmasked = info_nce(anchors, candidates, ["a", "b"], ["a", "b"], 0.05)
    assert float(masked) == pytest.approx(0.0, abs=1e-6)  # the other form of "a" is not a negative
    assert float(unmasked) > 0.5  # the near-identical form of "b" competes


def _char_model(seed: int = 0) -> CharTermModel:
    torch.manual_seed(seed)
    forms = [f for fs in SYNONYMS.values() for f in fs]
    return CharTermModel(build_char_cnn(char_vocab(forms, min_count=1), embed_dim=16, filters=32, output_dim=32))


def _nearest_code_accuracy(encoder, groups: dict[str, list[str]]) -> float:
    terms = [(f, k) for k, fs in groups.items() for f in fs]
    vectors = encoder.encode([t for t, _ in terms])
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -2)
    return float(np.mean([terms[int(np.argmax(row))][1] == k for row, (_, k) in zip(sims, terms)]))


def test_overfits_synonyms_then_saves_and_loads_the_same_vectors(tmp_path: Path) -> None:
    groups = synonym_groups(_rows())
    pairs = hard_negatives(make_pairs(groups), groups)
    model = _char_model()
    before = _nearest_code_accuracy(LiveEncoder(model), groups)
    curve = train_encoder(model, pairs, TrainSettings(steps=60, batch_size=4, learning_rate=5e-3, eval_every=30))
    assert [p["step"] for p in curve] == [30, 60] and curve[-1]["loss"] < curve[0]["loss"]
    live = LiveEncoder(model)
    assert _nearest_code_accuracy(live, groups) == 1.0 > before
    model.save(tmp_path / "enc")
    loaded = load_dense_encoder(tmp_path / "enc")
    assert isinstance(loaded, CharCNNEncoder)
    texts = ["tac", "resonancia magnética", "algo nuevo"]
    np.testing.assert_allclose(loaded.encode(texts), live.encode(texts), atol=1e-5)
    # settings round trip; to_disk copies the model
    again = encoder_from_bytes(loaded.to_bytes())
    loaded.to_disk(tmp_path / "copy")
    np.testing.assert_allclose(again.from_disk(tmp_path / "copy").encode(texts), live.encode(texts), atol=1e-5)


def test_char_model_errors(tmp_path: Path) -> None:
    with pytest.raises(LinkingError, match="no saved character encoder"):
        load_char_cnn(tmp_path)
    with pytest.raises(LinkingError, match="not found"):
        load_dense_encoder(tmp_path / "missing")
    with pytest.raises(LinkingError, match="No synonym pairs"):
        train_encoder(_char_model(), [], TrainSettings(steps=1))


def _retrieved() -> list[Retrieved]:
    return [
        Retrieved("111", "tomografia computarizada", 0.9, 0.8, False, False),
        Retrieved("222", "resonancia magnetica", 0.3, 0.2, False, False),
    ]


def _kb() -> TerminologyKB:
    return TerminologyKB.from_linking_rows(_rows())


def test_features_and_reranker_round_trip() -> None:
    x = candidate_features("tomografia", "PROCEDIMIENTO", _retrieved(), _kb())
    assert x.shape == (2, len(FEATURES)) and x[0, FEATURES.index("tfidf_margin")] == 0.0
    assert x[1, FEATURES.index("tfidf_margin")] == pytest.approx(-0.6)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, len(FEATURES)))
    labels = (features[:, 0] + 0.1 * rng.normal(size=200) > 0).astype(float)
    reranker = LinearReranker(threshold=0.4).fit(features, labels)
    assert np.mean((reranker.predict(features) > 0.5) == labels) > 0.9
    loaded = LinearReranker().from_bytes(reranker.to_bytes())
    np.testing.assert_allclose(loaded.predict(features), reranker.predict(features))
    assert loaded.threshold == 0.4
    with pytest.raises(LinkingError, match="not trained"):
        LinearReranker().predict(features)
    with pytest.raises(LinkingError, match="both gold and non-gold"):
        LinearReranker().fit(features, np.ones(200))


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_reranker_from_arbitrary_bytes_raises_the_package_error(data: bytes) -> None:
    with pytest.raises(LinkingError):
        LinearReranker().from_bytes(data)


def test_abstention_curve() -> None:
    curve = abstention_curve(["a", "b", "c"], [("a", 0.9), ("x", 0.4), (None, 0.0)], [0.0, 0.5])
    assert curve[0] | {} == {"threshold": 0.0, "answered": 2, "precision": 0.5, "recall": 0.3333, "f1": 0.4}
    assert curve[1]["answered"] == 1 and curve[1]["precision"] == 1.0


def test_hybrid_generator_scores_every_candidate_with_both_retrievers(tmp_path: Path) -> None:
    from spacy_clinical_es.linking import TfidfCharEncoder

    groups = synonym_groups(_rows())
    model = _char_model()
    train_encoder(model, hard_negatives(make_pairs(groups), groups), TrainSettings(steps=40, batch_size=4,
                                                                                   learning_rate=5e-3))
    model.save(tmp_path / "enc")
    dense = load_dense_encoder(tmp_path / "enc")
    kb = _kb()
    generator = CandidateGenerator(kb, options=LinkerOptions(k=3, token_match=True), dense_encoder=dense).build()
    found = generator.retrieve(["escaner", "tension alta"])
    assert {r.code for r in found[0]} >= {"111"} and all(0.0 <= r.dense <= 1.0001 for r in found[0])
    exact = next(r for r in found[1] if r.code == "333")
    assert exact.exact and exact.tfidf == pytest.approx(1.0, abs=1e-5)
    # without a re-ranker both retrievers' codes are merged by cosine; with one, probabilities order them
    plain = generator.candidates(["escaner"])[0]
    assert plain[0].code == "111"
    reranker, report = train_reranker(
        _rows("train"), _rows("dev"), TfidfCharEncoder, dense, LinkerOptions(k=3, token_match=True), folds=3,
        fit_on="train", objective="pointwise", model="linear",
    )
    assert report["fit_on"] == "train" and report["training"]["rows"] > 0 and 0.0 <= reranker.threshold <= 0.95
    assert set(report["dev"]) == {"medprocner/SNOMEDCT"}
    generator.reranker = reranker
    ranked = generator.candidates(["escaner", "tension alta"])
    assert [c[0].code for c in ranked] == ["111", "333"]
    assert all(0.0 <= c.score <= 1.0 for cs in ranked for c in cs)


def test_reranker_fitted_on_dev_scores_dev_out_of_fold() -> None:
    from spacy_clinical_es.linking import TfidfCharEncoder

    dev = [dict(r, doc_id=f"d{i % 2}") for i, r in enumerate(_rows("dev"))]
    reranker, report = train_reranker(_rows(), dev, TfidfCharEncoder, None, LinkerOptions(k=3, token_match=True),
                                      folds=2, fit_on="dev")
    assert report["fit_on"] == "dev" and report["dev_scores"] == "out of fold (dev documents)"
    assert report["training"]["mentions"] == len(dev) and reranker.fitted
    with pytest.raises(LinkingError, match="fit_on"):
        train_reranker(_rows(), dev, TfidfCharEncoder, None, LinkerOptions(), fit_on="test")


def test_word_code_association_and_category_support() -> None:
    from spacy_clinical_es.linking import Concept
    from spacy_clinical_es.linking.normalize import light_stem
    from spacy_clinical_es.linking.rerank import KBStats

    kb = TerminologyKB()
    kb.add(Concept("r10.9", "dolor abdominal", ("dolor de abdomen",)))
    kb.add(Concept("r10.84", "dolor abdominal generalizado"))
    kb.add(Concept("r52", "dolor"))
    stats = KBStats.of(kb)
    assert KBStats.of(kb) is stats  # computed once per KB
    # "dolor": 4 terms, 2 of r10.9; "generaliz…": 1 term, of r10.84
    assert stats.association(stats.stem_codes(["dolor"]), "r10.9") == (0.5, 0.5)
    mean, best = stats.association(stats.stem_codes(["dolor", light_stem("generalizado")]), "r10.84")
    assert (mean, best) == (pytest.approx(0.625), 1.0)
    assert stats.association(stats.stem_codes(["nuevo"]), "r10.9") == (0.0, 0.0)
    cands = [Retrieved("r10.9", "dolor abdominal", 0.8, 0.0, False, False),
             Retrieved("r10.84", "dolor abdominal generalizado", 0.7, 0.0, False, False),
             Retrieved("r52", "dolor", 0.5, 0.0, False, False),
             Retrieved("12345", "otro", 0.4, 0.0, False, False)]
    x = candidate_features("dolor abdominal difuso", None, cands, kb)
    support = x[:, FEATURES.index("category_support")]
    np.testing.assert_allclose(support, [0.7, 0.8, 0.0, 0.0], atol=1e-6)  # r10.* support each other; SNOMED: none


def test_listwise_reranker_ranks_within_each_mention() -> None:
    rng = np.random.default_rng(1)
    blocks, labels, starts = [], [], []
    for _ in range(80):  # 5 candidates per mention; the gold one has the highest feature 0 plus noise
        x = rng.normal(size=(5, len(FEATURES)))
        gold = int(np.argmax(x[:, 0] + 0.05 * rng.normal(size=5)))
        starts.append(sum(len(b) for b in blocks))
        blocks.append(x)
        labels.extend(float(i == gold) for i in range(5))
    features = np.concatenate(blocks)
    reranker = LinearReranker(objective="listwise").fit(features, np.asarray(labels), np.asarray(starts))
    hits = [int(np.argmax(reranker.predict(b))) == int(np.argmax(labels[s:s + 5])) for b, s in zip(blocks, starts)]
    assert np.mean(hits) > 0.9
    probs = reranker.predict(blocks[0])
    assert probs.sum() == pytest.approx(1.0) and probs.min() >= 0.0
    loaded = LinearReranker().from_bytes(reranker.to_bytes())
    assert loaded.objective == "listwise"
    np.testing.assert_allclose(loaded.predict(blocks[0]), probs)
    with pytest.raises(LinkingError, match="groups"):
        LinearReranker(objective="listwise").fit(features, np.asarray(labels))
    with pytest.raises(LinkingError, match="objective"):
        LinearReranker(objective="pairwise")
