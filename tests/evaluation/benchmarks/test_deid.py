"""The de-identification benchmark (``benchmark deid``) end to end on a tiny detector, and its damage measure."""
from __future__ import annotations

from pathlib import Path

import pytest
import srsly
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import fix_random_seed
from typer.testing import CliRunner

from spacy_clinical_es.cli import app
from spacy_clinical_es.corpora.representation import USER_DATA_KEY
from spacy_clinical_es.evaluation.benchmarks import deid as bench
from spacy_clinical_es.evaluation.benchmarks.deid import (
    ClinicalMention,
    long_text,
    run_deid_benchmark,
)
from spacy_clinical_es.tokenizer import make_clinical_nlp

TEXTS = [
    (
        "Paciente Juan Pérez, vecino de Tarragona. CP: 43001. Presenta lesión Zurbitu en la mano.",
        [
            ("Juan Pérez", "NOMBRE_SUJETO_ASISTENCIA"),
            ("Tarragona", "TERRITORIO"),
            ("43001", "TERRITORIO"),
        ],
    ),
    (
        "Remitida por la Dra. Ana Roca desde Reus. Se realiza TC del 12/03/2010 sin hallazgos.",
        [("Ana Roca", "NOMBRE_PERSONAL_SANITARIO"), ("Reus", "TERRITORIO"), ("12/03/2010", "FECHAS")],
    ),
]
#: Clinical mentions of the two gold documents (as DisTEMIST/MedProcNER would give them), by doc index.
MENTIONS = {
    0: [ClinicalMention("disease", ((TEXTS[0][0].index("lesión Zurbitu"), TEXTS[0][0].index("lesión Zurbitu") + 14),))],
    1: [
        ClinicalMention("procedure", ((TEXTS[1][0].index("TC del 12/03/2010"), TEXTS[1][0].index(" sin")),)),
        ClinicalMention("symptom", ((TEXTS[1][0].index("hallazgos"), TEXTS[1][0].index("hallazgos") + 9),)),
    ],
}


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny detector (entity_ruler with a false positive + phi_rules + a trained phi_recall) and its gold."""
    path = tmp_path_factory.mktemp("deid_bench")
    nlp = make_clinical_nlp()
    ruler = nlp.add_pipe("entity_ruler")
    nlp.add_pipe("phi_rules")
    nlp.add_pipe("phi_recall")
    examples = []
    gold = DocBin(store_user_data=True)
    for i, (text, phrases) in enumerate(TEXTS):
        spans = [(text.index(p), text.index(p) + len(p), label) for p, label in phrases]
        examples.append(Example.from_dict(nlp.make_doc(text), {"entities": spans}))
        doc = nlp.make_doc(text)
        doc.spans["meddocan"] = [doc.char_span(s, e, label) for s, e, label in spans]
        doc.user_data[USER_DATA_KEY] = {"document": {"id": f"doc-{i}", "corpus": "meddocan"}}
        gold.add(doc)
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    ruler.add_patterns(
        [
            {"label": "NOMBRE_SUJETO_ASISTENCIA", "pattern": [{"TEXT": "Juan"}, {"TEXT": "Pérez"}]},
            # A false positive inside a disease mention: the damage the benchmark must count.
            {"label": "NOMBRE_SUJETO_ASISTENCIA", "pattern": [{"TEXT": "Zurbitu"}]},
        ]
    )
    nlp.to_disk(path / "model")
    gold.to_disk(path / "dev.spacy")
    return path / "model", path / "dev.spacy"


def test_benchmark_scores_every_setting_with_its_damage(detector, tmp_path: Path, monkeypatch) -> None:
    model, dev = detector
    monkeypatch.setattr(bench, "clinical_mentions", lambda docs, data_dir=None: (MENTIONS, {"documents": 2}))
    out, md = tmp_path / "deid.json", tmp_path / "deid.md"
    run_deid_benchmark(
        model,
        dev,
        output=out,
        markdown_path=md,
        processes=[1],
        repeats=1,
        thresholds=[0.5, 0.1],
        temperatures=[1.0, 3.0],
        long_sizes=[400, 4000],
        command="test",
    )
    report = srsly.read_json(out)
    replaced = report["replaced"]
    assert replaced["spans_key"] == "phi" and replaced["configured"] == "threshold=0.5 temperature=1"
    assert set(replaced["settings"]) == {f"threshold={t} temperature={T}" for t in ("0.5", "0.1") for T in ("1", "3")}
    # Entities alone (ruler + rules) miss Tarragona, Ana Roca and Reus; the trained classifier's group has them.
    entities_recall = report["accuracy"][report["main_setting"]]["phi_token"]["r"]
    assert entities_recall < 0.8
    configured = replaced["settings"]["threshold=0.5 temperature=1"]
    assert report["measured"]["phi_token_recall"] == configured["phi_token"]["r"] == 1.0
    # after the policy: every gold PHI token that the policy replaces when given the gold spans is replaced
    assert configured["damage"]["policy_phi_tokens"] == 8  # Juan Pérez Tarragona 43001 Ana Roca Reus 12/03/2010
    assert report["targets"]["replaced_phi_token_recall"]["measured"] == configured["damage"]["replaced_phi_token_recall"] == 1.0
    assert configured["damage"]["replaced_by_label"] == {
        "TERRITORIO": {"tokens": 3, "replaced": 3, "leaked": 0, "recall": 1.0},
        "NOMBRE_PERSONAL_SANITARIO": {"tokens": 2, "replaced": 2, "leaked": 0, "recall": 1.0},
        "NOMBRE_SUJETO_ASISTENCIA": {"tokens": 2, "replaced": 2, "leaked": 0, "recall": 1.0},
        "FECHAS": {"tokens": 1, "replaced": 1, "leaked": 0, "recall": 1.0},
    }
    # the entities alone (ruler + rules) leave Tarragona, Ana Roca and Reus: two place tokens, two name tokens
    entities_by_label = report["accuracy"][report["main_setting"]]["damage"]["replaced_by_label"]
    assert {label: row["leaked"] for label, row in entities_by_label.items()} == {
        "FECHAS": 0, "NOMBRE_PERSONAL_SANITARIO": 2, "NOMBRE_SUJETO_ASISTENCIA": 0, "TERRITORIO": 2,
    }
    assert entities_by_label["TERRITORIO"]["recall"] == pytest.approx(1 / 3, abs=1e-4)
    # the isolation rule, measured at the configured setting: off and on give the same here (PHI is clustered)
    assert set(replaced["isolation"]) == {"off", "25", "50", "100", "200", "400"}
    softest = replaced["settings"]["threshold=0.1 temperature=3"]["phi_token"]
    assert softest["r"] >= configured["phi_token"]["r"] and softest["p"] <= configured["phi_token"]["p"]
    # Clinical damage, beside every setting: the ruler's "Zurbitu" changes the disease mention (not PHI); the
    # procedure mention holds a gold date that the rules replace; the symptom is untouched.
    for row in [*report["accuracy"].values(), *replaced["settings"].values()]:
        assert row["damage"]["clinical_mentions"] == 3
    damage = configured["damage"]
    assert damage["by_type"]["disease"]["changed"] == 1 and damage["by_type"]["symptom"].get("changed", 0) == 0
    assert damage["by_type"]["procedure"]["changed"] == 1
    assert damage["causes"]["entity (not PHI)"] == 1 and damage["causes"]["phi_rules (gold PHI)"] == 1
    example = damage["examples"]["entity (not PHI)"][0]
    assert example["mention"] == "lesión Zurbitu" and example["replaced"] == "Zurbitu" and "Zurbitu" not in example["after"]
    assert damage["non_phi_tokens_changed"] == 1 and damage["tokens"] > 30
    assert damage["non_phi_tokens_changed_per_1000"] == pytest.approx(1000 / damage["tokens"])
    assert report["targets"]["clinical_mentions_changed"]["measured"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["targets"]["clinical_mentions_changed"]["met"] is False
    # Speed and the long documents (each in a fresh process, through deidentify_batch).
    assert report["speed"]["n_process_1"]["words_per_second"] > 0
    sizes = report["long_documents"]["sizes"]
    assert sizes["400"]["ok"] and sizes["4000"]["chars"] == 4000 and sizes["4000"]["peak_rss_mb"] > 0
    assert report["targets"]["long_document_time_ratio"]["measured"] == pytest.approx(
        sizes["4000"]["seconds"] / sizes["400"]["seconds"], rel=1e-2
    )
    assert report["config"]["deid_randomizer"]["spans_key"] == "phi"
    text = md.read_text(encoding="utf8")
    assert "Clinical mentions changed" in text and "lesión Zurbitu" in text and "replaced threshold=0.5" in text
    assert "recall_isolation_chars" in text
    assert "| TERRITORIO | 3 | 3 | 0 | 1.0000 |" in text


def test_cli_command_writes_the_metrics(detector, tmp_path: Path) -> None:
    model, dev = detector
    out = tmp_path / "deid.json"
    result = CliRunner().invoke(
        app,
        [
            "benchmark", "deid", str(model), str(dev), "-o", str(out), "--processes", "1", "--repeats", "1",
            "--thresholds", "0.5", "--temperatures", "1", "--no-clinical", "--long-sizes", "",
        ],
    )
    assert result.exit_code == 0, result.output
    report = srsly.read_json(out)
    assert report["long_documents"] is None and report["measured"]["clinical_mentions_changed"] is None
    assert report["targets"]["clinical_mentions_changed"]["met"] is None
    bad = CliRunner().invoke(app, ["benchmark", "deid", str(model), str(dev), "--processes", "x"])
    assert bad.exit_code == 1 and "comma-separated" in bad.output


def test_long_text_has_the_size_asked() -> None:
    assert len(long_text(["abc", "defgh"], 1000)) == 1000
    assert long_text(["abc"], 5) == "abc\n\n"


def test_clinical_mentions_are_moved_onto_the_meddocan_dev_texts() -> None:
    """Real corpora (skipped without them): DisTEMIST/MedProcNER/SympTEMIST mentions land on the same words."""
    from spacy_clinical_es.corpora.readers import iter_corpus
    from spacy_clinical_es.corpora.representation import document_to_doc
    from spacy_clinical_es.errors import DataDirError

    try:
        dev = list(iter_corpus("meddocan", "dev"))
        distemist = {d.id: d for d in iter_corpus("distemist", "train")}
    except DataDirError:
        pytest.skip("the corpora are not in the data directory")
    nlp = make_clinical_nlp()
    shared = [d for d in dev if d.id in distemist][:3]
    docs = [document_to_doc(d, nlp) for d in shared]
    mentions, counts = bench.clinical_mentions(docs)
    assert counts["documents"]["shared_with_any"] == 3 and sum(counts["mapped"].values()) > 30
    for index, doc in enumerate(docs):
        texts = {doc.text[m.start : m.end] for m in mentions[index] if m.type == "disease" and len(m.fragments) == 1}
        source = distemist[shared[index].id]
        expected = {a.text for a in source.annotations if len(a.fragments) == 1}
        assert texts and texts <= expected  # every mapped mention reads the same on the MEDDOCAN text
        assert shared[index].text != source.text  # the MEDDOCAN text differs (synthetic header, edits)
