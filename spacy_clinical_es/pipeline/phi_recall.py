"""``phi_recall``: a token classifier that catches the PHI the entity detector missed.

A de-identifier is judged by what it leaks. The NER commits to whole spans
and is tuned for strict span F1; this component learns, per token, the
probability of each PHI label (and of "outside") and, at prediction time,
adds every run of tokens it scores as PHI with probability ``>= threshold``
that no entity covers (:func:`spacy_clinical_es.deid.recall.recall_spans`),
after softening its over-confident distribution by ``temperature`` (logits
divided by T). Lower the threshold or raise the temperature for fewer leaks
and more over-masked words.

It writes ``doc.spans[spans_key]``: the entities already in ``doc.ents``
(``include_ents``) plus the recall spans, never overlapping, each with a
label so the randomizer can pick a surrogate of the right category; the
recall spans carry ``span.kb_id_ == RECALL_KB_ID`` so the randomizer's
policy can treat them apart from the entities (by default: a neutral mask
unless their category is certain). Point
``deid_randomizer.spans_key`` at that group. ``doc.ents`` is left alone unless
``set_ents`` is true, so the detector's strict span scores stay those of the
entities it committed to.

Trained like spaCy's ``tagger`` (softmax per token, cross-entropy, misaligned
tokens masked; ``TrainablePipe.update``) from the reference entities
(``doc.ents``), usually listening to the detector's ``tok2vec``. The ``spacy.Tagger.v2`` model must normalize
its outputs (``normalize = true``, the default here): thresholds are
probabilities.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any, Optional

import numpy as np
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples
from spacy.util import registry
from thinc.api import Config, Model, SequenceCategoricalCrossentropy
from thinc.types import Floats2d

from ..deid import DeidError
from ..deid.recall import recall_spans, softmax
from ..evaluation.metrics import deid_token_scores

#: The class of tokens outside every PHI span (column 0 of the model's output).
OUTSIDE = "O"
#: ``span.kb_id_`` of the spans this component adds (read by ``deid_randomizer``).
RECALL_KB_ID = "spacy_clinical_es.phi_recall"
DEFAULT_SPANS_KEY = "phi"

phi_recall_default_config = """
[phi_recall]
threshold = 0.5
temperature = 1.0
spans_key = "phi"
include_ents = true
set_ents = false

[phi_recall.scorer]
@scorers = "spacy_clinical_es.phi_recall_scorer.v1"

[phi_recall.model]
@architectures = "spacy.Tagger.v2"
nO = null
normalize = true

