"""``generative_ner``: scripted backend behaviour, and end to end with a tiny T5 fine-tuned by ``finetune-seq2seq``."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import registry

from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.generative.seq2seq import ModelLoadError
from spacy_clinical_es.generative.spacy_layer.annotate import (
    COUNTS_KEY,
    aggregate_counts,
)
from spacy_clinical_es.generative.spacy_layer.backends import (
    GenerativeBackend,
    Seq2SeqBackend,
)
from spacy_clinical_es.pipeline.generative_ner import GenerativeNER
from spacy_clinical_es.tokenizer import make_clinical_nlp

REPO = Path(__file__).resolve().parents[2]
LABELS = ["EDAD", "SEXO", "ENFERMEDAD", "PROCEDIMIENTO"]

RESPONSES = {
    "Varón de 38 años con cáncer de mama.": "Varón | SEXO; 38años | EDAD; cancer de mama | ENFERMEDAD",
    "Mujer de 7 meses.": "Mujer | SEXO; 7 meses | EDAD; fumadora | HABITO",
    "Se realizó biopsia hepática.": "biopsia hepatica | PROCEDIMIENTO; TAC | PROCEDIMIENTO",
}


class ScriptedBackend:
    """Answers chunk texts from a table; records every generate call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def generate(self, texts: Sequence[str]) -> list[str]:
        self.calls.append(list(texts))
        return [RESPONSES.get(text, "NO ENTITIES") for text in texts]


BACKENDS: list[ScriptedBackend] = []


@registry.misc("spacy_clinical_es.test.ScriptedBackend.v1")
def make_scripted_backend() -> ScriptedBackend:
    backend = ScriptedBackend()
    BACKENDS.append(backend)
    return backend


SCRIPTED = {"@misc": "spacy_clinical_es.test.ScriptedBackend.v1"}
TEXTS = ["Varón de 38 años con cáncer de mama.", "Mujer de 7 meses. Se realizó biopsia hepática."]


def scripted_nlp(**config: object) -> spacy.language.Language:
    nlp = make_clinical_nlp()
    nlp.add_pipe("clinical_es_generative_ner", config={"backend": SCRIPTED, "labels": LABELS, **config})
    return nlp


def ents(doc: spacy.tokens.Doc) -> list[tuple[str, str]]:
    return [(e.text, e.label_) for e in doc.ents]


def test_scripted_backend_batches_chunks_of_all_docs() -> None:
    nlp = scripted_nlp()
    component = nlp.get_pipe("clinical_es_generative_ner")
    assert isinstance(component, GenerativeNER) and isinstance(component.backend, GenerativeBackend)
    docs = list(nlp.pipe(TEXTS))
    # One sentence per chunk; the three chunks of both docs in one backend call.
    assert BACKENDS[-1].calls == [[TEXTS[0], "Mujer de 7 meses.", "Se realizó biopsia hepática."]]
    assert ents(docs[0]) == [("Varón", "SEXO"), ("38 años", "EDAD"), ("cáncer de mama", "ENFERMEDAD")]
    assert ents(docs[1]) == [("Mujer", "SEXO"), ("7 meses", "EDAD"), ("biopsia hepática", "PROCEDIMIENTO")]
    counts = docs[1].user_data[COUNTS_KEY]["clinical_es_generative_ner"]
    assert counts["hallucinations"] == {"label_not_in_set": 1, "not_in_text": 1}
    assert (counts["chunks"], counts["items"], counts["spans"]) == (2, 5, 3)
    assert component.totals.to_dict()["n_hallucinations"] == 2
    assert aggregate_counts(docs)["docs_with_hallucinations"] == 1


def test_packing_and_span_group_output() -> None:
    nlp = scripted_nlp(pack_sentences=True, spans_key="gen")
    doc = nlp(TEXTS[1])
    assert BACKENDS[-1].calls == [[TEXTS[1]]]  # one packed chunk: not in the table
    assert list(doc.spans["gen"]) == [] and not doc.ents


def test_labels_from_initialize_and_serialization(tmp_path: Path) -> None:
    nlp = make_clinical_nlp()
    nlp.add_pipe("clinical_es_generative_ner", config={"backend": SCRIPTED})
    gold = nlp.make_doc(TEXTS[0])
    gold.ents = [gold.char_span(0, 5, "SEXO"), gold.char_span(9, 16, "EDAD")]
    nlp.initialize(lambda: [Example(nlp.make_doc(TEXTS[0]), gold)])
    component = nlp.get_pipe("clinical_es_generative_ner")
    assert component.labels == ("EDAD", "SEXO")
    # ENFERMEDAD is now outside the label set: a hallucination.
    doc = nlp(TEXTS[0])
    assert ents(doc) == [("Varón", "SEXO"), ("38 años", "EDAD")]
    assert doc.user_data[COUNTS_KEY]["clinical_es_generative_ner"]["hallucinations"] == {"label_not_in_set": 1}
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("clinical_es_generative_ner").labels == ("EDAD", "SEXO")
    assert ents(loaded(TEXTS[0])) == ents(doc)


