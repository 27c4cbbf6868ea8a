"""Prompts for generative NER: seq2seq instructions and Spanish zero-/k-shot LLM prompts (spaCy-free).

Templates use named placeholders in braces, replaced in one pass, so any
other brace in a template (JSON examples) is left alone:

* seq2seq (:func:`seq2seq_prompt`): ``{sentence}`` (the chunk text).
  :data:`SEQ2SEQ_TEMPLATES` holds the English instruction of the paper
  ("Extract named entities: {sentence}") and a Spanish one.
* LLM (:class:`LLMPrompt`): ``{labels}`` (one line per label with its
  definition), ``{format_instructions}`` (how to write the answer in the
  chosen output format), ``{examples}`` (the k-shot block, empty for
  zero-shot) and ``{text}`` (the chunk). :data:`SPANISH_LLM_TEMPLATE` is the
  default.

k-shot examples (:class:`PromptExample`: a chunk text and its rendered
target) are chosen by :class:`ExampleSelector`: ``"fixed"`` (the same k for
every chunk: a seeded sample, examples with entities first) or
``"similar"`` (the k most similar by character n-gram TF-IDF cosine, most
similar last, i.e. closest to the text).
"""
from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..errors import ConfigError

SEQ2SEQ_TEMPLATES: dict[str, str] = {
    "en": "Extract named entities: {sentence}",
    "es": "Extrae las entidades nombradas: {sentence}",
}

#: Spanish definitions of the imaging labels (used when the config gives none).
DEFAULT_LABEL_DEFINITIONS: dict[str, str] = {
    "EDAD": "edad del paciente (p. ej. «38 años», «3 meses»)",
    "SEXO": "sexo del paciente (p. ej. «varón», «mujer», «niña»)",
    "ENFERMEDAD": "enfermedad, trastorno, lesión o hallazgo patológico (p. ej. «cáncer de mama»)",
    "PROCEDIMIENTO": "procedimiento diagnóstico o terapéutico (p. ej. «TAC abdominal», «biopsia»)",
}

FORMAT_INSTRUCTIONS: dict[str, str] = {
    "tag": (
        "Copia el texto exactamente igual, sin corregir ni resumir nada, y encierra cada entidad entre "
        "etiquetas <CLASE> y </CLASE>, por ejemplo: <SEXO>Varón</SEXO> de <EDAD>38 años</EDAD>."
    ),
    "list": (
        "Responde solo con la lista de entidades en el orden del texto, con el formato "
        "«texto | CLASE» y separadas por «; », por ejemplo: Varón | SEXO; 38 años | EDAD. "
        "Copia cada entidad tal como aparece en el texto. Si no hay ninguna, responde NO ENTITIES."
    ),
    "json": (
        'Responde solo con una lista JSON de objetos {"label": CLASE, "text": texto} en el orden del texto; '
        "para una entidad discontinua, «text» es la lista de sus fragmentos. Si no hay ninguna, responde []."
    ),
}

SPANISH_LLM_TEMPLATE = """Eres un experto en anotación de informes clínicos en español.
Marca en el texto las entidades de estas clases y de ninguna otra:
{labels}
{format_instructions}
No inventes entidades ni etiquetas.
{examples}
Texto:
{text}
Respuesta:
"""

_PLACEHOLDER = re.compile(r"\{(sentence|labels|format_instructions|examples|text)\}")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace the ``{name}`` placeholders of ``template`` found in ``values`` (one pass)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def seq2seq_prompt(template: str, sentence: str) -> str:
    """The seq2seq input for one chunk: ``template`` with ``{sentence}`` filled."""
    return fill(template, {"sentence": sentence})


def resolve_seq2seq_template(template: str) -> str:
    """``"en"``/``"es"`` name a built-in template; anything else must contain ``{sentence}``."""
    template = SEQ2SEQ_TEMPLATES.get(template, template)
    if "{sentence}" not in template:
        raise ConfigError(
            "a seq2seq prompt template must contain the placeholder {sentence} (or be 'en' or 'es'); "
            f"got one of {len(template)} characters without it"
        )
    return template