[phi_recall.model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""
DEFAULT_PHI_RECALL_CONFIG = Config().from_str(phi_recall_default_config)["phi_recall"]


@Language.factory(
    "clinical_es_phi_recall",
    assigns=["doc.spans"],
    default_config=DEFAULT_PHI_RECALL_CONFIG,
    default_score_weights={"phi_recall_token_r": 0.0, "phi_recall_token_p": 0.0, "phi_recall_token_f": 0.0},
)
def make_phi_recall(
    nlp: Language,
    name: str,
    model: Model[list[Doc], list[Floats2d]],
    threshold: float,
    temperature: float,
    spans_key: str,
    include_ents: bool,
    set_ents: bool,
    scorer: Optional[Callable[..., dict[str, Any]]],
) -> PhiRecall:
    """Create a :class:`PhiRecall` (see the module docstring for the options)."""
    return PhiRecall(
        nlp,
        model,
        name,
        threshold=threshold,
        temperature=temperature,
        spans_key=spans_key,
        include_ents=include_ents,
        set_ents=set_ents,
        scorer=scorer,
    )


def phi_recall_score(examples: Iterable[Example], *, spans_key: str = DEFAULT_SPANS_KEY, **_: Any) -> dict[str, Any]:
    """PHI token P/R/F and leak rate of ``doc.spans[spans_key]`` against the reference ``doc.ents``."""
    tokens: dict[int, list[tuple[int, int]]] = {}
    gold: list[tuple[int, int, int]] = []
    pred: list[tuple[int, int, int]] = []
    for i, eg in enumerate(examples):
        tokens[i] = [(t.idx, t.idx + len(t)) for t in eg.reference if not t.is_space]
        gold.extend((i, e.start_char, e.end_char) for e in eg.reference.ents)
        pred.extend((i, s.start_char, s.end_char) for s in eg.predicted.spans.get(spans_key, []))
    scores = deid_token_scores(tokens, gold, pred)
    return {
        "phi_recall_token_p": scores["p"],
        "phi_recall_token_r": scores["r"],
        "phi_recall_token_f": scores["f"],
        "phi_recall_leak_rate": scores["leak_rate"],
    }


@registry.scorers("spacy_clinical_es.phi_recall_scorer.v1")
def make_phi_recall_scorer() -> Callable[..., dict[str, Any]]:
    """Scorer for ``phi_recall``: PHI token scores of its span group."""
    return phi_recall_score


class PhiRecall(TrainablePipe):
    """Add the uncovered tokens a per-token PHI classifier flags to a span group of everything to replace."""

    def __init__(
        self,
        nlp: Language,
        model: Model[list[Doc], list[Floats2d]],
        name: str = "phi_recall",
        *,
        threshold: float = 0.5,
        temperature: float = 1.0,
        spans_key: str = DEFAULT_SPANS_KEY,
        include_ents: bool = True,
        set_ents: bool = False,
        scorer: Callable[..., dict[str, Any]] | None = phi_recall_score,
    ) -> None:
        """Initialize the component.

        threshold (float): a token is PHI when ``1 - P(outside) >= threshold``.
        temperature (float): ``P`` is the classifier's distribution with its
            logits divided by this (1: as trained; > 1: softer).
        spans_key (str): the span group written (entities + recall spans).
        include_ents (bool): put ``doc.ents`` in the group and never add a
            recall span over an entity.
        set_ents (bool): also add the recall spans to ``doc.ents``.
        scorer: scores the span group (``phi_recall_token_*``).
        """
        self.vocab = nlp.vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: dict[str, Any] = {
            "labels": [],
            "threshold": threshold,
            "temperature": temperature,
            "spans_key": spans_key,
            "include_ents": include_ents,
            "set_ents": set_ents,
        }
        self._validate()

    def _validate(self) -> None:
        threshold = self.cfg["threshold"]
        if not isinstance(threshold, (int, float)) or not 0.0 < threshold <= 1.0:
            raise DeidError(f"phi_recall: threshold must be a probability in (0, 1], got {threshold!r}.")
        temperature = self.cfg["temperature"]
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise DeidError(f"phi_recall: temperature must be a positive number, got {temperature!r}.")
        if not self.cfg["spans_key"]:
            raise DeidError("phi_recall: spans_key must name a span group (e.g. \"phi\").")

    def set_threshold(self, threshold: float) -> None:
        """Change the threshold at runtime (e.g. the deid CLI's ``--recall-threshold``)."""
        old = self.cfg["threshold"]
        self.cfg["threshold"] = threshold
        try:
            self._validate()
        except DeidError:
            self.cfg["threshold"] = old
            raise

    @property
    def labels(self) -> tuple[str, ...]:
        """The PHI labels (the model's classes are ``OUTSIDE`` followed by these)."""
        return tuple(self.cfg["labels"])

    @property
    def classes(self) -> list[str]:
        """The model's output classes: ``OUTSIDE``, then the labels."""
        return [OUTSIDE, *self.labels]

    def add_label(self, label: str) -> int:
        """Add a PHI label before training; returns 1 if added, 0 if known."""
        if not isinstance(label, str) or not label or label == OUTSIDE:
            raise DeidError(f"phi_recall: a label must be a non-empty string other than {OUTSIDE!r}, got {label!r}.")
        if label in self.cfg["labels"]:
            return 0
        self._allow_extra_label()
        self.cfg["labels"] = sorted([*self.cfg["labels"], label])
        self.vocab.strings.add(label)
        return 1

    def predict(self, docs: Iterable[Doc]) -> list[np.ndarray]:
        """Per-token class probabilities, one ``(len(doc), 1 + len(labels))`` array per Doc."""
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            n_classes = len(self.classes)
            return [np.zeros((len(doc), n_classes), dtype="float32") for doc in docs]
        scores = self.model.predict(docs)
        result = []
        for doc_scores in scores:
            array = self.model.ops.to_numpy(doc_scores)
            if len(array) and not np.allclose(array.sum(axis=1), 1.0, atol=1e-3):
                array = softmax(array).astype("float32")  # a model built with normalize = false returns logits
            result.append(array)
        return result

    def set_annotations(self, docs: Iterable[Doc], scores: Sequence[np.ndarray]) -> None:
        """Write ``doc.spans[spans_key]`` (and, with ``set_ents``, ``doc.ents``)."""
        labels = list(self.labels)
        for doc, probabilities in zip(docs, scores):
            ents = list(doc.ents) if self.cfg["include_ents"] else []
            covered = [False] * len(doc)
            for ent in ents:
                covered[ent.start : ent.end] = [True] * len(ent)
            content = [any(c.isalnum() for c in token.text) for token in doc]
            found = recall_spans(
                probabilities,
                labels,
                threshold=self.cfg["threshold"],
                covered=covered,
                content=content,
                temperature=self.cfg["temperature"],
            )
            added = [Span(doc, start, end, label=label, kb_id=RECALL_KB_ID) for start, end, label in found]
            doc.spans[self.cfg["spans_key"]] = sorted([*ents, *added], key=lambda s: (s.start, s.end))
            if self.cfg["set_ents"] and added:
                doc.ents = sorted([*doc.ents, *added], key=lambda s: s.start)

    def _truths(self, example: Example) -> list[str | None]:
        """The class of each predicted token from the reference entities (``None``: misaligned, unknown)."""
        truths: list[str | None] = []
        known = set(self.labels)
        for tag in example.get_aligned_ner():
            if tag is None or tag in ("", "-"):
                truths.append(None)
            elif tag == OUTSIDE:
                truths.append(OUTSIDE)
            else:
                label = tag.split("-", 1)[1]
                truths.append(label if label in known else None)
        return truths

    def get_loss(self, examples: Iterable[Example], scores: list[Floats2d]) -> tuple[float, list[Floats2d]]:
        """Categorical cross-entropy per token; misaligned tokens and unknown labels are masked."""
        loss_func = SequenceCategoricalCrossentropy(names=self.classes, normalize=False)
        truths = [self._truths(eg) for eg in examples]
        d_scores, loss = loss_func(scores, truths)
        if self.model.ops.xp.isnan(loss):
            raise DeidError(f"phi_recall {self.name!r}: the loss is NaN; lower the learning rate.")
        return float(loss), d_scores

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Language | None = None,
        labels: Iterable[str] | None = None,
    ) -> None:
        """Take the labels (given, or those of the reference entities) and shape the model."""
        validate_examples(get_examples(), "PhiRecall.initialize")
        if labels is None:
            labels = sorted({ent.label_ for eg in get_examples() for ent in eg.reference.ents})
        for label in labels:
            self.add_label(label)
        if not self.labels:
            raise DeidError(
                "phi_recall: no labels. Train it on examples with reference entities, or pass "
                "labels in [initialize.components.phi_recall]."
            )
        sample = list(islice(get_examples(), 10))
        docs = [eg.predicted for eg in sample]
        index = {name: i for i, name in enumerate(self.classes)}
        truth_sample = []
        for eg in sample:
            one_hot = np.zeros((len(eg.predicted), len(self.classes)), dtype="float32")
            for i, cls in enumerate(self._truths(eg)):
                if cls is not None:
                    one_hot[i, index[cls]] = 1.0
            truth_sample.append(self.model.ops.asarray2f(one_hot))
        self.model.initialize(X=docs, Y=truth_sample)


def replacement_spans_key(nlp: Language) -> str | None:
    """The span group holding everything to de-identify: the last ``phi_recall``'s, or ``None`` (``doc.ents``).

    Only a ``phi_recall`` that keeps the entities in its group (``include_ents``)
    qualifies; the randomizer reads that group instead of ``doc.ents``.
    """
    keys = [
        pipe.cfg["spans_key"]
        for _, pipe in nlp.pipeline
        if isinstance(pipe, PhiRecall) and pipe.cfg["include_ents"]
    ]
    return keys[-1] if keys else None
