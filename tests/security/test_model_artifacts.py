"""A saved pipeline keeps no training PHI: string-store pruning, hashed gazetteer, the audit-model scan.

The tiny pipelines are trained on invented notes full of unique PHI (IDs, e-mails, names, streets), and one on a
few MEDDOCAN train documents when the corpus is there. Each test that asserts "0 hits" after pruning also shows
that the same scan finds the strings without pruning, so the scan cannot pass by being blind.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import spacy
from spacy.cli.train import train
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import fix_random_seed
from typer.testing import CliRunner

from spacy_clinical_es.cli import app
from spacy_clinical_es.cli.audit_model import audit_model
from spacy_clinical_es.corpora.paths import corpus_dir
from spacy_clinical_es.errors import DataDirError
from spacy_clinical_es.pipeline.phi_gazetteer import FALLBACK_KEY_ENV, GAZETTEER_KEY_ENV
from spacy_clinical_es.security.artifact_scan import (
    NeedleSet,
    scan_bytes,
    scan_directory,
)
from spacy_clinical_es.security.prune_strings import prune_string_store, save_pruned
from spacy_clinical_es.tokenizer import make_clinical_nlp

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
KEY = "security-test-key-0123456789abcdef"

# Invented notes: every PHI string is unique to this file.
NOTES = [
    (
        (
            "Paciente: Gumersindo Quiralte Baeza. NHC: 7731904. Correo: gquiralte77@correo-falso.es. "
            "Domicilio: Calle Zurbitu Andía 14, Tolosa. Ingresa en el Hospital Txagorritxu Norte."
        ),
        [
            ("Gumersindo Quiralte Baeza", "NOMBRE_SUJETO_ASISTENCIA"),
            ("7731904", "ID_SUJETO_ASISTENCIA"),
            ("gquiralte77@correo-falso.es", "CORREO_ELECTRONICO"),
            ("Calle Zurbitu Andía 14", "CALLE"),
            ("Tolosa", "TERRITORIO"),
            ("Hospital Txagorritxu Norte", "HOSPITAL"),
        ],
    ),
    (
        (
            "Remitida por la Dra. Eulalia Montsagrat Vidiella (NASS 08/55120377/41) desde el Hospital Txagorritxu "
            "Norte. Contacto: emontsagrat@hosp-inventado.org. Vive en Calle Ibarrola Goikoa 3."
        ),
        [
            ("Eulalia Montsagrat Vidiella", "NOMBRE_PERSONAL_SANITARIO"),
            ("08/55120377/41", "ID_ASEGURAMIENTO"),
            ("Hospital Txagorritxu Norte", "HOSPITAL"),
            ("emontsagrat@hosp-inventado.org", "CORREO_ELECTRONICO"),
            ("Calle Ibarrola Goikoa 3", "CALLE"),
        ],
    ),
]
NEW_TEXT = "Paciente: Gumersindo Quiralte Baeza, NHC 7731904, visto en el Hospital Txagorritxu Norte. Varón de 40 años."


@pytest.fixture(autouse=True)
def gazetteer_key(monkeypatch):
    monkeypatch.setenv(GAZETTEER_KEY_ENV, KEY)
    monkeypatch.delenv(FALLBACK_KEY_ENV, raising=False)


def _spans(text: str, phrases: list[tuple[str, str]]) -> list[tuple[int, int, str]]:
    return [(text.index(p), text.index(p) + len(p), label) for p, label in phrases]


def needles(min_length: int = 6) -> NeedleSet:
    result = NeedleSet(min_length=min_length)
    result.add_all((phrase, label) for _, phrases in NOTES for phrase, label in phrases)
    return result


def ents(nlp, texts: list[str]) -> list[list[tuple[int, int, str]]]:
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]


@pytest.fixture(scope="module")
def trained():
    """A small detector (tok2vec + ner + phi_rules + phi_gazetteer) overfitted on the notes."""
    os.environ[GAZETTEER_KEY_ENV] = KEY
    try:
        nlp = make_clinical_nlp()
        nlp.add_pipe("tok2vec")
        nlp.add_pipe("ner")
        nlp.add_pipe("phi_rules")
        nlp.add_pipe("phi_gazetteer")
        examples = [Example.from_dict(nlp.make_doc(t), {"entities": _spans(t, p)}) for t, p in NOTES]
        fix_random_seed(0)
        optimizer = nlp.initialize(lambda: examples)
        for _ in range(40):
            nlp.update(examples, sgd=optimizer, drop=0.0)
    finally:
        del os.environ[GAZETTEER_KEY_ENV]
    return nlp


def test_unpruned_pipeline_leaks_and_pruned_one_does_not(trained, tmp_path: Path) -> None:
    trained.to_disk(tmp_path / "plain")
    leaky = scan_directory(tmp_path / "plain", needles())
    # spaCy's string store keeps the training strings: IDs and e-mails among them (the failing case).
    assert leaky.found_by_label.get("ID_SUJETO_ASISTENCIA", 0) == 1
    assert leaky.found_by_label.get("CORREO_ELECTRONICO", 0) == 2
    assert "vocab/strings.json" in leaky.hits
    # ... but not the gazetteer, which keeps hashes only.
    assert not any(path.startswith("phi_gazetteer") for path in leaky.hits)

    save_pruned(trained, tmp_path / "safe")
    report = scan_directory(tmp_path / "safe", needles(min_length=4))
    assert report.files_scanned > 5 and report.clean, report.to_dict()
    strings = json.loads((tmp_path / "safe" / "vocab" / "strings.json").read_text(encoding="utf8"))
    assert "7731904" not in strings and "Quiralte" not in strings
    assert {"HOSPITAL", "CALLE", "CORREO_ELECTRONICO"} <= set(strings)  # labels stay


def test_pruned_pipeline_predicts_the_same(trained, tmp_path: Path) -> None:
    texts = [t for t, _ in NOTES] + [NEW_TEXT, "Texto sin datos: fiebre y tos desde hace 3 días."]
    expected = ents(trained, texts)
    gold = _spans(*NOTES[0])
    assert len(set(expected[0]) & set(gold)) >= 4  # the overfitted detector finds most of its training PHI
    pruned = prune_string_store(trained)
    assert len(pruned.vocab.strings) < len(trained.vocab.strings)
    assert ents(pruned, texts) == expected
    save_pruned(trained, tmp_path / "safe")
    loaded = spacy.load(tmp_path / "safe")
    assert ents(loaded, texts) == expected
    assert [t.norm_ for t in loaded(NEW_TEXT)] == [t.norm_ for t in trained(NEW_TEXT)]
    # The original pipeline is untouched and still works.
    assert ents(trained, texts) == expected


def test_scan_finds_escaped_and_case_changed_forms() -> None:
    found = needles()
    hospital = found.labels.index("HOSPITAL")
    assert scan_bytes(b"\x00\x01HOSPITAL TXAGORRITXU NORTE\xff", found) == {hospital}
    escaped = json.dumps(["Calle Zurbitu Andía 14"]).encode("ascii")  # "Calle Zurbitu And\u00eda 14"
    assert b"\\u00ed" in escaped and scan_bytes(escaped, found) == {found.labels.index("CALLE")}
    assert scan_bytes(b"nothing to see here" * 1000, found) == set()
    # Short strings are counted, not looked for; the strings never show in a repr.
    assert found.skipped_short == 0 and needles(min_length=7).skipped_short == 1  # "Tolosa"
    assert "Tolosa" not in repr(found) and "TOLOSA" not in repr(found)
    assert scan_bytes(b"tolosa", needles(min_length=7)) == set() and len(scan_bytes(b"tolosa", found)) == 1


def test_audit_model_command_exits_non_zero_on_a_hit_without_printing_it(trained, tmp_path: Path) -> None:
    trained.to_disk(tmp_path / "plain")
    save_pruned(trained, tmp_path / "safe")
    corpus = tmp_path / "gold.spacy"
    nlp = make_clinical_nlp()
    db = DocBin()
    for text, phrases in NOTES:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label) for s, e, label in _spans(text, phrases)]
        db.add(doc)
    db.to_disk(corpus)
    runner = CliRunner()
    result = runner.invoke(app, ["audit-model", str(tmp_path / "plain"), "--against", str(corpus)])
    assert result.exit_code == 1, result.output
    assert "FOUND" in result.output and "vocab/strings.json" in result.output
    for _, phrases in NOTES:
        for phrase, _ in phrases:
            assert phrase not in result.output and phrase.lower() not in result.output
    out = tmp_path / "audit.json"
    result = runner.invoke(app, ["audit-model", str(tmp_path / "safe"), "--against", str(corpus), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["found"] == 0
    # prune-model: a saved pipeline re-saved without its training strings.
    result = runner.invoke(app, ["prune-model", str(tmp_path / "plain"), str(tmp_path / "pruned")])
    assert result.exit_code == 0, result.output
    assert scan_directory(tmp_path / "pruned", needles()).clean


def test_label_names_and_language_data_are_not_counted(trained, tmp_path: Path) -> None:
    """An annotated "hospital" is in every pipeline with a HOSPITAL label: the reference explains it."""
    save_pruned(trained, tmp_path / "safe")
    nlp = make_clinical_nlp()
    doc = nlp.make_doc("Ingresa en el hospital de EE.UU. tras el alta.")
    doc.ents = [doc.char_span(14, 22, "OTROS_SUJETO_ASISTENCIA"), doc.char_span(26, 32, "PAIS")]
    db = DocBin()
    db.add(doc)
    db.to_disk(tmp_path / "gold.spacy")
    report = audit_model(tmp_path / "safe", tmp_path / "gold.spacy")
    assert report.clean and report.excluded_by_label == {"OTROS_SUJETO_ASISTENCIA": 1, "PAIS": 1}
    blind = audit_model(tmp_path / "safe", tmp_path / "gold.spacy", reference=False)
    assert not blind.clean and "ner/moves" in blind.hits and "tokenizer" in blind.hits


def test_spacy_train_saves_pruned_checkpoints(tmp_path: Path, monkeypatch) -> None:
    """configs/deid_cnn.cfg prunes in before_to_disk: model-best holds no training ID, e-mail or name."""
    monkeypatch.setenv(GAZETTEER_KEY_ENV, KEY)
    nlp = make_clinical_nlp()
    db = DocBin()
    for text, phrases in NOTES:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(s, e, label) for s, e, label in _spans(text, phrases)]
        db.add(doc)
    db.to_disk(tmp_path / "train.spacy")
    overrides = {
        "paths.train": str(tmp_path / "train.spacy"),
        "paths.dev": str(tmp_path / "train.spacy"),
        "training.max_steps": 20,
        "training.eval_frequency": 10,
        "training.patience": 0,
        "components.tok2vec.model.embed.rows": [500, 100, 100, 50],
        "components.tok2vec.model.encode.width": 32,
        "components.tok2vec.model.encode.depth": 1,
    }
    train(CONFIGS / "deid_cnn.cfg", tmp_path / "out", overrides=overrides)
    for name in ("model-best", "model-last"):
        assert scan_directory(tmp_path / "out" / name, needles(min_length=4)).clean
    # The same training without the callback leaks (the callback is what removes the strings).
    train(CONFIGS / "deid_cnn.cfg", tmp_path / "plain", overrides={**overrides, "training.before_to_disk": None})
    leaky = scan_directory(tmp_path / "plain" / "model-last", needles())
    assert leaky.found_by_label.get("ID_SUJETO_ASISTENCIA") == 1


def _meddocan_docs(n: int):
    try:
        root = corpus_dir("meddocan")
    except DataDirError:
        return None
    from spacy_clinical_es.corpora.brat import iter_brat_dir

    docs = []
    for document in iter_brat_dir(root / "train", corpus="meddocan"):
        docs.append(document)
        if len(docs) == n:
            break
    return docs


def test_pipeline_trained_on_meddocan_documents_keeps_none_of_their_phi(tmp_path: Path) -> None:
    documents = _meddocan_docs(8)
    if not documents:
        pytest.skip("MEDDOCAN is not in the data directory")
    nlp = make_clinical_nlp()
    nlp.add_pipe("tok2vec")
    nlp.add_pipe("ner")
    nlp.add_pipe("phi_gazetteer")
    examples = []
    found = NeedleSet(min_length=6)
    for document in documents:
        doc = nlp.make_doc(document.text)
        spans = [doc.char_span(a.start, a.end, a.label, alignment_mode="expand") for a in document.annotations]
        spans = [s for s in spans if s is not None]
        doc.ents = spacy.util.filter_spans(spans)
        examples.append(Example(nlp.make_doc(document.text), doc))
        found.add_all((document.text[a.start : a.end], a.label) for a in document.annotations)
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(tmp_path / "plain")
    leaky = scan_directory(tmp_path / "plain", found)
    assert leaky.found_by_label.get("ID_SUJETO_ASISTENCIA", 0) > 0 and leaky.found_by_label.get("CORREO_ELECTRONICO", 0) > 0
    save_pruned(nlp, tmp_path / "safe")
    assert scan_directory(tmp_path / "safe", found).clean
    texts = [d.text for d in documents]
    assert ents(spacy.load(tmp_path / "safe"), texts) == ents(nlp, texts)
