"""spacy-llm task ``spacy_clinical_es.GenerativeNER.v1``: zero-/k-shot generative NER with any spacy-llm model.

Use it with spacy-llm's ``llm`` component (and so its models and its
``spacy.BatchCache.v1`` response cache)::

    [components.llm]
    factory = "llm"

    [components.llm.task]
    @llm_tasks = "spacy_clinical_es.GenerativeNER.v1"
    labels = ["EDAD", "SEXO", "ENFERMEDAD", "PROCEDIMIENTO"]
    n_examples = 5
    example_selection = "similar"

    [components.llm.task.output_format]
    @misc = "spacy_clinical_es.TagFormat.v1"

    [components.llm.model]
    @llm_models = "spacy.GPT-4.v3"

    [initialize.components.llm]
    examples_path = "corpus/imaging/train.spacy"

The task is a *sharding* task: every doc is cut into chunks of about
``max_chunk_tokens`` words on sentence boundaries (the doc shards spacy-llm
sends to the model, one prompt each, whatever the model's context length);
each prompt is the Spanish template of :mod:`.prompts` with the label
definitions, the format instructions and, for k-shot, ``n_examples``
examples drawn from a training DocBin (``examples_path`` in
``[initialize.components.llm]``, else the training examples spaCy passes to
``initialize``), either ``"fixed"`` or the most ``"similar"`` to the chunk.
Responses are parsed, aligned back to the text (re-tokenized or re-cased
output, hallucinated tags and strings dropped and counted) and written like
the ``generative_ner`` component does (:func:`~.annotate.set_predictions`).
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import srsly
from spacy import util
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from ...errors import ConfigError
from ..decode import decode_chunks
from ..formats import TagFormat
from ..prompts import SPANISH_LLM_TEMPLATE, ExampleSelector, LLMPrompt, PromptExample
from ..types import OutputFormat
from . import registry as _formats  # noqa: F401 (registers the formats)
from .annotate import chunk_examples, doc_chunks, set_predictions

try:
    from spacy_llm.registry import registry as llm_registry
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ConfigError(
        "the GenerativeNER spacy-llm task needs spacy-llm: pip install 'spacy-clinical-es[llm]'"
    ) from err

logger = logging.getLogger(__name__)

TASK_NAME = "spacy_clinical_es.GenerativeNER.v1"


@llm_registry.llm_tasks(TASK_NAME)
class GenerativeNERTask:
    """Prompts per chunk, parses and aligns the responses (see the module docstring).

    Registered as is (its defaults are the task's config defaults, written once):
    Spanish prompt, zero-shot (``n_examples = 0``) or k-shot; Tag output by default.
    ``labels``: a list or a comma-separated string (empty: the gold labels
    at ``initialize``). ``component``: the name the counts are stored under
    in ``doc.user_data`` (set it to the component's name when it is not
    ``llm``).
    """

    def __init__(
        self,
        *,
        labels: Union[List[str], str] = "",
        output_format: Optional[OutputFormat] = None,
        template: str = SPANISH_LLM_TEMPLATE,
        label_definitions: Optional[Dict[str, str]] = None,
        format_instructions: Optional[str] = None,
        n_examples: int = 0,
        example_selection: str = "fixed",
        seed: int = 0,
        max_chunk_tokens: int = 100,
        pack_sentences: bool = True,
        spans_key: Optional[str] = None,
        component: str = "llm",
    ) -> None:
        if isinstance(labels, str):
            labels = [label.strip() for label in labels.split(",") if label.strip()]
        if max_chunk_tokens < 1:
            raise ConfigError(f"max_chunk_tokens must be at least 1, got {max_chunk_tokens}")
        self._labels = list(labels)
        self.output_format = output_format if output_format is not None else TagFormat()
        self.template = template
        self.label_definitions = dict(label_definitions or {})
        self.format_instructions = format_instructions
        self.n_examples = n_examples
        self.example_selection = example_selection
        self.seed = seed
        self.max_chunk_tokens = max_chunk_tokens
        self.pack_sentences = pack_sentences
        self.spans_key = spans_key
        self.component = component
        self.examples: list[PromptExample] = []
        self._refresh()

    def _make_prompt(self) -> LLMPrompt:
        return LLMPrompt(
            self._labels,
            getattr(self.output_format, "name", ""),
            template=self.template,
            label_definitions=self.label_definitions,
            format_instructions=self.format_instructions,
        )

    def _refresh(self) -> None:
        self._prompt = self._make_prompt()
        self._selector = ExampleSelector(self.examples, self.n_examples, self.example_selection, self.seed)

    # LabeledTask
    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self._labels)

    def add_label(self, label: str, label_definition: Optional[str] = None) -> int:
        if label in self._labels:
            return 0
        self._labels.append(label)
        if label_definition:
            self.label_definitions[label] = label_definition
        self._prompt = self._make_prompt()
        return 1

    def clear(self) -> None:
        self._labels = []
        self._prompt = self._make_prompt()

    # PromptTemplateProvider: spacy-llm's cache refuses a cache directory written with another prompt.
    @property
    def prompt_template(self) -> str:
        settings = (
            f"format={getattr(self.output_format, 'name', type(self.output_format).__name__)} "
            f"n_examples={self.n_examples} selection={self.example_selection} seed={self.seed} "
            f"chunk={self.max_chunk_tokens}/{'packed' if self.pack_sentences else 'sentence'} "
            f"examples={len(self.examples)}"
        )
        return self._prompt.render("{text}") + "\n# " + settings

    def render_prompt(self, text: str) -> str:
        """The prompt for one chunk ``text`` (with its k-shot examples)."""
        return self._prompt.render(text, self._selector.select(text))

    def _shards(self, doc: Doc) -> list[Doc]:
        chunks = doc_chunks(doc, self.max_chunk_tokens, self.pack_sentences)
        if not chunks:
            return []
        bounds = [0]
        for start, end in chunks[1:]:
            span = doc.char_span(start, end, alignment_mode="expand")
            token = span.start if span is not None else bounds[-1]
            if token > bounds[-1]:
                bounds.append(token)
        bounds.append(len(doc))
        return [doc[a:b].as_doc() for a, b in zip(bounds, bounds[1:])]  # noqa: RUF007 (Python 3.9)

    def generate_prompts(
        self, docs: Iterable[Doc], context_length: Optional[int] = None
    ) -> Iterable[Tuple[Iterable[str], Iterable[Doc]]]:
        """Per doc: one prompt per chunk and the chunk shards (a blank doc: no prompt, the doc itself)."""
        for doc in docs:
            shards = self._shards(doc)
            if not shards:
                yield [], [doc]
                continue
            yield [self.render_prompt(shard.text.strip()) for shard in shards], shards

    def parse_responses(
        self, shards: Iterable[Iterable[Doc]], responses: Iterable[Iterable[str]]
    ) -> Iterable[Doc]:
        """Fuse each doc's shards back into one doc and write the aligned predictions to it."""
        for doc_shards, doc_responses in zip(shards, responses):
            doc_shards = list(doc_shards)
            outputs = [str(response) for response in doc_responses]
            doc = doc_shards[0] if len(doc_shards) == 1 else Doc.from_docs(doc_shards, ensure_whitespace=False)
            chunks: list[tuple[int, int]] = []
            offset = 0
            for shard in doc_shards:  # shards tile the doc; only a blank doc has a blank shard
                if shard.text.strip():
                    chunks.append((offset, offset + len(shard.text)))
                offset += len(shard.text)
            prediction = decode_chunks(doc.text, chunks, outputs, self.output_format, self._labels or None)
            set_predictions(doc, prediction, spans_key=self.spans_key, component=self.component)
            yield doc

    # InitializableComponent (the llm component forwards initialize to its task)
    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        nlp: Language,
        labels: List[str] = [],  # noqa: B006 (spaCy validates initialize settings)
        examples_path: Optional[str] = None,
        examples_span_key: Optional[str] = None,
        n_examples: Optional[int] = None,
    ) -> None:
        """Labels (given, else gold labels) and the k-shot example pool (a DocBin, else ``get_examples``)."""
        if n_examples is not None:
            self.n_examples = n_examples
        if labels:
            self._labels = list(labels)
        docs: list[Doc] = []
        if examples_path is not None:
            path = Path(examples_path)
            if not path.is_file():
                raise ConfigError(f"examples_path {path} is not a file: give a training .spacy DocBin")
            docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
        elif get_examples is not None and (self.n_examples > 0 or not self._labels):
            # Without annotation a reference is spaCy's dummy "x y z" example, not a training doc.
            references = (example.reference for example in get_examples())
            docs = [doc for doc in references if doc.has_annotation("ENT_IOB") or doc.spans]
        if not self._labels:
            found: set[str] = set()
            for doc in docs:
                spans = doc.ents if examples_span_key is None else doc.spans.get(examples_span_key, [])
                found.update(span.label_ for span in spans)
            self._labels = sorted(found)
        if self.n_examples > 0:
            problems: Counter = Counter()
            pool = chunk_examples(
                docs,
                self.output_format,
                span_key=examples_span_key,
                max_tokens=self.max_chunk_tokens,
                pack=self.pack_sentences,
                problems=problems,
            )
            self.examples = [PromptExample(e.text, e.target, e.n_entities) for e in pool]
            if not self.examples:
                raise ConfigError(
                    f"{TASK_NAME}: n_examples = {self.n_examples} but no annotated training doc was found; set "
                    "examples_path (a training .spacy DocBin) in [initialize.components.<component name>]"
                )
            logger.info(
                "%s: %d k-shot candidate chunks from %d docs; not expressible %s",
                TASK_NAME,
                len(self.examples),
                len(docs),
                dict(problems),
            )
        self._refresh()

    # Serializable: labels, settings and the example pool travel with the pipeline.
    def _state(self) -> dict[str, Any]:
        return {
            "labels": self._labels,
            "label_definitions": self.label_definitions,
            "n_examples": self.n_examples,
            "examples": [list(e) for e in self.examples],
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self._labels = list(state.get("labels", self._labels))
        self.label_definitions = dict(state.get("label_definitions", self.label_definitions))
        self.n_examples = int(state.get("n_examples", self.n_examples))
        self.examples = [PromptExample(str(t), str(o), int(n)) for t, o, n in state.get("examples", [])]
        self._refresh()

    def to_bytes(self, *, exclude: Tuple[str, ...] = ()) -> bytes:
        return util.to_bytes({"state": lambda: srsly.json_dumps(self._state())}, exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Tuple[str, ...] = ()) -> GenerativeNERTask:
        util.from_bytes(bytes_data, {"state": lambda b: self._set_state(srsly.json_loads(b))}, exclude)
        return self

    def to_disk(self, path: Path, *, exclude: Tuple[str, ...] = ()) -> None:
        util.to_disk(path, {"state.json": lambda p: srsly.write_json(p, self._state())}, exclude)

    def from_disk(self, path: Path, *, exclude: Tuple[str, ...] = ()) -> GenerativeNERTask:
        util.from_disk(path, {"state.json": lambda p: self._set_state(srsly.read_json(p))}, exclude)
        return self

    # ScorableTask
    def scorer(self, examples: Iterable[Example]) -> Dict[str, Any]:
        from ..evaluation.scorer import flat_scores, score_docs

        return flat_scores(score_docs(list(examples), span_key=self.spans_key))


#: The entry point name of the registered task class (setup.cfg ``thinc_llm_tasks``).
make_generative_ner_task = GenerativeNERTask