def test_component_settings_errors() -> None:
    nlp = make_clinical_nlp()
    with pytest.raises(ConfigError, match="max_chunk_tokens"):
        nlp.add_pipe("clinical_es_generative_ner", config={"backend": SCRIPTED, "max_chunk_tokens": 0})
    nlp.add_pipe("clinical_es_generative_ner")  # default backend: no model configured
    with pytest.raises(ConfigError, match="name_or_path"):
        nlp("Varón de 38 años.")


def test_missing_model_fails_at_initialize(tmp_path: Path) -> None:
    nlp = make_clinical_nlp()
    nlp.add_pipe(
        "clinical_es_generative_ner",
        config={"backend": {"@misc": "spacy_clinical_es.Seq2SeqBackend.v1", "name_or_path": str(tmp_path / "none")}},
    )
    with pytest.raises(ModelLoadError, match="finetune-seq2seq"):
        nlp.initialize()


# --- end to end: fine-tune a tiny T5 with `finetune-seq2seq`, then run the component on it ---

TRAIN = [
    ("Varón de 38 años con cáncer de mama.", [(0, 5, "SEXO"), (9, 16, "EDAD"), (21, 35, "ENFERMEDAD")]),
    ("Mujer de 7 meses. Se realizó biopsia hepática.", [(0, 5, "SEXO"), (9, 16, "EDAD"), (29, 45, "PROCEDIMIENTO")]),
]
EXPECTED = [
    [("Varón", "SEXO"), ("38 años", "EDAD"), ("cáncer de mama", "ENFERMEDAD")],
    [("Mujer", "SEXO"), ("7 meses", "EDAD"), ("biopsia hepática", "PROCEDIMIENTO")],
]


TARGETS = {
    "Extract named entities: Varón de 38 años con cáncer de mama.": (
        "Varón | SEXO; 38 años | EDAD; cáncer de mama | ENFERMEDAD"
    ),
    "Extract named entities: Mujer de 7 meses.": "Mujer | SEXO; 7 meses | EDAD",
    "Extract named entities: Se realizó biopsia hepática.": "biopsia hepática | PROCEDIMIENTO",
}


