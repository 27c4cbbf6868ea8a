"""A scripted spacy-llm model that answers prompts with recorded responses (no network, deterministic)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from spacy_llm.registry import registry

RESPONSES = Path(__file__).with_name("llm_responses.json")
SCRIPTED_MODEL = "spacy_clinical_es.test.ScriptedLLM.v1"



class ScriptedLLM:
    """Answers each prompt with the response recorded for its chunk text; counts the prompts it saw."""

    def __init__(self, path: Path) -> None:
        self.responses: dict[str, str] = json.loads(Path(path).read_text(encoding="utf-8"))
        self.prompts: list[str] = []
        # A context length keeps spacy-llm from warning; the task cuts its own chunks anyway.
        self.context_length = 4096

    def chunk_text(self, prompt: str) -> str:
        """The chunk of a GenerativeNER prompt: after the last "Texto:" line, before the last "Respuesta:"."""
        _, sep, tail = prompt.rpartition("Texto:\n")
        if not sep or "\nRespuesta:" not in tail:
            raise AssertionError("prompt without a final 'Texto: … Respuesta:' block")
        return tail.rpartition("\nRespuesta:")[0].strip()

    def __call__(self, prompts: Iterable[Iterable[str]]) -> Iterable[Iterable[str]]:
        results = []
        for doc_prompts in prompts:
            doc_results = []
            for prompt in doc_prompts:
                self.prompts.append(prompt)
                text = self.chunk_text(prompt)
                if text not in self.responses:
                    raise AssertionError(f"no recorded response for a chunk of {len(text)} characters")
                doc_results.append(self.responses[text])
            results.append(doc_results)
        return results


MODELS: list[ScriptedLLM] = []


@registry.llm_models(SCRIPTED_MODEL)
def make_scripted_llm(path: str = str(RESPONSES)) -> ScriptedLLM:
    model = ScriptedLLM(Path(path))
    MODELS.append(model)
    return model
