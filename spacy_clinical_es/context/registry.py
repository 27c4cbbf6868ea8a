"""The two ``clinical_context`` implementations, their registry functions and the tagger architecture.

The only module of :mod:`spacy_clinical_es.context` that imports spaCy/thinc. Both implementations satisfy
:class:`ContextImplementation`: ``predict(docs)`` returns one :class:`~.scope.ContextResult` (token offsets)
per Doc, and the component writes the span groups and the target flags from it.

* ``spacy_clinical_es.ContextRules.v1`` (:class:`ContextRules`): the cue lexicon and scope rules of
  :mod:`.lexicon` / :mod:`.scope`, learned from the training examples when the pipeline is initialized
  (or loaded from disk); no weights, no update.
* ``spacy_clinical_es.ContextTagger.v1`` (:class:`ContextTagger`): a thinc model (``tok2vec`` → three
  softmax heads: cue BIO, negation scope, uncertainty scope; :mod:`.tagging`), trained with ``spacy train``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np
import srsly
from spacy.attrs import IDX
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import (
    SimpleFrozenList,
    ensure_path,
    from_bytes,
    from_disk,
    registry,
    to_bytes,
    to_disk,
)
from thinc.api import (
    Model,
    Softmax_v2,
    chain,
    concatenate,
    set_dropout_rate,
    with_array,
)
from thinc.types import Floats2d

from ..errors import ConfigError
from ..models.encoders import padded_bilstm
from .lexicon import CueLexicon, Sentence, TokenSpan, learn_lexicon, normalize
from .schema import NEGATION, UNCERTAINTY
from .scope import ContextResult, ScopeRules, find_context, learn_scope_rules
from .tagging import (
    CUE_FEATURES,
    HEADS,
    N_COLUMNS,
    best_tags,
    cue_feature_table,
    decode,
    encode,
)

_normalize = lru_cache(maxsize=200_000)(normalize)
#: ``model.attrs`` key: the model takes ``(docs, gold cue tag indices)`` in training (ContextTaggerModel.v3).
GOLD_CUES_INPUT = "gold_cues_input"
_CUE_FEATURE_TABLE = cue_feature_table()


def doc_result(doc: Doc, cues_key: str, scopes_key: str) -> ContextResult:
    """The cues and scopes of a Doc's span groups as token offsets."""
    return ContextResult(
        cues=[TokenSpan(s.start, s.end, s.label_, s.id_) for s in doc.spans.get(cues_key, [])],
        scopes=[TokenSpan(s.start, s.end, s.label_, s.id_) for s in doc.spans.get(scopes_key, [])],
    )


def example_sentence(example: Example, cues_key: str, scopes_key: str, *, words: bool = True) -> Sentence:
    """The reference cues/scopes of an Example on the *predicted* tokens (char offsets, expanded).

    ``words=False`` leaves ``Sentence.words`` as empty strings (the tagger's loss only needs their number).
    """
    predicted, reference = example.predicted, example.reference
    same = (
        len(predicted) == len(reference)
        and predicted.text == reference.text
        and bool((predicted.to_array(IDX) == reference.to_array(IDX)).all())
    )

    def spans(key: str) -> list[TokenSpan]:
        out = []
        for s in reference.spans.get(key, []):
            if same:
                out.append(TokenSpan(s.start, s.end, s.label_, s.id_))
                continue
            span = predicted.char_span(s.start_char, s.end_char, alignment_mode="expand")
            if span is not None and len(span):
                out.append(TokenSpan(span.start, span.end, s.label_, s.id_))
        return out

    tokens = [t.text for t in predicted] if words else [""] * len(predicted)
    return Sentence(tokens, spans(cues_key), spans(scopes_key))


@runtime_checkable
class ContextImplementation(Protocol):
    """What ``clinical_context`` needs from an implementation."""

    is_trainable: bool
    model: Model

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, cues_key: str, scopes_key: str) -> None: ...

    def predict(self, docs: Sequence[Doc]) -> list[ContextResult]: ...

    def update(
        self, examples: Sequence[Example], *, drop: float, sgd: Any, losses: dict[str, float], name: str,
        cues_key: str, scopes_key: str,
    ) -> dict[str, float]: ...  # fmt: skip

    def to_bytes(self, *, exclude: Iterable[str] = ...) -> bytes: ...

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ...) -> Any: ...

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ...) -> None: ...

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ...) -> Any: ...


