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
patterns (``phrases.jsonl``), but a gazetteer learnt from notes is PHI, so
``store`` says what is kept (see :mod:`spacy_clinical_es.deid.gazetteer`):

* ``"hashed"`` (default): keyed hashes (HMAC-SHA256) of each phrase's
  normalized token sequence and first token, with its label and length: no
  phrase text. The key is never part of the pipeline: it is read at runtime
  from ``SPACY_CLINICAL_ES_GAZETTEER_KEY`` (else ``SPACY_CLINICAL_ES_DEID_KEY``)
  or given with :meth:`PhiGazetteer.set_key`, and must be the same when the
  gazetteer is built (``initialize``) and when it is used. A short key check
  value in ``cfg`` detects a wrong key. Without the key (or with a wrong one)
  the gazetteer matches nothing, with a warning; in-document propagation still
  works. ``initialize`` without a key keeps no phrases (a warning says so).
* ``"none"``: no gazetteer is kept at all (propagation only).

Phrases saved by an earlier version as ``{"label", "tokens"}`` records are
hashed when loaded (or dropped, with a warning, without a key), so re-saving
such a pipeline removes the verbatim phrases. Built from the ``initialize``
examples::

    [initialize.components.phi_gazetteer]
    # nothing to set: the examples are the training corpus

or set directly with :meth:`add_phrases`.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from thinc.api import Config

