"""A Spanish negation/uncertainty cue lexicon learned from annotated sentences (spaCy-free).

Words are compared after :func:`normalize` (the package's case and accent folding), so "Asintomático",
"asintomatico" and "ASINTOMÁTICO" are one form: the accent and case variants of every form come for free.

:func:`learn_lexicon` reads training sentences (:class:`Sentence`: words, cues, scopes) and keeps a form
when it is annotated as a cue at least ``min_count`` times and its *precision* (annotated occurrences /
occurrences of the word sequence that no longer annotated cue covers) is at least ``min_precision``: "no"
is almost always a cue, "clara" only after "sin". Each entry keeps its majority label and the majority
direction of its scope (``forward``: the scope follows the cue, "no se observan adenopatías";
``backward``: it precedes it, "serologías negativas"; ``none``: no scope, the morphological cues such as
"afebril"). Gender and number siblings of one-word forms ("negativo" → "negativa", "negativos",
"negativas") are added when the training text never shows them as non-cues.

:meth:`CueLexicon.find` matches the longest form at each position, left to right (one dict lookup per word).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..textfold import fold
from .schema import CUE_LABELS

FORWARD = "forward"
BACKWARD = "backward"
NO_SCOPE = "none"
DIRECTIONS: tuple[str, ...] = (FORWARD, BACKWARD, NO_SCOPE)
#: Label of a pseudo-cue: a phrase that starts like a cue but is none ("sin embargo", "no obstante"); a
#: match consumes its words and yields nothing (NegEx's pseudo-negations).
PSEUDO = "Pseudo"

def normalize(word: str) -> str:
    """The package's accent and case folding (:func:`spacy_clinical_es.textfold.fold`): "Asintomático" → "asintomatico"."""
    return fold(word)


@dataclass(frozen=True)
class TokenSpan:
    """A token range ``[start, end)`` with a label and the id that ties cue and scope pieces together."""

    start: int
    end: int
    label: str
    id: str = ""


@dataclass
class Sentence:
    """One annotated sentence: words, cue pieces and scope pieces (token offsets).

    A scope piece's ``id`` is the ``id`` of its cue (several pieces for a discontinuous cue or scope).
    """

    words: list[str]
    cues: list[TokenSpan] = field(default_factory=list)
    scopes: list[TokenSpan] = field(default_factory=list)