def _identity_forward(model: Model, X: Any, is_train: bool) -> tuple[Any, Callable[[Any], Any]]:
    return X, lambda dY: dY


class ContextRules:
    """Cue lexicon + ConText scope rules (no weights); the lexicon is the state saved with the pipeline."""

    is_trainable = False

    def __init__(
        self,
        *,
        min_count: int,
        min_precision: float,
        window: int,
        min_ratio: float,
        stop_at_cues: bool,
        scope_label: str,
    ) -> None:
        if min_count < 1 or not 0.0 <= min_precision <= 1.0 or window < 1 or not 0.0 <= min_ratio <= 1.0:
            raise ConfigError(
                "ContextRules: min_count and window must be >= 1, min_precision and min_ratio within [0, 1]"
            )
        self.cfg: dict[str, Any] = {
            "min_count": min_count,
            "min_precision": min_precision,
            "window": window,
            "min_ratio": min_ratio,
            "stop_at_cues": stop_at_cues,
            "scope_label": scope_label,
        }
        self.lexicon = CueLexicon()
        self.rules = ScopeRules(window=window, stop_at_cues=stop_at_cues)
        # The component API wants a model; the rules have nothing to train.
        self.model: Model = Model("context_rules", _identity_forward)

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, cues_key: str, scopes_key: str) -> None:
        """Learn the lexicon and the terminators from the examples' reference cues and scopes."""
        sentences = [example_sentence(eg, cues_key, scopes_key) for eg in get_examples()]
        self.lexicon = learn_lexicon(
            sentences, min_count=self.cfg["min_count"], min_precision=self.cfg["min_precision"]
        )
        self.rules = learn_scope_rules(
            sentences, window=self.cfg["window"], min_ratio=self.cfg["min_ratio"], stop_at_cues=self.cfg["stop_at_cues"]
        )

    def add_cues(self, records: Iterable[dict[str, Any]]) -> None:
        """Add cue forms ``{"words": [...], "label": "NegSyn", "direction": "forward"}`` (e.g. hand-written)."""
        for entry in CueLexicon.from_records(records).entries:
            self.lexicon.add(entry)

    def predict(self, docs: Sequence[Doc]) -> list[ContextResult]:
        label = self.cfg["scope_label"]
        return [
            find_context([_normalize(t.text) for t in doc], self.lexicon, self.rules, scope_label=label)
            for doc in docs
        ]

    def update(self, examples: Sequence[Example], *, losses: dict[str, float], name: str, **_: Any) -> dict[str, float]:
        """Nothing to learn by gradient: the lexicon comes from :meth:`initialize`."""
        losses.setdefault(name, 0.0)
        return losses

    # -- serialization (span_ruler style: cfg + cues.jsonl) --------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {**self.cfg, "rules": self.rules.to_cfg()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self.cfg.update({k: v for k, v in state.items() if k != "rules"})
        self.rules = ScopeRules.from_cfg(state.get("rules", {}))

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        return to_bytes(
            {"cfg": lambda: srsly.json_dumps(self._state()), "cues": lambda: srsly.json_dumps(self.lexicon.to_records())},
            exclude,
        )

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> ContextRules:
        from_bytes(
            data,
            {
                "cfg": lambda b: self._load_state(srsly.json_loads(b)),
                "cues": lambda b: setattr(self, "lexicon", CueLexicon.from_records(srsly.json_loads(b))),
            },
            exclude,
        )
        return self

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        path = ensure_path(path)
        to_disk(
            path,
            {
                "cfg": lambda p: srsly.write_json(p, self._state()),
                "cues": lambda p: srsly.write_jsonl(p.with_suffix(".jsonl"), self.lexicon.to_records()),
            },
            exclude,
        )

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> ContextRules:
        path = ensure_path(path)

        def load_cfg(p: Path) -> None:
            if p.exists():
                self._load_state(srsly.read_json(p))

        def load_cues(p: Path) -> None:
            p = p.with_suffix(".jsonl")
            if p.exists():
                self.lexicon = CueLexicon.from_records(srsly.read_jsonl(p))

        from_disk(path, {"cfg": load_cfg, "cues": load_cues}, exclude)
        return self