from ..deid import DeidError
from ..deid.gazetteer import (
    GazetteerBuilder,
    HashedPhrases,
    Phrase,
    fill_gaps,
    find_phrases,
    key_check,
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
#: Environment variables read (in this order) for the hashing key; runtime only, never in a config.
GAZETTEER_KEY_ENV = "SPACY_CLINICAL_ES_GAZETTEER_KEY"
FALLBACK_KEY_ENV = "SPACY_CLINICAL_ES_DEID_KEY"
#: What the component keeps of its gazetteer: keyed hashes, or nothing.
STORES = ("hashed", "none")

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
store = "hashed"
"""
DEFAULT_PHI_GAZETTEER_CONFIG = Config().from_str(phi_gazetteer_default_config)["phi_gazetteer"]


@Language.factory(
    "clinical_es_phi_gazetteer",
    assigns=["doc.ents", "doc.spans"],
    default_config=DEFAULT_PHI_GAZETTEER_CONFIG,
)
def make_phi_gazetteer(
    nlp: Language,
    name: str,
    labels: Optional[list[str]],
    min_ratio: float,
    min_count: int,
    min_chars: int,
    max_tokens: int,
    propagate: bool,
    propagate_labels: Optional[list[str]],
    spans_key: Optional[str],
    set_ents: bool,
    refine: bool,
    store: str,
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
        store=store,
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
        store: str = "hashed",
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
        store (str): what is kept of the gazetteer: ``"hashed"`` (keyed hashes) or ``"none"``.
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
            "store": store,
            "key_check": None,
        }
        self._table = HashedPhrases()
        self._key: bytes | None = None
        self._warned = False
        self._validate()

    def _validate(self) -> None:
        if self.cfg.get("store") not in STORES:
            raise DeidError(f"phi_gazetteer: store must be one of {', '.join(STORES)}")
        if not 0.0 <= self.cfg["min_ratio"] <= 1.0:
            raise DeidError("phi_gazetteer: min_ratio must be between 0 and 1")
        if self.cfg["min_chars"] < 1 or self.cfg["max_tokens"] < 1 or self.cfg["min_count"] < 1:
            raise DeidError("phi_gazetteer: min_chars, max_tokens and min_count must be at least 1")

    def __len__(self) -> int:
        """The number of gazetteer phrases."""
        return len(self._table)

    def __repr__(self) -> str:  # never shows the key
        return f"PhiGazetteer(name={self.name!r}, phrases={len(self)}, store={self.cfg['store']!r})"

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of the gazetteer phrases."""
        return self._table.labels

    @property
    def phrases(self) -> list[dict[str, Any]]:
        """The gazetteer as it is saved: ``{"label", "length", "first", "digest"}`` records (no text)."""
        return self._table.records()

    # -- the key: runtime only ----------------------------------------------------------

    def set_key(self, key: bytes | str | None) -> None:
        """Set the hashing key for this process (``None``: read the environment again)."""
        self._key = key.encode("utf8") if isinstance(key, str) else key
        self._warned = False

    def _resolve_key(self) -> bytes | None:
        if self._key:
            return self._key
        for var in (GAZETTEER_KEY_ENV, FALLBACK_KEY_ENV):
            value = os.environ.get(var)
            if value:
                return value.encode("utf8")
        return None

    def key_status(self) -> str:
        """``"ok"``, ``"missing"`` or ``"wrong"`` for the key its phrases need; ``"not needed"`` without phrases."""
        if not len(self):
            return "not needed"
        key = self._resolve_key()
        if key is None:
            return "missing"
        return "wrong" if self.cfg.get("key_check") and key_check(key) != self.cfg["key_check"] else "ok"

    def _usable_key(self) -> bytes | None:
        """The key when it is set and is the one the gazetteer was hashed with; warns once otherwise."""
        key = self._resolve_key()
        problem = None
        if key is None:
            problem = f"no key is set ({GAZETTEER_KEY_ENV})"
        elif self.cfg.get("key_check") and key_check(key) != self.cfg["key_check"]:
            problem = "the key is not the one its phrases were hashed with"
        if problem is not None:
            if not self._warned:
                logger.warning("phi_gazetteer: %s; its %d phrases are not looked for", problem, len(self))
                self._warned = True
            return None
        return key

    def _hash(self, phrases: dict[Phrase, str], *, what: str) -> None:
        """Add plain ``phrases`` to the hashed table (or drop them, with a warning, when they cannot be kept)."""
        if not phrases:
            return
        if self.cfg["store"] == "none":
            logger.info("phi_gazetteer: store = none: %d %s not kept", len(phrases), what)
            return
        key = self._resolve_key()
        if key is None:
            logger.warning(
                "phi_gazetteer: no hashing key (set %s, the same when the gazetteer is used): %d %s not kept",
                GAZETTEER_KEY_ENV,
                len(phrases),
                what,
            )
            return
        check = key_check(key)
        if self.cfg.get("key_check") not in (None, check) and len(self._table):
            raise DeidError(
                "phi_gazetteer: the key differs from the one the existing phrases were hashed with; "
                "use that key, or clear() the gazetteer first"
            )
        self.cfg["key_check"] = check
        self._table.add(key, phrases)

    def label_of(self, tokens: Sequence[str]) -> str | None:
        """The label of the phrase ``tokens`` in the gazetteer (needs the key), else ``None``."""
        key = self._resolve_key()
        return None if key is None else self._table.label_of(key, tuple(tokens))

    def add_phrases(self, phrases: Iterable[dict[str, Any]]) -> None:
        """Add ``{"label", "tokens": [...]}`` or ``{"label", "pattern": "text"}`` (tokenized by the pipeline).

        The phrases are hashed with the key (see the module docstring); their text is not kept.
        """
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
        if new and self.cfg["store"] == "hashed" and self._resolve_key() is None:
            raise DeidError(
                f"phi_gazetteer: set the hashing key ({GAZETTEER_KEY_ENV} or set_key) before adding phrases"
            )
        self._hash(new, what="phrases")

    def clear(self) -> None:
        """Remove every gazetteer phrase."""
        self._table = HashedPhrases()
        self.cfg["key_check"] = None

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
        self.clear()
        if self.cfg["store"] == "none":
            logger.info("phi_gazetteer: store = none: no gazetteer is built (propagation only)")
            return
        builder = GazetteerBuilder(
            labels=self.cfg["labels"], min_chars=self.cfg["min_chars"], max_tokens=self.cfg["max_tokens"]
        )
        n_docs = 0
        for example in get_examples():
            ref = example.reference
            builder.add([t.text for t in ref], [(e.start, e.end, e.label_) for e in ref.ents])
            n_docs += 1
        built = builder.build(min_ratio=self.cfg["min_ratio"], min_count=self.cfg["min_count"])
        self._hash(built, what="training phrases")
        logger.info("phi_gazetteer: %d phrases (hashed) from %d documents", len(self), n_docs)

    def find(self, doc: Doc) -> tuple[list[tuple[int, int, str]], int, int]:
        """Token spans to add to ``doc.ents``, and how many came from the gazetteer / from propagation."""
        tokens = [t.text for t in doc]
        ents = [(e.start, e.end, e.label_) for e in doc.ents]
        gazetteer: list[tuple[int, int, str]] = []
        if len(self._table):
            key = self._usable_key()
            if key is not None:
                gazetteer = self._table.find(key, tokens)
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
    # The key is never serialized (nor pickled); a saved gazetteer holds hashes only.

    def _state_records(self) -> list[dict[str, Any]]:
        return self._table.records()

    def _load_records(self, records: Iterable[dict[str, Any]]) -> None:
        hashed: list[dict[str, Any]] = []
        legacy: dict[Phrase, str] = {}
        for i, record in enumerate(records):
            if isinstance(record, dict) and "tokens" in record and "digest" not in record:
                tokens = tuple(str(t) for t in record.get("tokens") or ())
                if not tokens or not record.get("label"):
                    raise DeidError(f"phi_gazetteer: saved phrase {i} has no label or no tokens")
                legacy[tokens] = str(record["label"])
            else:
                hashed.append(record)
        if hashed and self.cfg["store"] == "hashed":
            self._table.add_records(hashed)
        elif hashed:
            logger.info("phi_gazetteer: store = none: %d saved phrases not loaded", len(hashed))
        # Verbatim phrases saved by an earlier version: hashed now, so that saving again drops the text.
        self._hash(legacy, what="verbatim saved phrases")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_key"] = None
        return state


__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_SPANS_KEY",
    "FALLBACK_KEY_ENV",
    "GAZETTEER_KEY_ENV",
    "PHI_GAZETTEER_USER_DATA_KEY",
    "STORES",
    "PhiGazetteer",
    "make_phi_gazetteer",
]
