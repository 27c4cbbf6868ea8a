"""Deterministic document splits stratified by label counts (spaCy-free).

:func:`stratified_split` adapts iterative stratification (Sechidis, Tsoumakas
and Vlahavas, 2011, "On the stratification of multi-label data") to label
*counts*: every split should receive its share of documents and its share of
the mentions of every label. Rare labels are placed first, so that the few
documents that carry them are spread over the splits before common labels
fill the rest.

Rules (all deterministic for a given ``seed``):

* Split sizes are fixed in advance: ``round(ratio * n)`` documents each (the
  rounding remainder goes to the first split), so a 70/15/15 split of 559
  documents is always 391/84/84. A split that has its quota takes no more.
* Documents are visited in an order given by ``seed`` (a seeded shuffle of the
  sorted ids), never by input order.
* Loop: take the label with the fewest mentions left in unassigned documents;
  give each unassigned document carrying it to the open split that still
  wants the most mentions of that label (ties: the split that still wants the
  most documents, then the first split). A document's counts for *all* its
  labels are subtracted from that split's wishes.
* Documents without any label go last, to the splits that want documents most.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from ...errors import ConfigError

DEFAULT_RATIOS: tuple[tuple[str, float], ...] = (("train", 0.70), ("dev", 0.15), ("test", 0.15))


def split_sizes(n: int, ratios: Sequence[tuple[str, float]]) -> dict[str, int]:
    """Number of documents per split: ``round(ratio * n)``, remainder to the first."""
    total = sum(r for _, r in ratios)
    if total <= 0 or any(r < 0 for _, r in ratios):
        raise ConfigError("Split ratios must be non-negative and not all zero.")
    sizes = {name: round(n * r / total) for name, r in ratios}
    first = ratios[0][0]
    sizes[first] += n - sum(sizes.values())
    if sizes[first] < 0:  # pragma: no cover - only with pathological ratios
        raise ConfigError("Split ratios do not fit the number of documents.")
    return sizes


def stratified_split(
    label_counts: Mapping[str, Mapping[str, int]],
    ratios: Sequence[tuple[str, float]] = DEFAULT_RATIOS,
    *,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Split document ids into named parts stratified by label counts.

    label_counts (Mapping[str, Mapping[str, int]]): Document id → label →
        number of mentions (documents without mentions may map to ``{}``).
    ratios (Sequence[Tuple[str, float]]): Split names and their shares.
    seed (int): Seed of the visiting order.
    RETURNS (Dict[str, List[str]]): Split name → sorted document ids.
    """
    names = [name for name, _ in ratios]
    if len(set(names)) != len(names):
        raise ConfigError(f"Duplicate split names in {names}.")
    doc_ids = sorted(label_counts)
    order = list(doc_ids)
    random.Random(seed).shuffle(order)
    rank = {doc_id: k for k, doc_id in enumerate(order)}
    sizes = split_sizes(len(doc_ids), ratios)
    total_ratio = sum(r for _, r in ratios)
    share = {name: r / total_ratio for name, r in ratios}

    totals: Counter = Counter()
    for counts in label_counts.values():
        for label, count in counts.items():
            if count > 0:
                totals[label] += count
    wanted_docs = dict(sizes)
    wanted = {name: {lab: share[name] * c for lab, c in totals.items()} for name in names}
    assignment: dict[str, str] = {}
    remaining = Counter(totals)

    def assign(doc_id: str, split: str) -> None:
        assignment[doc_id] = split
        wanted_docs[split] -= 1
        for lab, count in label_counts[doc_id].items():
            if count > 0:
                wanted[split][lab] -= count
                remaining[lab] -= count

    while True:
        labels_left = [lab for lab, c in remaining.items() if c > 0]
        if not labels_left:
            break
        # Rarest label first; label name breaks ties deterministically.
        label = min(labels_left, key=lambda lab: (remaining[lab], lab))
        docs = sorted(
            (d for d in doc_ids if d not in assignment and label_counts[d].get(label, 0) > 0),
            key=rank.__getitem__,
        )
        for doc_id in docs:
            open_splits = [n for n in names if wanted_docs[n] > 0]
            split = max(
                open_splits,
                key=lambda n: (wanted[n][label], wanted_docs[n], -names.index(n)),
            )
            assign(doc_id, split)
    for doc_id in order:
        if doc_id not in assignment:
            open_splits = [n for n in names if wanted_docs[n] > 0]
            split = max(open_splits, key=lambda n: (wanted_docs[n] / max(sizes[n], 1), -names.index(n)))
            assign(doc_id, split)
    result: dict[str, list[str]] = {name: [] for name in names}
    for doc_id in doc_ids:
        result[assignment[doc_id]].append(doc_id)
    return result


def label_counts_of(
    docs: Iterable[tuple[str, Iterable[str]]],
) -> dict[str, Counter]:
    """Build the ``label_counts`` argument from ``(doc_id, labels)`` pairs."""
    out: dict[str, Counter] = {}
    for doc_id, labels in docs:
        out.setdefault(doc_id, Counter()).update(labels)
    return out


def split_of(assignment: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Invert a split (split → ids) into id → split."""
    return {doc_id: name for name, ids in assignment.items() for doc_id in ids}


def split_label_counts(
    label_counts: Mapping[str, Mapping[str, int]],
    assignment: Mapping[str, Sequence[str]],
    labels: Sequence[str] | None = None,
) -> dict[str, dict[str, int]]:
    """Mentions per split and label (for reports and tests)."""
    out: dict[str, dict[str, int]] = {}
    for name, ids in assignment.items():
        counts: Counter = Counter()
        for doc_id in ids:
            counts.update({k: v for k, v in label_counts[doc_id].items() if v > 0})
        keys = labels if labels is not None else sorted(counts)
        out[name] = {lab: counts.get(lab, 0) for lab in keys}
    return out
