"""``clinical_es_entity_linker`` (formerly ``clinical_entity_linker``): a thin spaCy component over :mod:`spacy_clinical_es.linking`.

It reads mentions from ``doc.ents`` (or the span group ``spans_key``; with
``labels``, only the spans of those labels, the others are left as they are), ranks
knowledge-base codes for each with
:class:`~spacy_clinical_es.linking.CandidateGenerator` (exact normalized
match, word-order-insensitive key match, then nearest neighbours of the
configured encoder, then re-ranking: code prior, preferred terms, semantic
type = label, vocabulary rank) and sets:

* ``span.kb_id_``: the best code when its score reaches ``threshold`` (else
  the span's previous ``kb_id_`` is kept);
* ``span._.candidates``: the top-``k`` ``(code, score)`` pairs, best first
  (tuples; lists after a round trip through bytes, e.g. ``n_process > 1``);
* ``span._.link_span``: ``(start_char, end_char)`` of the text the candidates
  were found for: the span itself, or with ``nested_fallback`` the nested
  sub-span linked because the whole span scored under ``threshold``.

With a ``dense_encoder`` (``spacy_clinical_es.DenseEncoder.v1``: the
directory of a ``finetune-linker`` run) its nearest terms join the TF-IDF
ones, and with a re-ranker (``initialize``'s ``reranker_path``, the
``reranker.json`` of ``train-reranker``) every candidate is scored by its
probability of being the gold code (:mod:`spacy_clinical_es.linking.rerank`);
``threshold`` then applies to that probability (``train-reranker`` reports the
dev-chosen value). ``to_disk`` copies the dense encoder's model into the
pipeline (``dense_encoder/``) and writes ``reranker.json``, so a packaged
pipeline needs neither file of the training machine.

With a ``generator`` (e.g. ``spacy_clinical_es.DefinitionGenerator.v1``) the
generative backend is used instead: a seq2seq model writes a definition of
each mention in its sentence and the definition is linked
(:class:`~spacy_clinical_es.linking.generative.GenerativeLinker`).

Span extensions are keyed by character offsets in ``doc.user_data``, so two
spans with the same offsets share them. The knowledge base comes from
``initialize`` (``kb_path``: ``.tsv`` or ``.jsonl``, see
:class:`~spacy_clinical_es.linking.TerminologyKB`); ``to_disk`` saves it with
the fitted encoder, the index (exact or faiss, chosen by ``ann_threshold``)
and ``cfg``, so a loaded pipeline ranks identically without re-encoding the
knowledge base. Neural encoders and the generator save their settings only:
their models are referenced by path, like spaCy's transformer weights.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
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
    LinkerOptions,
    LinkingError,
    TerminologyKB,
)
from ..linking import registry as _registry  # noqa: F401 (registers the encoders)
from ..linking.candidates import LinkResult
from ..linking.generative import DEFINITION_PROMPT, GenerativeLinker, TextGenerator
from ..linking.index import VectorIndex, index_from_bytes
from ..linking.rerank import LearnedReranker, load_reranker
from ..util import PathLike

logger = logging.getLogger(__name__)

#: Characters of context either side of a mention when the Doc has no sentences.
CONTEXT_CHARS = 200

entity_linker_default_config = f"""
[clinical_es_entity_linker]
spans_key = null
labels = null
k = 5
threshold = 0.6
nested_fallback = true
token_match = true
token_score = 0.98
prior_weight = 0.02
preferred_bonus = 0.0
type_bonus = 0.0
vocabularies = []
ann_threshold = 200000
ann_factory = "IVF{{nlist}},SQ8"
ann_nprobe = 16
generator = null
dense_encoder = null
prompt_template = {json.dumps(DEFINITION_PROMPT, ensure_ascii=False)}

