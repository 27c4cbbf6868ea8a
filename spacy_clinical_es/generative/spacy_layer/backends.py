"""Generation backends of the ``generative_ner`` component, behind :class:`GenerativeBackend`.

A backend turns chunk texts into generated strings (one per chunk, same
order; :class:`~spacy_clinical_es.generative.seq2seq.TextGenerator`); it owns
its prompt and its response cache. Registered in spaCy's
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
from typing import Optional

from spacy.util import registry

from ..prompts import resolve_seq2seq_template, seq2seq_prompt
from ..seq2seq import LazySeq2SeqGenerator, Seq2SeqGenerator, TextGenerator

logger = logging.getLogger(__name__)

#: A backend is the package's one "strings in, strings out" protocol: chunk texts in, one output each.
GenerativeBackend = TextGenerator


@registry.misc("spacy_clinical_es.Seq2SeqBackend.v1")
class Seq2SeqBackend:
    """A seq2seq model prompted per chunk (see the module docstring); registered as is, so its defaults are its own."""

    def __init__(
        self,
        name_or_path: Optional[str] = None,
        *,
        prompt_template: str = "en",
        num_beams: int = 1,
        max_new_tokens: int = 128,
        batch_size: int = 8,
        device: str = "cpu",
        cache: bool = True,
        bundle_model: bool = False,
    ) -> None:
        self.prompt_template = resolve_seq2seq_template(prompt_template)
        self.bundle_model = bundle_model
        self.lazy = LazySeq2SeqGenerator(
            name_or_path,
            num_beams=num_beams,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            device=device,
            cache=cache,
        )

    @property
    def name_or_path(self) -> str | None:
        return self.lazy.name_or_path

    @property
    def generator(self) -> Seq2SeqGenerator:
        """The loaded generator (loads the model on first access)."""
        return self.lazy.generator

    def load(self) -> None:
        """Load the model now (fails early with a package error when it cannot be loaded)."""
        self.lazy.load()

    def prompts(self, texts: Sequence[str]) -> list[str]:
        return [seq2seq_prompt(self.prompt_template, text) for text in texts]

    def generate(self, texts: Sequence[str]) -> list[str]:
        return self.lazy.generate(self.prompts(texts))

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
            self.lazy.reset(str(path))
            logger.info("seq2seq backend uses the model bundled in %s", path)


#: The entry point name of the registered class (setup.cfg ``spacy_misc``).
make_seq2seq_backend = Seq2SeqBackend
