"""Prompt templates and k-shot example selection."""
from __future__ import annotations

import pytest

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.generative.prompts import (
    SEQ2SEQ_TEMPLATES,
    ExampleSelector,
    LLMPrompt,
    PromptExample,
    fill,
    resolve_seq2seq_template,
    seq2seq_prompt,
)

EXAMPLES = [
    PromptExample("Varón de 38 años con cáncer de mama.", "Varón | SEXO; 38 años | EDAD", 2),
    PromptExample("Sin hallazgos relevantes.", "NO ENTITIES", 0),
    PromptExample("Se realizó biopsia hepática.", "biopsia hepática | PROCEDIMIENTO", 1),
    PromptExample("Mujer de 7 meses con fiebre.", "Mujer | SEXO; 7 meses | EDAD", 2),
]


def test_seq2seq_templates() -> None:
    assert seq2seq_prompt(resolve_seq2seq_template("en"), "Varón de 38 años.") == (
        "Extract named entities: Varón de 38 años."
    )
    assert resolve_seq2seq_template("es") == SEQ2SEQ_TEMPLATES["es"]
    assert resolve_seq2seq_template("NER: {sentence} ->") == "NER: {sentence} ->"
    with pytest.raises(ConfigError, match="sentence"):
        resolve_seq2seq_template("Extract named entities:")


def test_fill_is_one_pass_and_leaves_other_braces() -> None:
    template = 'Devuelve [{"label": "X"}] para: {text}'
    assert fill(template, {"text": "valor {text} {labels}"}) == 'Devuelve [{"label": "X"}] para: valor {text} {labels}'


def test_llm_prompt_renders_labels_instructions_and_examples() -> None:
    prompt = LLMPrompt(["EDAD", "OTRA"], "list", label_definitions={"OTRA": "otra clase"})
    text = prompt.render("Mujer de 45 años.", EXAMPLES[:1])
    assert "- EDAD: edad del paciente" in text and "- OTRA: otra clase" in text
    assert "«texto | CLASE»" in text
    assert text.index("Ejemplo 1:") < text.index("Mujer de 45 años.")
    assert text.rstrip().endswith("Texto:\nMujer de 45 años.\nRespuesta:")
    assert "Ejemplo" not in prompt.render("Mujer de 45 años.")
    with pytest.raises(ConfigError):
        LLMPrompt(["EDAD"], "yaml")
    with pytest.raises(ConfigError):
        LLMPrompt(["EDAD"], "tag", template="sin texto")


def test_fixed_selection_is_seeded_with_entities_first() -> None:
    selector = ExampleSelector(EXAMPLES, 3, "fixed", seed=1)
    chosen = selector.select("Otro texto.")
    assert len(chosen) == 3 and all(e.n_entities > 0 for e in chosen)
    assert selector.select("Texto distinto.") == chosen
    assert ExampleSelector(EXAMPLES, 3, "fixed", seed=1).select("x") == chosen
    # Never the chunk itself.
    assert chosen[0] not in selector.select(chosen[0].text)


def test_similar_selection() -> None:
    selector = ExampleSelector(EXAMPLES, 2, "similar")
    chosen = selector.select("Varón de 40 años con cáncer de pulmón.")
    assert chosen[-1] == EXAMPLES[0]  # the most similar last, next to the text
    assert len(chosen) == 2
    assert EXAMPLES[0] not in selector.select(EXAMPLES[0].text)


def test_selection_settings() -> None:
    assert ExampleSelector(EXAMPLES, 0).select("x") == []
    assert len(ExampleSelector(EXAMPLES, 10).select("x")) == 4
    with pytest.raises(ConfigError):
        ExampleSelector(EXAMPLES, 2, "random")
    with pytest.raises(ConfigError):
        ExampleSelector(EXAMPLES, -1)
