"""``discontinuous_ner``: a trainable finder of continuous, nested and discontinuous entities.

Method (fragment roles + fragment links + maximal cliques, after Wang et al.
2021, "Discontinuous Named Entity Recognition as Maximal Clique Discovery"):

1. **Candidates.** Every token span of at most ``max_length`` tokens that
   neither starts nor ends on whitespace and crosses no line break.
2. **Span roles.** A span scorer (:mod:`spacy_clinical_es.models.fragment_graph`) gives each
   candidate two independent probabilities per label: *whole* (it is a
   continuous entity) and *part* (it is one fragment of a discontinuous
   entity). Multi-label sigmoid outputs, so nested entities and a fragment
   that is also an entity by itself are representable.
3. **Links.** Part fragments above ``part_threshold`` (overlapping ones of a
   label reduced to the best-scored) are paired, same label, at most
   ``max_distance`` tokens apart; a link scorer gives the probability that a
   pair belongs to one entity. It sees both fragments, the tokens between
   them, their distance and the line breaks and sentence ends in between.
4. **Decoding** (:func:`spacy_clinical_es.concepts.fragments.decode`): every
   whole span above ``threshold`` is an entity; for each label, every maximal
   clique of two or more part fragments joined by links above
   ``link_threshold`` is a discontinuous entity (a fragment shared by two
   entities sits in two cliques). Cliques over ``max_fragments`` fall back to
   their linked pairs.

Training: binary cross-entropy on all candidates (targets from
:func:`~spacy_clinical_es.concepts.fragments.encode`) plus binary
cross-entropy on the pairs of *gold* fragments of a label (whole and part
spans, so the link scorer also learns to refuse pairs that involve a
continuous entity); both losses flow back into the shared token encoder.
``part_weight`` (default 1.0) weighs the positive part targets, the rarest role.
``hard_negatives`` (default 0: off) adds, per document and update, up to that
many pairs of the fragments the model itself proposes (part probability at
least ``hard_negative_threshold``, same label, within ``max_distance``) that
are not both gold fragments: negatives of the kind the link scorer meets when
predicting at a low ``part_threshold``, where the gold pairs alone never show it.
Gold entities the candidate space cannot hold (fragment too long, crossing a
line break, fragments further apart than ``max_distance``) are counted and
logged by ``initialize``.

Output: ``doc.spans[spans_key]``, one span per fragment; the fragments of one
entity share ``span.id_`` (``"E1"``, ``"E2"``… per doc), the representation
of :mod:`spacy_clinical_es.corpora.representation`, so
:func:`~spacy_clinical_es.corpora.representation.doc_to_document` and
:func:`~spacy_clinical_es.corpora.brat.format_ann` turn predictions into BRAT
``start end;start end`` lines. The span group's ``attrs["scores"]`` holds, per
span, its entity's score (whole probability, or the weakest link of a
discontinuous entity).
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d, Ints2d

from ..concepts.fragments import (
    Entity,
    ScoredSpan,
    Targets,
    candidate_spans,
    decode,
    encode,
    make_entity,
    non_overlapping,
    pair_candidates,
)
from ..errors import ConfigError
from ..evaluation.metrics import fragment_match_prf
from ..models.fragment_graph import FragmentBatch, pair_input, span_input

logger = logging.getLogger(__name__)

default_model_config = """
[model]
@architectures = "spacy_clinical_es.FragmentGraph.v1"
hidden_width = 128
maxout_pieces = 2
dropout = 0.1

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 96
rows = [5000, 1000, 2500, 1000]
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
include_static_vectors = false