[clinical_es_entity_linker.encoder]
@misc = "spacy_clinical_es.TfidfEncoder.v2"
ngram_min = 2
ngram_max = 4
min_df = 1
analyzer = "char_wb"
abbreviations = true
word_weight = 0.0
"""
DEFAULT_ENTITY_LINKER_CONFIG = Config().from_str(entity_linker_default_config)["clinical_es_entity_linker"]


def register_extensions() -> None:
    """Register ``Span._.candidates`` and ``Span._.link_span`` (idempotent)."""
    for name in ("candidates", "link_span"):
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)


register_extensions()


@Language.factory(
    "clinical_es_entity_linker",
    assigns=["token.ent_kb_id"],
    requires=[],
    default_config=DEFAULT_ENTITY_LINKER_CONFIG,
)
def make_entity_linker(
    nlp: Language,
    name: str,
    encoder: Encoder,
    spans_key: Optional[str],
    labels: Optional[list[str]],
    k: int,
    threshold: float,
    nested_fallback: bool,
    token_match: bool,
    token_score: float,
    prior_weight: float,
    preferred_bonus: float,
    type_bonus: float,
    vocabularies: list[str],
    ann_threshold: int,
    ann_factory: str,
    ann_nprobe: int,
    generator: Optional[Any],  # a TextGenerator; Any for spaCy's validation
    dense_encoder: Optional[Any],  # an Encoder; Any for spaCy's validation
    prompt_template: str,
) -> ClinicalEntityLinker:
    """Create a :class:`ClinicalEntityLinker` (see the module docstring); defaults: the default config."""
    options = LinkerOptions.from_flat(locals())
    return ClinicalEntityLinker(
        nlp,
        name,
        encoder=encoder,
        options=options,
        spans_key=spans_key,
        labels=labels,
        nested_fallback=nested_fallback,
        generator=generator,
        prompt_template=prompt_template,
        dense_encoder=dense_encoder,
    )


class ClinicalEntityLinker:
    """Link entity spans to knowledge-base codes (exact + dense candidates, or generative)."""

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        encoder: Encoder,
        options: LinkerOptions,
        spans_key: str | None,
        labels: Sequence[str] | None,
        nested_fallback: bool,
        generator: TextGenerator | None,
        prompt_template: str,
        dense_encoder: Encoder | None,
    ) -> None:
        """Initialize the component; it links nothing until :meth:`initialize` or ``from_disk``.

        labels: link only the spans with these labels (``None``: every span); the others are left as they are.
        """
        if generator is not None and not isinstance(generator, TextGenerator):
            raise LinkingError(
                f"generator must have a generate(prompts) method, got {type(generator).__name__}."
            )
        self.nlp = nlp
        self.name = name
        self.encoder = encoder
        self.dense_encoder = dense_encoder
        self.reranker: LearnedReranker | None = None
        self.generator = generator
        self.cfg: dict[str, Any] = {
            "spans_key": spans_key,
            "labels": list(labels) if labels is not None else None,
            "nested_fallback": bool(nested_fallback),
            "prompt_template": str(prompt_template),
            **options.to_flat(),
        }
        self.candidate_generator: CandidateGenerator | None = None

    # -- settings -----------------------------------------------------------------

    @property
    def spans_key(self) -> str | None:
        return self.cfg["spans_key"]

    @property
    def threshold(self) -> float:
        return self.cfg["threshold"]

    @property
    def kb(self) -> TerminologyKB | None:
        return self.candidate_generator.kb if self.candidate_generator is not None else None

    @property
    def options(self) -> LinkerOptions:
        """The candidate settings of ``cfg`` as the spaCy-free :class:`LinkerOptions`."""
        return LinkerOptions.from_flat(self.cfg)

    def _make_generator(
        self, kb: TerminologyKB, index: VectorIndex | None, dense_index: VectorIndex | None = None
    ) -> CandidateGenerator:
        return CandidateGenerator(
            kb, self.encoder, index, options=self.options, dense_encoder=self.dense_encoder,
            dense_index=dense_index, reranker=self.reranker,
        )

    def set_kb(self, kb: TerminologyKB) -> None:
        """Use ``kb``: fit the encoder on its terms and index them."""
        self.candidate_generator = self._make_generator(kb, None).build()

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]] | None = None,
        *,
        nlp: Optional[Language] = None,
        kb_path: Optional[str] = None,
        kb: Any = None,
        reranker_path: Optional[str] = None,
    ) -> None:
        """Load the knowledge base (``kb`` or ``kb_path``), fit the encoder(s) and index it.

        ``reranker_path``: a ``reranker.json`` written by ``train-reranker``.

        ``kb`` (a :class:`~spacy_clinical_es.linking.TerminologyKB`) is typed
        ``Any`` because spaCy validates initialize settings with pydantic.
        """
        if kb is not None and not isinstance(kb, TerminologyKB):
            raise LinkingError(f"kb must be a TerminologyKB, got {type(kb).__name__}.")
        if kb is None:
            if kb_path is None:
                raise LinkingError(
                    f"Component '{self.name}' needs a knowledge base: set kb_path in "
                    f"[initialize.components.{self.name}] or pass kb= to initialize()."
                )
            kb = TerminologyKB.from_disk(kb_path)
        if reranker_path is not None:
            path = Path(reranker_path)
            if not path.is_file():
                raise LinkingError(f"Re-ranker file {path} not found: run train-reranker or fix reranker_path.")
            self.reranker = load_reranker(path.read_bytes())
        self.set_kb(kb)
        logger.info(
            "%s: %d concepts, %d terms indexed (%s)",
            self.name, len(kb), len(kb.aliases), type(self.candidate_generator.index).__name__,
        )

    # -- prediction -----------------------------------------------------------------

    def _spans(self, doc: Doc) -> list[Span]:
        if self.spans_key is None:
            return list(doc.ents)
        return list(doc.spans[self.spans_key]) if self.spans_key in doc.spans else []

    def links(self, span: Span) -> bool:
        """Whether this linker links ``span`` (its label is in ``labels``, or ``labels`` is null)."""
        labels = self.cfg.get("labels")  # absent from pipelines saved before the setting existed
        return labels is None or span.label_ in labels

    def __call__(self, doc: Doc) -> Doc:
        """Link the spans of ``doc``."""
        return next(iter(self.pipe([doc])))

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """Link the spans of each Doc, searching a batch of Docs at once."""
        batch: list[Doc] = []
        for doc in stream:
            batch.append(doc)
            if len(batch) >= batch_size:
                yield from self.set_annotations(batch, self.predict(batch))
                batch = []
        if batch:
            yield from self.set_annotations(batch, self.predict(batch))

    def predict(self, docs: Iterable[Doc]) -> list[LinkResult]:
        """One :class:`LinkResult` per linked span of ``docs`` (see :meth:`links`), in document then span order."""
        if self.candidate_generator is None:
            raise LinkingError(
                f"Component '{self.name}' has no knowledge base: run nlp.initialize() "
                "with kb_path, or load a saved pipeline."
            )
        spans = [span for doc in docs for span in self._spans(doc) if self.links(span)]
        texts = [span.text for span in spans]
        labels = [span.label_ or None for span in spans]
        if self.generator is not None:
            linker = GenerativeLinker(
                self.generator, self.candidate_generator, template=self.cfg["prompt_template"]
            )
            found = linker.link_many(texts, [_context(span) for span in spans], labels)
            return [LinkResult(c, (0, len(t))) for c, t in zip(found, texts)]
        if self.cfg["nested_fallback"]:
            tokens = [
                [(t.idx - span.start_char, t.idx - span.start_char + len(t.text)) for t in span]
                for span in spans
            ]
            return self.candidate_generator.link_many(texts, tokens, labels)
        found = self.candidate_generator.candidates(texts, labels)
        return [LinkResult(c, (0, len(t))) for c, t in zip(found, texts)]

    def set_annotations(self, docs: Iterable[Doc], results: list[LinkResult]) -> list[Doc]:
        """Write ``kb_id_``, ``_.candidates`` and ``_.link_span`` on the spans of ``docs``."""
        docs = list(docs)
        position = 0
        for doc in docs:
            linked = []
            for span in self._spans(doc):
                if not self.links(span):
                    linked.append(span)
                    continue
                result = results[position]
                position += 1
                best = result.best
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
        if position != len(results):
            raise LinkingError(f"Got {len(results)} link results for {position} spans.")
        return docs

    # -- serialization ------------------------------------------------------------

    def _parts(self) -> dict[str, bytes]:
        parts = {"cfg": json.dumps(self.cfg, ensure_ascii=False).encode("utf-8")}
        gen = self.candidate_generator
        if gen is None or gen.index is None:
            return parts
        parts.update(
            kb=gen.kb.to_jsonl_string().encode("utf-8"),
            encoder=self.encoder.to_bytes(),
            index=gen.index.to_bytes(),
        )
        if gen.dense_index is not None:
            parts["dense_index"] = gen.dense_index.to_bytes()
        if self.reranker is not None:
            parts["reranker"] = self.reranker.to_bytes()
        return parts

    def _load_parts(self, parts: dict[str, bytes]) -> None:
        if "cfg" in parts:
            self.cfg.update(json.loads(parts["cfg"].decode("utf-8")))
        state = {"kb", "encoder", "index"} & set(parts)
        if not state:
            self.candidate_generator = None
            return
        missing = {"kb", "encoder", "index"} - state
        if missing:
            raise LinkingError(
                f"Saved '{self.name}' lacks {sorted(missing)}: save the component again."
            )
        kb = TerminologyKB.from_jsonl_string(parts["kb"].decode("utf-8"), source=f"{self.name}/kb")
        self.encoder.from_bytes(parts["encoder"])
        index = index_from_bytes(parts["index"])
        dense_index = index_from_bytes(parts["dense_index"]) if "dense_index" in parts else None
        for found in (index, dense_index):
            if found is not None and len(found) != len(kb.aliases):
                raise LinkingError(
                    f"Saved '{self.name}' index has {len(found)} rows for {len(kb.aliases)} "
                    "knowledge-base terms: save the component again."
                )
        if (dense_index is None) != (self.dense_encoder is None):
            raise LinkingError(
                f"Saved '{self.name}' was built {'with' if dense_index is not None else 'without'} a dense "
                "encoder but its config says otherwise: load it with the config it was saved with."
            )
        self.reranker = load_reranker(parts["reranker"]) if "reranker" in parts else None
        self.candidate_generator = self._make_generator(kb, index, dense_index)

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        """Serialize cfg, the knowledge base, the fitted encoder and the index."""
        return srsly.msgpack_dumps({k: v for k, v in self._parts().items() if k not in exclude})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> ClinicalEntityLinker:
        """Load what :meth:`to_bytes` wrote."""
        parts = srsly.msgpack_loads(bytes_data)
        self._load_parts({k: v for k, v in parts.items() if k not in exclude})
        return self

    _FILES = (
        ("cfg", "cfg"),
        ("kb", "kb.jsonl"),
        ("encoder", "encoder.json"),
        ("index", "index.bin"),
        ("dense_index", "dense_index.bin"),
        ("reranker", "reranker.json"),
    )
    _DENSE_MODEL = "dense_encoder"

    def to_disk(self, path: PathLike, *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        """Write ``cfg``, ``kb.jsonl``, ``encoder.json``, ``index.bin`` (and the dense encoder's parts) under ``path``."""
        path = ensure_path(path)
        parts = self._parts()
        serializers = {name: _writer(parts[part]) for part, name in self._FILES if part in parts}
        if self.dense_encoder is not None and "dense_index" in parts:
            serializers[self._DENSE_MODEL] = self.dense_encoder.to_disk
        if not path.exists():
            path.mkdir(parents=True)
        to_disk(path, serializers, exclude)

    def from_disk(self, path: PathLike, *, exclude: Iterable[str] = SimpleFrozenList()) -> ClinicalEntityLinker:
        """Load what :meth:`to_disk` wrote (an uninitialized component saves only ``cfg``)."""
        path = ensure_path(path)
        parts: dict[str, bytes] = {}

        def reader(part: str) -> Callable[[Path], None]:
            def read(p: Path) -> None:
                if p.exists():
                    parts[part] = p.read_bytes()

            return read

        readers = {name: reader(part) for part, name in self._FILES}
        model_dir = path / self._DENSE_MODEL
        if self.dense_encoder is not None and model_dir.is_dir():
            readers[self._DENSE_MODEL] = self.dense_encoder.from_disk
        from_disk(path, readers, exclude)
        self._load_parts(parts)
        return self


def _context(span: Span) -> str:
    """The span's sentence, or up to :data:`CONTEXT_CHARS` either side when the Doc has none."""
    doc = span.doc
    if doc.has_annotation("SENT_START"):
        return span.sent.text
    start = max(0, span.start_char - CONTEXT_CHARS)
    end = min(len(doc.text), span.end_char + CONTEXT_CHARS)
    return doc.text[start:end].strip()


def _writer(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write