class ContextTagger:
    """Cue BIO + negation/uncertainty scope taggers on one tok2vec (:mod:`.tagging`)."""

    is_trainable = True

    def __init__(
        self, model: Model[list[Doc], list[Floats2d]], *, cue_threshold: float | None = None,
        scope_threshold: float | None = None,
    ) -> None:  # fmt: skip
        for value in (cue_threshold, scope_threshold):
            if value is not None and not 0.0 < value < 1.0:
                raise ConfigError("ContextTagger: cue_threshold and scope_threshold must be null or within (0, 1)")
        self.model = model
        self.cfg: dict[str, Any] = {"heads": [[name, list(tags)] for name, tags in HEADS]}
        # Decoding settings come from the config (not saved with the weights), so they can be changed at load.
        self.thresholds: dict[str, float | None] = {
            "cues": cue_threshold, NEGATION: scope_threshold, UNCERTAINTY: scope_threshold,
        }  # fmt: skip

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, cues_key: str, scopes_key: str) -> None:
        """Initialize the model on a sample of the examples (the tag sets are fixed by the scheme)."""
        sample = list(islice(get_examples(), 10))
        if not sample:
            raise ConfigError("clinical_context (ContextTagger): initialize needs training examples")
        docs = [eg.predicted for eg in sample]
        truths = [self._truth(example_sentence(eg, cues_key, scopes_key, words=False)) for eg in sample]
        self.model.initialize(X=self._train_input(docs, truths), Y=truths)

    def _train_input(self, docs: list[Doc], truths: Sequence[np.ndarray]) -> Any:
        """The model's training input: the Docs, with their gold cue tags for a model that reads them
        (``ContextTaggerModel.v3``: scopes conditioned on the cues, teacher-forced in training)."""
        if not self.model.attrs.get(GOLD_CUES_INPUT, False):
            return docs
        n_cue_tags = len(HEADS[0][1])
        return docs, [truth[:, :n_cue_tags].argmax(axis=1).astype("int32") for truth in truths]

    def _truth(self, sentence: Sentence) -> np.ndarray:
        tags = encode(len(sentence.words), sentence.cues, sentence.scopes)
        truth = np.zeros((len(sentence.words), N_COLUMNS), dtype="float32")
        offset = 0
        for name, tagset in HEADS:
            index = {t: i for i, t in enumerate(tagset)}
            for k, tag in enumerate(tags[name]):
                truth[k, offset + index[tag]] = 1.0
            offset += len(tagset)
        return truth

    def predict(self, docs: Sequence[Doc]) -> list[ContextResult]:
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [ContextResult() for _ in docs]
        scores = self.model.predict(docs)
        results = []
        for doc, doc_scores in zip(docs, scores):
            array = self.model.ops.to_numpy(doc_scores)
            tags: dict[str, list[str]] = {}
            offset = 0
            for name, tagset in HEADS:
                tags[name] = best_tags(array[:, offset : offset + len(tagset)], tagset, self.thresholds[name])
                offset += len(tagset)
            results.append(decode(tags))
        return results

    def get_loss(self, sentences: Sequence[Sentence], scores: Sequence[Floats2d]) -> tuple[float, list[Floats2d]]:
        """Softmax cross-entropy gradient per head (probabilities − one-hot truth); loss = squared error."""
        return self._loss([self._truth(sentence) for sentence in sentences], scores)

    def _loss(self, truths: Sequence[np.ndarray], scores: Sequence[Floats2d]) -> tuple[float, list[Floats2d]]:
        grads = []
        loss = 0.0
        for truth_array, doc_scores in zip(truths, scores):
            truth = self.model.ops.asarray2f(truth_array)
            d = doc_scores - truth
            grads.append(d)
            loss += float((d**2).sum())
        return loss, grads

    def update(
        self,
        examples: Sequence[Example],
        *,
        drop: float = 0.0,
        sgd: Any = None,
        losses: dict[str, float],
        name: str,
        cues_key: str,
        scopes_key: str,
    ) -> dict[str, float]:
        losses.setdefault(name, 0.0)
        examples = [eg for eg in examples if len(eg.predicted)]
        if not examples:
            return losses
        set_dropout_rate(self.model, drop)
        truths = [self._truth(example_sentence(eg, cues_key, scopes_key, words=False)) for eg in examples]
        docs = [eg.predicted for eg in examples]
        scores, backprop = self.model.begin_update(self._train_input(docs, truths))
        loss, grads = self._loss(truths, scores)
        backprop(grads)
        if sgd is not None:
            self.model.finish_update(sgd)
        losses[name] += loss
        return losses

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        return to_bytes({"cfg": lambda: srsly.json_dumps(self.cfg), "model": lambda: self.model.to_bytes()}, exclude)

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> ContextTagger:
        from_bytes(
            data, {"cfg": lambda b: self.cfg.update(srsly.json_loads(b)), "model": lambda b: self.model.from_bytes(b)}, exclude
        )
        return self

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        to_disk(
            ensure_path(path),
            {"cfg": lambda p: srsly.write_json(p, self.cfg), "model": lambda p: self.model.to_disk(p)},
            exclude,
        )

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> ContextTagger:
        def load_model(p: Path) -> None:
            try:
                self.model.from_disk(p)
            except AttributeError:
                raise ConfigError(
                    f"clinical_context: cannot load the tagger weights from {p}; the config's model must match "
                    "the one the pipeline was trained with"
                ) from None

        from_disk(
            ensure_path(path),
            {"cfg": lambda p: self.cfg.update(srsly.read_json(p)) if p.exists() else None, "model": load_model},
            exclude,
        )
        return self


