"""Seq2SeqGenerator: loading errors, batching, beams and the response cache (tiny local T5)."""
from __future__ import annotations

from pathlib import Path

import pytest

from spacy_clinical_es.errors import ClinicalEsError, ConfigError
from spacy_clinical_es.generative.seq2seq import ModelLoadError, Seq2SeqGenerator
from spacy_clinical_es.models.tiny import build_tiny_t5

TEXTS = [
    "Extract named entities: Varón de 38 años con cáncer de mama.",
    "Extract named entities: Mujer de 7 meses.",
    "Extract named entities: Se realizó biopsia hepática.",
    "Varón | SEXO; 38 años | EDAD; cáncer de mama | ENFERMEDAD",
    "<SEXO>Mujer</SEXO> de <EDAD>7 meses</EDAD>. NO ENTITIES",
] * 4
PROMPTS = TEXTS[:3]


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    return build_tiny_t5(tmp_path_factory.mktemp("t5") / "model", TEXTS)


def test_generate_is_deterministic_and_batch_independent(tiny_t5: Path) -> None:
    one = Seq2SeqGenerator(str(tiny_t5), max_new_tokens=12, batch_size=1, cache=False)
    many = Seq2SeqGenerator(str(tiny_t5), max_new_tokens=12, batch_size=8, cache=False)
    outputs = one.generate(PROMPTS)
    assert len(outputs) == 3 and all(isinstance(o, str) for o in outputs)
    assert many.generate(PROMPTS) == outputs
    assert one.generate(list(reversed(PROMPTS))) == list(reversed(outputs))
    assert one.generate([]) == []


def test_cache_is_keyed_by_prompt_and_settings(tiny_t5: Path) -> None:
    generator = Seq2SeqGenerator(str(tiny_t5), max_new_tokens=12)
    first = generator.generate([PROMPTS[0], PROMPTS[0], PROMPTS[1]])
    assert first[0] == first[1]
    assert len(generator.cache) == 2 and generator.cache_hits == 0
    assert generator.generate([PROMPTS[1], PROMPTS[0]]) == [first[2], first[0]]
    assert generator.cache_hits == 2
    # The key holds the generation settings: a beam-search generator answers for itself.
    keys = set(generator.cache)
    generator.num_beams = 3
    generator.generate([PROMPTS[0]])
    assert len(generator.cache) == 3 and set(generator.cache) > keys
    generator.clear_cache()
    assert not generator.cache


def test_beam_search_runs(tiny_t5: Path) -> None:
    beams = Seq2SeqGenerator(str(tiny_t5), num_beams=3, max_new_tokens=12)
    assert len(beams.generate(PROMPTS)) == 3


def test_truncated_prompts_are_counted(tiny_t5: Path) -> None:
    generator = Seq2SeqGenerator(str(tiny_t5), max_new_tokens=4, max_input_tokens=5)
    generator.generate([PROMPTS[0], "a"])
    assert generator.truncated_prompts == 1


def test_missing_model_is_a_package_error(tmp_path: Path) -> None:
    for path in (tmp_path / "nothing-here", tmp_path):
        with pytest.raises(ModelLoadError, match="save_pretrained") as info:
            Seq2SeqGenerator(str(path))
        assert isinstance(info.value, ClinicalEsError)


def test_unloadable_directory_is_a_package_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="cannot load"):
        Seq2SeqGenerator(str(tmp_path))


def test_bad_settings() -> None:
    with pytest.raises(ConfigError):
        Seq2SeqGenerator("unused", num_beams=0)
