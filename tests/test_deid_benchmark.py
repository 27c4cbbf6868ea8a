"""scripts/deid_benchmark.py end to end on a tiny detector (entity_ruler + rules + a trained phi_recall)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import srsly
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import fix_random_seed

from spacy_clinical_es.tokenizer import make_clinical_nlp

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "deid_benchmark.py"
TEXTS = [
    (
        "Paciente Juan Pérez, vecino de Tarragona. CP: 43001.",
        [
            ("Juan Pérez", "NOMBRE_SUJETO_ASISTENCIA"),
            ("Tarragona", "TERRITORIO"),
            ("43001", "TERRITORIO"),
        ],
    ),
    (
        "Remitida por la Dra. Ana Roca desde Reus.",
        [("Ana Roca", "NOMBRE_PERSONAL_SANITARIO"), ("Reus", "TERRITORIO")],
    ),
]


def test_benchmark_scores_the_replaced_group(tmp_path: Path) -> None:
    nlp = make_clinical_nlp()
    ruler = nlp.add_pipe("entity_ruler")
    nlp.add_pipe("phi_rules")
    nlp.add_pipe("phi_recall")
    examples = []
    gold = DocBin(store_user_data=True)
    for text, phrases in TEXTS:
        spans = [(text.index(p), text.index(p) + len(p), label) for p, label in phrases]
        examples.append(Example.from_dict(nlp.make_doc(text), {"entities": spans}))
        doc = nlp.make_doc(text)
        doc.spans["meddocan"] = [doc.char_span(s, e, label) for s, e, label in spans]
        gold.add(doc)
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    ruler.add_patterns(
        [
            {
                "label": "NOMBRE_SUJETO_ASISTENCIA",
                "pattern": [{"TEXT": "Juan"}, {"TEXT": "Pérez"}],
            }
        ]
    )
    nlp.to_disk(tmp_path / "model")
    gold.to_disk(tmp_path / "dev.spacy")
    out = tmp_path / "deid.json"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(tmp_path / "model"),
            str(tmp_path / "dev.spacy"),
            "--output",
            str(out),
            "--processes",
            "1",
            "--repeats",
            "1",
            "--thresholds",
            "0.5,0.1",
            "--temperatures",
            "1,3",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = srsly.read_json(out)
    replaced = report["replaced"]
    assert replaced["spans_key"] == "phi" and replaced["configured"] == "threshold=0.5 temperature=1"
    assert set(replaced["settings"]) == {f"threshold={t} temperature={T}" for t in ("0.5", "0.1") for T in ("1", "3")}
    # Entities alone (ruler + rules) miss Tarragona, Ana Roca and Reus; the trained classifier's group has them.
    entities_recall = report["accuracy"][report["main_setting"]]["phi_token"]["r"]
    assert entities_recall < 0.6
    configured = replaced["settings"]["threshold=0.5 temperature=1"]["phi_token"]
    assert report["targets"]["phi_token_recall"]["measured"] == configured["r"] == 1.0
    # A softer, lower setting replaces at least as many tokens.
    softest = replaced["settings"]["threshold=0.1 temperature=3"]["phi_token"]
    assert softest["r"] >= configured["r"] and softest["p"] <= configured["p"]
    assert report["config"]["deid_randomizer"]["spans_key"] == "phi"
