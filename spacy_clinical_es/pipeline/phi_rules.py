"""``phi_rules``: structured PHI from regular expressions, merged with ``doc.ents``.

A thin spaCy layer over :mod:`spacy_clinical_es.deid.rules`: it finds
e-mails, URLs, phone/fax numbers, prefixed identifiers (NHC, NASS, nº de
colegiado, episodio, DNI/NIF/NIE), postal codes and dates with MEDDOCAN
labels, writes every rule span to ``doc.spans[spans_key]`` (when set) and
merges them into ``doc.ents`` according to ``merge``:

* ``"prefer_ner"`` (default): existing entities stay; a rule span is added
  only where it overlaps no entity. The statistical detector decides where
  it spoke; the rules only fill its gaps (recall).
* ``"prefer_rules"``: rule spans win; entities overlapping a rule span are
  removed, the others stay.
* ``"union_longest"``: entities and rule spans are pooled and overlaps are
  resolved by keeping the longer span (in characters), then the earlier one,
  then the entity over the rule span.

All three are deterministic (no dependence on set or dict order).

With ``refine`` (default), every entity is then checked against three MEDDOCAN
conventions (:func:`spacy_clinical_es.deid.rules.refine_span`): an entity
that crosses a line break is dropped (a ``phi_recall`` later in the pipeline
looks at its tokens again), a leading courtesy title (``Dr.``, ``Doctora``) is
cut from a name, and ``familia`` in ``médico de familia`` is dropped as a
relative. Counted in ``user_data`` (``refined``).

Rule matches are character offsets; they are snapped to tokens with
``Doc.char_span(..., alignment_mode=alignment_mode)``. The default
``"expand"`` grows a span to the tokens it touches: for de-identification a
partially covered token would leak, so coverage beats boundary exactness.
``"contract"`` (only whole tokens inside the match) and ``"strict"`` are
available; a match that cannot be aligned is dropped and counted in
``doc.user_data["spacy_clinical_es.phi_rules"]["unaligned"]`` (no text is kept).

Extra patterns (``add_patterns``: ``{"label", "pattern", "name"?,
"ignore_case"?}``, the PHI being the group ``value`` if present) are the
component's state, serialized like spaCy's ``span_ruler`` patterns
(``patterns.jsonl``); the options are in ``cfg``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import (
    filter_spans,
)
from thinc.api import Config

from ..deid import DeidError
from ..deid.rules import (
    RULE_NAMES,
    PhiMatch,
    Rule,
    compile_patterns,
    find_phi,
    refine_span,
    select_rules,
)
from ._state import RecordsSerializable

logger = logging.getLogger(__name__)

MERGE_POLICIES = ("prefer_ner", "prefer_rules", "union_longest")
ALIGNMENT_MODES = ("expand", "contract", "strict")
DEFAULT_SPANS_KEY = "phi_rules"
#: ``doc.user_data`` entry with per-Doc counts (no text).
PHI_RULES_USER_DATA_KEY = "spacy_clinical_es.phi_rules"

phi_rules_default_config = """
[phi_rules]
rules = null
merge = "prefer_ner"
alignment_mode = "expand"
spans_key = "phi_rules"
set_ents = true
refine = true
"""
DEFAULT_PHI_RULES_CONFIG = Config().from_str(phi_rules_default_config)["phi_rules"]


@Language.factory(
    "clinical_es_phi_rules",
    assigns=["doc.ents", "doc.spans"],
    default_config=DEFAULT_PHI_RULES_CONFIG,
)
def make_phi_rules(
    nlp: Language,
    name: str,
    rules: Optional[list[str]],
    merge: str,
    alignment_mode: str,
    spans_key: Optional[str],
    set_ents: bool,
    refine: bool,
) -> PhiRules:
    """Create a :class:`PhiRules` component (see the module docstring for the options)."""
    return PhiRules(
        nlp,
        name,
        rules=rules,
        merge=merge,
        alignment_mode=alignment_mode,
        spans_key=spans_key,
        set_ents=set_ents,
        refine=refine,
    )


class PhiRules(RecordsSerializable):
    """Find structured PHI with regular expressions and merge it with ``doc.ents``."""

    _state_name = "patterns"

    def __init__(
        self,
        nlp: Language,
        name: str = "phi_rules",
        *,
        rules: Sequence[str] | None = None,
        merge: str = "prefer_ner",
        alignment_mode: str = "expand",
        spans_key: str | None = DEFAULT_SPANS_KEY,
        set_ents: bool = True,
        refine: bool = True,
    ) -> None:
        """Initialize the component.

        nlp (Language): the pipeline.
        name (str): the component's name.
        rules (Optional[Sequence[str]]): built-in rules to use (see
            :data:`spacy_clinical_es.deid.rules.RULE_NAMES`); ``None``: all.
        merge (str): ``"prefer_ner"``, ``"prefer_rules"`` or ``"union_longest"``.
        alignment_mode (str): how matches snap to tokens: ``"expand"``,
            ``"contract"`` or ``"strict"``.
        spans_key (Optional[str]): span group for all rule spans; ``None``: none.
        set_ents (bool): merge the rule spans into ``doc.ents``.
        refine (bool): drop entities across line breaks, trim titles from names and drop "médico de familia"
            relatives (see the module docstring); only with ``set_ents``.
        """
        self.nlp = nlp
        self.name = name
        self.cfg: dict[str, Any] = {
            "rules": list(rules) if rules is not None else None,
            "merge": merge,
            "alignment_mode": alignment_mode,
            "spans_key": spans_key,
            "set_ents": set_ents,
            "refine": refine,
        }
        self._patterns: list[dict[str, Any]] = []
        self._custom: tuple[Rule, ...] = ()
        self._validate()

    def _validate(self) -> None:
        if self.cfg["merge"] not in MERGE_POLICIES:
            raise DeidError(f"phi_rules: unknown merge {self.cfg['merge']!r}; use one of: {', '.join(MERGE_POLICIES)}")
        if self.cfg["alignment_mode"] not in ALIGNMENT_MODES:
            raise DeidError(
                f"phi_rules: unknown alignment_mode {self.cfg['alignment_mode']!r}; "
                f"use one of: {', '.join(ALIGNMENT_MODES)}"
            )
        self._builtin = select_rules(self.cfg["rules"])

    def __len__(self) -> int:
        """The number of active rules (built-in and added)."""
        return len(self._builtin) + len(self._custom)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The active rules, in priority order (built-in first)."""
        return self._builtin + self._custom

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the active rules can assign."""
        return tuple(sorted({rule.label for rule in self.rules}))

    @property
    def patterns(self) -> list[dict[str, Any]]:
        """The patterns added with :meth:`add_patterns`."""
        return [dict(p) for p in self._patterns]

    def add_patterns(self, patterns: Iterable[dict[str, Any]]) -> None:
        """Add regex patterns ``{"label", "pattern", "name"?, "ignore_case"?}``."""
        patterns = [dict(p) for p in patterns]
        compile_patterns(patterns)  # raise before changing the state
        self._patterns.extend(patterns)
        self._custom = compile_patterns(self._patterns)

    def clear(self) -> None:
        """Remove the added patterns (the built-in rules stay)."""
        self._patterns = []
        self._custom = ()

    def initialize(self, get_examples: Any = None, *, nlp: Language | None = None, patterns: Any = None) -> None:
        """Optionally (re)set the added patterns, e.g. from ``[initialize.components]``."""
        if patterns is not None:
            self.clear()
            self.add_patterns(patterns)

    def match(self, doc: Doc) -> list[PhiMatch]:
        """The rule matches of ``doc``'s text (character offsets, not yet aligned)."""
        return find_phi(doc.text, self.rules)

    def __call__(self, doc: Doc) -> Doc:
        """Find structured PHI in ``doc`` and set ``doc.spans`` / ``doc.ents``."""
        self.set_annotations(doc, self.match(doc))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """Process a stream of Docs."""
        for doc in stream:
            yield self(doc)

    def _align(self, doc: Doc, matches: Sequence[PhiMatch]) -> tuple[list[Span], int]:
        spans: list[Span] = []
        unaligned = 0
        for match in matches:
            span = doc.char_span(match.start, match.end, label=match.label, alignment_mode=self.cfg["alignment_mode"])
            if span is None or len(span) == 0:
                unaligned += 1
                continue
            spans.append(span)
        # "expand" can make two matches overlap through a shared token.
        return sorted(filter_spans(spans), key=lambda s: (s.start, s.end)), unaligned

    def set_annotations(self, doc: Doc, matches: Sequence[PhiMatch]) -> None:
        """Align ``matches`` to tokens and write them to the Doc."""
        spans, unaligned = self._align(doc, matches)
        if self.cfg["spans_key"]:
            doc.spans[self.cfg["spans_key"]] = spans
        added = refined = 0
        if self.cfg["set_ents"]:
            before = len(doc.ents)
            merged = merge_spans(list(doc.ents), spans, self.cfg["merge"])
            added = sum(1 for span in merged if span in spans) if spans else 0
            if self.cfg.get("refine", True):
                merged, refined = refine_spans(doc, merged)
            doc.set_ents(merged, default="outside")
            logger.debug("phi_rules: %d entities before, %d after", before, len(merged))
        doc.user_data[PHI_RULES_USER_DATA_KEY] = {
            "matches": len(matches),
            "unaligned": unaligned,
            "in_ents": added,
            "refined": refined,
        }

    # -- serialization (cfg + patterns.jsonl, like span_ruler): RecordsSerializable --------

    def _state_records(self) -> list[dict[str, Any]]:
        return list(self._patterns)

    def _load_records(self, records: Iterable[dict[str, Any]]) -> None:
        self.add_patterns(records)


