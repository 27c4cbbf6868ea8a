"""Pipelines built with the factory names used before the ``clinical_es_`` prefix still load and predict alike."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.training import Example

from spacy_clinical_es.linking import Concept, TerminologyKB
from spacy_clinical_es.pipeline.aliases import RENAMED
from spacy_clinical_es.tokenizer import make_clinical_nlp

TEXT = "Dolor en rodilla y cadera derecha."
TINY = {"tok2vec": {"encode": {"width": 16, "depth": 1}, "embed": {"width": 16, "rows": [100, 50, 50, 50]}}, "hidden_width": 16}


def test_every_old_name_is_the_new_factory_with_its_defaults() -> None:
    assert set(RENAMED) == {
        "clinical_entity_linker", "transformer_ner", "generative_ner", "discontinuous_ner",
        "phi_rules", "phi_gazetteer", "phi_recall", "deid_randomizer", "clinical_context",
    }
    for old, (new, func) in RENAMED.items():
        assert new == f"clinical_es_{old.removeprefix('clinical_')}"
        old_meta, new_meta = Language.get_factory_meta(old), Language.get_factory_meta(new)
        assert old_meta.default_config == new_meta.default_config
        assert old_meta.assigns == new_meta.assigns
        assert old_meta.factory is func or old_meta.factory == old


@pytest.fixture(scope="module")
def old_name_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pipeline built, initialized and saved with the earlier names (what its config.cfg then records)."""
    spacy.util.fix_random_seed(0)
    nlp = make_clinical_nlp()
    nlp.add_pipe("discontinuous_ner", config={"spans_key": "sc", "model": TINY})
    nlp.add_pipe("clinical_entity_linker", config={"spans_key": "sc", "threshold": 0.5})
    nlp.add_pipe("generative_ner", config={"labels": ["ENFERMEDAD"]})
    ref = nlp.make_doc(TEXT)
    ref.spans["sc"] = [ref.char_span(0, 5, label="DIAG", span_id="T1"), ref.char_span(9, 16, label="DIAG", span_id="T1")]
    examples = [Example(nlp.make_doc(TEXT), ref)]
    kb = TerminologyKB()
    kb.add(Concept("22253000", "dolor"))
    kb.add(Concept("72696002", "rodilla"))
    with nlp.select_pipes(enable=["discontinuous_ner"]):  # no seq2seq model here; the KB comes next
        optimizer = nlp.initialize(lambda: examples)
        for _ in range(30):
            nlp.update(examples, sgd=optimizer)
    nlp.get_pipe("clinical_entity_linker").initialize(kb=kb)
    path = tmp_path_factory.mktemp("old_names") / "pipeline"
    nlp.to_disk(path)
    return path


def _predict(path: Path) -> dict:
    nlp = spacy.load(path)
    with nlp.select_pipes(disable=["generative_ner"]):
        doc = nlp(TEXT)
    return {
        "factories": [nlp.get_pipe_meta(name).factory for name in nlp.pipe_names],
        "spans": [(s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans["sc"]],
        "labels": list(nlp.get_pipe("generative_ner").labels),
    }


def test_saved_config_keeps_the_old_names(old_name_pipeline: Path) -> None:
    config = (old_name_pipeline / "config.cfg").read_text(encoding="utf-8")
    for old in ("discontinuous_ner", "clinical_entity_linker", "generative_ner"):
        assert f'factory = "{old}"' in config


def test_old_name_pipeline_loads_without_importing_the_package(old_name_pipeline: Path) -> None:
    """Entry points alone resolve the earlier names (a fresh process, spacy.load only)."""
    code = (
        "import json, sys, spacy\n"
        f"nlp = spacy.load({str(old_name_pipeline)!r})\n"
        "with nlp.select_pipes(disable=['generative_ner']):\n"
        f"    doc = nlp({TEXT!r})\n"
        "print(json.dumps({'factories': [nlp.get_pipe_meta(n).factory for n in nlp.pipe_names],"
        " 'spans': [(s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans['sc']],"
        " 'labels': list(nlp.get_pipe('generative_ner').labels)}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    fresh = json.loads(result.stdout.strip().splitlines()[-1])
    here = _predict(old_name_pipeline)
    assert fresh["factories"] == here["factories"] == ["discontinuous_ner", "clinical_entity_linker", "generative_ner"]
    assert [tuple(s) for s in fresh["spans"]] == here["spans"]
    assert fresh["labels"] == here["labels"] == ["ENFERMEDAD"]
