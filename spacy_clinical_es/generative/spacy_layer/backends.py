"""Generation backends of the ``generative_ner`` component, behind :class:`GenerativeBackend`.

A backend turns chunk texts into generated strings (one per chunk, same
order); it owns its prompt and its response cache. Registered in spaCy's
``misc`` registry:

* ``spacy_clinical_es.Seq2SeqBackend.v1``: a Hugging Face seq2seq model
  (:class:`~.seq2seq.Seq2SeqGenerator`: local directory or hub name, greedy
  or beam search, batched) with a prompt template: ``"en"`` ("Extract named
  entities: {sentence}"), ``"es"`` or any string with ``{sentence}``.

Model storage: the pipeline references the model by ``name_or_path``
(default: a multi-GB Medical-mT5 is not copied into every pipeline). With
``bundle_model = true`` ``nlp.to_disk`` also writes the model into the
component's ``backend/`` folder and a loaded pipeline uses that copy.
The model is loaded on first use or by ``nlp.initialize()``.

Decoder LLMs go through spacy-llm instead: the task
``spacy_clinical_es.GenerativeNER.v1`` (:mod:`.llm_task`) with any
spacy-llm model and spacy-llm's cache.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Protocol, runtime_checkable

from spacy.util import registry

from ..errors import ConfigError
from .prompts import resolve_seq2seq_template, seq2seq_prompt
from .seq2seq import Seq2SeqGenerator

logger = logging.getLogger(__name__)


@runtime_checkable
class GenerativeBackend(Protocol):
    """Generates one output string per chunk text.

    Optional hooks the component calls when present: ``load()`` (from
    ``initialize``), ``to_disk(path)`` / ``from_disk(path)`` (state in the
    component's ``backend/`` folder).
    """

    def generate(self, texts: Sequence[str]) -> list[str]:
        ...


class Seq2SeqBackend:
    """A seq2seq model prompted per chunk (see the module docstring)."""

    def __init__(
        self,
        name_or_path: str | None,
        *,
        prompt_template: str = "en",
        num_beams: int = 1,
        max_new_tokens: int = 128,
        batch_size: int = 8,
        device: str = "cpu",
        cache: bool = True,
        bundle_model: bool = False,
    ) -> None:
        self.name_or_path = name_or_path
        self.prompt_template = resolve_seq2seq_template(prompt_template)
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.device = device
        self.cache = cache
        self.bundle_model = bundle_model
        self._generator: Seq2SeqGenerator | None = None

    @property
    def generator(self) -> Seq2SeqGenerator:
        """The loaded generator (loads the model on first access)."""
        if self._generator is None:
            if not self.name_or_path:
                raise ConfigError(
                    "the seq2seq backend has no model: set name_or_path in the backend config "
                    "(a directory written by save_pretrained, e.g. by scripts/finetune_seq2seq.py)"
                )
            self._generator = Seq2SeqGenerator(
                self.name_or_path,
                num_beams=self.num_beams,
                max_new_tokens=self.max_new_tokens,
                batch_size=self.batch_size,
                device=self.device,
                cache=self.cache,
            )
        return self._generator

    def load(self) -> None:
        """Load the model now (fails early with a package error when it cannot be loaded)."""
        _ = self.generator

    def prompts(self, texts: Sequence[str]) -> list[str]:
        return [seq2seq_prompt(self.prompt_template, text) for text in texts]

    def generate(self, texts: Sequence[str]) -> list[str]:
        return self.generator.generate(self.prompts(texts))

    def to_disk(self, path: Path) -> None:
        """With ``bundle_model``, save the model and tokenizer into ``path``; otherwise nothing."""
        if not self.bundle_model:
            return
        generator = self.generator
        path.mkdir(parents=True, exist_ok=True)
        generator.model.save_pretrained(path)
        generator.tokenizer.save_pretrained(path)

    def from_disk(self, path: Path) -> None:
        """Use a bundled copy in ``path`` when there is one."""
        if (path / "config.json").exists():
            self.name_or_path = str(path)
            self._generator = None
            logger.info("seq2seq backend uses the model bundled in %s", path)


@registry.misc("spacy_clinical_es.Seq2SeqBackend.v1")
def make_seq2seq_backend(
    name_or_path: Optional[str] = None,
    prompt_template: str = "en",
    num_beams: int = 1,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    device: str = "cpu",
    cache: bool = True,
    bundle_model: bool = False,
) -> Seq2SeqBackend:
    """A Hugging Face seq2seq backend (local directory or hub name; greedy when ``num_beams`` is 1)."""
    return Seq2SeqBackend(
        name_or_path,
        prompt_template=prompt_template,
        num_beams=num_beams,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        device=device,
        cache=cache,
        bundle_model=bundle_model,
    )