def refine_spans(doc: Doc, spans: Sequence[Span]) -> tuple[list[Span], int]:
    """``spans`` after :func:`~spacy_clinical_es.deid.rules.refine_span`, and how many it changed or dropped.

    A trimmed span keeps the whole tokens inside its new offsets; one that
    would become empty stays as it was.
    """
    text = doc.text
    result: list[Span] = []
    changed = 0
    for span in spans:
        refined = refine_span(text, span.start_char, span.end_char, span.label_)
        if refined is None:
            changed += 1
            continue
        if refined != (span.start_char, span.end_char):
            trimmed = doc.char_span(refined[0], refined[1], label=span.label_, alignment_mode="contract")
            if trimmed is not None and len(trimmed) > 0:
                span = trimmed
                changed += 1
        result.append(span)
    return result, changed


def merge_spans(ents: Sequence[Span], rule_spans: Sequence[Span], policy: str) -> list[Span]:
    """Merge existing entities and rule spans into non-overlapping spans.

    ``policy``: see the module docstring. RETURNS: spans sorted by position.
    """

    def overlaps(a: Span, b: Span) -> bool:
        return a.start < b.end and b.start < a.end

    if policy == "prefer_ner":
        kept = list(ents)
        for span in rule_spans:
            if not any(overlaps(span, ent) for ent in kept):
                kept.append(span)
    elif policy == "prefer_rules":
        kept = [ent for ent in ents if not any(overlaps(ent, span) for span in rule_spans)] + list(rule_spans)
    elif policy == "union_longest":
        pool = [(span, 0) for span in ents] + [(span, 1) for span in rule_spans]
        pool.sort(key=lambda item: (item[0].start_char - item[0].end_char, item[0].start_char, item[1], item[0].label_))
        kept = []
        for span, _ in pool:
            if not any(overlaps(span, other) for other in kept):
                kept.append(span)
    else:
        raise DeidError(f"phi_rules: unknown merge {policy!r}; use one of: {', '.join(MERGE_POLICIES)}")
    return sorted(kept, key=lambda s: (s.start, s.end))


__all__ = [
    "ALIGNMENT_MODES",
    "DEFAULT_SPANS_KEY",
    "MERGE_POLICIES",
    "PHI_RULES_USER_DATA_KEY",
    "RULE_NAMES",
    "PhiRules",
    "make_phi_rules",
    "merge_spans",
    "refine_spans",
]
