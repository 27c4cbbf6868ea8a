from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from thinc.api import Config

from spacy_clinical_es.corpora.spacy_reader import BratCorpus

TEXT = "Dolor abdominal agudo y fiebre."


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "b.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.ann").write_text(
        "T1\tSINTOMA 0 21\tDolor abdominal agudo\nT2\tSINTOMA 0 5;16 21\tDolor agudo\n"
        "T3\tSINTOMA 24 30\tfiebre\nA1\tIMAGEN T3\n",
        encoding="utf-8",
    )
    (tmp_path / "a.txt").write_text("Sin hallazgos.", encoding="utf-8")
    return tmp_path


def test_registered_reader_yields_examples(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    config = Config().from_str(
        f"""
        [corpus]
        @readers = "spacy_clinical_es.BratCorpus.v1"
        path = "{folder}"
        """
    )
    corpus = spacy.registry.resolve(config)["corpus"]
    nlp = spacy.blank("es")
    examples = list(corpus(nlp))
    assert [len(eg.reference.spans["sc"]) for eg in examples] == [0, 4]  # a.txt first, no annotations
    eg = examples[1]
    assert eg.predicted.text == eg.reference.text == TEXT and not eg.predicted.ents
    assert [(e.start_char, e.end_char) for e in eg.reference.ents] == [(0, 21), (24, 30)]
    assert eg.reference.spans["sc"][3]._.attributes == {"IMAGEN": "true"}
    assert corpus.report.skipped[("sc", "ents_discontinuous")] == 1


def test_options_and_missing_path(tmp_path: Path) -> None:
    nlp = spacy.blank("es")
    examples = list(BratCorpus(_folder(tmp_path), span_key="x", set_ents=False, limit=1)(nlp))
    assert len(examples) == 1 and "x" in examples[0].reference.spans
    with pytest.raises(ValueError, match="needs a path"):
        BratCorpus(None)