@dataclass
class CueEntry:
    """One cue form: normalized words, label, scope direction and the training counts behind them."""

    words: tuple[str, ...]
    label: str
    direction: str
    count: int = 0
    occurrences: int = 0

    def to_record(self) -> dict[str, Any]:
        return {
            "words": list(self.words),
            "label": self.label,
            "direction": self.direction,
            "count": self.count,
            "occurrences": self.occurrences,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CueEntry:
        try:
            entry = cls(
                words=tuple(normalize(w) for w in record["words"]),
                label=str(record["label"]),
                direction=str(record.get("direction", FORWARD)),
                count=int(record.get("count", 0)),
                occurrences=int(record.get("occurrences", 0)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(
                f"bad cue record ({err.__class__.__name__}: {err}); a cue needs 'words' (list of words), "
                f"'label' (one of {', '.join(CUE_LABELS)}) and optionally 'direction' ({', '.join(DIRECTIONS)})"
            ) from None
        entry.check()
        return entry

    def check(self) -> None:
        if not self.words or not all(self.words):
            raise ConfigError("a cue needs at least one non-empty word")
        if self.label not in CUE_LABELS and self.label != PSEUDO:
            raise ConfigError(f"unknown cue label {self.label!r}; use one of: {', '.join(CUE_LABELS)} or {PSEUDO}")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"unknown cue direction {self.direction!r}; use one of: {', '.join(DIRECTIONS)}")


@dataclass(frozen=True)
class CueMatch:
    """A lexicon match: token range and its entry."""

    start: int
    end: int
    entry: CueEntry


class CueLexicon:
    """Cue forms indexed by their first word; longest match wins."""

    def __init__(self, entries: Iterable[CueEntry] = ()) -> None:
        self._entries: dict[tuple[str, ...], CueEntry] = {}
        self._by_first: dict[str, list[CueEntry]] = defaultdict(list)
        for entry in entries:
            self.add(entry)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, words: Sequence[str]) -> bool:
        return tuple(normalize(w) for w in words) in self._entries

    def get(self, words: Sequence[str]) -> CueEntry | None:
        return self._entries.get(tuple(normalize(w) for w in words))

    @property
    def entries(self) -> list[CueEntry]:
        return sorted(self._entries.values(), key=lambda e: (e.words, e.label))

    def add(self, entry: CueEntry) -> None:
        """Add (or replace) one form."""
        entry.check()
        old = self._entries.get(entry.words)
        if old is not None:
            self._by_first[entry.words[0]].remove(old)
        self._entries[entry.words] = entry
        bucket = self._by_first[entry.words[0]]
        bucket.append(entry)
        bucket.sort(key=lambda e: -len(e.words))

    def find(self, words: Sequence[str]) -> list[CueMatch]:
        """Non-overlapping matches in normalized ``words``, longest first at each position, left to right."""
        matches: list[CueMatch] = []
        i, n = 0, len(words)
        by_first = self._by_first
        while i < n:
            bucket = by_first.get(words[i])
            if bucket:
                for entry in bucket:
                    k = len(entry.words)
                    if k == 1 or tuple(words[i : i + k]) == entry.words:
                        if entry.label != PSEUDO:
                            matches.append(CueMatch(i, i + k, entry))
                        i += k
                        break
                else:
                    i += 1
            else:
                i += 1
        return matches

    def to_records(self) -> list[dict[str, Any]]:
        return [entry.to_record() for entry in self.entries]

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> CueLexicon:
        return cls(CueEntry.from_record(r) for r in records)


def _siblings(word: str) -> list[str]:
    """Gender/number siblings of a Spanish adjective-like word ("negativo" → negativa, negativos, negativas)."""
    for suffix in ("os", "as", "o", "a"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            return [stem + s for s in ("o", "a", "os", "as") if s != suffix]
    return []


def _count_occurrences(sentences: Sequence[list[str]], forms: set[tuple[str, ...]]) -> Counter:
    by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for form in forms:
        by_first[form[0]].append(form)
    counts: Counter = Counter()
    for words in sentences:
        for i, word in enumerate(words):
            for form in by_first.get(word, ()):
                if tuple(words[i : i + len(form)]) == form:
                    counts[form] += 1
    return counts


def learn_lexicon(
    sentences: Iterable[Sentence],
    *,
    min_count: int = 2,
    min_precision: float = 0.5,
    siblings: bool = True,
    pseudo_min_count: int = 3,
    pseudo_max_precision: float = 0.1,
) -> CueLexicon:
    """Learn the cue lexicon from annotated sentences (see the module docstring)."""
    labels: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    directions: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    normalized: list[list[str]] = []
    cue_starts: list[set[int]] = []
    covered_inside: Counter = Counter()  # occurrences of a form inside a longer annotated cue
    for sentence in sentences:
        words = [normalize(w) for w in sentence.words]
        normalized.append(words)
        cue_starts.append({cue.start for cue in sentence.cues})
        scopes_of: dict[str, list[TokenSpan]] = defaultdict(list)
        for scope in sentence.scopes:
            scopes_of[scope.id].append(scope)
        for cue in sentence.cues:
            form = tuple(words[cue.start : cue.end])
            if not form:
                continue
            labels[form][cue.label] += 1
            directions[form][_direction(cue, scopes_of.get(cue.id, []))] += 1
    forms = set(labels)
    candidates = set(forms)
    if siblings:
        for form in forms:
            if len(form) == 1:
                candidates.update((s,) for s in _siblings(form[0]))
    occurrences = _count_occurrences(normalized, candidates)
    # A shorter form inside an annotated longer one ("no" in "no parece") is no false positive.
    for form in forms:
        for k in range(1, len(form)):
            for i in range(len(form) - k + 1):
                sub = form[i : i + k]
                if sub in candidates:
                    covered_inside[sub] += sum(labels[form].values())
    lexicon = CueLexicon()
    kept: dict[tuple[str, ...], CueEntry] = {}
    for form in sorted(forms):
        count = sum(labels[form].values())
        seen = max(occurrences[form] - covered_inside[form], count)
        if count < min_count or count / seen < min_precision:
            continue
        label = max(labels[form].items(), key=lambda kv: (kv[1], kv[0]))[0]
        direction = max(directions[form].items(), key=lambda kv: (kv[1], kv[0]))[0]
        kept[form] = CueEntry(form, label, direction, count, seen)
    for form, entry in list(kept.items()):
        lexicon.add(entry)
        if not siblings or len(form) != 1:
            continue
        for sibling in _siblings(form[0]):
            key = (sibling,)
            if key in kept or key in forms or occurrences[key] > 0:
                continue  # the training text decides for forms it has
            lexicon.add(CueEntry(key, entry.label, entry.direction, 0, 0))
    _add_pseudo(lexicon, normalized, cue_starts, pseudo_min_count, pseudo_max_precision)
    return lexicon


def _add_pseudo(
    lexicon: CueLexicon,
    sentences: Sequence[list[str]],
    cue_starts: Sequence[set[int]],
    min_count: int,
    max_precision: float,
) -> None:
    """Pseudo-cues: a kept one-word cue plus the next word, seen ``min_count`` times, rarely annotated as the
    start of a cue (at most ``max_precision`` of the time): "sin embargo", "no obstante"."""
    singles = {e.words[0] for e in lexicon.entries if len(e.words) == 1 and e.label != PSEUDO}
    bigrams: Counter = Counter()
    starts: Counter = Counter()
    for words, cued in zip(sentences, cue_starts):
        for i in range(len(words) - 1):
            if words[i] in singles:
                bigrams[(words[i], words[i + 1])] += 1
                starts[(words[i], words[i + 1])] += i in cued
    for bigram, n in bigrams.items():
        if n >= min_count and bigram not in lexicon and starts[bigram] / n <= max_precision:
            lexicon.add(CueEntry(bigram, PSEUDO, NO_SCOPE, 0, n))


def _direction(cue: TokenSpan, scopes: Sequence[TokenSpan]) -> str:
    if not scopes:
        return NO_SCOPE
    after = sum(1 for s in scopes if s.start >= cue.end)
    before = sum(1 for s in scopes if s.end <= cue.start)
    return BACKWARD if before > after else FORWARD
