"""``transformer_ner``: any Hugging Face encoder as a windowed token-classification NER.

A thin spaCy layer over :mod:`spacy_clinical_es.models.transformer` (the thinc
model: wordpieces, windows, logit merging) and :mod:`spacy_clinical_es.models.tagging`
(tag schemes, constrained Viterbi):

* **Training** (``spacy train``): the gold entities of each example are
  aligned to the predicted doc's tokens (spaCy's BILUO tags, converted to the
  component's ``scheme``: ``"BIO"`` (IOB2, default) or ``"BILUO"``) and the
  loss is the mean softmax cross-entropy over the non-space tokens with a
  known tag. Tokens with missing annotation and whitespace tokens carry no
  loss.
* **Prediction**: token logits → log-probabilities → Viterbi over the valid
  tag sequences only (``I-X`` never follows ``O``, BILUO entities are always
  closed), so every predicted entity is well formed. Whitespace tokens may
  only be ``O`` or continue an entity (they never start or end one).
  Entities go to ``doc.ents`` (``spans_key = null``, replacing existing
  entities) or to ``doc.spans[spans_key]``.
* **Existing checkpoints**: with ``from_checkpoint = true`` in the model
  config, ``initialize`` loads a fine-tuned ``AutoModelForTokenClassification``
  with its head; the tags come from its ``config.id2label`` (``B-``/``I-``/
  ``L-``/``U-``, ``E-``/``S-`` and ``_`` separators accepted, scheme
  inferred) and no training data is needed. :func:`load_token_classifier`
  does this in one call.

Window strategy, merge mode (``"average"`` or ``"central"``), token
reduction and windows per batch are model settings
(``[components.NAME.model]``); scheme, ``spans_key`` and the tags are the
component's options in ``self.cfg``. The encoder's config, tokenizer and
weights are saved inside the pipeline directory (``model`` file), so a
trained pipeline loads with ``spacy.load`` and no hub access.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Optional

import numpy as np
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.scorer import Scorer
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from ..errors import ConfigError
from ..evaluation.scorer import flat_scores, score_docs
from ..models import registry as _window_registry  # noqa: F401  (registers the window strategies)

# The architecture (models/transformer.py, torch) is found through its spacy_architectures entry point when a
# config asks for it: importing it here would make every spacy.load import torch (spaCy imports all factory
# modules), which fails where the optional `transformers` extra is not installed.
from ..models.tagging import (
    SCHEMES,
    TagSet,
    make_tag_set,
    tag_set_from_names,
    tags_to_spans,
    viterbi,
)

logger = logging.getLogger(__name__)

#: Emission score of a forbidden tag on a whitespace token, and the small
#: cost of letting a whitespace token continue an entity rather than be ``O``.
_BLOCKED = -1e4
_SPACE_CONTINUE = -1e-3

DEFAULT_TRANSFORMER_NER_MODEL = """
[model]
@architectures = "spacy_clinical_es.TransformerTokenClassifier.v1"
name = "PlanTL-GOB-ES/roberta-base-biomedical-clinical-es"
merge = "average"
reduction = "first"
batch_windows = 8
tokenizer_config = {}
from_checkpoint = false
mixed_precision = false
nO = null

[model.windows]
@misc = "spacy_clinical_es.NaiveWindows.v1"
window = null
overlap = 0.5
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_TRANSFORMER_NER_MODEL)["model"]


