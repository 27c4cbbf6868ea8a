"""The ``spacy_clinical_es.numpy_blas_ops.v1`` callback: NumPy's BLAS for a pipeline's CPU matrix products."""
from __future__ import annotations

import numpy
import spacy
from spacy.training import Example
from thinc.api import Config, NumpyOps

from spacy_clinical_es.models.blas_ops import numpy_blas_ops, use_numpy_blas

CONFIG = """
[nlp]
lang = "es"
pipeline = ["tok2vec","ner"]

[nlp.after_pipeline_creation]
@callbacks = "spacy_clinical_es.numpy_blas_ops.v1"

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 32
depth = 2
embed_size = 500
window_size = 1
maxout_pieces = 2
subword_features = true

[components.ner]
factory = "ner"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 16
maxout_pieces = 2
use_upper = true
nO = null

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = 32

[initialize]

[initialize.after_init]
@callbacks = "spacy_clinical_es.numpy_blas_ops.v1"
"""
TRAIN = [
    ("Paciente Ana López de Madrid.", [(9, 18, "NOMBRE"), (22, 28, "TERRITORIO")]),
    ("Vive en Soria con Juan Pérez.", [(8, 13, "TERRITORIO"), (18, 28, "NOMBRE")]),
]


def model_ops(nlp: spacy.Language) -> set[tuple[str, bool]]:
    return {
        (type(node.ops).__name__, getattr(node.ops, "use_blis", None))
        for _, pipe in nlp.components
        if hasattr(pipe, "model")
        for node in pipe.model.walk()
    }


def test_callback_switches_ops_for_training_and_loading(tmp_path) -> None:
    nlp = spacy.util.load_model_from_config(Config().from_str(CONFIG), auto_fill=True)
    assert model_ops(nlp) == {("NumpyOps", False)}
    examples = [Example.from_dict(nlp.make_doc(t), {"entities": e}) for t, e in TRAIN]
    optimizer = nlp.initialize(lambda: examples)
    assert model_ops(nlp) == {("NumpyOps", False)}  # the resized NER output layer too
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    docs = [nlp(t) for t, _ in TRAIN]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert model_ops(loaded) == {("NumpyOps", False)}
    assert [[(e.text, e.label_) for e in loaded(t).ents] for t, _ in TRAIN] == [
        [(e.text, e.label_) for e in doc.ents] for doc in docs
    ]


def test_same_results_as_blis_up_to_rounding() -> None:
    nlp = spacy.util.load_model_from_config(Config().from_str(CONFIG), auto_fill=True)
    examples = [Example.from_dict(nlp.make_doc(t), {"entities": e}) for t, e in TRAIN]
    nlp.initialize(lambda: examples)
    tok2vec = nlp.get_pipe("tok2vec").model
    docs = [nlp.make_doc(t) for t, _ in TRAIN]
    with_numpy = tok2vec.predict(docs)
    for node in tok2vec.walk():
        node.ops = NumpyOps()  # BLIS
    with_blis = tok2vec.predict(docs)
    for a, b in zip(with_numpy, with_blis):
        assert numpy.allclose(a, b, atol=1e-5)
    assert use_numpy_blas(nlp) > 0 and use_numpy_blas(nlp) == 0  # idempotent
    assert numpy_blas_ops() is numpy_blas_ops()
