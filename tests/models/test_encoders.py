"""spacy_clinical_es.WindowLSTMEncoder.v1: shapes, the CNN-only case, bad settings, and that it learns context."""
from __future__ import annotations

import numpy as np
import pytest
from spacy.util import registry
from thinc.api import Adam, chain, fix_random_seed, with_array
from thinc.layers import Softmax_v2

from spacy_clinical_es.errors import ClinicalEsError, ConfigError
from spacy_clinical_es.models.encoders import build_window_lstm_encoder


def _encoder(lstm_depth: int = 1, width: int = 16):
    return build_window_lstm_encoder(width=width, depth=1, window_size=1, maxout_pieces=2, lstm_depth=lstm_depth, dropout=0.0)


def test_registered_under_its_versioned_name() -> None:
    assert registry.architectures.get("spacy_clinical_es.WindowLSTMEncoder.v1") is build_window_lstm_encoder


@pytest.mark.parametrize("lstm_depth", [0, 1, 2])
def test_keeps_width_and_lengths(lstm_depth: int) -> None:
    model = _encoder(lstm_depth)
    X = [np.random.default_rng(0).normal(size=(n, 16)).astype("float32") for n in (3, 7, 1)]
    model.initialize(X=X)
    Y = model.predict(X)
    assert [y.shape for y in Y] == [(3, 16), (7, 16), (1, 16)]
    assert model.get_dim("nO") == 16


@pytest.mark.parametrize("kwargs", [{"lstm_depth": -1}, {"width": 15}])
def test_bad_settings_raise_the_package_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match="WindowLSTMEncoder") as info:
        _encoder(**kwargs)
    assert isinstance(info.value, ClinicalEsError)


def test_lstm_carries_context_beyond_the_cnn_window() -> None:
    """The last token's class is set by the first token, 9 tokens away: out of reach of a one-layer window-1 CNN
    (it sees one token either side, so it scores exactly half), learnt once the LSTM is on top."""
    rng = np.random.default_rng(0)
    vocab = rng.normal(size=(4, 32)).astype("float32")

    def sample(first: int, middle: list[int]) -> tuple[np.ndarray, np.ndarray]:
        truth = np.zeros((10, 2), dtype="float32")
        truth[:, 0] = 1.0
        truth[-1] = [0.0, 1.0] if first == 1 else [1.0, 0.0]
        return vocab[[first, *middle]], truth

    # Every middle sequence comes once with each first token, so the last 9 tokens say nothing of the class.
    middles = [[2 + int(k) for k in rng.integers(0, 2, size=9)] for _ in range(16)]
    data = [sample(first, middle) for middle in middles for first in (0, 1)]
    X, Y = [x for x, _ in data], [y for _, y in data]

    def accuracy_after_training(lstm_depth: int) -> float:
        fix_random_seed(0)
        model = chain(_encoder(lstm_depth, width=32), with_array(Softmax_v2(nO=2)))
        model.initialize(X=X[:4], Y=Y[:4])
        optimizer = Adam(0.01)
        for _ in range(300):
            scores, backprop = model.begin_update(X)
            backprop([s - y for s, y in zip(scores, Y)])
            model.finish_update(optimizer)
        last = [int(s[-1].argmax()) for s in model.predict(X)]
        return float(np.mean([p == int(y[-1].argmax()) for p, y in zip(last, Y)]))

    cnn_only, with_lstm = accuracy_after_training(0), accuracy_after_training(1)
    assert cnn_only == 0.5, cnn_only
    assert with_lstm >= 0.95, with_lstm
