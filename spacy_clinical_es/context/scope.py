"""ConText-style scope rules for Spanish negation/uncertainty cues (spaCy-free).

As in ConText (Harkema et al., 2009; medspaCy's ``ConText``) and NegEx, a cue opens a scope in its
direction (``forward`` for "no", "sin", "sugestivo de"; ``backward`` for "negativo", "descartado") that runs
until the first *terminator* or the end of the window, whichever comes first:

* punctuation that closes a clause (``.``, ``;``, ``:``, brackets, ``?``, ``!``), adversative and
  exception words that open a new clause ("pero", "aunque", "sino", "salvo", "excepto", "porque"), plus
  the words that end NUBes scopes more often than they continue them in the training part
  (:func:`learn_scope_rules`: "y", "presentando", "siendo"…);
* a comma, unless the next word continues the coordination ("sin fiebre , ni tos"): those words are
  learned too (``continuations``);
* another cue (``stop_at_cues``): a new cue starts a new scope ("no fiebre , sin dolor").

Trailing punctuation is trimmed; an empty scope is no scope. Everything is on normalized words
(:func:`~.lexicon.normalize`), one pass per cue: the rules need no model and no tagger.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .lexicon import BACKWARD, FORWARD, CueLexicon, Sentence, TokenSpan, normalize
from .schema import CUE_POLARITY, NEGATION, UNCERTAINTY

#: Terminators every rule set has (the clause boundaries of ConText), before any learning.
BASE_TERMINATORS: frozenset[str] = frozenset(
    [".", ";", ":", "(", ")", "[", "]", "?", "!", "¿", "¡", "pero", "aunque", "sino", "excepto", "salvo", "porque"]
)
COMMA = ","
_PUNCT = frozenset(".,;:()[]?!¿¡-/\"'«»")


@dataclass
class ScopeRules:
    """Window, terminators and comma continuations (see the module docstring)."""

    window: int = 15
    terminators: frozenset[str] = BASE_TERMINATORS
    continuations: frozenset[str] = frozenset(["ni"])
    stop_at_cues: bool = True
    #: Words skipped between a backward cue and its scope ("los cultivos fueron negativos": "fueron").
    gap_words: frozenset[str] = frozenset()

    def scope(
        self, words: Sequence[str], start: int, end: int, direction: str, cue_at: Sequence[bool] | None = None
    ) -> tuple[int, int] | None:
        """Token range of the scope of the cue ``words[start:end]`` (normalized words), or ``None``."""
        n = len(words)
        if direction == FORWARD:
            i, limit = end, min(n, end + self.window)
            while i < limit:
                word = words[i]
                if self.stop_at_cues and cue_at is not None and cue_at[i]:
                    break
                if word == COMMA:
                    if i + 1 < n and words[i + 1] in self.continuations:
                        i += 1
                        continue
                    break
                if word in self.terminators:
                    break
                i += 1
            lo, hi = end, i
        elif direction == BACKWARD:
            i, limit = start - 1, max(-1, start - 1 - self.window)
            while i > limit and words[i] in self.gap_words:
                i -= 1
            start = i + 1
            while i > limit:
                word = words[i]
                if self.stop_at_cues and cue_at is not None and cue_at[i]:
                    break
                if word == COMMA or word in self.terminators:
                    break
                i -= 1
            lo, hi = i + 1, start
        else:
            return None
        while hi > lo and words[hi - 1] in _PUNCT:
            hi -= 1
        while lo < hi and words[lo] in _PUNCT:
            lo += 1
        return (lo, hi) if hi > lo else None

    def to_cfg(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "terminators": sorted(self.terminators),
            "continuations": sorted(self.continuations),
            "stop_at_cues": self.stop_at_cues,
            "gap_words": sorted(self.gap_words),
        }

    @classmethod
    def from_cfg(cls, cfg: dict[str, Any]) -> ScopeRules:
        return cls(
            window=int(cfg.get("window", 15)),
            terminators=frozenset(normalize(w) for w in cfg.get("terminators", BASE_TERMINATORS)),
            continuations=frozenset(normalize(w) for w in cfg.get("continuations", ["ni"])),
            stop_at_cues=bool(cfg.get("stop_at_cues", True)),
            gap_words=frozenset(normalize(w) for w in cfg.get("gap_words", [])),
        )


@dataclass
class ContextResult:
    """Cues and scopes found in one sentence (token offsets); a scope's ``id`` is its cue's."""

    cues: list[TokenSpan] = field(default_factory=list)
    scopes: list[TokenSpan] = field(default_factory=list)


def find_context(
    words: Sequence[str], lexicon: CueLexicon, rules: ScopeRules, *, scope_label: str = "Phrase", id_prefix: str = "c"
) -> ContextResult:
    """Cues of ``lexicon`` in normalized ``words`` and the scope of each under ``rules``."""
    matches = lexicon.find(words)
    result = ContextResult()
    if not matches:
        return result
    cue_at = [False] * len(words)
    for m in matches:
        for k in range(m.start, m.end):
            cue_at[k] = True
    for k, m in enumerate(matches):
        cue_id = f"{id_prefix}{k}"
        result.cues.append(TokenSpan(m.start, m.end, m.entry.label, cue_id))
        span = rules.scope(words, m.start, m.end, m.entry.direction, cue_at)
        if span is not None:
            result.scopes.append(TokenSpan(span[0], span[1], scope_label, cue_id))
    return result


def learn_scope_rules(
    sentences: Iterable[Sentence],
    *,
    window: int = 15,
    min_count: int = 3,
    min_ratio: float = 0.5,
    stop_at_cues: bool = True,
    gap_min_count: int = 5,
) -> ScopeRules:
    """Terminators, comma continuations and backward gap words from annotated sentences.

    A word is a terminator when it follows the end of a forward scope at least ``min_count`` times and at
    least ``min_ratio`` of its occurrences after a cue are such ends (the others are inside a scope). A word
    after a comma continues the scope on the same terms, and a word between a backward scope and its cue is
    a gap word when seen there ``gap_min_count`` times with that ratio (against its occurrences inside
    backward scopes). :data:`BASE_TERMINATORS`
    always stay.
    """
    ends: Counter = Counter()
    inside: Counter = Counter()
    comma_in: Counter = Counter()
    comma_end: Counter = Counter()
    gap: Counter = Counter()
    inside_backward: Counter = Counter()
    for sentence in sentences:
        words = [normalize(w) for w in sentence.words]
        cues = {c.id: c for c in sentence.cues}
        for scope in sentence.scopes:
            cue = cues.get(scope.id)
            if cue is not None and scope.end <= cue.start:
                gap.update(words[scope.end : cue.start])
                inside_backward.update(words[scope.start : scope.end])
            if cue is None or scope.start != cue.end:
                continue
            for k in range(scope.start + 1, scope.end):
                inside[words[k]] += 1
                if words[k] == COMMA and k + 1 < len(words):
                    comma_in[words[k + 1]] += 1
            if scope.end < len(words):
                ends[words[scope.end]] += 1
                if words[scope.end] == COMMA and scope.end + 1 < len(words):
                    comma_end[words[scope.end + 1]] += 1
    learned = {
        w for w, n in ends.items() if w != COMMA and n >= min_count and n / (n + inside[w]) >= min_ratio
    }
    continuations = {
        w for w, n in comma_in.items() if n >= min_count and n / (n + comma_end[w]) >= min_ratio
    }
    gap_words = {w for w, n in gap.items() if n >= gap_min_count and n / (n + inside_backward[w]) >= min_ratio}
    return ScopeRules(
        window=window,
        gap_words=frozenset(gap_words - _PUNCT - BASE_TERMINATORS),
        terminators=frozenset(BASE_TERMINATORS | learned),
        continuations=frozenset(continuations) or frozenset(["ni"]),
        stop_at_cues=stop_at_cues,
    )


@dataclass(frozen=True)
class TargetMark:
    """What the context says about one target span: flags and the id of the cue behind each."""

    negated: bool = False
    uncertain: bool = False
    negation_cue: str | None = None
    uncertainty_cue: str | None = None


def mark_targets(targets: Sequence[tuple[int, int]], result: ContextResult) -> list[TargetMark]:
    """Mark each target token range ``[start, end)``: negated/uncertain when a scope of that polarity
    overlaps it, or when a cue without scope lies in it (a morphological cue: "afebril")."""
    polarity = {c.id: CUE_POLARITY[c.label] for c in result.cues}
    with_scope = {s.id for s in result.scopes}
    reasons: list[tuple[int, int, str]] = [(s.start, s.end, s.id) for s in result.scopes if s.id in polarity]
    reasons += [(c.start, c.end, c.id) for c in result.cues if c.id not in with_scope]
    marks = []
    for start, end in targets:
        cue_of: dict[str, str] = {}
        for s, e, cue_id in reasons:
            if s < end and start < e:
                cue_of.setdefault(polarity[cue_id], cue_id)
        marks.append(
            TargetMark(
                negated=NEGATION in cue_of,
                uncertain=UNCERTAINTY in cue_of,
                negation_cue=cue_of.get(NEGATION),
                uncertainty_cue=cue_of.get(UNCERTAINTY),
            )
        )
    return marks
