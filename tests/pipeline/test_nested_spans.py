"""configs/imaging_nested.cfg (span_finder + spancat): overfits nested spans, round-trips, loads with plain spaCy."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin

from spacy_clinical_es.tokenizer import make_clinical_nlp

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "imaging_nested.cfg"
KEY = "imaging"

# Nested spans of different labels: a procedure containing a disease, a disease inside a longer disease.
TRAIN = [
    (
        "Mujer de 54 años con resección de carcinoma de mama izquierda.",
        [(0, 5, "SEXO"), (9, 16, "EDAD"), (21, 61, "PROCEDIMIENTO"), (34, 61, "ENFERMEDAD"), (34, 43, "ENFERMEDAD")],
    ),
    (
        "Varón de 38 años. TAC de tórax con neumonía bilateral.",
        [(0, 5, "SEXO"), (9, 16, "EDAD"), (18, 30, "PROCEDIMIENTO"), (35, 53, "ENFERMEDAD"), (35, 43, "ENFERMEDAD")],
    ),
]


def _corpus(path: Path) -> Path:
    nlp = make_clinical_nlp()
    db = DocBin(store_user_data=True)
    for text, spans in TRAIN:
        doc = nlp.make_doc(text)
        doc.spans[KEY] = [doc.char_span(s, e, label=label) for s, e, label in spans]
        db.add(doc)
    db.to_disk(path)
    return path


def _spans(doc) -> list[tuple[int, int, str]]:
    return sorted((s.start_char, s.end_char, s.label_) for s in doc.spans[KEY])


def test_nested_config_overfits_and_round_trips(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "train.spacy")
    train(
        CONFIG,
        tmp_path / "out",
        overrides={
            "paths.train": str(data),
            "paths.dev": str(data),
            "training.max_steps": 200,
            "training.eval_frequency": 50,
            "training.patience": 0,
            "training.dropout": 0.0,
        },
    )
    model = tmp_path / "out" / "model-last"
    nlp = spacy.load(model)
    assert nlp.pipe_names == ["tok2vec", "span_finder", "spancat"]
    predicted = [_spans(nlp(text)) for text, _ in TRAIN]
    assert predicted == [sorted(spans) for _, spans in TRAIN]
    nlp.to_disk(tmp_path / "copy")
    assert [_spans(spacy.load(tmp_path / "copy")(text)) for text, _ in TRAIN] == predicted
    code = (
        "import json, spacy\n"
        f"nlp = spacy.load({str(model)!r})\n"
        f"doc = nlp({TRAIN[0][0]!r})\n"
        "print(json.dumps(sorted([s.start_char, s.end_char, s.label_] for s in doc.spans['imaging'])))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert [tuple(x) for x in json.loads(result.stdout)] == predicted[0]
