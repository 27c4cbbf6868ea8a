"""``generative_ner``: named entities written by a generative model and aligned back to the text.

Each doc is cut into chunks (sentences, optionally packed up to
``max_chunk_tokens`` words: :func:`~spacy_clinical_es.generative.chunks.plan_chunks`);
the backend (:class:`~spacy_clinical_es.generative.spacy_layer.backends.GenerativeBackend`,
e.g. ``spacy_clinical_es.Seq2SeqBackend.v1``) generates one output per chunk
in the configured format (List, Tag or JSON); outputs are parsed, aligned to
their chunk (:mod:`spacy_clinical_es.generative.align`), merged and written to
``doc.ents`` or the span group ``spans_key``. Hallucinations (labels outside
``labels``, strings not in the text) are dropped and counted with the other
problems per doc in ``doc.user_data["spacy_clinical_es.generative"][name]``
and summed over the component's lifetime in :attr:`GenerativeNER.totals`.

The component does not train inside ``spacy train``: fine-tune the seq2seq
model with ``python -m spacy_clinical_es finetune-seq2seq`` and point the backend at it.
``to_disk`` saves the component settings (and, with the backend's
``bundle_model``, the model). For decoder LLMs use spacy-llm's ``llm``
component with the task ``spacy_clinical_es.GenerativeNER.v1``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Optional

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import SimpleFrozenList, ensure_path, minibatch
from thinc.api import Config

from ..errors import ConfigError
from ..evaluation.scorer import flat_scores, score_docs
from ..generative.decode import DocPrediction, GenerationCounts, decode_chunks
from ..generative.spacy_layer import registry as _formats  # noqa: F401 (registers the formats)
from ..generative.spacy_layer.annotate import doc_chunks, set_predictions
from ..generative.spacy_layer.backends import GenerativeBackend
from ..generative.types import OutputFormat

logger = logging.getLogger(__name__)

generative_ner_default_config = """
[generative_ner]
labels = []
spans_key = null
max_chunk_tokens = 100
pack_sentences = false

[generative_ner.output_format]
@misc = "spacy_clinical_es.ListFormat.v1"

