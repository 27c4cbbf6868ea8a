"""Token tag schemes (BIO / BILUO), constrained Viterbi decoding and tags → spans.

spaCy-free and torch-free. A :class:`TagSet` lists the tags of one model
output in order (``"O"``, ``"B-EDAD"``, ``"I-EDAD"``, ...) with their scheme:

* ``"BIO"`` (= IOB2): an entity is ``B-X`` followed by ``I-X``\\*.
* ``"BILUO"``: ``U-X`` for a one-token entity, else ``B-X I-X* L-X``.

:func:`tag_set_from_names` reads the label names of an existing Hugging Face
token-classification checkpoint (``config.id2label``): prefixes ``B I O L U``
plus ``E`` (= ``L``) and ``S`` (= ``U``) of BIOES/BMES-style names, joined to
the label by ``-`` or ``_`` (``B-PER``, ``I_LOC``, ``S-ORG``). IOB1 (entities
starting with ``I-``) cannot be told apart from IOB2 by the names; it is
read as IOB2, so its constrained decoding would turn such an ``I-`` into
the start of an entity only where the model also scores ``B-`` high.

:func:`viterbi` finds the highest-scoring tag sequence among the *valid*
ones (no ``I-X`` after ``O``, no ``B-X`` left open in BILUO, ...), so the
spans read by :func:`tags_to_spans` always match what the scores prefer
under the scheme's constraints.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import ConfigError

SCHEMES = ("BIO", "BILUO")
#: Score of a forbidden transition (finite, so sums never become NaN).
FORBIDDEN = -1e9
_PREFIX_ALIASES = {"B": "B", "I": "I", "L": "L", "U": "U", "E": "L", "S": "U", "M": "I"}
_NAME = re.compile(r"^(?P<prefix>[A-Za-z])[-_](?P<label>.+)$")


@dataclass(frozen=True)
class TagSet:
    """The ordered tags of a token classifier.

    ``tags`` are canonical (``"O"``, ``"B-X"``, ``"I-X"``, ``"L-X"``,
    ``"U-X"``); ``names`` are the model's own label names (equal to ``tags``
    unless read from a checkpoint).
    """

    scheme: str
    tags: tuple[str, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ConfigError(f"Unknown tag scheme {self.scheme!r}: use one of {', '.join(SCHEMES)}.")
        if len(self.tags) != len(self.names) or len(set(self.tags)) != len(self.tags):
            raise ConfigError("Tags must be distinct and as many as the label names.")
        if "O" not in self.tags:
            raise ConfigError("A tag set needs the outside tag 'O'.")

    def __len__(self) -> int:
        return len(self.tags)

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """Entity labels in order of first appearance."""
        return tuple(dict.fromkeys(t[2:] for t in self.tags if t != "O"))

    @cached_property
    def index(self) -> dict[str, int]:
        """Tag → output index."""
        return {tag: i for i, tag in enumerate(self.tags)}

    @cached_property
    def outside(self) -> int:
        return self.index["O"]

    @cached_property
    def constraints(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(start, transition, end)`` boolean masks of the valid sequences."""
        return _constraints(self.tags, self.scheme)

    def convert(self, biluo: Sequence[str | None]) -> list[int]:
        """Output indices of spaCy BILUO tags (``-1`` for missing ``"-"``/None or unknown labels)."""
        out = []
        for tag in biluo:
            if tag is None or tag == "-" or tag == "":
                out.append(-1)
                continue
            if tag != "O" and self.scheme == "BIO":
                prefix = {"U": "B", "L": "I"}.get(tag[0], tag[0])
                tag = f"{prefix}-{tag[2:]}"
            out.append(self.index.get(tag, -1))
        return out


def make_tag_set(labels: Iterable[str], scheme: str = "BIO") -> TagSet:
    """Tags for ``labels``: ``O`` then, per label, ``B I`` (BIO) or ``B I L U`` (BILUO)."""
    if scheme not in SCHEMES:
        raise ConfigError(f"Unknown tag scheme {scheme!r}: use one of {', '.join(SCHEMES)}.")
    prefixes = "BI" if scheme == "BIO" else "BILU"
    tags = ["O"] + [f"{p}-{label}" for label in sorted(set(labels)) for p in prefixes]
    return TagSet(scheme, tuple(tags), tuple(tags))


