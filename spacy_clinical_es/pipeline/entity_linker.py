"""``clinical_entity_linker``: a thin spaCy component over :mod:`spacy_clinical_es.linking`.

It reads mentions from ``doc.ents`` (or the span group ``spans_key``), ranks
knowledge-base codes for each with
:class:`~spacy_clinical_es.linking.CandidateGenerator` (exact normalized
match, then nearest neighbours of the configured encoder, then re-ranking)
and sets:

* ``span.kb_id_``: the best code when its score reaches ``threshold`` (else
  the span's previous ``kb_id_`` is kept);
* ``span._.candidates``: the top-``k`` ``(code, score)`` pairs, best first
  (tuples; lists after a round trip through bytes, e.g. ``n_process > 1``);
* ``span._.link_span``: ``(start_char, end_char)`` of the text the candidates
  were found for: the span itself, or with ``nested_fallback`` the nested
  sub-span linked because the whole span scored under ``threshold``.

Span extensions are keyed by character offsets in ``doc.user_data``, so two
spans with the same offsets share them. The knowledge base comes from
``initialize`` (``kb_path``: ``.tsv`` or ``.jsonl``, see
:class:`~spacy_clinical_es.linking.KnowledgeBase`); ``to_disk`` saves it with
the fitted encoder and the index, so a loaded pipeline ranks identically.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Optional

import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example
from spacy.util import SimpleFrozenList, ensure_path, from_disk, to_disk
from thinc.api import Config

from ..linking import (
    CandidateGenerator,
    Encoder,
    KnowledgeBase,
    LinkingError,
    prefer_preferred_terms,
    semantic_type_match,
    vocabulary_rank,
)
from ..linking import registry as _registry  # noqa: F401 (registers the encoders)
from ..linking.candidates import LinkResult
from ..linking.index import ExactCosineIndex
from ..util import PathLike

logger = logging.getLogger(__name__)


entity_linker_default_config = """
[clinical_entity_linker]
spans_key = null
k = 5
threshold = 0.6
nested_fallback = true
preferred_bonus = 0.0
type_bonus = 0.0
vocabularies = []