@registry.misc("spacy_clinical_es.ContextRules.v1")
def create_context_rules(
    min_count: int,
    min_precision: float,
    window: int,
    min_ratio: float,
    stop_at_cues: bool,
    scope_label: str,
) -> ContextRules:
    """Rules: cue lexicon (forms seen ``min_count`` times as cues with precision ``min_precision``) and
    ConText scopes (``window`` tokens, terminators seen ending scopes with ratio ``min_ratio``).

    The defaults are written once, in the ``clinical_es_context`` component's default config.
    """
    return ContextRules(
        min_count=min_count,
        min_precision=min_precision,
        window=window,
        min_ratio=min_ratio,
        stop_at_cues=stop_at_cues,
        scope_label=scope_label,
    )


@registry.misc("spacy_clinical_es.ContextTagger.v1")
def create_context_tagger(
    model: Model[list[Doc], list[Floats2d]],
    cue_threshold: Optional[float] = None,
    scope_threshold: Optional[float] = None,
) -> ContextTagger:
    """Trained: cue and scope taggers; ``model`` usually ``spacy_clinical_es.ContextTaggerModel.v1``.

    ``cue_threshold`` / ``scope_threshold``: decoding (:func:`~.tagging.best_tags`); null = most probable tag.
    """
    return ContextTagger(model, cue_threshold=cue_threshold, scope_threshold=scope_threshold)


@registry.architectures("spacy_clinical_es.ContextTaggerModel.v1")
def build_context_tagger_model(tok2vec: Model[list[Doc], list[Floats2d]]) -> Model[list[Doc], list[Floats2d]]:
    """``tok2vec`` then three softmax heads side by side (cues BIO, negation scope, uncertainty scope)."""
    heads = concatenate(*(Softmax_v2(nO=len(tags), normalize_outputs=True) for _, tags in HEADS))
    model = chain(tok2vec, with_array(heads))
    model.set_ref("tok2vec", tok2vec)
    return model


@registry.architectures("spacy_clinical_es.ContextTaggerModel.v2")
def build_context_tagger_model_v2(
    tok2vec: Model[list[Doc], list[Floats2d]], lstm_width: int, lstm_depth: int, dropout: float
) -> Model[list[Doc], list[Floats2d]]:
    """``tok2vec`` → bidirectional LSTM (``lstm_depth`` layers, ``lstm_width`` outputs, both directions
    together) → the three heads of v1.

    Why: a CNN tok2vec sees a few tokens either side, while a negation or uncertainty scope runs to the end
    of its clause ("no se observan adenopatías axilares ni supraclaviculares"); the recurrent layer carries
    the cue to every token of the sentence. thinc's own LSTM, so no torch. ``lstm_depth = 0`` is v1.
    """
    lstm = padded_bilstm("ContextTaggerModel.v2", "lstm_width", lstm_width, lstm_depth, dropout)
    if lstm is None:
        return build_context_tagger_model(tok2vec)
    heads = concatenate(*(Softmax_v2(nO=len(tags), normalize_outputs=True) for _, tags in HEADS))
    model = chain(tok2vec, lstm, with_array(heads))
    model.set_ref("tok2vec", tok2vec)
    return model