class PromptExample(NamedTuple):
    """A k-shot example: a chunk text and the target the model should write for it."""

    text: str
    output: str
    n_entities: int = 0


class ExampleSelector:
    """Choose k examples per chunk: ``"fixed"`` or ``"similar"`` (see the module docstring)."""

    MODES = ("fixed", "similar")

    def __init__(self, examples: Sequence[PromptExample], k: int, mode: str = "fixed", seed: int = 0) -> None:
        if mode not in self.MODES:
            raise ConfigError(f"example selection must be one of {self.MODES}, got {mode!r}")
        if k < 0:
            raise ConfigError(f"the number of examples must be >= 0, got {k}")
        self.examples = list(examples)
        self.k = min(k, len(self.examples))
        self.mode = mode
        self.seed = seed
        self._fixed: list[PromptExample] | None = None
        self._encoder = None
        self._matrix = None

    def fixed(self) -> list[PromptExample]:
        """The seeded sample used in ``"fixed"`` mode (examples with entities first, then in sample order)."""
        if self._fixed is None:
            order = list(range(len(self.examples)))
            random.Random(self.seed).shuffle(order)
            order.sort(key=lambda i: self.examples[i].n_entities == 0)
            self._fixed = [self.examples[i] for i in order[: self.k]]
        return self._fixed

    def select(self, text: str) -> list[PromptExample]:
        """The examples for a chunk ``text`` (never the chunk itself)."""
        if self.k == 0:
            return []
        if self.mode == "fixed":
            return [e for e in self.fixed() if e.text != text] or self.fixed()
        if self._matrix is None:
            from ..linking.encoders import TfidfCharEncoder

            self._encoder = TfidfCharEncoder().fit([e.text for e in self.examples])
            self._matrix = self._encoder.encode([e.text for e in self.examples])
        assert self._encoder is not None
        scores = (self._matrix @ self._encoder.encode([text]).T).toarray().ravel()
        order = sorted(range(len(self.examples)), key=lambda i: (-scores[i], i))
        chosen = [i for i in order if self.examples[i].text != text][: self.k]
        return [self.examples[i] for i in reversed(chosen)]


class LLMPrompt:
    """Render the LLM prompt of one chunk: labels, format instructions, k-shot examples, text."""

    def __init__(
        self,
        labels: Sequence[str],
        format_name: str,
        *,
        template: str = SPANISH_LLM_TEMPLATE,
        label_definitions: Mapping[str, str] | None = None,
        format_instructions: str | None = None,
    ) -> None:
        if "{text}" not in template:
            raise ConfigError("an LLM prompt template must contain the placeholder {text}")
        if format_instructions is None:
            if format_name not in FORMAT_INSTRUCTIONS:
                raise ConfigError(
                    f"no built-in instructions for the output format {format_name!r}: "
                    "set format_instructions in the task config"
                )
            format_instructions = FORMAT_INSTRUCTIONS[format_name]
        self.template = template
        self.labels = list(labels)
        definitions = dict(DEFAULT_LABEL_DEFINITIONS)
        definitions.update(label_definitions or {})
        self.definitions = {label: definitions.get(label, "") for label in self.labels}
        self.format_instructions = format_instructions

    def labels_block(self) -> str:
        return "\n".join(f"- {label}: {d}" if d else f"- {label}" for label, d in self.definitions.items())

    @staticmethod
    def examples_block(examples: Sequence[PromptExample]) -> str:
        if not examples:
            return ""
        parts = [
            f"\nEjemplo {i}:\nTexto:\n{example.text}\nRespuesta:\n{example.output}\n"
            for i, example in enumerate(examples, 1)
        ]
        return "".join(parts)

    def render(self, text: str, examples: Sequence[PromptExample] = ()) -> str:
        return fill(
            self.template,
            {
                "labels": self.labels_block(),
                "format_instructions": self.format_instructions,
                "examples": self.examples_block(examples),
                "text": text,
            },
        )