[generative_ner.backend]
@misc = "spacy_clinical_es.Seq2SeqBackend.v1"
name_or_path = null
prompt_template = "en"
num_beams = 1
max_new_tokens = 128
batch_size = 8
device = "cpu"
cache = true
bundle_model = false
"""
DEFAULT_GENERATIVE_NER_CONFIG = Config().from_str(generative_ner_default_config)["generative_ner"]

_CFG_KEYS = ("labels", "spans_key", "max_chunk_tokens", "pack_sentences")


@Language.factory(
    "clinical_es_generative_ner",
    assigns=["doc.ents"],
    requires=[],
    default_config=DEFAULT_GENERATIVE_NER_CONFIG,
)
def make_generative_ner(
    nlp: Language,
    name: str,
    backend: GenerativeBackend,
    output_format: OutputFormat,
    labels: list[str],
    spans_key: Optional[str],
    max_chunk_tokens: int,
    pack_sentences: bool,
) -> GenerativeNER:
    """Create a :class:`GenerativeNER` (see the module docstring)."""
    return GenerativeNER(
        nlp,
        name,
        backend=backend,
        output_format=output_format,
        labels=labels,
        spans_key=spans_key,
        max_chunk_tokens=max_chunk_tokens,
        pack_sentences=pack_sentences,
    )


class GenerativeNER:
    """Generate entities chunk by chunk with a backend and align them back (see the module docstring)."""

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        backend: GenerativeBackend,
        output_format: OutputFormat,
        labels: Iterable[str],
        spans_key: str | None,
        max_chunk_tokens: int,
        pack_sentences: bool,
    ) -> None:
        if not isinstance(backend, GenerativeBackend):
            raise ConfigError(f"backend must have a generate(texts) method, got {type(backend).__name__}")
        if max_chunk_tokens < 1:
            raise ConfigError(f"max_chunk_tokens must be at least 1, got {max_chunk_tokens}")
        self.nlp = nlp
        self.name = name
        self.backend = backend
        self.output_format = output_format
        self.cfg: dict[str, Any] = {
            "labels": list(labels),
            "spans_key": spans_key,
            "max_chunk_tokens": max_chunk_tokens,
            "pack_sentences": pack_sentences,
        }
        self.totals = GenerationCounts()

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def spans_key(self) -> str | None:
        return self.cfg["spans_key"]

    def add_label(self, label: str) -> int:
        """Accept ``label`` (outputs with other labels are hallucinations); 1 if new, else 0."""
        if label in self.cfg["labels"]:
            return 0
        self.cfg["labels"].append(label)
        return 1

    def __call__(self, doc: Doc) -> Doc:
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 32) -> Iterator[Doc]:
        """Process docs in batches: the chunks of a whole batch go to the backend in one call."""
        for docs in minibatch(stream, size=batch_size):
            self.set_annotations(docs, self.predict(docs))
            yield from docs

    def predict(self, docs: Iterable[Doc]) -> list[DocPrediction]:
        """Generate and decode every chunk of ``docs`` (nothing is written to the docs)."""
        docs = list(docs)
        plans = [doc_chunks(doc, self.cfg["max_chunk_tokens"], self.cfg["pack_sentences"]) for doc in docs]
        texts = [doc.text[start:end] for doc, chunks in zip(docs, plans) for start, end in chunks]
        outputs = list(self.backend.generate(texts)) if texts else []
        if len(outputs) != len(texts):
            logger.warning("%s: backend returned %d outputs for %d chunks", self.name, len(outputs), len(texts))
        labels = self.labels or None
        predictions = []
        cursor = 0
        for doc, chunks in zip(docs, plans):
            chunk_outputs = outputs[cursor : cursor + len(chunks)]
            cursor += len(chunks)
            predictions.append(decode_chunks(doc.text, chunks, chunk_outputs, self.output_format, labels))
        return predictions

    def set_annotations(self, docs: Iterable[Doc], predictions: Iterable[DocPrediction]) -> None:
        """Write the predictions to the docs and add their counts to :attr:`totals`."""
        for doc, prediction in zip(docs, predictions):
            counts = set_predictions(doc, prediction, spans_key=self.spans_key, component=self.name)
            self.totals.add(counts)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]] | None = None,
        *,
        nlp: Optional[Language] = None,
        labels: Optional[list[str]] = None,
    ) -> None:
        """Set the label set (``labels``, else the gold labels of ``get_examples``) and load the backend."""
        if labels:
            self.cfg["labels"] = list(labels)
        elif not self.cfg["labels"] and get_examples is not None:
            found: set[str] = set()
            for example in get_examples():
                reference = example.reference
                spans = reference.ents if self.spans_key is None else reference.spans.get(self.spans_key, [])
                found.update(span.label_ for span in spans)
            self.cfg["labels"] = sorted(found)
        load = getattr(self.backend, "load", None)
        if callable(load):
            load()
        logger.info("%s: labels %s", self.name, ", ".join(self.cfg["labels"]) or "(any)")

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """Strict/IOB2 scores of :mod:`spacy_clinical_es.evaluation` (flat keys) on this component's spans."""
        return flat_scores(score_docs(list(examples), span_key=self.spans_key))

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        """Save the settings (``cfg``) and the backend's state (``backend/``, when it has any)."""
        path = ensure_path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "cfg", self.cfg)
        to_disk = getattr(self.backend, "to_disk", None)
        if callable(to_disk) and "backend" not in exclude:
            to_disk(path / "backend")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> GenerativeNER:
        """Load what :meth:`to_disk` saved."""
        path = ensure_path(path)
        cfg_path = path / "cfg"
        if not cfg_path.exists():
            raise ConfigError(f"{cfg_path} is missing: save the component with nlp.to_disk first")
        cfg = srsly.read_json(cfg_path)
        self.cfg.update({key: cfg[key] for key in _CFG_KEYS if key in cfg})
        from_disk = getattr(self.backend, "from_disk", None)
        if callable(from_disk) and "backend" not in exclude:
            from_disk(path / "backend")
        return self