@registry.architectures("spacy_clinical_es.ContextTaggerModel.v3")
def build_context_tagger_model_v3(
    tok2vec: Model[list[Doc], list[Floats2d]], lstm_width: int, lstm_depth: int, scope_lstm_depth: int, dropout: float
) -> Model[Any, list[Floats2d]]:
    """Scopes conditioned on the cues: ``tok2vec`` → BiLSTM (``lstm_depth``) → cue head; the BiLSTM output
    plus each token's cue polarity and B/I (:data:`~.tagging.CUE_FEATURES`) → a second BiLSTM
    (``scope_lstm_depth``) → the negation and uncertainty scope heads. Same output columns as v1/v2.

    Why: a scope is where its cue reaches, so the scope tagger is told where the cues are instead of finding
    them again. In training the cue features are the gold cues (teacher forcing: the input is ``(docs, gold
    cue tag indices)``, which :class:`ContextTagger` passes); when predicting, the cue head's most probable tags.
    """
    if lstm_depth < 1 or scope_lstm_depth < 1:
        raise ConfigError("ContextTaggerModel.v3: lstm_depth and scope_lstm_depth must be >= 1")
    width = tok2vec.get_dim("nO") if tok2vec.has_dim("nO") else None
    lstm = padded_bilstm("ContextTaggerModel.v3", "lstm_width", lstm_width, lstm_depth, dropout, nI=width)
    scope_lstm = padded_bilstm(
        "ContextTaggerModel.v3", "lstm_width", lstm_width, scope_lstm_depth, dropout, nI=lstm_width + len(CUE_FEATURES)
    )
    cue_head = with_array(Softmax_v2(nO=len(HEADS[0][1]), nI=lstm_width, normalize_outputs=True))
    scope_heads = with_array(
        concatenate(*(Softmax_v2(nO=len(tags), nI=lstm_width, normalize_outputs=True) for _, tags in HEADS[1:]))
    )
    model: Model[Any, list[Floats2d]] = Model(
        "context_tagger_v3",
        _v3_forward,
        init=_v3_init,
        layers=[tok2vec, lstm, cue_head, scope_lstm, scope_heads],
        attrs={GOLD_CUES_INPUT: True},
    )
    model.set_ref("tok2vec", tok2vec)
    return model


def _v3_init(model: Model, X: Any = None, Y: Any = None) -> None:
    tok2vec, lstm = model.layers[:2]
    tok2vec.initialize(X=X[0] if isinstance(X, tuple) else X)
    if not lstm.layers[0].has_dim("nI"):
        lstm.layers[0].set_dim("nI", tok2vec.get_dim("nO"))
    for layer in model.layers[1:]:
        layer.initialize()


def _v3_forward(model: Model, X: Any, is_train: bool) -> tuple[list[Floats2d], Callable[[list[Floats2d]], Any]]:
    docs, gold = (X[0], X[1]) if isinstance(X, tuple) else (X, None)
    tok2vec, lstm, cue_head, scope_lstm, scope_heads = model.layers
    ops = model.ops
    table = ops.asarray2f(_CUE_FEATURE_TABLE)
    hidden, backprop_tok2vec = tok2vec(docs, is_train)
    encoded, backprop_lstm = lstm(hidden, is_train)
    cues, backprop_cues = cue_head(encoded, is_train)
    tags = gold if gold is not None else [ops.xp.argmax(c, axis=1) for c in cues]
    inputs = [ops.xp.hstack((e, table[ops.asarray(t, dtype="int32")])) for e, t in zip(encoded, tags)]
    scope_hidden, backprop_scope_lstm = scope_lstm(inputs, is_train)
    scopes, backprop_scopes = scope_heads(scope_hidden, is_train)
    outputs = [ops.xp.hstack((c, s)) for c, s in zip(cues, scopes)]
    n_cue = cues[0].shape[1] if cues else 0
    width = encoded[0].shape[1] if encoded else 0

    def backprop(d_outputs: list[Floats2d]) -> Any:
        d_cues = backprop_cues([ops.xp.ascontiguousarray(d[:, :n_cue]) for d in d_outputs])
        d_inputs = backprop_scope_lstm(backprop_scopes([ops.xp.ascontiguousarray(d[:, n_cue:]) for d in d_outputs]))
        d_encoded = [a + b[:, :width] for a, b in zip(d_cues, d_inputs)]
        return backprop_tok2vec(backprop_lstm(d_encoded))

    return outputs, backprop
