"""Counts of what a conversion carried, changed or could not carry.

Readers and converters never drop bad input silently: every skipped row or
annotation is counted under a reason, and the first few locations (file,
1-based line or row, annotation id, a text-free detail such as "expected 12
characters, found 13") are kept so a user can look them up. Annotated text is
never stored here: it may be protected health information.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

#: Outcomes a location can be recorded under.
SKIPPED = "skipped"
ADJUSTED = "adjusted"


@dataclass(frozen=True)
class Location:
    """Where one skipped or adjusted item is; never holds annotated text."""

    corpus: str
    outcome: str
    reason: str
    path: str | None = None
    line: int | None = None
    annotation_id: str | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = [self.path or "?"]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.annotation_id is not None:
            where.append(f"annotation {self.annotation_id}")
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.corpus}: {self.outcome} {self.reason} at {', '.join(where)}{detail}"


@dataclass
class ConversionReport:
    """Per-corpus counters of converted, adjusted and skipped items.

    ``converted[(corpus, kind)]`` counts what was carried (``documents``,
    ``annotations``, ``codes``…). ``adjusted[(corpus, reason)]`` counts items
    carried with a documented change (e.g. a trimmed CodiEsp fragment, a span
    expanded to token boundaries). ``skipped[(corpus, reason)]`` counts items
    that could not be carried. At most ``max_locations`` locations are kept.
    """

    max_locations: int = 200
    converted: Counter = field(default_factory=Counter)
    adjusted: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    locations: list[Location] = field(default_factory=list)
    locations_left_out: int = 0

    def add_converted(self, corpus: str, kind: str = "annotations", n: int = 1) -> None:
        """Count ``n`` carried items of one kind."""
        self.converted[(corpus, kind)] += n

    def add_skipped(self, corpus: str, reason: str, **where: Any) -> None:
        """Count an item that could not be carried and remember where it is.

        ``where``: ``path``, ``line``, ``annotation_id``, ``detail`` (no text) and ``n``.
        """
        self._add(self.skipped, SKIPPED, corpus, reason, **where)

    def add_adjusted(self, corpus: str, reason: str, **where: Any) -> None:
        """Count an item carried with a documented change (same keywords as :meth:`add_skipped`)."""
        self._add(self.adjusted, ADJUSTED, corpus, reason, **where)

    def _add(
        self,
        counter: Counter,
        kind: str,
        corpus: str,
        reason: str,
        *,
        path: str | None = None,
        line: int | None = None,
        annotation_id: str | None = None,
        detail: str = "",
        n: int = 1,
    ) -> None:
        counter[(corpus, reason)] += n
        self._locate(Location(corpus, kind, reason, _str(path), line, annotation_id, detail))

    def _locate(self, location: Location) -> None:
        if len(self.locations) < self.max_locations:
            self.locations.append(location)
        else:
            self.locations_left_out += 1

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def n_adjusted(self) -> int:
        return sum(self.adjusted.values())

    def count(self, corpus: str, kind: str) -> int:
        """Converted count of one kind (0 when absent)."""
        return self.converted.get((corpus, kind), 0)

    def merge(self, other: ConversionReport) -> ConversionReport:
        """Add another report's counts and locations into this one."""
        self.converted.update(other.converted)
        self.adjusted.update(other.adjusted)
        self.skipped.update(other.skipped)
        for location in other.locations:
            self._locate(location)
        self.locations_left_out += other.locations_left_out
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view: ``{corpus: {converted, adjusted, skipped}}`` + locations."""
        corpora: dict[str, dict[str, dict[str, int]]] = {}
        for name, counter in (
            ("converted", self.converted),
            ("adjusted", self.adjusted),
            ("skipped", self.skipped),
        ):
            for (corpus, key), value in sorted(counter.items()):
                entry = corpora.setdefault(corpus, {"converted": {}, "adjusted": {}, "skipped": {}})
                entry[name][key] = value
        return {
            "corpora": corpora,
            "locations": [
                {
                    "corpus": loc.corpus,
                    "outcome": loc.outcome,
                    "reason": loc.reason,
                    "path": loc.path,
                    "line": loc.line,
                    "annotation_id": loc.annotation_id,
                    "detail": loc.detail,
                }
                for loc in self.locations
            ],
            "locations_left_out": self.locations_left_out,
        }

    def summary(self, max_locations: int = 10) -> str:
        """Human-readable table of counts and the first few locations."""
        lines: list[str] = []
        corpora = sorted({c for c, _ in self.converted} | {c for c, _ in self.adjusted} | {c for c, _ in self.skipped})
        if not corpora:
            return "Nothing converted."
        for corpus in corpora:
            lines.append(f"{corpus}:")
            for label, counter in (
                ("converted", self.converted),
                ("adjusted", self.adjusted),
                ("skipped", self.skipped),
            ):
                items: list[tuple[str, int]] = sorted(
                    (key, value) for (c, key), value in counter.items() if c == corpus
                )
                if items:
                    joined = ", ".join(f"{key} {value}" for key, value in items)
                    lines.append(f"  {label}: {joined}")
        shown = self.locations[:max_locations]
        if shown:
            lines.append("locations:")
            lines.extend(f"  {loc}" for loc in shown)
            more = len(self.locations) - len(shown) + self.locations_left_out
            if more:
                lines.append(f"  … and {more} more")
        return "\n".join(lines)

    def log_if_lossy(self, log: logging.Logger = logger) -> None:
        """Warn with the summary when something was skipped or adjusted."""
        if self.skipped or self.adjusted:
            log.warning("Conversion report:\n%s", self.summary())


def _str(path: Any) -> str | None:
    return None if path is None else str(path)
