"""Committed pretrained assets: SHA-256 manifest written, read, verified; the before_init callback stops training."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import spacy
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from spacy_clinical_es.cli import app
from spacy_clinical_es.pretraining.assets import (
    MANIFEST,
    AssetError,
    read_manifest,
    verify_path,
    write_manifest,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "assets" / "pretrained"


def _asset(tmp_path: Path) -> Path:
    root = tmp_path / "pretrained"
    (root / "vectors" / "vocab").mkdir(parents=True)
    (root / "vectors" / "vocab" / "vectors").write_bytes(bytes(range(256)) * 4)
    (root / "vectors" / "meta.json").write_text('{"lang": "es"}', encoding="utf-8")
    (root / "README.md").write_text("docs, not hashed\n", encoding="utf-8")
    write_manifest(root)
    return root


def test_manifest_round_trips_and_skips_the_readme(tmp_path: Path) -> None:
    root = _asset(tmp_path)
    entries = read_manifest(root / MANIFEST)
    assert sorted(entries) == ["vectors/meta.json", "vectors/vocab/vectors"]
    assert verify_path(root) == 2
    assert verify_path(root / "vectors" / "vocab") == 1
    (root / "README.md").write_text("edited\n", encoding="utf-8")
    assert verify_path(root / "vectors") == 2


def test_an_altered_or_missing_file_is_named(tmp_path: Path) -> None:
    root = _asset(tmp_path)
    data = root / "vectors" / "vocab" / "vectors"
    data.write_bytes(data.read_bytes()[:-1] + b"\x00")
    with pytest.raises(AssetError, match=r"SHA-256 differs .*vectors/vocab/vectors.*git checkout"):
        verify_path(root / "vectors")
    (root / "vectors" / "meta.json").unlink()
    with pytest.raises(AssetError, match=r"missing: vectors/meta.json"):
        verify_path(root / "vectors")
    with pytest.raises(AssetError, match="not found"):
        verify_path(root / "elsewhere")


def test_a_path_without_manifest_is_not_checked(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    assert verify_path(tmp_path / "mine") == 0


def test_a_malformed_manifest_names_its_line(tmp_path: Path) -> None:
    root = _asset(tmp_path)
    with (root / MANIFEST).open("a", encoding="utf-8") as handle:
        handle.write("not-a-digest vectors/x\n")
    with pytest.raises(AssetError, match=r"SHA256SUMS, line 3"):
        verify_path(root)


@given(st.text(max_size=300))
def test_manifest_parser_never_raises_anything_but_asset_error(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    manifest = tmp_path_factory.mktemp("m") / MANIFEST
    manifest.write_text(text, encoding="utf-8")
    try:
        entries = read_manifest(manifest)
    except AssetError:
        return
    assert all(len(digest) == 64 for digest in entries.values())


def test_committed_vectors_match_their_manifest() -> None:
    """The files in git are the ones the manifest names (a rebuild must rewrite both)."""
    assert verify_path(COMMITTED / "vectors") == len(read_manifest(COMMITTED / MANIFEST))
    nlp = spacy.load(COMMITTED / "vectors")
    assert nlp.vocab.vectors.mode == "floret" and nlp.vocab.vectors.shape == (50_000, 100)
    assert nlp.vocab.vectors.name == "es_clinical_floret"  # what packaging recognises (licence of the product)
    assert nlp.vocab["neumotórax"].has_vector  # floret: every form, seen or not, has a vector


def test_before_init_callback_stops_initialization_on_an_altered_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copy = tmp_path / "pretrained"
    shutil.copytree(COMMITTED, copy)
    nlp = spacy.blank("es")
    nlp.config["initialize"]["vectors"] = str(copy / "vectors")
    nlp.config["initialize"]["before_init"] = {"@callbacks": "spacy_clinical_es.verify_assets.v1",
                                               "path": str(copy / "vectors")}
    with caplog.at_level("INFO", logger="spacy"):
        nlp.initialize()
    assert nlp.vocab.vectors.shape == (50_000, 100)
    assert f"{len(read_manifest(copy / MANIFEST))} files match SHA256SUMS" in caplog.text  # shown by spacy train
    (copy / "vectors" / "meta.json").write_text("{}", encoding="utf-8")
    nlp = spacy.blank("es")
    nlp.config["initialize"]["before_init"] = {"@callbacks": "spacy_clinical_es.verify_assets.v1",
                                               "path": str(copy / "vectors")}
    with pytest.raises(AssetError, match="meta.json"):
        nlp.initialize()


def test_cli_installs_and_verifies(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "assets"
    result = runner.invoke(app, ["pretrained-assets", "--vectors", str(COMMITTED / "vectors"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["pretrained-assets", "--output", str(out), "--verify"])
    assert result.exit_code == 0 and f"{len(read_manifest(out / MANIFEST))} files match" in result.output
    (out / "vectors" / "tokenizer").unlink()
    result = runner.invoke(app, ["pretrained-assets", "--output", str(out), "--verify"])
    assert result.exit_code == 1 and "missing: vectors/tokenizer" in result.output
    result = runner.invoke(app, ["pretrained-assets", "--vectors", str(tmp_path / "none"), "--output", str(out)])
    assert result.exit_code == 1 and "holds no spaCy vectors" in result.output
