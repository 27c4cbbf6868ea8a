"""``phi_gazetteer``: PHI phrases learnt from training documents, and in-document propagation.

A thin spaCy layer over :mod:`spacy_clinical_es.deid.gazetteer`, meant to
follow the statistical detector (and ``phi_rules``). It adds to ``doc.ents``:

* phrases of its gazetteer (built by :meth:`PhiGazetteer.initialize` from the
  gold entities of the training examples, for ``labels`` only, keeping a
  phrase when it was annotated in at least ``min_ratio`` of its free
  occurrences in those documents);
* with ``propagate``, every other occurrence in the same Doc of a phrase
  already in ``doc.ents`` (``propagate_labels``; ``null``: all labels).

Additions only fill gaps: an addition never overlaps an existing entity
(existing entities always stay). With ``refine`` (default) additions follow
the same conventions as ``phi_rules``' ``refine`` (no courtesy title in a
name, no relative in "médico de familia"). Added spans also go to
``doc.spans[spans_key]`` when it is set; counts (no text) go to
``doc.user_data["spacy_clinical_es.phi_gazetteer"]``.

The gazetteer is the component's state, serialized like ``span_ruler``
patterns (``phrases.jsonl``: ``{"label", "tokens"}``); it holds PHI-like
strings of the training corpus, so keep trained pipelines out of version
control as you would the corpus. Built from the ``initialize`` examples::

    [initialize.components.phi_gazetteer]
    # nothing to set: the examples are the training corpus

or set directly with :meth:`add_phrases`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from thinc.api import Config

from ..deid import DeidError
from ..deid.gazetteer import (
    GazetteerBuilder,
    Phrase,
    fill_gaps,
    find_phrases,
    propagation_phrases,
)
from ._state import RecordsSerializable
from .phi_rules import refine_spans

logger = logging.getLogger(__name__)

DEFAULT_SPANS_KEY = "phi_gazetteer"
#: ``doc.user_data`` entry with per-Doc counts (no text).
PHI_GAZETTEER_USER_DATA_KEY = "spacy_clinical_es.phi_gazetteer"
#: MEDDOCAN labels whose training phrases are worth looking for again: names of places and organisations.
DEFAULT_LABELS = ["CALLE", "CENTRO_SALUD", "HOSPITAL", "INSTITUCION", "PAIS", "TERRITORIO"]

phi_gazetteer_default_config = """
[phi_gazetteer]
labels = ["CALLE", "CENTRO_SALUD", "HOSPITAL", "INSTITUCION", "PAIS", "TERRITORIO"]
min_ratio = 0.8
min_count = 1
min_chars = 3
max_tokens = 12
propagate = true
propagate_labels = null
spans_key = "phi_gazetteer"
set_ents = true
refine = true
"""
DEFAULT_PHI_GAZETTEER_CONFIG = Config().from_str(phi_gazetteer_default_config)["phi_gazetteer"]


@Language.factory(
    "phi_gazetteer",
    assigns=["doc.ents", "doc.spans"],
    default_config=DEFAULT_PHI_GAZETTEER_CONFIG,
)
def make_phi_gazetteer(
    nlp: Language,
    name: str,
    labels: Optional[list[str]],  # noqa: UP045 (read by spaCy's registry at runtime)
    min_ratio: float,
    min_count: int,
    min_chars: int,
    max_tokens: int,
    propagate: bool,
    propagate_labels: Optional[list[str]],  # noqa: UP045
    spans_key: Optional[str],  # noqa: UP045
    set_ents: bool,
    refine: bool,
) -> PhiGazetteer:
    """Create a :class:`PhiGazetteer` (see the module docstring for the options)."""
    return PhiGazetteer(
        nlp,
        name,
        labels=labels,
        min_ratio=min_ratio,
        min_count=min_count,
        min_chars=min_chars,
        max_tokens=max_tokens,
        propagate=propagate,
        propagate_labels=propagate_labels,
        spans_key=spans_key,
        set_ents=set_ents,
        refine=refine,
    )


class PhiGazetteer(RecordsSerializable):
    """Fill the detector's gaps with known PHI phrases and with its own entities repeated."""

    _state_name = "phrases"

    def __init__(
        self,
        nlp: Language,
        name: str = "phi_gazetteer",
        *,
        labels: Sequence[str] | None = tuple(DEFAULT_LABELS),
        min_ratio: float = 0.8,
        min_count: int = 1,
        min_chars: int = 3,
        max_tokens: int = 12,
        propagate: bool = True,
        propagate_labels: Sequence[str] | None = None,
        spans_key: str | None = DEFAULT_SPANS_KEY,
        set_ents: bool = True,
        refine: bool = True,
    ) -> None:
        """Initialize the component.

        labels (Optional[Sequence[str]]): labels the gazetteer learns in
            :meth:`initialize` (``None``: all).
        min_ratio (float), min_count (int): how often a training phrase must be
            annotated where it occurs, and at least how many times.
        min_chars (int): shortest phrase (characters of its tokens), for both
            the gazetteer and propagation.
        max_tokens (int): longest gazetteer phrase, in tokens.
        propagate (bool): spread each entity's phrase over its Doc.
        propagate_labels (Optional[Sequence[str]]): labels spread (``None``: all).
        spans_key (Optional[str]): span group for the added spans; ``None``: none.
        set_ents (bool): add the spans to ``doc.ents``.
        refine (bool): trim titles from added names, drop "médico de familia" relatives.
        """
        self.nlp = nlp
        self.name = name
        self.cfg: dict[str, Any] = {
            "labels": list(labels) if labels is not None else None,
            "min_ratio": float(min_ratio),
            "min_count": int(min_count),
            "min_chars": int(min_chars),
            "max_tokens": int(max_tokens),
            "propagate": bool(propagate),
            "propagate_labels": list(propagate_labels) if propagate_labels is not None else None,
            "spans_key": spans_key,
            "set_ents": bool(set_ents),
            "refine": bool(refine),
        }
        self._phrases: dict[Phrase, str] = {}
        self._validate()

    def _validate(self) -> None:
        if not 0.0 <= self.cfg["min_ratio"] <= 1.0:
            raise DeidError("phi_gazetteer: min_ratio must be between 0 and 1")
        if self.cfg["min_chars"] < 1 or self.cfg["max_tokens"] < 1 or self.cfg["min_count"] < 1:
            raise DeidError("phi_gazetteer: min_chars, max_tokens and min_count must be at least 1")

    def __len__(self) -> int:
        """The number of gazetteer phrases."""
        return len(self._phrases)

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of the gazetteer phrases."""
        return tuple(sorted(set(self._phrases.values())))

    @property
    def phrases(self) -> list[dict[str, Any]]:
        """The gazetteer as ``{"label", "tokens"}`` records (sorted)."""
        return [{"label": label, "tokens": list(tokens)} for tokens, label in sorted(self._phrases.items())]

    def add_phrases(self, phrases: Iterable[dict[str, Any]]) -> None:
        """Add ``{"label", "tokens": [...]}`` or ``{"label", "pattern": "text"}`` (tokenized by the pipeline)."""
        new: dict[Phrase, str] = {}
        for i, spec in enumerate(phrases):
            if not isinstance(spec, dict) or not spec.get("label") or not (spec.get("tokens") or spec.get("pattern")):
                raise DeidError(f"phi_gazetteer: phrase {i}: give a dict with a 'label' and 'tokens' or 'pattern'")
            if spec.get("tokens"):
                tokens = tuple(str(t) for t in spec["tokens"])
            else:
                tokens = tuple(t.text for t in self.nlp.make_doc(str(spec["pattern"])) if not t.is_space)
            if tokens:
                new[tokens] = str(spec["label"])
        self._phrases.update(new)

    def clear(self) -> None:
        """Remove every gazetteer phrase."""
        self._phrases = {}

    def initialize(
        self,
        get_examples: Any = None,
        *,
        nlp: Language | None = None,
        phrases: Any = None,
    ) -> None:
        """Build the gazetteer from the gold entities of ``get_examples()``, or set ``phrases``.

        get_examples (Optional[Callable[[], Iterable[Example]]]): the training examples.
        phrases (Optional[Sequence[dict]]): ``{"label", "tokens" | "pattern"}`` records instead
            (e.g. from ``[initialize.components.phi_gazetteer]``).
        """
        if phrases is not None:
            self.clear()
            self.add_phrases(phrases)
            return
        if get_examples is None:
            return
        builder = GazetteerBuilder(
            labels=self.cfg["labels"], min_chars=self.cfg["min_chars"], max_tokens=self.cfg["max_tokens"]
        )
        n_docs = 0
        for example in get_examples():
            ref = example.reference
            builder.add([t.text for t in ref], [(e.start, e.end, e.label_) for e in ref.ents])
            n_docs += 1
        self._phrases = builder.build(min_ratio=self.cfg["min_ratio"], min_count=self.cfg["min_count"])
        logger.info("phi_gazetteer: %d phrases from %d documents", len(self._phrases), n_docs)

    def find(self, doc: Doc) -> tuple[list[tuple[int, int, str]], int, int]:
        """Token spans to add to ``doc.ents``, and how many came from the gazetteer / from propagation."""
        tokens = [t.text for t in doc]
        ents = [(e.start, e.end, e.label_) for e in doc.ents]
        gazetteer = find_phrases(tokens, self._phrases)
        propagated: list[tuple[int, int, str]] = []
        if self.cfg["propagate"] and ents:
            own = propagation_phrases(
                tokens, ents, labels=self.cfg["propagate_labels"], min_chars=self.cfg["min_chars"]
            )
            propagated = find_phrases(tokens, own)
        from_propagation = set(propagated)
        added = fill_gaps([(s, e) for s, e, _ in ents], propagated + gazetteer)
        n_propagated = sum(1 for span in added if span in from_propagation)
        return added, len(added) - n_propagated, n_propagated

    def __call__(self, doc: Doc) -> Doc:
        """Add gazetteer phrases and propagated entities to ``doc``."""
        added, n_gazetteer, n_propagated = self.find(doc)
        spans = [Span(doc, s, e, label=label) for s, e, label in added]
        if self.cfg.get("refine", True) and spans:
            spans, _ = refine_spans(doc, spans)
        if self.cfg["spans_key"]:
            doc.spans[self.cfg["spans_key"]] = spans
        if self.cfg["set_ents"] and spans:
            doc.set_ents(sorted([*doc.ents, *spans], key=lambda s: s.start), default="outside")
        doc.user_data[PHI_GAZETTEER_USER_DATA_KEY] = {"gazetteer": n_gazetteer, "propagated": n_propagated}
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """Process a stream of Docs."""
        for doc in stream:
            yield self(doc)

    # -- serialization (cfg + phrases.jsonl, like span_ruler): RecordsSerializable --------

    def _state_records(self) -> list[dict[str, Any]]:
        return list(self.phrases)

    def _load_records(self, records: Iterable[dict[str, Any]]) -> None:
        self.add_phrases(records)


__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_SPANS_KEY",
    "PHI_GAZETTEER_USER_DATA_KEY",
    "PhiGazetteer",
    "make_phi_gazetteer",
]
