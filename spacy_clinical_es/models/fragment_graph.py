"""Thinc architecture of the discontinuous finder: span-role and fragment-link scorers.

``spacy_clinical_es.FragmentGraph.v1`` wraps a token encoder (any
``Model[List[Doc], List[Floats2d]]``: a CNN ``Tok2Vec``, a listener, a
transformer listener) and two small scorers that share it:

* the **span scorer** reads a candidate span as ``[first token; last token;
  mean of its tokens; one-hot width]`` and gives ``2 × n_labels`` logits
  (per label: *whole* entity, *part* of a discontinuous entity);
* the **link scorer** reads a pair of fragments ``a`` before ``b`` as
  ``[first, last, mean of a; first, last, mean of b; first, last, mean of
  the tokens between them; one-hot token distance; one-hot line breaks and
  sentence ends between them]`` and gives one logit (same entity or not).

Each scorer is ``Maxout (layer-normalized, dropout) → Linear``. Features are
gathered from the concatenated token vectors of the batch; means use
cumulative sums, so a long gap costs no more than a short one, forward or
backward. The model's forward takes a :class:`FragmentBatch` (docs, candidate
spans, fragment pairs, all token indices per doc) and returns both logit
matrices; the component calls the two scorers one after the other at
prediction time, since the pairs depend on the predicted fragments.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Linear, Maxout, Model, chain
from thinc.types import Floats2d, Ints2d

from ..concepts.fragments import N_DISTANCE_BUCKETS, distance_bucket

#: Span widths get one-hot features up to this width (longer spans share the last one).
N_WIDTH_FEATURES = 16
#: Line breaks / sentence ends between two fragments: one-hot of 0, 1, 2, 3+.
N_BREAK_FEATURES = 4
SENTENCE_END = frozenset({".", "?", "!", ";"})

SegmentInput = tuple[Floats2d, Ints2d, Floats2d]


class FragmentBatch(NamedTuple):
    """Input of the model: per doc, candidate spans ``[n, 2]`` and pairs ``[m, 4]``
    (``a_start, a_end, b_start, b_end``), token indices with exclusive ends."""

    docs: list[Doc]
    spans: list[Ints2d]
    pairs: list[Ints2d]


def segment_features(n_segments: int) -> Model[SegmentInput, Floats2d]:
    """``(X, segments, extra) → [first; last; mean] per segment + extra``.

    ``X``: token vectors ``[n_tokens, width]``; ``segments``: ``[n, 2 *
    n_segments]`` start/end rows of ``X`` (an empty segment gives zeros);
    ``extra``: ``[n, k]`` fixed features appended as they are.
    """
    return Model("segment_features", _segment_forward, attrs={"n_segments": n_segments})


def _segment_forward(
    model: Model[SegmentInput, Floats2d], inputs: SegmentInput, is_train: bool
) -> tuple[Floats2d, Callable[[Floats2d], SegmentInput]]:
    X, idx, extra = inputs
    ops = model.ops
    xp = ops.xp
    n_tokens, width = X.shape
    n_segments = model.attrs["n_segments"]
    csum = xp.zeros((n_tokens + 1, width), dtype="float64")
    if n_tokens:
        csum[1:] = xp.cumsum(X, axis=0, dtype="float64")
    pieces = []
    saved = []
    for s in range(n_segments):
        starts = idx[:, 2 * s].astype("int64")
        ends = idx[:, 2 * s + 1].astype("int64")
        lengths = ends - starts
        valid = (lengths > 0).astype(X.dtype)[:, None]
        first_i = xp.where(lengths > 0, starts, 0)
        last_i = xp.where(lengths > 0, ends - 1, 0)
        safe = xp.maximum(lengths, 1)[:, None]
        if n_tokens:
            first = X[first_i] * valid
            last = X[last_i] * valid
        else:
            first = last = xp.zeros((idx.shape[0], width), dtype=X.dtype)
        mean = ((csum[ends] - csum[starts]) / safe).astype(X.dtype)
        pieces.extend([first, last, mean])
        saved.append((starts, ends, first_i, last_i, valid, safe))
    pieces.append(extra.astype(X.dtype))
    output = xp.hstack(pieces)

    def backprop(dY: Floats2d) -> SegmentInput:
        dX = xp.zeros((n_tokens, width), dtype=dY.dtype)
        diff = xp.zeros((n_tokens + 1, width), dtype="float64")
        for s, (starts, ends, first_i, last_i, valid, safe) in enumerate(saved):
            base = 3 * s * width
            if n_tokens:
                ops.scatter_add(dX, first_i, dY[:, base : base + width] * valid)
                ops.scatter_add(dX, last_i, dY[:, base + width : base + 2 * width] * valid)
            d_mean = dY[:, base + 2 * width : base + 3 * width].astype("float64") / safe
            ops.scatter_add(diff, starts, d_mean)
            ops.scatter_add(diff, ends, -d_mean)
        dX += xp.cumsum(diff, axis=0)[:n_tokens].astype(dY.dtype)
        return dX, idx, extra

    return output, backprop


def width_features(ops: Any, spans: Ints2d) -> Floats2d:
    """One-hot span widths (``N_WIDTH_FEATURES`` columns)."""
    xp = ops.xp
    out = xp.zeros((spans.shape[0], N_WIDTH_FEATURES), dtype="float32")
    if spans.shape[0]:
        widths = xp.minimum(spans[:, 1] - spans[:, 0], N_WIDTH_FEATURES) - 1
        out[xp.arange(spans.shape[0]), widths] = 1.0
    return out


def _break_counts(doc: Doc) -> tuple[list[int], list[int]]:
    """Prefix counts of line-break tokens and sentence-end tokens."""
    lines = [0]
    ends = [0]
    for token in doc:
        lines.append(lines[-1] + ("\n" in token.text))
        ends.append(ends[-1] + (token.text in SENTENCE_END))
    return lines, ends


def pair_features(ops: Any, doc: Doc, pairs: Ints2d) -> Floats2d:
    """One-hot distance bucket, line breaks and sentence ends between the fragments."""
    xp = ops.xp
    n = pairs.shape[0]
    out = xp.zeros((n, N_DISTANCE_BUCKETS + 2 * N_BREAK_FEATURES), dtype="float32")
    if not n:
        return out
    lines, ends = _break_counts(doc)
    rows = ops.to_numpy(pairs).tolist()
    for r, (_, a_end, b_start, _) in enumerate(rows):
        gap_start, gap_end = min(a_end, b_start), max(a_end, b_start)
        out[r, distance_bucket(b_start - a_end if b_start >= a_end else 0)] = 1.0
        n_lines = min(lines[gap_end] - lines[gap_start], N_BREAK_FEATURES - 1)
        n_ends = min(ends[gap_end] - ends[gap_start], N_BREAK_FEATURES - 1)
        out[r, N_DISTANCE_BUCKETS + n_lines] = 1.0
        out[r, N_DISTANCE_BUCKETS + N_BREAK_FEATURES + n_ends] = 1.0
    return out


def _offsets(lengths: Sequence[int]) -> list[int]:
    out = [0]
    for n in lengths:
        out.append(out[-1] + n)
    return out


def span_input(ops: Any, X: Floats2d, lengths: Sequence[int], spans: Sequence[Ints2d]) -> SegmentInput:
    """Span-scorer input for per-doc span arrays over the concatenated token vectors ``X``."""
    xp = ops.xp
    starts = _offsets(lengths)
    rows = [xp.asarray(s, dtype="int64").reshape((-1, 2)) + starts[i] for i, s in enumerate(spans)]
    idx = xp.concatenate(rows, axis=0) if rows else xp.zeros((0, 2), dtype="int64")
    local = xp.concatenate([xp.asarray(s, dtype="int64").reshape((-1, 2)) for s in spans], axis=0) if spans else idx
    return X, idx, width_features(ops, local)


def pair_input(
    ops: Any, X: Floats2d, docs: Sequence[Doc], lengths: Sequence[int], pairs: Sequence[Ints2d]
) -> SegmentInput:
    """Link-scorer input: segments a, b and the gap between them, plus pair features."""
    xp = ops.xp
    starts = _offsets(lengths)
    rows = []
    extras = []
    for i, (doc, p) in enumerate(zip(docs, pairs)):
        p = xp.asarray(p, dtype="int64").reshape((-1, 4))
        gap_start = xp.minimum(p[:, 1], p[:, 2])
        gap_end = xp.maximum(p[:, 1], p[:, 2])
        rows.append(xp.concatenate([p, gap_start[:, None], gap_end[:, None]], axis=1) + starts[i])
        extras.append(pair_features(ops, doc, p))
    if not rows:
        return X, xp.zeros((0, 6), dtype="int64"), xp.zeros((0, N_DISTANCE_BUCKETS + 2 * N_BREAK_FEATURES), dtype="float32")
    return X, xp.concatenate(rows, axis=0), xp.concatenate(extras, axis=0)


#: Initial output biases: sigmoid(-4.6) ≈ 0.01 of candidate spans have a role, sigmoid(-1.4) ≈ 0.2
#: of gold fragment pairs are linked (Lin et al. 2017, "prior" initialization). An untrained model
#: then predicts little instead of every span, and the first updates are not spent on the prior.
SPAN_PRIOR_BIAS = -4.6
LINK_PRIOR_BIAS = -1.4


def constant_bias(value: float) -> Callable[[Any, Any], Any]:
    """A thinc initializer filling the bias with ``value``."""

    def init(ops: Any, shape: Any) -> Any:
        return ops.alloc_f(shape) + value

    return init


def build_scorer(
    n_segments: int, hidden_width: int, maxout_pieces: int, dropout: float, nO: int | None, bias: float = 0.0
) -> Model:
    """``segment_features → Maxout → Linear`` (logits)."""
    output = Linear(nO=nO, init_b=constant_bias(bias))
    model = chain(
        segment_features(n_segments),
        Maxout(nO=hidden_width, nP=maxout_pieces, dropout=dropout, normalize=True),
        output,
    )
    model.set_ref("output", output)
    return model


@registry.architectures("spacy_clinical_es.FragmentGraph.v1")
def build_fragment_graph(
    tok2vec: Model[list[Doc], list[Floats2d]],
    hidden_width: int = 128,
    maxout_pieces: int = 2,
    dropout: float = 0.1,
) -> Model[FragmentBatch, tuple[Floats2d, Floats2d]]:
    """Span-role and fragment-link scorers over one token encoder (see the module docstring).

    tok2vec: the token encoder.
    hidden_width, maxout_pieces, dropout: the hidden layer of each scorer.
    The span scorer's output width (``2 × n_labels``) is set by the component.
    """
    span_scorer = build_scorer(1, hidden_width, maxout_pieces, dropout, None, SPAN_PRIOR_BIAS)
    link_scorer = build_scorer(3, hidden_width, maxout_pieces, dropout, 1, LINK_PRIOR_BIAS)
    model: Model[FragmentBatch, tuple[Floats2d, Floats2d]] = Model(
        "fragment_graph",
        _graph_forward,
        init=_graph_init,
        layers=[tok2vec, span_scorer, link_scorer],
        refs={
            "tok2vec": tok2vec,
            "span_scorer": span_scorer,
            "link_scorer": link_scorer,
            "span_output": span_scorer.get_ref("output"),
        },
    )
    return model


def _graph_forward(
    model: Model, batch: FragmentBatch, is_train: bool
) -> tuple[tuple[Floats2d, Floats2d], Callable]:
    ops = model.ops
    tok2vec = model.get_ref("tok2vec")
    tokvecs, bp_tokvecs = tok2vec(batch.docs, is_train)
    lengths = [t.shape[0] for t in tokvecs]
    X = ops.flatten(tokvecs) if tokvecs else ops.alloc2f(0, 0)
    span_scores, bp_spans = model.get_ref("span_scorer")(span_input(ops, X, lengths, batch.spans), is_train)
    pair_in = pair_input(ops, X, batch.docs, lengths, batch.pairs)
    has_pairs = pair_in[1].shape[0] > 0
    if has_pairs:
        link_scores, bp_links = model.get_ref("link_scorer")(pair_in, is_train)
    else:
        link_scores, bp_links = ops.alloc2f(0, 1), None

    def backprop(d_scores: tuple[Floats2d, Floats2d]) -> FragmentBatch:
        d_spans, d_links = d_scores
        dX = bp_spans(d_spans)[0]
        if bp_links is not None:
            dX = dX + bp_links(d_links)[0]
        bp_tokvecs(ops.unflatten(dX, ops.asarray1i(lengths)))
        return batch

    return (span_scores, link_scores), backprop


def _graph_init(model: Model, X: FragmentBatch | None = None, Y: Any = None) -> None:
    if X is None:
        raise ValueError("fragment_graph needs a sample FragmentBatch to initialize")
    ops = model.ops
    tok2vec = model.get_ref("tok2vec")
    tok2vec.initialize(X=X.docs)
    tokvecs = tok2vec.predict(X.docs)
    lengths = [t.shape[0] for t in tokvecs]
    flat = ops.flatten(tokvecs)
    model.get_ref("span_scorer").initialize(X=span_input(ops, flat, lengths, X.spans))
    pair_in = pair_input(ops, flat, X.docs, lengths, X.pairs)
    if pair_in[1].shape[0] == 0:
        # A sample without pairs still fixes the input width: one dummy pair over the first token.
        doc = X.docs[0]
        dummy = ops.xp.asarray([[0, 1, 0, 1]], dtype="int64")
        pair_in = pair_input(ops, flat, [doc], [lengths[0]], [dummy])
    model.get_ref("link_scorer").initialize(X=pair_in)