@Language.factory(
    "clinical_es_transformer_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={
        "model": DEFAULT_MODEL,
        "scheme": "BIO",
        "spans_key": None,
        "scorer": {"@scorers": "spacy_clinical_es.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_transformer_ner(
    nlp: Language,
    name: str,
    model: Model[list[Doc], list[Floats2d]],
    *,
    scheme: str,
    spans_key: Optional[str],
    scorer: Optional[Callable],
) -> TransformerNER:
    """Create a :class:`TransformerNER` (see the module docstring for the options)."""
    return TransformerNER(nlp.vocab, model, name, scheme=scheme, spans_key=spans_key, scorer=scorer)


class TransformerNER(TrainablePipe):
    """Token classifier over a windowed transformer, decoded into valid entities."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[list[Doc], list[Floats2d]],
        name: str,
        *,
        scheme: str,
        spans_key: str | None,
        scorer: Callable | None,
    ) -> None:
        if scheme not in SCHEMES:
            raise ConfigError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: dict[str, Any] = {
            "scheme": scheme,
            "spans_key": spans_key,
            "labels": [],
            "tags": [],
            "tag_names": [],
        }
        self._tag_set: TagSet | None = None

    # --- labels ---------------------------------------------------------------------------

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def tag_set(self) -> TagSet:
        """The output tags (cached; rebuilt when ``cfg`` changes)."""
        key = (self.cfg["scheme"], tuple(self.cfg["tags"]), tuple(self.cfg["tag_names"]))
        if self._tag_set is None or (
            self._tag_set.scheme,
            self._tag_set.tags,
            self._tag_set.names,
        ) != key:
            if not self.cfg["tags"]:
                raise ConfigError(
                    f"Component '{self.name}' has no tags yet: initialize it (nlp.initialize) first."
                )
            self._tag_set = TagSet(*key)
        return self._tag_set

    def add_label(self, label: str) -> int:
        """Add an entity label (before ``initialize`` only)."""
        if not isinstance(label, str):
            raise ConfigError(f"Labels must be strings, got {type(label).__name__}.")
        if label in self.cfg["labels"]:
            return 0
        if self.cfg["tags"]:
            raise ConfigError(
                f"Cannot add label {label!r} to the initialized component '{self.name}': "
                "add every label before nlp.initialize()."
            )
        self.cfg["labels"].append(label)
        return 1

    def _set_tags(self, tag_set: TagSet) -> None:
        self.cfg["scheme"] = tag_set.scheme
        self.cfg["tags"] = list(tag_set.tags)
        self.cfg["tag_names"] = list(tag_set.names)
        self.cfg["labels"] = list(tag_set.labels)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]] | None = None,
        *,
        nlp: Language | None = None,
        labels: Iterable[str] | None = None,
    ) -> None:
        """Load the encoder and set the tags.

        Labels come from ``labels``, or the entities of ``get_examples()``
        plus those added with :meth:`add_label`. With ``from_checkpoint``
        they come from the checkpoint's ``config.id2label`` instead.
        """
        if self.model.attrs["from_checkpoint"]:
            self.model.initialize()
            self._set_tags(tag_set_from_names(self.model.attrs["tags"]))
            logger.info(
                "%s: %d tags from the checkpoint (%s)", self.name, len(self.cfg["tags"]), self.cfg["scheme"]
            )
            return
        found = set(self.cfg["labels"])
        sample: list[Doc] = []
        if labels is not None:
            found.update(labels)
        elif get_examples is not None:
            validate_get_examples(get_examples, "TransformerNER.initialize")
            for eg in get_examples():
                found.update(ent.label_ for ent in eg.reference.ents)
                if len(sample) < 4:
                    sample.append(eg.predicted)
        if not found:
            raise ConfigError(
                f"No entity labels for '{self.name}': pass training examples with doc.ents, "
                "labels in [initialize.components], or use from_checkpoint = true."
            )
        tag_set = make_tag_set(found, self.cfg["scheme"])
        self._set_tags(tag_set)
        self.model.attrs["tags"] = list(tag_set.names)
        self.model.set_dim("nO", len(tag_set), force=True)
        self.model.initialize(X=sample or None)

    # --- prediction -----------------------------------------------------------------------

    def predict(self, docs: Iterable[Doc]) -> list[np.ndarray]:
        """Tag indices per token (constrained Viterbi over the model's scores)."""
        docs = list(docs)
        if not docs:
            return []
        scores = self.model.predict(docs)
        return [self.decode(doc, self.model.ops.to_numpy(s)) for doc, s in zip(docs, scores)]

    def emissions(self, doc: Doc, logits: np.ndarray) -> np.ndarray:
        """Log-probabilities per token; whitespace tokens may only be ``O`` or continue an entity."""
        logits = np.asarray(logits, dtype=np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True) if logits.size else logits
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)) if logits.size else logits
        space = np.fromiter((t.is_space for t in doc), dtype=bool, count=len(doc))
        if space.any():
            tag_set = self.tag_set
            row = np.array(
                [0.0 if t == "O" else _SPACE_CONTINUE if t[0] == "I" else _BLOCKED for t in tag_set.tags]
            )
            logp[space] = row
        return logp

    def decode(self, doc: Doc, logits: np.ndarray) -> np.ndarray:
        """Best valid tag sequence for one document."""
        return viterbi(self.emissions(doc, logits), self.tag_set)

    def set_annotations(self, docs: Iterable[Doc], tag_ids: list[np.ndarray]) -> None:
        """Write the decoded entities to ``doc.ents`` or ``doc.spans[spans_key]``."""
        tag_set = self.tag_set
        key = self.cfg["spans_key"]
        for doc, path in zip(docs, tag_ids):
            spans = []
            for start, end, label in tags_to_spans(path, tag_set):
                while start < end and doc[start].is_space:
                    start += 1
                while end > start and doc[end - 1].is_space:
                    end -= 1
                if end > start:
                    spans.append(Span(doc, start, end, label=label))
            if key is None:
                doc.set_ents(spans, default="outside")
            else:
                doc.spans[key] = spans

    # --- training -------------------------------------------------------------------------

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optimizer | None = None,
        losses: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """One gradient step on ``examples`` (thinc optimizer on every encoder weight)."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "TransformerNER.update")
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return losses
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update(docs)
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def gold_tags(self, example: Example) -> np.ndarray:
        """Gold tag index per predicted token; -1 where unknown or whitespace."""
        gold = np.asarray(self.tag_set.convert(example.get_aligned_ner()), dtype=np.int64)
        space = np.fromiter((t.is_space for t in example.predicted), dtype=bool, count=len(example.predicted))
        gold[space] = -1
        return gold

    def get_loss(self, examples: Iterable[Example], scores: list[Floats2d]) -> tuple[float, list[Floats2d]]:
        """Mean softmax cross-entropy over tokens with a known gold tag, and its gradient."""
        examples = list(examples)
        ops = self.model.ops
        golds = [self.gold_tags(eg) for eg in examples]
        n_valid = max(1, sum(int((g >= 0).sum()) for g in golds))
        total = 0.0
        grads = []
        for gold, score in zip(golds, scores):
            logits = ops.to_numpy(score).astype(np.float64)
            grad = np.zeros_like(logits)
            valid = gold >= 0
            if valid.any():
                z = logits[valid] - logits[valid].max(axis=1, keepdims=True)
                probs = np.exp(z)
                probs /= probs.sum(axis=1, keepdims=True)
                rows = np.arange(probs.shape[0])
                total -= float(np.log(np.maximum(probs[rows, gold[valid]], 1e-12)).sum())
                probs[rows, gold[valid]] -= 1.0
                grad[valid] = probs / n_valid
            grads.append(ops.asarray2f(grad.astype(np.float32)))
        return total / n_valid, grads

    # --- scoring --------------------------------------------------------------------------

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """``ents_*`` + strict/IOB2 scores (``doc.ents``), or ``spans_KEY_*`` + strict/IOB2 (span group)."""
        key = self.cfg["spans_key"]
        if key is None:
            return super().score(examples, **kwargs)
        examples = list(examples)
        attr = f"spans_{key}"
        scores: dict[str, Any] = dict(
            Scorer.score_spans(
                examples,
                attr,
                getter=lambda doc, _attr: doc.spans.get(key, []),
                has_annotation=lambda doc: key in doc.spans,
                allow_overlap=True,
            )
        )
        scores.update(flat_scores(score_docs(examples, span_key=key)))
        return scores


def load_token_classifier(
    path: str,
    *,
    lang: str = "es",
    name: str = "clinical_es_transformer_ner",
    windows: dict[str, Any] | None = None,
    merge: str = "average",
    spans_key: str | None = None,
    nlp: Language | None = None,
) -> Language:
    """A pipeline running an existing Hugging Face token-classification checkpoint (inference).

    ``path`` is a local directory or hub name; the tags come from its
    ``config.id2label``. The pipeline is initialized and ready; ``nlp.to_disk``
    then stores the checkpoint inside the pipeline directory. ``nlp``: add the
    component to this pipeline instead of a blank ``lang`` one (e.g. one with
    the clinical tokenizer).
    """
    import spacy

    if nlp is None:
        nlp = spacy.blank(lang)
    model_config: dict[str, Any] = {
        "@architectures": "spacy_clinical_es.TransformerTokenClassifier.v1",
        "name": str(path),
        "from_checkpoint": True,
        "merge": merge,
    }
    if windows is not None:
        model_config["windows"] = windows
    nlp.add_pipe("clinical_es_transformer_ner", name=name, config={"model": model_config, "spans_key": spans_key})
    nlp.get_pipe(name).initialize(nlp=nlp)
    return nlp

