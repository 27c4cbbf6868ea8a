"""Batched greedy/beam generation with a Hugging Face seq2seq model, with a response cache (spaCy-free).

:class:`Seq2SeqGenerator` loads ``AutoTokenizer`` + ``AutoModelForSeq2SeqLM``
from a local directory (``save_pretrained`` layout) or a hub name and turns
prompts into generated strings. Generation is deterministic (no sampling), so
responses are cached in memory, keyed by the prompt and every setting that
changes the output (model, beams, token limits): running the same documents
twice, or the same sentence in two documents, decodes once.

:class:`TextGenerator` is the package's one "prompts in, strings out"
protocol: the backends of the ``clinical_es_generative_ner`` component and the
definition generator of the entity linker both satisfy it;
:class:`LazySeq2SeqGenerator` is the one wrapper that defers loading a model
until the first prompt (so a pipeline can be built and saved without weights).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigError

logger = logging.getLogger(__name__)


class ModelLoadError(ConfigError):
    """A seq2seq model or its tokenizer cannot be loaded from the given path or name."""


@runtime_checkable
class TextGenerator(Protocol):
    """Turns strings into generated strings: one output per input, same order.

    Optional hooks a component calls when present: ``load()`` (from
    ``initialize``), ``to_disk(path)`` / ``from_disk(path)`` (state saved with
    the component).
    """

    def generate(self, prompts: Sequence[str]) -> list[str]: ...


class Seq2SeqGenerator:
    """Generate text for prompts with a seq2seq model (greedy when ``num_beams == 1``, else beam search).

    ``max_input_tokens`` truncates long prompts (counted in
    :attr:`truncated_prompts`); chunks of about 100 words stay well below it.
    """

    def __init__(
        self,
        name_or_path: str,
        *,
        num_beams: int = 1,
        max_new_tokens: int = 128,
        batch_size: int = 8,
        device: str = "cpu",
        cache: bool = True,
        max_input_tokens: int = 512,
    ) -> None:
        if num_beams < 1 or max_new_tokens < 1 or batch_size < 1 or max_input_tokens < 1:
            raise ConfigError(
                "num_beams, max_new_tokens, batch_size and max_input_tokens must be positive, got "
                f"{num_beams}, {max_new_tokens}, {batch_size}, {max_input_tokens}"
            )
        self.name_or_path = str(name_or_path)
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.device = device
        self.use_cache = cache
        self.max_input_tokens = max_input_tokens
        self.cache: dict[tuple[Any, ...], str] = {}
        self.cache_hits = 0
        self.truncated_prompts = 0
        self.tokenizer, self.model = load_seq2seq(self.name_or_path, device)

    def _key(self, prompt: str) -> tuple[Any, ...]:
        return (self.name_or_path, self.num_beams, self.max_new_tokens, self.max_input_tokens, prompt)

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """One generated string per prompt, in order; prompts seen before come from the cache."""
        results: list[str | None] = [None] * len(prompts)
        todo: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            key = self._key(prompt)
            if self.use_cache and key in self.cache:
                results[i] = self.cache[key]
                self.cache_hits += 1
            else:
                todo.setdefault(prompt, []).append(i)
        # Longest first: fewer padding tokens per batch, and an out-of-memory error shows up at once.
        unique = sorted(todo, key=len, reverse=True)
        for begin in range(0, len(unique), self.batch_size):
            batch = unique[begin : begin + self.batch_size]
            for prompt, output in zip(batch, self._generate_batch(batch)):
                if self.use_cache:
                    self.cache[self._key(prompt)] = output
                for i in todo[prompt]:
                    results[i] = output
        return [r if r is not None else "" for r in results]

    def _generate_batch(self, prompts: list[str]) -> list[str]:
        import torch

        encoded = self.tokenizer(
            prompts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_input_tokens
        )
        lengths = self.tokenizer(prompts, truncation=False)["input_ids"]
        self.truncated_prompts += sum(len(ids) > self.max_input_tokens for ids in lengths)
        encoded = {name: tensor.to(self.device) for name, tensor in encoded.items()}
        with torch.inference_mode():
            generated = self.model.generate(
                **encoded,
                num_beams=self.num_beams,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
            )
        return self.tokenizer.batch_decode(
            generated, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def clear_cache(self) -> None:
        """Forget the cached responses."""
        self.cache.clear()


class LazySeq2SeqGenerator:
    """A :class:`Seq2SeqGenerator` created on first use (``options`` are its keyword arguments)."""

    def __init__(self, name_or_path: str | None, **options: Any) -> None:
        self.name_or_path = None if name_or_path is None else str(name_or_path)
        self.options = options
        self._generator: Seq2SeqGenerator | None = None

    @property
    def generator(self) -> Seq2SeqGenerator:
        """The loaded generator (loads the model on first access)."""
        if self._generator is None:
            if not self.name_or_path:
                raise ConfigError(
                    "the seq2seq generator has no model: set name_or_path in its config "
                    "(a directory written by save_pretrained, e.g. by python -m spacy_clinical_es finetune-seq2seq)"
                )
            self._generator = Seq2SeqGenerator(self.name_or_path, **self.options)
        return self._generator

    def load(self) -> None:
        """Load the model now (fails early with a package error when it cannot be loaded)."""
        _ = self.generator

    def reset(self, name_or_path: str) -> None:
        """Use another model (e.g. a copy bundled with a pipeline); it is loaded on next use."""
        self.name_or_path = str(name_or_path)
        self._generator = None

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return self.generator.generate(prompts)


def load_seq2seq(name_or_path: str, device: str = "cpu") -> tuple[Any, Any]:
    """``(tokenizer, model)`` in eval mode on ``device``; :class:`ModelLoadError` saying what to do otherwise."""
    try:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ModelLoadError(
            "the seq2seq backend needs transformers and torch: pip install 'spacy-clinical-es[transformers]'"
        ) from err
    local = Path(name_or_path).expanduser()
    looks_local = local.exists() or name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if looks_local and not (local / "config.json").exists():
        raise ModelLoadError(
            f"no seq2seq model in {str(local)!r}: expected a directory written by save_pretrained "
            "(config.json, weights and tokenizer files); train one with python -m spacy_clinical_es finetune-seq2seq"
        )
    source = str(local) if looks_local else name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSeq2SeqLM.from_pretrained(source)
    except Exception as err:
        raise ModelLoadError(
            f"cannot load a seq2seq model and tokenizer from {source!r} ({type(err).__name__}): give a local "
            "directory written by save_pretrained, or a hub name of an encoder-decoder model when the hub can "
            "be reached"
        ) from err
    try:
        model.to(device)
    except Exception as err:
        raise ModelLoadError(f"cannot move the seq2seq model to device {device!r} ({type(err).__name__})") from err
    model.eval()
    logger.info("loaded seq2seq model %s on %s", source, device)
    return tokenizer, model
