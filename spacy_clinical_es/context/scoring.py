"""Negation/uncertainty scores on token offsets (spaCy-free), through :mod:`spacy_clinical_es.evaluation.metrics`.

For a list of sentences, each a gold and a predicted :class:`~.scope.ContextResult`:

* ``cues``: strict match of cue pieces (sentence, start token, end token, label), per cue label; and
  ``cues_by_polarity``: the same with the label replaced by its polarity (a ``NegLex`` cue predicted as
  ``NegSyn`` is right here, wrong above);
* ``scope_tokens``: token-level P/R/F per polarity: a token is in the negation (uncertainty) scope when a
  scope of a negation (uncertainty) cue covers it, whichever cue;
* ``scope_exact``: exact scope match per polarity: the token set of all pieces of one cue's scope, as
  fragments (runs of tokens), must equal a gold scope's (NUBes "exact scope match", cue not required).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..evaluation.metrics import fragment_match_prf, strict_span_prf
from .schema import CUE_LABELS, CUE_POLARITY, POLARITIES
from .scope import ContextResult


def scope_tokens(result: ContextResult) -> dict[str, set[int]]:
    """Tokens in scope per polarity."""
    polarity = {c.id: CUE_POLARITY[c.label] for c in result.cues}
    out: dict[str, set[int]] = {p: set() for p in POLARITIES}
    for scope in result.scopes:
        if scope.id in polarity:
            out[polarity[scope.id]].update(range(scope.start, scope.end))
    return out


def _runs(tokens: Iterable[int]) -> frozenset[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for k in sorted(tokens):
        if runs and runs[-1][1] == k:
            runs[-1] = (runs[-1][0], k + 1)
        else:
            runs.append((k, k + 1))
    return frozenset(runs)


def _scope_items(i: int, result: ContextResult) -> list[tuple[int, str, frozenset[tuple[int, int]]]]:
    polarity = {c.id: CUE_POLARITY[c.label] for c in result.cues}
    tokens: dict[str, set[int]] = {}
    for scope in result.scopes:
        if scope.id in polarity:
            tokens.setdefault(scope.id, set()).update(range(scope.start, scope.end))
    return [(i, polarity[cue_id], _runs(toks)) for cue_id, toks in tokens.items() if toks]


def score_context(pairs: Sequence[tuple[ContextResult, ContextResult]]) -> dict[str, Any]:
    """Cue, scope-token and exact-scope scores of ``(gold, predicted)`` pairs (see the module docstring)."""
    gold_cues, pred_cues = [], []
    gold_tokens, pred_tokens = [], []
    gold_scopes, pred_scopes = [], []
    for i, (gold, pred) in enumerate(pairs):
        gold_cues += [(i, c.start, c.end, c.label) for c in gold.cues]
        pred_cues += [(i, c.start, c.end, c.label) for c in pred.cues]
        for side, result in ((gold_tokens, gold), (pred_tokens, pred)):
            for polarity, tokens in scope_tokens(result).items():
                side += [(i, k, k + 1, polarity) for k in tokens]
        gold_scopes += _scope_items(i, gold)
        pred_scopes += _scope_items(i, pred)
    by_polarity = lambda spans: [(i, s, e, CUE_POLARITY[label]) for i, s, e, label in spans]
    return {
        "cues": strict_span_prf(gold_cues, pred_cues, labels=CUE_LABELS),
        "cues_by_polarity": strict_span_prf(by_polarity(gold_cues), by_polarity(pred_cues), labels=POLARITIES),
        "scope_tokens": strict_span_prf(gold_tokens, pred_tokens, labels=POLARITIES),
        "scope_exact": fragment_match_prf(gold_scopes, pred_scopes, labels=POLARITIES),
    }
