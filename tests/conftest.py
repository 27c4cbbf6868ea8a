"""Shared fixtures: the corpus data directory (tests that need it skip without it)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from spacy_clinical_es.corpora.paths import corpus_dir, resolve_data_dir
from spacy_clinical_es.errors import DataDirError


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The corpus data directory; skips the test when there is none."""
    try:
        return resolve_data_dir()
    except DataDirError:
        pytest.skip("corpus data directory not found (set SPACY_CLINICAL_ES_DATA)")


@pytest.fixture(scope="session")
def corpus_path(data_dir: Path) -> Callable[[str], Path]:
    """``corpus_path(name)``: one corpus folder; skips the test when it is missing."""

    def get(name: str) -> Path:
        try:
            return corpus_dir(name, data_dir)
        except DataDirError:
            pytest.skip(f"corpus {name} not found in {data_dir}")

    return get