[model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = ${model.tok2vec.embed.width}
window_size = 1
maxout_pieces = 3
depth = 4
"""
DEFAULT_MODEL = Config().from_str(default_model_config)["model"]

#: Prefix of the ``span.id_`` given to predicted entities.
ENTITY_ID_PREFIX = "E"
#: Most part fragments kept per label and doc (best-scored first): bounds the pairs an untrained
#: model scores. CodiEsp train documents have at most 36 gold part fragments of one label.
MAX_PARTS_PER_LABEL = 100

Prediction = list[tuple[Entity, float]]


@registry.scorers("spacy_clinical_es.fragment_scorer.v1")
def make_fragment_scorer() -> Callable[..., dict[str, Any]]:
    """Scorer of ``discontinuous_ner``: exact fragment-set match, all and discontinuous only."""
    return fragment_score


def _items(doc_index: int, spans: Iterable[Span]) -> list[tuple[int, str, frozenset[tuple[int, int]]]]:
    groups: dict[tuple[str, str], set[tuple[int, int]]] = {}
    items: list[tuple[int, str, frozenset[tuple[int, int]]]] = []
    for span in spans:
        fragment = (span.start_char, span.end_char)
        if span.id_:
            groups.setdefault((span.id_, span.label_), set()).add(fragment)
        else:
            items.append((doc_index, span.label_, frozenset([fragment])))
    items.extend((doc_index, label, frozenset(frags)) for (_, label), frags in groups.items())
    return items


def fragment_score(examples: Iterable[Example], *, spans_key: str = "sc", **_: Any) -> dict[str, Any]:
    """``fragments_{p,r,f}`` (every entity, exact fragment set), ``fragments_disc_{p,r,f}``
    (entities with two or more fragments) and ``fragments_per_type``.

    Spans of ``doc.spans[spans_key]`` sharing ``id_`` and label form one
    entity, on the gold and the predicted side; offsets are the spans'
    (token-aligned) character offsets.
    """
    gold: list[tuple[int, str, frozenset[tuple[int, int]]]] = []
    pred: list[tuple[int, str, frozenset[tuple[int, int]]]] = []
    for i, eg in enumerate(examples):
        gold.extend(_items(i, eg.reference.spans.get(spans_key, [])))
        pred.extend(_items(i, eg.predicted.spans.get(spans_key, [])))
    scores = fragment_match_prf(gold, pred)
    disc = scores["discontinuous"]
    return {
        "fragments_p": scores["p"],
        "fragments_r": scores["r"],
        "fragments_f": scores["f"],
        "fragments_disc_p": disc["p"],
        "fragments_disc_r": disc["r"],
        "fragments_disc_f": disc["f"],
        "fragments_per_type": {
            label: {"p": row["p"], "r": row["r"], "f": row["f"]}
            for label, row in scores["per_type"].items()
        },
    }


@Language.factory(
    "clinical_es_discontinuous_ner",
    assigns=["doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "spans_key": "sc",
        "max_length": 8,
        "max_distance": 250,
        "threshold": 0.5,
        "part_threshold": 0.5,
        "link_threshold": 0.5,
        "max_fragments": 4,
        "negative_rate": 1.0,
        "part_weight": 1.0,
        "hard_negatives": 0,
        "hard_negative_threshold": 0.05,
        "scorer": {"@scorers": "spacy_clinical_es.fragment_scorer.v1"},
    },
    default_score_weights={
        "fragments_f": 1.0,
        "fragments_p": 0.0,
        "fragments_r": 0.0,
        "fragments_disc_f": 0.0,
        "fragments_disc_p": None,
        "fragments_disc_r": None,
        "fragments_per_type": None,
    },
)
def make_discontinuous_ner(
    nlp: Language,
    name: str,
    model: Model[FragmentBatch, tuple[Floats2d, Floats2d]],
    *,
    spans_key: str,
    max_length: int,
    max_distance: int,
    threshold: float,
    part_threshold: float,
    link_threshold: float,
    max_fragments: int,
    negative_rate: float,
    part_weight: float,
    hard_negatives: int,
    hard_negative_threshold: float,
    scorer: Optional[Callable[..., dict[str, Any]]],
) -> DiscontinuousNER:
    """Create a ``discontinuous_ner`` component (options: see :class:`DiscontinuousNER`)."""
    return DiscontinuousNER(
        nlp.vocab,
        model,
        name,
        spans_key=spans_key,
        max_length=max_length,
        max_distance=max_distance,
        threshold=threshold,
        part_threshold=part_threshold,
        link_threshold=link_threshold,
        max_fragments=max_fragments,
        negative_rate=negative_rate,
        part_weight=part_weight,
        hard_negatives=hard_negatives,
        hard_negative_threshold=hard_negative_threshold,
        scorer=scorer,
    )


class DiscontinuousNER(TrainablePipe):
    """Predict continuous, nested and discontinuous entities into ``doc.spans[spans_key]``."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model[FragmentBatch, tuple[Floats2d, Floats2d]],
        name: str,
        *,
        spans_key: str,
        max_length: int,
        max_distance: int,
        threshold: float,
        part_threshold: float,
        link_threshold: float,
        max_fragments: int,
        negative_rate: float,
        scorer: Callable[..., dict[str, Any]] | None,
        part_weight: float = 1.0,
        hard_negatives: int = 0,
        hard_negative_threshold: float = 0.05,
    ) -> None:
        """
        spans_key: span group read as gold and written with predictions.
        max_length: longest candidate fragment, in tokens.
        max_distance: largest token gap between two linked fragments.
        threshold / part_threshold / link_threshold: probabilities a span
            needs to be a whole entity / a part fragment, and a pair to be linked.
        max_fragments: largest number of fragments of one entity.
        negative_rate: share of the candidate spans without any role that
            ``update`` scores (a seeded random sample, re-weighted by
            ``1 / negative_rate`` so the loss stays unbiased); 1.0 scores all.
        part_weight: weight of the positive *part* targets in the span loss
            (> 1 trades precision for recall of discontinuous fragments, the
            rarest role); 1.0 is plain binary cross-entropy.
        hard_negatives: most pairs of the model's own part fragments (not
            both gold) added per document to the link loss in ``update``, as
            negatives; 0 trains the link scorer on gold fragment pairs only.
        hard_negative_threshold: part probability a span needs to be paired
            for ``hard_negatives``.
        """
        if max_length < 1 or max_distance < 0 or max_fragments < 2 or not 0.0 < negative_rate <= 1.0:
            raise ConfigError(
                "discontinuous_ner needs max_length >= 1, max_distance >= 0, max_fragments >= 2 "
                "and 0 < negative_rate <= 1."
            )
        if part_weight <= 0.0:
            raise ConfigError("discontinuous_ner: part_weight must be > 0 (1.0 weighs part fragments like the rest).")
        if not isinstance(hard_negatives, int) or hard_negatives < 0:
            raise ConfigError("discontinuous_ner: hard_negatives must be an integer >= 0 (0 turns them off).")
        for option, value in (
            ("threshold", threshold),
            ("part_threshold", part_threshold),
            ("link_threshold", link_threshold),
            ("negative_rate", negative_rate),
            ("hard_negative_threshold", hard_negative_threshold),
        ):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"discontinuous_ner: {option} must be a probability between 0 and 1.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: dict[str, Any] = {
            "labels": [],
            "spans_key": spans_key,
            "max_length": max_length,
            "max_distance": max_distance,
            "threshold": threshold,
            "part_threshold": part_threshold,
            "link_threshold": link_threshold,
            "max_fragments": max_fragments,
            "negative_rate": negative_rate,
            "part_weight": part_weight,
            "hard_negatives": hard_negatives,
            "hard_negative_threshold": hard_negative_threshold,
        }
        #: Gold entities or fragments the candidate space could not hold, by reason (since initialize).
        self.unlearnable: Counter = Counter()

    # -- labels ------------------------------------------------------------

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> list[str]:
        return list(self.labels)

    def add_label(self, label: str) -> int:
        """Add a label before initialization; returns 1 when added, 0 when known."""
        if not isinstance(label, str) or not label:
            raise ConfigError("discontinuous_ner labels must be non-empty strings.")
        if label in self.labels:
            return 0
        self.cfg["labels"] = [*self.labels, label]
        self.vocab.strings.add(label)
        return 1

    # -- candidates and targets -------------------------------------------

    def _candidates(self, doc: Doc) -> list[tuple[int, int]]:
        blocked = ["\n" in token.text for token in doc]
        no_edge = [token.is_space for token in doc]
        return candidate_spans(len(doc), self.cfg["max_length"], blocked, no_edge)

    def _gold_entities(self, eg: Example) -> tuple[list[Entity], int]:
        """Gold entities of the reference as token spans of the predicted doc; and the unknown-label count."""
        groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
        loose: list[Entity] = []
        unknown = 0
        known = set(self.labels)
        for span in eg.reference.spans.get(self.cfg["spans_key"], []):
            if span.label_ not in known:
                unknown += 1
                continue
            aligned = eg.predicted.char_span(span.start_char, span.end_char, alignment_mode="expand")
            if aligned is None or len(aligned) == 0:
                continue
            fragment = (aligned.start, aligned.end)
            if span.id_:
                groups.setdefault((span.id_, span.label_), []).append(fragment)
            else:
                loose.append(make_entity(span.label_, [fragment]))
        entities = loose + [make_entity(label, frags) for (_, label), frags in groups.items()]
        return sorted(set(entities)), unknown

    def _targets(self, eg: Example) -> tuple[list[tuple[int, int]], Targets]:
        doc = eg.predicted
        entities, unknown = self._gold_entities(eg)
        blocked = ["\n" in token.text for token in doc]
        targets = encode(
            entities, max_length=self.cfg["max_length"], max_distance=self.cfg["max_distance"], blocked=blocked
        )
        if unknown:
            targets.lost["unknown_label"] += unknown
        return self._candidates(doc), targets

    def _batch(
        self, examples: Sequence[Example], sample: bool = False, extra_pairs: Sequence[list[list[int]]] | None = None
    ) -> tuple[FragmentBatch, Floats2d, Floats2d, Floats2d, Counter]:
        """Model input, span targets, span weights and link targets for a batch of examples.

        With ``sample``, candidate spans without any role are kept with
        probability ``negative_rate`` (numpy's global generator, which spaCy
        seeds) and weighted ``1 / negative_rate``. ``extra_pairs``: per example,
        more fragment pairs ``[a_start, a_end, b_start, b_end]`` scored as negatives.
        """
        rate = float(self.cfg["negative_rate"]) if sample else 1.0
        ops = self.model.ops
        labels = {label: k for k, label in enumerate(self.labels)}
        n_out = 2 * len(labels)
        spans_per_doc: list[Ints2d] = []
        pairs_per_doc: list[Ints2d] = []
        span_targets: list[numpy.ndarray] = []
        span_weights: list[numpy.ndarray] = []
        link_targets: list[float] = []
        lost: Counter = Counter()
        for i, eg in enumerate(examples):
            candidates, targets = self._targets(eg)
            lost.update(targets.lost)
            row_of = {span: r for r, span in enumerate(candidates)}
            target = numpy.zeros((len(candidates), n_out), dtype="float32")
            for role, offset in ((targets.whole, 0), (targets.part, 1)):
                for start, end, label in role:
                    row = row_of.get((start, end))
                    if row is None:
                        lost["fragment_not_a_candidate"] += 1
                        continue
                    target[row, 2 * labels[label] + offset] = 1.0
            weights = numpy.ones((len(candidates), 1), dtype="float32")
            if rate < 1.0 and len(candidates):
                negative = target.sum(axis=1) == 0
                keep = ~negative | (numpy.random.random(len(candidates)) < rate)
                weights[negative] = 1.0 / rate
                candidates = [c for c, k in zip(candidates, keep) if k]
                target = target[keep]
                weights = weights[keep]
            pairs: list[list[int]] = []
            for label, fragments in targets.link_fragments.items():
                links = targets.links[label]
                for a, b in pair_candidates(fragments, self.cfg["max_distance"]):
                    pairs.append([*fragments[a], *fragments[b]])
                    link_targets.append(1.0 if (a, b) in links else 0.0)
            if extra_pairs is not None:
                pairs.extend(extra_pairs[i])
                link_targets.extend([0.0] * len(extra_pairs[i]))
            spans_per_doc.append(numpy.asarray(candidates, dtype="int64").reshape((-1, 2)))
            pairs_per_doc.append(numpy.asarray(pairs, dtype="int64").reshape((-1, 4)))
            span_targets.append(target)
            span_weights.append(weights)
        batch = FragmentBatch([eg.predicted for eg in examples], spans_per_doc, pairs_per_doc)
        span_y = ops.asarray2f(numpy.concatenate(span_targets, axis=0)) if span_targets else ops.alloc2f(0, n_out)
        span_w = ops.asarray2f(numpy.concatenate(span_weights, axis=0)) if span_weights else ops.alloc2f(0, 1)
        link_y = ops.asarray2f(numpy.asarray(link_targets, dtype="float32").reshape((-1, 1)))
        return batch, span_y, span_w, link_y, lost

    def _hard_pairs(self, examples: Sequence[Example]) -> list[list[list[int]]]:
        """Per example, up to ``hard_negatives`` pairs of the current model's part fragments (see the
        module docstring) that are not both gold fragments, sampled with numpy's global generator (spaCy
        seeds it). The link scorer does not see the label, so a pair of two gold fragments (of any label)
        is left to the gold pairs, which score it with its true target; each pair is mined once."""
        threshold = float(self.cfg["hard_negative_threshold"])
        limit = int(self.cfg["hard_negatives"])
        labels = self.labels
        _, _, candidates, probs = self._span_probs([eg.predicted for eg in examples])
        out: list[list[list[int]]] = []
        row = 0
        for eg, cands in zip(examples, candidates):
            doc_probs = probs[row : row + len(cands)]
            row += len(cands)
            gold = {fragment for entity in self._gold_entities(eg)[0] for fragment in entity.fragments}
            rows, cols = numpy.nonzero(doc_probs[:, 1::2] >= threshold)
            parts = non_overlapping(
                (ScoredSpan(*cands[r], labels[c], float(doc_probs[r, 2 * c + 1])) for r, c in zip(rows, cols)),
                limit=MAX_PARTS_PER_LABEL,
            )
            found: set[tuple[int, int, int, int]] = set()
            for label in labels:
                frags = [(p.start, p.end) for p in parts if p.label == label]
                for a, b in pair_candidates(frags, self.cfg["max_distance"]):
                    if frags[a] not in gold or frags[b] not in gold:
                        found.add((*frags[a], *frags[b]))
            pairs = [list(pair) for pair in sorted(found)]
            if len(pairs) > limit:
                keep = numpy.random.choice(len(pairs), size=limit, replace=False)
                pairs = [pairs[k] for k in sorted(keep)]
            out.append(pairs)
        return out

    # -- training ------------------------------------------------------------

    def _loss(
        self,
        scores: tuple[Floats2d, Floats2d],
        span_y: Floats2d,
        span_w: Floats2d,
        link_y: Floats2d,
        n_docs: int,
    ) -> tuple[float, tuple[Floats2d, Floats2d]]:
        """Weighted binary cross-entropy summed per document, and its gradient wrt. the logits.

        Positive targets of the part columns (odd columns of the span scores) weigh ``part_weight``:
        loss ``-(c·y·log p + (1 − y)·log(1 − p))·w``, gradient ``(p·(c·y + 1 − y) − c·y)·w``.
        """
        xp = self.model.ops.xp
        grads = []
        loss = 0.0
        eps = 1e-7
        part_cols = xp.zeros((1, span_y.shape[1]), dtype="float32")
        part_cols[:, 1::2] = 1.0
        positive = (
            1.0 + (float(self.cfg["part_weight"]) - 1.0) * part_cols,  # c per span column
            xp.ones((1, 1), dtype="float32"),
        )
        for logits, y, w, c in zip(scores, (span_y, link_y), (span_w, xp.ones_like(link_y)), positive):
            probs = 1.0 / (1.0 + xp.exp(-logits))
            loss += float((-(c * y * xp.log(probs + eps) + (1 - y) * xp.log(1 - probs + eps)) * w).sum())
            grads.append(((probs * (c * y + 1 - y) - c * y) * w / max(n_docs, 1)).astype("float32"))
        return loss / max(n_docs, 1), (grads[0], grads[1])

    def get_loss(self, examples: Iterable[Example], scores: tuple[Floats2d, Floats2d]) -> tuple[float, Any]:
        """Loss and gradient of ``scores`` (the model's output on ``examples``)."""
        examples = list(examples)
        _, span_y, span_w, link_y, _ = self._batch(examples)
        return self._loss(scores, span_y, span_w, link_y, len(examples))

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optimizer | None = None,
        losses: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """Learn from a batch of examples (see the module docstring for the losses)."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "DiscontinuousNER.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        hard = self._hard_pairs(examples) if self.cfg.get("hard_negatives", 0) else None
        batch, span_y, span_w, link_y, _ = self._batch(examples, sample=True, extra_pairs=hard)
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update(batch)
        loss, d_scores = self._loss(scores, span_y, span_w, link_y, len(examples))
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[list[str]] = None,
    ) -> None:
        """Collect labels (unless given), size the output and initialize the model.

        Logs how many gold entities or fragments the candidate space cannot
        hold (kept in ``self.unlearnable``).
        """
        validate_get_examples(get_examples, "DiscontinuousNER.initialize")
        if labels is not None:
            for label in labels:
                self.add_label(label)
        else:
            for eg in get_examples():
                for span in eg.reference.spans.get(self.cfg["spans_key"], []):
                    self.add_label(span.label_)
        if not self.labels:
            raise ConfigError(
                f"discontinuous_ner found no labels: the training docs have no spans under "
                f"doc.spans[{self.cfg['spans_key']!r}]; set spans_key to the corpus' span group."
            )
        self.model.get_ref("span_output").set_dim("nO", 2 * len(self.labels))
        sample: list[Example] = []
        self.unlearnable = Counter()
        for eg in get_examples():
            if len(sample) < 10:
                sample.append(eg)
            self.unlearnable.update(self._batch([eg])[4])
        if self.unlearnable:
            logger.info(
                "discontinuous_ner: gold items the candidate space cannot hold: %s",
                ", ".join(f"{reason} {n}" for reason, n in sorted(self.unlearnable.items())),
            )
        batch = self._batch(sample)[0]
        self.model.initialize(X=batch)

    # -- prediction -----------------------------------------------------------

    def _span_probs(self, docs: Sequence[Doc]) -> tuple[Floats2d, list[int], list[list[tuple[int, int]]], numpy.ndarray]:
        """Token vectors (flat), doc lengths, candidate spans per doc and their role probabilities
        (rows: the candidates of every doc in turn; columns: whole/part per label)."""
        ops = self.model.ops
        tokvecs = self.model.get_ref("tok2vec").predict(list(docs))
        lengths = [t.shape[0] for t in tokvecs]
        X = ops.flatten(tokvecs)
        candidates = [self._candidates(doc) for doc in docs]
        spans = [numpy.asarray(c, dtype="int64").reshape((-1, 2)) for c in candidates]
        logits = self.model.get_ref("span_scorer").predict(span_input(ops, X, lengths, spans))
        return X, lengths, candidates, ops.to_numpy(1.0 / (1.0 + ops.xp.exp(-logits)))

    def predict(self, docs: Iterable[Doc]) -> list[Prediction]:
        """Entities (token fragments) with their scores, per doc."""
        docs = list(docs)
        if not docs or not any(len(doc) for doc in docs):
            return [[] for _ in docs]
        ops = self.model.ops
        xp = ops.xp
        labels = self.labels
        X, lengths, candidates, probs = self._span_probs(docs)
        wholes: list[list[ScoredSpan]] = []
        parts: list[list[ScoredSpan]] = []
        pairs: list[numpy.ndarray] = []
        pair_index: list[list[tuple[int, int]]] = []
        row = 0
        for cands in candidates:
            doc_probs = probs[row : row + len(cands)]
            row += len(cands)
            whole: list[ScoredSpan] = []
            part: list[ScoredSpan] = []
            for r, c in zip(*numpy.nonzero(doc_probs >= min(self.cfg["threshold"], self.cfg["part_threshold"]))):
                start, end = cands[r]
                label = labels[c // 2]
                score = float(doc_probs[r, c])
                if c % 2 == 0 and score >= self.cfg["threshold"]:
                    whole.append(ScoredSpan(start, end, label, score))
                elif c % 2 == 1 and score >= self.cfg["part_threshold"]:
                    part.append(ScoredSpan(start, end, label, score))
            part = non_overlapping(part, limit=MAX_PARTS_PER_LABEL)
            index: list[tuple[int, int]] = []
            for label in labels:
                members = [k for k, p in enumerate(part) if p.label == label]
                frags = [(part[k].start, part[k].end) for k in members]
                index.extend(
                    (members[a], members[b]) for a, b in pair_candidates(frags, self.cfg["max_distance"])
                )
            wholes.append(whole)
            parts.append(part)
            pair_index.append(index)
            pairs.append(
                numpy.asarray(
                    [[part[a].start, part[a].end, part[b].start, part[b].end] for a, b in index], dtype="int64"
                ).reshape((-1, 4))
            )
        link_probs = numpy.zeros((0,), dtype="float32")
        if any(len(p) for p in pairs):
            link_logits = self.model.get_ref("link_scorer").predict(pair_input(ops, X, docs, lengths, pairs))
            link_probs = ops.to_numpy(1.0 / (1.0 + xp.exp(-link_logits))).reshape(-1)
        out: list[Prediction] = []
        row = 0
        for whole, part, index in zip(wholes, parts, pair_index):
            links = {pair: float(link_probs[row + k]) for k, pair in enumerate(index)}
            row += len(index)
            entities = decode(
                whole,
                part,
                links,
                link_threshold=self.cfg["link_threshold"],
                max_fragments=self.cfg["max_fragments"],
            )
            out.append(list(zip(entities, _entity_scores(entities, whole, part, links))))
        return out

    def set_annotations(self, docs: Iterable[Doc], predictions: Sequence[Prediction]) -> None:
        """Write one span per fragment into ``doc.spans[spans_key]``; fragments of an entity share ``id_``."""
        key = self.cfg["spans_key"]
        for doc, entities in zip(docs, predictions):
            spans: list[Span] = []
            scores: list[float] = []
            for n, (entity, score) in enumerate(entities, 1):
                for start, end in entity.fragments:
                    spans.append(Span(doc, start, end, label=entity.label, span_id=f"{ENTITY_ID_PREFIX}{n}"))
                    scores.append(score)
            doc.spans[key] = SpanGroup(doc, name=key, spans=spans, attrs={"scores": scores})


def _entity_scores(
    entities: Sequence[Entity],
    whole: Sequence[ScoredSpan],
    part: Sequence[ScoredSpan],
    links: dict[tuple[int, int], float],
) -> list[float]:
    """Whole probability of a continuous entity; weakest link of a discontinuous one."""
    whole_score = {(s.start, s.end, s.label): s.score for s in whole}
    part_index = {(p.start, p.end, p.label): k for k, p in enumerate(part)}
    scores: list[float] = []
    for entity in entities:
        if not entity.is_discontinuous:
            start, end = entity.fragments[0]
            scores.append(whole_score.get((start, end, entity.label), 0.0))
            continue
        members = sorted(part_index[(s, e, entity.label)] for s, e in entity.fragments)
        inside = [links[(a, b)] for x, a in enumerate(members) for b in members[x + 1 :] if (a, b) in links]
        scores.append(min(inside, default=0.0))
    return scores
