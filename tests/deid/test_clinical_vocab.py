"""The common clinical vocabulary: the shipped file is what the builder makes from the public corpora."""
from __future__ import annotations

from spacy_clinical_es.deid.clinical_vocab import (
    build_clinical_vocab,
    load_clinical_vocab,
    vocab_resource_path,
    write_clinical_vocab,
)
from spacy_clinical_es.deid.textutil import normalize


def test_the_shipped_vocabulary_is_rebuilt_exactly(data_dir, tmp_path):
    words, counts = build_clinical_vocab(data_dir)
    assert counts["words"] > 3000 and counts["words_dropped_meddocan_phi"] > 0
    assert counts["documents_skipped_meddocan_dev"] > 0  # the clinical-damage documents are left out
    assert counts["words_from_cie10_only"] > 1000
    out = write_clinical_vocab(words, counts, tmp_path / "vocab.txt")
    assert out.read_text(encoding="utf-8") == vocab_resource_path().read_text(encoding="utf-8")


def test_common_clinical_words_in_and_identifiers_out(data_dir):
    from spacy_clinical_es.corpora.readers import iter_corpus

    vocab = load_clinical_vocab()
    assert {"calcificaciones", "pelvis", "tac", "mitomicina", "sindrome"} <= vocab
    # from the CIE-10 descriptions (singulars of their plurals too): words a few hundred case reports miss
    assert {"fobia", "fobias", "antidiuretica", "coxsackie"} <= vocab
    assert not {"garcia", "madrid", "calle", "hospital", "juan"} & vocab
    # no word that is mostly seen inside a MEDDOCAN train name or street annotation
    names = {
        normalize(w)
        for d in iter_corpus("meddocan", "train", data_dir=data_dir)
        for a in d.annotations
        if a.label in ("NOMBRE_SUJETO_ASISTENCIA", "NOMBRE_PERSONAL_SANITARIO")
        for w in a.text.split()
    }
    assert len(names & vocab) < 0.02 * len(names)


def test_the_cli_route(data_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_clinical_es.cli import app

    result = CliRunner().invoke(app, ["deid-vocab", "--data-dir", str(data_dir), "--out", str(tmp_path / "v.txt")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "v.txt").read_text(encoding="utf-8") == vocab_resource_path().read_text(encoding="utf-8")


def test_singulars_of_spanish_plurals():
    from spacy_clinical_es.deid.clinical_vocab import _singular

    assert [_singular(w) for w in ("fobias", "tumores", "sociales", "virus", "pies", "edema")] == [
        "fobia",
        "tumor",
        "social",
        None,
        None,
        None,
    ]
