"""The windowed transformer token classifier (thinc model) with tiny local encoders."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import spacy
import torch
from spacy.tokens import Doc
from thinc.api import Model

from spacy_clinical_es.models import NaiveHalfOverlap, SentencePacking
from spacy_clinical_es.models import transformer as tr
from spacy_clinical_es.models.tiny import build_tiny_encoder

TEXTS = [
    "Paciente de 45 años con dolor abdominal y fiebre.",
    "Se realiza TAC abdominal con contraste sin hallazgos.",
    "Mujer de 30 años. Ecografía renal normal, sin hidronefrosis.",
    "Varón de 72 años con adenocarcinoma de colon; colonoscopia y biopsia.",
]
TAGS = ["O", "B-X", "I-X", "B-Y", "I-Y"]
LONG = " ".join(TEXTS * 6)


@pytest.fixture(scope="module")
def encoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("encoders")
    return {
        kind: build_tiny_encoder(root / kind, TEXTS * 3, model_type=kind)
        for kind in ("bert", "roberta", "xlm-roberta")
    }


@pytest.fixture(scope="module")
def nlp() -> spacy.Language:
    return spacy.blank("es")


def make_model(path: Path | str, **kwargs: object) -> Model:
    model = tr.create_transformer_token_classifier(str(path), **kwargs)  # type: ignore[arg-type]
    model.attrs["tags"] = TAGS
    model.set_dim("nO", len(TAGS))
    model.initialize()
    return model


def single_pass(module: tr.TokenClassifierModule, doc: Doc) -> np.ndarray:
    """First-piece logits of the non-space tokens from one plain Hugging Face pass."""
    words = [t.text for t in doc if not t.is_space]
    enc = module.tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        module.eval()
        logits = module.classifier(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0]
    word_ids = enc.word_ids()
    first = [word_ids.index(i) for i in range(len(words))]
    return logits[first].numpy()


@pytest.mark.parametrize("kind", ["bert", "roberta", "xlm-roberta"])
@pytest.mark.parametrize("merge", ["average", "central"])
def test_short_doc_equals_a_single_pass(encoders: dict, nlp: spacy.Language, kind: str, merge: str) -> None:
    model = make_model(encoders[kind], merge=merge)
    doc = nlp(TEXTS[0] + "\n\n" + TEXTS[1])
    out = model.predict([doc])[0]
    assert out.shape == (len(doc), len(TAGS))
    space = np.array([t.is_space for t in doc])
    assert space.any() and not out[space].any()  # whitespace tokens: zeros
    np.testing.assert_allclose(out[~space], single_pass(tr.get_module(model), doc), atol=1e-5)


def test_window_defaults_to_the_model_limit(encoders: dict) -> None:
    model = make_model(encoders["bert"])
    module = tr.get_module(model)
    assert module.limit == 128 and module.n_special == 2
    strategy = tr.resolved_windows(model)
    assert isinstance(strategy, NaiveHalfOverlap)
    assert (strategy.window, strategy.limit, strategy.overlap) == (128, 126, 0.5)


def test_central_merge_takes_each_piece_from_its_owning_window(encoders: dict, nlp: spacy.Language) -> None:
    model = make_model(encoders["bert"], windows=NaiveHalfOverlap(24), merge="central", batch_windows=3)
    module = tr.get_module(model)
    doc = nlp(LONG[:400])
    out = model.predict([doc])[0]
    enc = tr.encode_docs(module, [doc])[0]
    windows = tr.resolved_windows(model).plan(enc.pieces, enc.sentence_starts)
    assert len(windows) >= 5
    starts = np.concatenate([[0], np.cumsum(enc.pieces)])[:-1]
    checked = 0
    module.eval()  # thinc's predict leaves the module in training mode (dropout)
    for win in windows:
        ids = torch.tensor([module.prefix_ids + enc.ids[win.context_start : win.context_end].tolist() + module.suffix_ids])
        with torch.no_grad():
            logits = module(ids, torch.ones_like(ids))[0, 1:-1].numpy()
        for t in np.flatnonzero((enc.pieces > 0) & (starts >= win.start) & (starts < win.end)):
            np.testing.assert_allclose(out[t], logits[starts[t] - win.context_start], atol=1e-5)
            checked += 1
    assert checked == int((enc.pieces > 0).sum())  # every token came from exactly one window


@pytest.mark.parametrize("strategy", [NaiveHalfOverlap(None), SentencePacking(None)])
def test_windows_cover_every_token_of_a_five_window_doc(
    encoders: dict, nlp: spacy.Language, strategy: object
) -> None:
    model = make_model(encoders["bert"], windows=strategy)
    module = tr.get_module(model)
    doc = nlp(LONG + "\n" + LONG)
    enc = tr.encode_docs(module, [doc])[0]
    windows = tr.resolved_windows(model).plan(enc.pieces, enc.sentence_starts)
    assert len(windows) >= 5 and all(w.length <= module.limit - 2 for w in windows)
    offsets = np.concatenate([[0], np.cumsum(enc.pieces)])
    for token in doc:
        lo, hi = offsets[token.i], offsets[token.i + 1]
        assert (hi > lo) == (not token.is_space)
        assert all(any(w.context_start <= p < w.context_end for w in windows) for p in range(lo, hi))
    out = model.predict([doc])[0]
    assert out.shape == (len(doc), len(TAGS)) and np.isfinite(out).all()
    assert np.abs(out[[not t.is_space for t in doc]]).sum(axis=1).min() > 0


@pytest.mark.parametrize("merge", ["average", "central"])
@pytest.mark.parametrize("reduction", ["first", "mean"])
def test_gradient_reaches_the_encoder_exactly(
    encoders: dict, nlp: spacy.Language, merge: str, reduction: str
) -> None:
    # every token logit is a convex combination of window logits, each with + bias, so
    # d<out, R>/d bias = sum of R over the non-space tokens, whatever the windows
    model = make_model(encoders["bert"], windows=NaiveHalfOverlap(20), merge=merge, reduction=reduction)
    module = tr.get_module(model)
    module.zero_grad()
    docs = [nlp(LONG[:300]), nlp(TEXTS[2])]
    outputs, backprop = model.begin_update(docs)
    rng = np.random.default_rng(0)
    d_out = [rng.normal(size=o.shape).astype("float32") for o in outputs]
    backprop(d_out)
    expected = sum(d[[not t.is_space for t in doc]].sum(axis=0) for d, doc in zip(d_out, docs))
    np.testing.assert_allclose(module.classifier.classifier.bias.grad.numpy(), expected, rtol=1e-4, atol=1e-4)
    embeddings = module.classifier.base_model.embeddings.word_embeddings.weight.grad
    assert embeddings is not None and float(embeddings.abs().sum()) > 0


@pytest.mark.parametrize("kind", ["bert", "xlm-roberta"])
def test_3000_character_token_never_exceeds_the_limit(
    encoders: dict, nlp: spacy.Language, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model(encoders[kind], windows=SentencePacking(None))
    module = tr.get_module(model)
    lengths: list[int] = []
    real = tr._batch_inputs

    def spy(mod: tr.TokenClassifierModule, items: list) -> tuple:
        ids, mask = real(mod, items)
        lengths.append(ids.shape[1])
        return ids, mask

    monkeypatch.setattr(tr, "_batch_inputs", spy)
    token = ("dolorabdominal" * 215)[:3000]  # no space; pieces the tokenizers know
    doc = nlp(f"Dolor {token} abdominal. Fiebre.")
    assert len(doc[1]) == 3000
    out = model.predict([doc])[0]
    assert np.isfinite(out).all()
    assert lengths and max(lengths) <= module.limit
    if kind == "xlm-roberta":  # unigram pieces: the token is cut over many windows
        assert tr.encode_docs(module, [doc])[0].pieces[1] > module.limit


def test_zero_piece_token_gets_the_unknown_piece(encoders: dict, nlp: spacy.Language) -> None:
    module = tr.get_module(make_model(encoders["bert"]))
    doc = Doc(nlp.vocab, words=["dolor", "\u200b", "abdominal", "\n"], spaces=[True, True, False, False])
    enc = tr.encode_docs(module, [doc])[0]
    assert enc.pieces[1] == 1 and enc.pieces[3] == 0
    assert enc.ids[enc.pieces[0]] == module.unk_id
    empty = tr.encode_docs(module, [nlp(""), nlp("\n\n")])
    assert [e.n_pieces for e in empty] == [0, 0]


def test_serialized_model_needs_neither_hub_nor_source(encoders: dict, nlp: spacy.Language) -> None:
    model = make_model(encoders["roberta"], windows=NaiveHalfOverlap(24))
    docs = [nlp(TEXTS[0]), nlp(LONG[:300])]
    expected = model.predict(docs)
    blob = model.to_bytes()
    fresh = tr.create_transformer_token_classifier("/nonexistent/encoder", windows=NaiveHalfOverlap(24))
    with pytest.raises(tr.TransformerModelError):
        fresh.predict(docs)  # nothing loaded yet
    fresh.from_bytes(blob)
    assert fresh.get_dim("nO") == len(TAGS) and fresh.attrs["tags"] == TAGS
    for a, b in zip(expected, fresh.predict(docs)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # the window options come from the config, not from the bytes
    assert isinstance(tr.get_options(fresh).windows, NaiveHalfOverlap)


def test_window_over_the_limit_is_refused(encoders: dict, nlp: spacy.Language) -> None:
    model = make_model(encoders["bert"], windows=NaiveHalfOverlap(1024))
    with pytest.raises(tr.TransformerModelError, match="limit"):
        model.predict([nlp(TEXTS[0])])
    with pytest.raises(tr.TransformerModelError):
        make_model("/nonexistent/encoder")


def test_from_checkpoint_keeps_head_and_labels(tmp_path: Path, nlp: spacy.Language) -> None:
    labels = ["O", "B-EDAD", "I-EDAD", "S-SEXO"]
    path = build_tiny_encoder(tmp_path / "ckpt", TEXTS * 3, labels=labels)
    model = tr.create_transformer_token_classifier(str(path), from_checkpoint=True)
    model.initialize()
    assert model.attrs["tags"] == labels and model.get_dim("nO") == 4
    doc = nlp(TEXTS[0])
    np.testing.assert_allclose(model.predict([doc])[0], single_pass(tr.get_module(model), doc), atol=1e-5)


def test_python_package_model_names(
    encoders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("fake_model_package")
    fake.get_model_path = lambda: encoders["bert"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_model_package", fake)
    assert tr.resolve_model_name("python:fake_model_package") == str(encoders["bert"])
    assert tr.resolve_model_name("PlanTL-GOB-ES/roberta-base-biomedical-clinical-es").startswith("PlanTL")
    with pytest.raises(tr.TransformerModelError):
        tr.resolve_model_name("python:no_such_package_here")
    assert tr.get_module(make_model("python:fake_model_package")).limit == 128


def test_options_validation_and_changes(encoders: dict) -> None:
    with pytest.raises(tr.ConfigError):
        tr.create_transformer_token_classifier("x", merge="max")
    with pytest.raises(tr.ConfigError):
        tr.create_transformer_token_classifier("x", reduction="last")
    model = tr.create_transformer_token_classifier("x")
    options = tr.set_options(model, merge="central", windows=SentencePacking(None))
    assert options.merge == "central" and tr.get_options(model) is options


def test_byte_level_words_get_their_prefix_space(encoders: dict) -> None:
    from tokenizers import pre_tokenizers
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoders["roberta"])
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    classifier = AutoModelForTokenClassification.from_pretrained(encoders["roberta"], num_labels=3)
    module = tr.TokenClassifierModule(classifier, tokenizer)
    assert tokenizer.backend_tokenizer.pre_tokenizer.add_prefix_space is False  # the original is untouched
    pieces = module.backend.encode(["El", "paciente"], is_pretokenized=True, add_special_tokens=False).tokens
    assert "".join(pieces) == "ĠElĠpaciente"  # without the fix: "Elpaciente"
    assert (module.prefix_ids, module.suffix_ids) == ([tokenizer.cls_token_id], [tokenizer.sep_token_id])
