"""spacy-llm task ``spacy_clinical_es.GenerativeNER.v1`` end to end with a scripted model (see conftest.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import DocBin

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.generative.spacy_layer.annotate import (
    COUNTS_KEY,
    aggregate_counts,
)
from spacy_clinical_es.generative.spacy_layer.llm_task import GenerativeNERTask
from spacy_clinical_es.tokenizer import make_clinical_nlp

from .conftest import MODELS, SCRIPTED_MODEL

LABELS = ["EDAD", "SEXO", "ENFERMEDAD", "PROCEDIMIENTO"]
TEXTS = [
    "Mujer de 45 años, fumadora. Se realizó TAC abdominal que mostró cáncer de mama.",
    "Varón de 38 años sin antecedentes.",
]


def make_nlp(task: dict[str, Any] | None = None, cache: dict[str, Any] | None = None) -> Language:
    nlp = make_clinical_nlp()
    config: dict[str, Any] = {
        "task": {"@llm_tasks": "spacy_clinical_es.GenerativeNER.v1", "labels": LABELS, "max_chunk_tokens": 10, **(task or {})},
        "model": {"@llm_models": SCRIPTED_MODEL},
    }
    if cache is not None:
        config["cache"] = {"@llm_misc": "spacy.BatchCache.v1", "batch_size": 2, "max_batches_in_mem": 4, **cache}
    nlp.add_pipe("llm", config=config)
    return nlp


def test_task_is_registered_through_the_entry_point() -> None:
    from spacy_llm.registry import registry

    make = registry.llm_tasks.get("spacy_clinical_es.GenerativeNER.v1")
    assert isinstance(make(labels="EDAD, SEXO"), GenerativeNERTask)
    assert make(labels="EDAD, SEXO").labels == ("EDAD", "SEXO")


def test_scripted_model_end_to_end_exact_entities_and_hallucinations() -> None:
    nlp = make_nlp()
    nlp.initialize()
    docs = list(nlp.pipe(TEXTS))
    model = MODELS[-1]
    # Two sentences of 5 and 9 words do not fit one 10-word chunk: three prompts in all.
    assert len(model.prompts) == 3
    assert all("<SEXO>Varón</SEXO>" in p and "Texto:\n" in p for p in model.prompts)
    assert [(e.text, e.label_, e.start_char) for e in docs[0].ents] == [
        ("Mujer", "SEXO", 0),
        ("45 años", "EDAD", 9),  # the model wrote "45años"
        ("TAC abdominal", "PROCEDIMIENTO", 39),
        ("cáncer de mama", "ENFERMEDAD", 64),  # the model wrote "cancer de mama"
    ]
    assert [(e.text, e.label_) for e in docs[1].ents] == [("Varón", "SEXO"), ("38 años", "EDAD")]
    assert docs[0].text == TEXTS[0] and docs[1].text == TEXTS[1]
    first, second = (doc.user_data[COUNTS_KEY]["llm"] for doc in docs)
    assert first["hallucinations"] == {"label_not_in_set": 1}  # <FUMADORA>fumadora</FUMADORA>
    assert (first["chunks"], first["items"], first["spans"]) == (2, 5, 4)
    assert second["hallucinations"] == {"not_in_text": 1}  # <ENFERMEDAD>diabetes</ENFERMEDAD>
    total = aggregate_counts(docs, "llm")
    assert total["n_hallucinations"] == 2 and total["docs_with_hallucinations"] == 2


def test_span_group_output_and_blank_doc() -> None:
    nlp = make_nlp({"spans_key": "gen", "pack_sentences": False})
    nlp.initialize()
    doc = nlp(TEXTS[1])
    assert not doc.ents
    assert [(s.text, s.label_) for s in doc.spans["gen"]] == [("Varón", "SEXO"), ("38 años", "EDAD")]
    blank = nlp("  \n ")
    assert blank.user_data[COUNTS_KEY]["llm"]["chunks"] == 0 and not blank.spans["gen"]


def test_spacy_llm_cache_answers_the_second_run(tmp_path: Path) -> None:
    nlp = make_nlp(cache={"path": str(tmp_path / "cache")})
    nlp.initialize()
    first = [[(e.text, e.label_) for e in doc.ents] for doc in nlp.pipe(TEXTS)]
    calls = len(MODELS[-1].prompts)
    again = make_nlp(cache={"path": str(tmp_path / "cache")})
    again.initialize()
    docs = list(again.pipe(TEXTS))
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == first
    assert calls == 3 and MODELS[-1].prompts == []
    assert docs[0].user_data[COUNTS_KEY]["llm"]["hallucinations"] == {"label_not_in_set": 1}
    # A different prompt (k-shot) refuses the cache directory written with the zero-shot prompt.
    with pytest.raises(ValueError, match="Prompt template"):
        make_nlp({"n_examples": 2}, cache={"path": str(tmp_path / "cache")})


@pytest.fixture()
def train_docbin(tmp_path: Path) -> Path:
    nlp = make_clinical_nlp()
    docbin = DocBin()
    for text, ents in (
        ("Niña de 3 meses con fiebre.", [(0, 4, "SEXO"), (8, 15, "EDAD"), (20, 26, "ENFERMEDAD")]),
        ("Sin hallazgos.", []),
        ("Se realizó TAC craneal.", [(11, 22, "PROCEDIMIENTO")]),
    ):
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label) for s, e, label in ents]
        docbin.add(doc)
    path = tmp_path / "train.spacy"
    docbin.to_disk(path)
    return path


@pytest.mark.parametrize("selection", ["fixed", "similar"])
def test_k_shot_examples_from_a_docbin(train_docbin: Path, selection: str, tmp_path: Path) -> None:
    nlp = make_nlp({"n_examples": 1, "example_selection": selection})
    nlp.config["initialize"]["components"]["llm"] = {"examples_path": str(train_docbin)}
    nlp.initialize()
    task = nlp.get_pipe("llm").task
    assert [e.text for e in task.examples] == ["Niña de 3 meses con fiebre.", "Sin hallazgos.", "Se realizó TAC craneal."]
    assert task.examples[0].output == "<SEXO>Niña</SEXO> de <EDAD>3 meses</EDAD> con <ENFERMEDAD>fiebre</ENFERMEDAD>."
    nlp(TEXTS[0])
    prompts = MODELS[-1].prompts
    if selection == "fixed":
        # The same example (one with entities) for every chunk.
        assert all("Ejemplo 1:\nTexto:\nNiña de 3 meses" in p or "Ejemplo 1:\nTexto:\nSe realizó TAC craneal" in p for p in prompts)
        assert len({p.split("Ejemplo 1:")[1].split("Respuesta")[0] for p in prompts}) == 1
    else:
        # The most similar example: the TAC sentence for the TAC chunk.
        assert "Ejemplo 1:\nTexto:\nSe realizó TAC craneal." in prompts[1]
        assert "Ejemplo 2:" not in prompts[1]
    # The example pool travels with the pipeline.
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("llm").task.examples == task.examples
    assert loaded.get_pipe("llm").task.render_prompt("Se realizó TAC abdominal.") == task.render_prompt(
        "Se realizó TAC abdominal."
    )


def test_labels_from_initialize_and_missing_examples(train_docbin: Path) -> None:
    nlp = make_nlp({"labels": []})
    nlp.get_pipe("llm").initialize(list, nlp=nlp, examples_path=str(train_docbin))
    assert nlp.get_pipe("llm").labels == ("EDAD", "ENFERMEDAD", "PROCEDIMIENTO", "SEXO")
    with pytest.raises(ConfigError, match="not a file"):
        nlp.get_pipe("llm").initialize(list, nlp=nlp, examples_path=str(train_docbin) + ".missing")


def test_k_shot_without_examples_is_a_config_error() -> None:
    nlp = make_nlp({"n_examples": 2})
    with pytest.raises(ConfigError, match="examples_path"):
        nlp.initialize()  # spaCy's dummy example is not a training doc


def test_shipped_llm_config_with_the_scripted_model(train_docbin: Path, tmp_path: Path) -> None:
    from spacy.util import load_config, load_model_from_config

    config = load_config(
        Path(__file__).resolve().parents[2] / "configs" / "imaging_generative_llm.cfg",
        overrides={
            "paths.examples": str(train_docbin),
            "paths.llm_cache": str(tmp_path / "cache"),
            "components.llm.task.max_chunk_tokens": 10,
        },
    )
    config["components"]["llm"]["model"] = {"@llm_models": SCRIPTED_MODEL}
    nlp = load_model_from_config(config, auto_fill=True)
    nlp.initialize()
    doc = nlp(TEXTS[1])
    assert [(e.text, e.label_) for e in doc.ents] == [("Varón", "SEXO"), ("38 años", "EDAD")]
    # 5-shot, but the pool has three chunks: all three, the most similar last.
    (prompt,) = MODELS[-1].prompts
    assert prompt.count("Ejemplo ") == 3 and "Ejemplo 4:" not in prompt
