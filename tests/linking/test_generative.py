"""Generative linking backend: prompt format, exact-then-dense mapping, a tiny local T5."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from spacy_clinical_es.linking import (
    DEFINITION_PROMPT,
    CandidateGenerator,
    GenerativeLinker,
    LinkingError,
    TerminologyKB,
    TextGenerator,
)
from spacy_clinical_es.linking.candidates import DENSE, EXACT


class Scripted:
    """Returns scripted outputs and remembers the prompts."""

    def __init__(self, outputs: list[str]) -> None:
        self.outputs = outputs
        self.prompts: list[str] = []

    def generate(self, prompts: Sequence[str]) -> list[str]:
        self.prompts.extend(prompts)
        return self.outputs[: len(prompts)]


def test_prompt_and_exact_then_dense_mapping(hand_kb: TerminologyKB) -> None:
    scripted = Scripted(["Resonancia magnética", "hipertension arterial sistemica", "  "])
    assert isinstance(scripted, TextGenerator)
    linker = GenerativeLinker(scripted, CandidateGenerator(hand_kb, k=3).build())
    terms = ["RMN", "HTA esencial", "apendicitis"]
    sentences = ["Se pidió RMN.", "Antecedente de HTA esencial.", "Operado de apendicitis."]
    results = linker.link_many(terms, sentences)
    assert scripted.prompts[0] == "Genera una definición para el término: RMN - en la frase: Se pidió RMN."
    assert scripted.prompts[2] == DEFINITION_PROMPT.format(term="apendicitis", sentence=sentences[2])
    assert results[0][0].code == "241615005" and results[0][0].source == EXACT
    assert results[1][0].code == "38341003" and results[1][0].source == DENSE
    # empty generation: the mention itself is linked
    assert results[2][0].code == "74400008" and linker.empty_generations == 1


def test_generative_errors(hand_kb: TerminologyKB) -> None:
    gen = CandidateGenerator(hand_kb).build()
    with pytest.raises(LinkingError, match="placeholders"):
        GenerativeLinker(Scripted([]), gen, template="{mention}")
    linker = GenerativeLinker(Scripted(["a"]), gen)
    with pytest.raises(LinkingError, match="sentences"):
        linker.link_many(["a", "b"], ["s"])
    with pytest.raises(LinkingError, match="outputs"):
        linker.link_many(["a", "b"], ["s", "t"])
    assert linker.link_many([], []) == []


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from spacy_clinical_es.models.tiny import build_tiny_t5

    texts = [
        DEFINITION_PROMPT.format(term="TAC", sentence="Se realizó TAC abdominal."),
        "tomografía computarizada", "resonancia magnética", "hipertensión arterial",
    ] * 4
    return build_tiny_t5(tmp_path_factory.mktemp("t5"), texts)


def test_tiny_t5_output_goes_through_the_candidate_steps(hand_kb: TerminologyKB, tiny_t5: Path) -> None:
    from spacy_clinical_es.generative.seq2seq import Seq2SeqGenerator

    seq2seq = Seq2SeqGenerator(str(tiny_t5), max_new_tokens=6, batch_size=2)
    candidates = CandidateGenerator(hand_kb, k=3, token_match=True).build()
    linker = GenerativeLinker(seq2seq, candidates)
    terms, sentences = ["TAC", "HTA"], ["Se realizó TAC abdominal.", "Tiene HTA."]
    generated = linker.generate(terms, sentences)
    assert len(generated) == 2 and all(isinstance(g, str) and g for g in generated)
    # the linker ranks exactly what the candidate generator gives for the generated text
    expected = candidates.candidates(generated)
    assert linker.link_many(terms, sentences) == expected
    assert seq2seq.cache_hits >= 2  # second call decoded nothing again