def tag_set_from_names(names: Sequence[str]) -> TagSet:
    """Canonical tags of a checkpoint's ``id2label`` names (in output order).

    Raises :class:`ConfigError` naming the label names that fit no scheme.
    """
    tags: list[str] = []
    bad: list[str] = []
    for name in names:
        if name.upper() in ("O", "OUTSIDE"):
            tags.append("O")
            continue
        match = _NAME.match(name)
        prefix = _PREFIX_ALIASES.get(match.group("prefix").upper()) if match else None
        if match is None or prefix is None:
            bad.append(name)
            continue
        tags.append(f"{prefix}-{match.group('label')}")
    if bad:
        raise ConfigError(
            f"Cannot read the label names {bad} as BIO/IOB2/BILUO/BIOES tags (expected 'O' and "
            "'B-X', 'I-X', 'L-X'/'E-X', 'U-X'/'S-X'); relabel the checkpoint's config.id2label."
        )
    if tags.count("O") != 1 or len(set(tags)) != len(tags):
        raise ConfigError(
            f"The label names {list(names)} must contain exactly one outside label and no tag twice."
        )
    scheme = "BILUO" if any(t[0] in "LU" for t in tags if t != "O") else "BIO"
    return TagSet(scheme, tuple(tags), tuple(names))


def _constraints(tags: Sequence[str], scheme: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(tags)
    prefix = [t[0] for t in tags]
    label = [t[2:] for t in tags]
    # tags that may begin an entity / close one / stand outside any entity
    start = np.zeros(n, dtype=bool)
    end = np.zeros(n, dtype=bool)
    trans = np.zeros((n, n), dtype=bool)
    for j in range(n):
        start[j] = prefix[j] in ("O", "B", "U")
        end[j] = prefix[j] in ("O", "U", "L") if scheme == "BILUO" else True
    for i in range(n):
        for j in range(n):
            pi, pj = prefix[i], prefix[j]
            if scheme == "BIO":
                ok = pj in ("O", "B") or (pj == "I" and pi in ("B", "I") and label[i] == label[j])
            else:
                open_ = pi in ("B", "I")
                if open_:
                    ok = pj in ("I", "L") and label[i] == label[j]
                else:
                    ok = pj in ("O", "B", "U")
            trans[i, j] = ok
    return start, trans, end


def viterbi(scores: np.ndarray, tag_set: TagSet) -> np.ndarray:
    """Best valid tag sequence (output indices) for ``[n_tokens, n_tags]`` scores.

    Scores are added along the path (use log-probabilities). Forbidden
    starts, transitions and ends are excluded; if the scores rule out every
    valid sequence (cannot happen with finite scores) the result is all ``O``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n, k = scores.shape if scores.ndim == 2 else (-1, -1)
    if k != len(tag_set):
        raise ConfigError(f"Scores have shape {scores.shape}, expected [n_tokens, {len(tag_set)}].")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start, trans, end = tag_set.constraints
    trans_score = np.where(trans, 0.0, FORBIDDEN)
    best = scores[0] + np.where(start, 0.0, FORBIDDEN)
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        cand = best[:, None] + trans_score
        back[t] = np.argmax(cand, axis=0)
        best = cand[back[t], np.arange(k)] + scores[t]
    best = best + np.where(end, 0.0, FORBIDDEN)
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmax(best))
    if best[path[-1]] <= FORBIDDEN / 2:
        return np.full(n, tag_set.outside, dtype=np.int64)
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def is_valid(path: Sequence[int], tag_set: TagSet) -> bool:
    """Whether the tag sequence obeys the scheme's constraints."""
    if len(path) == 0:
        return True
    start, trans, end = tag_set.constraints
    if not start[path[0]] or not end[path[-1]]:
        return False
    steps = np.asarray(path, dtype=np.int64)
    return bool(trans[steps[:-1], steps[1:]].all())


def tags_to_spans(path: Sequence[int], tag_set: TagSet) -> list[tuple[int, int, str]]:
    """``(start, end, label)`` token spans of a tag sequence (end exclusive).

    Lenient for invalid sequences: an ``I``/``L`` that cannot continue the
    open entity starts a new one, an open entity ends before ``O``/``B``/``U``
    and at the end of the sequence.
    """
    spans: list[tuple[int, int, str]] = []
    open_start, open_label = -1, ""
    for i, idx in enumerate(path):
        tag = tag_set.tags[int(idx)]
        prefix, label = tag[0], tag[2:]
        continues = prefix in ("I", "L") and open_start >= 0 and label == open_label
        if not continues and open_start >= 0:
            spans.append((open_start, i, open_label))
            open_start = -1
        if prefix == "O":
            continue
        if not continues:
            open_start, open_label = i, label
        if prefix in ("U", "L"):
            spans.append((open_start, i + 1, open_label))
            open_start = -1
    if open_start >= 0:
        spans.append((open_start, len(path), open_label))
    return spans
