"""Context encoders for ``spacy.Tok2Vec.v2`` (the ``encode`` block of a CNN tok2vec), registered as architectures.

``spacy_clinical_es.WindowLSTMEncoder.v1``: spaCy's maxout window CNN, then a bidirectional LSTM over the
whole Doc. Why: the CNN sees ``depth × window_size`` tokens either side, while the class of a PHI mention
often hangs on words further away ("ingresa en el Servicio de … del Hospital …", the street name after
"domicilio en"); the recurrent layer carries that context to every token. thinc's own LSTM (no torch), so
the trained pipeline keeps loading with plain ``spacy.load``.
"""
from __future__ import annotations

from spacy.ml.models.tok2vec import MaxoutWindowEncoder
from spacy.util import registry
from thinc.api import LSTM, Model, chain, with_padded
from thinc.types import Floats2d

from ..errors import ConfigError


def padded_bilstm(
    owner: str, width_name: str, width: int, depth: int, dropout: float, nI: int | None = None
) -> Model[list[Floats2d], list[Floats2d]] | None:
    """thinc's bidirectional LSTM (``depth`` layers, ``width`` outputs, half per direction) on padded batches;
    ``None`` when ``depth`` is 0. The settings check shared by every architecture with a BiLSTM: ``owner`` and
    ``width_name`` name the architecture and its width setting in the error."""
    if depth < 0 or width < 2 or width % 2:
        raise ConfigError(f"{owner}: lstm_depth must be >= 0 and {width_name} an even number >= 2")
    if depth == 0:
        return None
    return with_padded(LSTM(nO=width, nI=nI, bi=True, depth=depth, dropout=dropout))


@registry.architectures("spacy_clinical_es.WindowLSTMEncoder.v1")
def build_window_lstm_encoder(
    width: int, depth: int, window_size: int, maxout_pieces: int, lstm_depth: int, dropout: float
) -> Model[list[Floats2d], list[Floats2d]]:
    """``MaxoutWindowEncoder.v2(width, depth, window_size, maxout_pieces)`` → BiLSTM (``lstm_depth`` layers,
    ``width`` outputs, half per direction). ``lstm_depth = 0`` is the plain CNN encoder."""
    lstm = padded_bilstm("WindowLSTMEncoder.v1", "width", width, lstm_depth, dropout, nI=width)
    cnn = MaxoutWindowEncoder(width=width, depth=depth, window_size=window_size, maxout_pieces=maxout_pieces)
    if lstm is None:
        return cnn
    model = chain(cnn, lstm)
    model.set_dim("nO", width)
    return model