def run_cli(args: list[str]) -> int:
    """Run ``python -m spacy_clinical_es ARGS`` in-process; its exit code."""
    from typer.testing import CliRunner

    from spacy_clinical_es.cli import app

    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Overfit a tiny T5 on the two training docs (List format) with the project's fine-tuning script.

    The tiny tokenizer's piece ids vary from build to build (its trainer is not
    deterministic), so training goes on in rounds until greedy decoding gives
    exactly the targets: the assertions below can then be exact.
    """
    import torch

    from spacy_clinical_es.generative.seq2seq import Seq2SeqGenerator

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("finetune")
    nlp = make_clinical_nlp()
    docbin = DocBin()
    for text, spans in TRAIN:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label) for s, e, label in spans]
        docbin.add(doc)
    docbin.to_disk(root / "train.spacy")
    model = root / "model"
    common = ["--train", str(root / "train.spacy"), "--output", str(model), "--format", "list", "--cpu"]
    common += ["--learning-rate", "1e-2", "--lr-scheduler", "constant", "--batch-size", "4", "--torch-threads", "1"]
    first = ["--tiny-base", str(root / "base"), "--tiny-vocab-size", "200", "--dev", str(root / "train.spacy")]
    first += ["--counts-output", str(root / "counts.json"), "--max-steps", "300"]
    assert run_cli(["finetune-seq2seq", *common, *first]) == 0
    (root / "first_round.json").write_bytes((model / "generative_training.json").read_bytes())
    for _ in range(4):
        if Seq2SeqGenerator(str(model), cache=False).generate(list(TARGETS)) == list(TARGETS.values()):
            return root
        assert run_cli(["finetune-seq2seq", *common, "--base-model", str(model), "--max-steps", "200"]) == 0
    pytest.fail("the tiny T5 did not learn its two training docs by heart in 1100 steps")


def test_finetune_script_writes_model_and_table_counts(finetuned: Path) -> None:
    counts = json.loads((finetuned / "counts.json").read_text(encoding="utf-8"))
    assert counts["splits"]["train"] == {
        "docs": 2,
        "sentences": 3,
        "sentences_with_entities": 3,
        "entities": 6,
        "not_expressible": {},
    }
    meta = json.loads((finetuned / "first_round.json").read_text(encoding="utf-8"))
    assert meta["steps"] == 300 and meta["tiny"] and meta["format"] == "list"
    assert meta["train_loss"] > 0 and meta["dev_loss"] is not None
    assert (finetuned / "model" / "config.json").exists()


def test_tiny_t5_end_to_end_and_bundled_round_trip(finetuned: Path, tmp_path: Path) -> None:
    nlp = make_clinical_nlp()
    nlp.add_pipe(
        "clinical_es_generative_ner",
        config={
            "labels": LABELS,
            "backend": {
                "@misc": "spacy_clinical_es.Seq2SeqBackend.v1",
                "name_or_path": str(finetuned / "model"),
                "bundle_model": True,
            },
        },
    )
    nlp.initialize()
    docs = list(nlp.pipe([text for text, _ in TRAIN]))
    assert [ents(doc) for doc in docs] == EXPECTED
    assert aggregate_counts(docs)["n_hallucinations"] == 0
    nlp.to_disk(tmp_path / "pipeline")
    bundled = tmp_path / "pipeline" / "clinical_es_generative_ner" / "backend"
    assert (bundled / "config.json").exists()
    loaded = spacy.load(tmp_path / "pipeline")
    backend = loaded.get_pipe("clinical_es_generative_ner").backend
    assert isinstance(backend, Seq2SeqBackend) and backend.name_or_path == str(bundled)
    assert [ents(doc) for doc in loaded.pipe([text for text, _ in TRAIN])] == EXPECTED


def test_tiny_t5_beam_search_and_spanish_prompt_setting(finetuned: Path) -> None:
    backend = Seq2SeqBackend(str(finetuned / "model"), num_beams=2, prompt_template="es")
    assert backend.prompts(["Mujer de 7 meses."]) == ["Extrae las entidades nombradas: Mujer de 7 meses."]
    assert len(backend.generate(["Mujer de 7 meses."])) == 1
    greedy = Seq2SeqBackend(str(finetuned / "model"))
    assert greedy.generate(["Mujer de 7 meses."]) == ["Mujer | SEXO; 7 meses | EDAD"]


def project_command(name: str) -> list[str]:
    """The arguments of the single script line of a project.yml command (after ``python -m spacy_clinical_es``)."""
    import shlex

    import srsly

    commands = {c["name"]: c for c in srsly.read_yaml(REPO / "project.yml")["commands"]}
    (line,) = commands[name]["script"]
    words = shlex.split(line)
    assert words[:3] == ["python", "-m", "spacy_clinical_es"]
    return words[3:]


def test_project_tiny_commands_run_to_completion(finetuned: Path, tmp_path: Path) -> None:
    """finetune-generative-tiny and evaluate-generative-tiny, exactly as in project.yml, on a two-doc corpus."""
    def local(args: list[str]) -> list[str]:
        # corpus/imaging/*.spacy -> the two training docs; training/ and metrics/ -> tmp_path
        return [
            str(finetuned / "train.spacy")
            if a.startswith("corpus/")
            else str(tmp_path / a)
            if a.startswith(("training/", "metrics/"))
            else a
            for a in args
        ]

    assert run_cli(local(project_command("finetune-generative-tiny"))) == 0
    assert (tmp_path / "training" / "generative_tiny" / "config.json").exists()
    assert json.loads((tmp_path / "metrics" / "generative_sentences.json").read_text())["splits"]["test"]["sentences"] == 3
    assert run_cli(local(project_command("evaluate-generative-tiny"))) == 0
    metrics = json.loads((tmp_path / "metrics" / "generative_tiny.json").read_text())
    assert metrics["note"].startswith("SMOKE RUN")
    assert metrics["n_docs"] == 2 and metrics["generation"]["chunks"] == 3
    assert set(metrics["strict"]["per_type"]) >= {"SEXO", "EDAD"}


def test_shipped_seq2seq_config_assembles_around_the_model(finetuned: Path) -> None:
    from spacy.util import load_config, load_model_from_config

    config = load_config(
        REPO / "configs" / "imaging_generative_seq2seq.cfg",
        overrides={"paths.generative_model": str(finetuned / "model")},
    )
    nlp = load_model_from_config(config, auto_fill=True)
    nlp.initialize()
    assert [ents(doc) for doc in nlp.pipe([text for text, _ in TRAIN])] == EXPECTED