[clinical_entity_linker.encoder]
@misc = "spacy_clinical_es.TfidfEncoder.v1"
ngram_min = 3
ngram_max = 4
min_df = 1
"""
DEFAULT_ENTITY_LINKER_CONFIG = Config().from_str(entity_linker_default_config)["clinical_entity_linker"]


def register_extensions() -> None:
    """Register ``Span._.candidates`` and ``Span._.link_span`` (idempotent)."""
    for name in ("candidates", "link_span"):
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)


register_extensions()


@Language.factory(
    "clinical_entity_linker",
    assigns=["token.ent_kb_id"],
    requires=[],
    default_config=DEFAULT_ENTITY_LINKER_CONFIG,
)
def make_entity_linker(
    nlp: Language,
    name: str,
    encoder: Encoder,
    spans_key: Optional[str],  # noqa: UP045 (read by spaCy's registry at runtime)
    k: int,
    threshold: float,
    nested_fallback: bool,
    preferred_bonus: float,
    type_bonus: float,
    vocabularies: list[str],
) -> ClinicalEntityLinker:
    """Create a :class:`ClinicalEntityLinker` (see the module docstring)."""
    return ClinicalEntityLinker(
        nlp,
        name,
        encoder=encoder,
        spans_key=spans_key,
        k=k,
        threshold=threshold,
        nested_fallback=nested_fallback,
        preferred_bonus=preferred_bonus,
        type_bonus=type_bonus,
        vocabularies=vocabularies,
    )


class ClinicalEntityLinker:
    """Link entity spans to knowledge-base codes (exact + dense candidates)."""

    def __init__(
        self,
        nlp: Language,
        name: str = "clinical_entity_linker",
        *,
        encoder: Encoder,
        spans_key: str | None = None,
        k: int = 5,
        threshold: float = 0.6,
        nested_fallback: bool = True,
        preferred_bonus: float = 0.0,
        type_bonus: float = 0.0,
        vocabularies: Iterable[str] = (),
    ) -> None:
        """Initialize the component; it links nothing until :meth:`initialize` or ``from_disk``."""
        self.nlp = nlp
        self.name = name
        self.encoder = encoder
        self.spans_key = spans_key
        self.k = k
        self.threshold = threshold
        self.nested_fallback = nested_fallback
        self.rerankers = []
        if preferred_bonus:
            self.rerankers.append(prefer_preferred_terms(preferred_bonus))
        if type_bonus:
            self.rerankers.append(semantic_type_match(bonus=type_bonus))
        vocabularies = list(vocabularies)
        if vocabularies:
            self.rerankers.append(vocabulary_rank(vocabularies))
        self.generator: CandidateGenerator | None = None

    @property
    def kb(self) -> KnowledgeBase | None:
        return self.generator.kb if self.generator is not None else None

    def _make_generator(self, kb: KnowledgeBase, index: ExactCosineIndex | None) -> CandidateGenerator:
        return CandidateGenerator(
            kb,
            self.encoder,
            index,
            k=self.k,
            threshold=self.threshold,
            rerankers=self.rerankers,
        )

    def set_kb(self, kb: KnowledgeBase) -> None:
        """Use ``kb``: fit the encoder on its terms and index them."""
        self.generator = self._make_generator(kb, None).build()

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]] | None = None,
        *,
        nlp: Optional[Language] = None,  # noqa: UP045 (validated by spaCy at runtime)
        kb_path: Optional[str] = None,  # noqa: UP045
        kb: Any = None,
    ) -> None:
        """Load the knowledge base (``kb`` or ``kb_path``), fit the encoder and index it.

        ``kb`` (a :class:`~spacy_clinical_es.linking.KnowledgeBase`) is typed
        ``Any`` because spaCy validates initialize settings with pydantic.
        """
        if kb is not None and not isinstance(kb, KnowledgeBase):
            raise LinkingError(f"kb must be a KnowledgeBase, got {type(kb).__name__}.")
        if kb is None:
            if kb_path is None:
                raise LinkingError(
                    f"Component '{self.name}' needs a knowledge base: set kb_path in "
                    f"[initialize.components.{self.name}] or pass kb= to initialize()."
                )
            kb = KnowledgeBase.from_disk(kb_path)
        self.set_kb(kb)
        logger.info("%s: %d concepts, %d terms indexed", self.name, len(kb), len(kb.aliases))

    def _spans(self, doc: Doc) -> list[Span]:
        if self.spans_key is None:
            return list(doc.ents)
        return list(doc.spans[self.spans_key]) if self.spans_key in doc.spans else []

    def __call__(self, doc: Doc) -> Doc:
        """Link the spans of ``doc``."""
        return next(iter(self.pipe([doc])))

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """Link the spans of each Doc, searching a batch of Docs at once."""
        batch: list[Doc] = []
        for doc in stream:
            batch.append(doc)
            if len(batch) >= batch_size:
                yield from self._link_batch(batch)
                batch = []
        if batch:
            yield from self._link_batch(batch)

    def _link_batch(self, docs: list[Doc]) -> list[Doc]:
        if self.generator is None:
            raise LinkingError(
                f"Component '{self.name}' has no knowledge base: run nlp.initialize() "
                "with kb_path, or load a saved pipeline."
            )
        per_doc = [self._spans(doc) for doc in docs]
        spans = [span for doc_spans in per_doc for span in doc_spans]
        texts = [span.text for span in spans]
        labels = [span.label_ or None for span in spans]
        if self.nested_fallback:
            tokens = [
                [(t.idx - span.start_char, t.idx - span.start_char + len(t.text)) for t in span]
                for span in spans
            ]
            results = self.generator.link_many(texts, tokens, labels)
        else:
            results = [
                LinkResult(c, (0, len(t))) for c, t in zip(self.generator.candidates(texts, labels), texts)
            ]
        position = 0
        for doc, doc_spans in zip(docs, per_doc):
            linked = []
            for span in doc_spans:
                result = results[position]
                position += 1
                best = result.candidates[0] if result.candidates else None
                kb_id = best.code if best is not None and best.score >= self.threshold else span.kb_id_
                new = Span(doc, span.start, span.end, label=span.label, kb_id=kb_id, span_id=span.id)
                new._.candidates = [(c.code, c.score) for c in result.candidates]
                new._.link_span = (span.start_char + result.span[0], span.start_char + result.span[1])
                linked.append(new)
            if self.spans_key is None:
                doc.ents = linked
            elif self.spans_key in doc.spans:
                group = doc.spans[self.spans_key]
                doc.spans[self.spans_key] = SpanGroup(
                    doc, name=self.spans_key, attrs=dict(group.attrs), spans=linked
                )
        return docs

    # -- serialization ------------------------------------------------------------

    def _parts(self) -> dict[str, bytes]:
        if self.generator is None or self.generator.index is None:
            return {}
        return {
            "kb": self.generator.kb.to_jsonl_string().encode("utf-8"),
            "encoder": self.encoder.to_bytes(),
            "index": self.generator.index.to_bytes(),
        }

    def _load_parts(self, parts: dict[str, bytes]) -> None:
        if not parts:
            self.generator = None
            return
        missing = {"kb", "encoder", "index"} - set(parts)
        if missing:
            raise LinkingError(
                f"Saved '{self.name}' lacks {sorted(missing)}: save the component again."
            )
        kb = KnowledgeBase.from_jsonl_string(parts["kb"].decode("utf-8"), source=f"{self.name}/kb")
        self.encoder.from_bytes(parts["encoder"])
        index = ExactCosineIndex().from_bytes(parts["index"])
        if len(index) != len(kb.aliases):
            raise LinkingError(
                f"Saved '{self.name}' index has {len(index)} rows for {len(kb.aliases)} "
                "knowledge-base terms: save the component again."
            )
        self.generator = self._make_generator(kb, index)

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        """Serialize the knowledge base, the fitted encoder and the index."""
        return srsly.msgpack_dumps(self._parts())

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> ClinicalEntityLinker:
        """Load what :meth:`to_bytes` wrote."""
        self._load_parts(srsly.msgpack_loads(bytes_data))
        return self

    def to_disk(self, path: PathLike, *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        """Write ``kb.jsonl``, ``encoder.json`` and ``index.npz`` under ``path``."""
        path = ensure_path(path)
        parts = self._parts()
        serializers = {
            f"{part}.{ext}": _writer(parts[part])
            for part, ext in (("kb", "jsonl"), ("encoder", "json"), ("index", "npz"))
            if part in parts
        }
        if not path.exists():
            path.mkdir(parents=True)
        to_disk(path, serializers, exclude)

    def from_disk(self, path: PathLike, *, exclude: Iterable[str] = SimpleFrozenList()) -> ClinicalEntityLinker:
        """Load what :meth:`to_disk` wrote (an uninitialized component saves nothing)."""
        path = ensure_path(path)
        parts: dict[str, bytes] = {}

        def reader(part: str) -> Callable[[Path], None]:
            def read(p: Path) -> None:
                if p.exists():
                    parts[part] = p.read_bytes()

            return read

        deserializers = {
            "kb.jsonl": reader("kb"),
            "encoder.json": reader("encoder"),
            "index.npz": reader("index"),
        }
        from_disk(path, deserializers, exclude)
        self._load_parts(parts)
        return self



def _writer(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write
