"""Generative linking backend: a seq2seq model writes a definition, retrieval maps it to a code.

The model is prompted with :data:`DEFINITION_PROMPT` ("Genera una definición
para el término: {term} - en la frase: {sentence}"), as in the
definition-generation approach to clinical concept normalization; its output
goes through the same steps as a mention (:meth:`CandidateGenerator.candidates`:
exact normalized match, word-key match, then dense nearest neighbours), so a
model that reproduces a knowledge-base term links exactly and a looser
paraphrase still finds its nearest term. An empty generation falls back to
the mention itself. spaCy-free; the component wires it in with its
``generator`` setting.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

from ..generative.seq2seq import LazySeq2SeqGenerator, TextGenerator
from .candidates import Candidate, CandidateGenerator
from .kb import LinkingError

logger = logging.getLogger(__name__)

__all__ = ["DEFINITION_PROMPT", "GenerativeLinker", "LazySeq2SeqGenerator", "TextGenerator", "definition_prompt"]

DEFINITION_PROMPT = "Genera una definición para el término: {term} - en la frase: {sentence}"


def definition_prompt(term: str, sentence: str, template: str = DEFINITION_PROMPT) -> str:
    """Fill ``template`` (placeholders ``{term}`` and ``{sentence}``)."""
    try:
        return template.format(term=term, sentence=sentence)
    except (KeyError, IndexError, ValueError):
        raise LinkingError(
            "The prompt template may only use the placeholders {term} and {sentence}."
        ) from None


class GenerativeLinker:
    """Link mentions through generated definitions (see the module docstring)."""

    def __init__(
        self,
        generator: TextGenerator,
        candidates: CandidateGenerator,
        *,
        template: str = DEFINITION_PROMPT,
    ) -> None:
        definition_prompt("x", "y", template)  # fail early on a bad template
        self.generator = generator
        self.candidates = candidates
        self.template = template
        self.empty_generations = 0

    def prompts(self, terms: Sequence[str], sentences: Sequence[str]) -> list[str]:
        if len(terms) != len(sentences):
            raise LinkingError(f"Got {len(terms)} terms but {len(sentences)} sentences.")
        return [definition_prompt(t, s, self.template) for t, s in zip(terms, sentences)]

    def generate(self, terms: Sequence[str], sentences: Sequence[str]) -> list[str]:
        """The generated text per mention (the mention itself where the model gave nothing)."""
        outputs = self.generator.generate(self.prompts(terms, sentences))
        if len(outputs) != len(terms):
            raise LinkingError(
                f"The generator returned {len(outputs)} outputs for {len(terms)} prompts."
            )
        result = []
        for term, output in zip(terms, outputs):
            if output and output.strip():
                result.append(output.strip())
            else:
                self.empty_generations += 1
                result.append(term)
        return result

    def link_many(
        self,
        terms: Sequence[str],
        sentences: Sequence[str],
        labels: Sequence[str | None] | None = None,
    ) -> list[list[Candidate]]:
        """Candidates for each mention, found from its generated definition."""
        if not terms:
            return []
        return self.candidates.candidates(self.generate(terms, sentences), labels)
