"""Shared pieces of the runner tests: invented texts, a training-free model, misbehaving test components.

The components are registered at import, so worker processes (``spawn``) that unpickle a pipeline holding them,
or a CLI run given ``--code`` with this file, know them. No tests here.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from spacy_clinical_es.pipeline.deid_randomizer import DEID_USER_DATA_KEY

TEXT_A = "Nombre: Ernesto Rivera. NHC: 368503. Tfno. 956 203 145. Fecha: 03/03/1946.\n"
TEXT_B = "Ernesto Rivera vive en CP: 28016.\n"
PHI = ("Ernesto", "Rivera", "368503", "956 203 145", "03/03/1946", "28016")
KEY = "test-key-0123456789-abcdef"
REPO = Path(__file__).resolve().parents[2]


def build_model(path: Path, extra: tuple[str, ...] = ()) -> Path:
    """Save a blank Spanish pipeline (entity ruler for "Ernesto Rivera" + phi_rules + ``extra`` components)."""
    nlp = make_nlp(extra)
    nlp.to_disk(path)
    return path


def make_nlp(extra: tuple[str, ...] = ()) -> Language:
    nlp = spacy.blank("es")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "NOMBRE_SUJETO_ASISTENCIA", "pattern": [{"TEXT": "Ernesto"}, {"TEXT": "Rivera"}]}]
    )
    nlp.add_pipe("phi_rules")
    for name in extra:
        nlp.add_pipe(name)
    return nlp


def note(i: int, *, lines: int = 1, newline: str = "\n") -> str:
    """An invented note, different per ``i`` (ids, phones, dates)."""
    day = 1 + i % 28
    body = [
        f"Nombre: Ernesto Rivera. NHC: {368000 + i}. Tfno. 956 203 {100 + i % 900}. Fecha: {day:02d}/03/1946."
        for _ in range(lines)
    ]
    return newline.join(body) + newline


def env(**extra: str) -> dict[str, str]:
    """Environment of a CLI subprocess: this repo importable, no key unless given."""
    out = {k: v for k, v in os.environ.items() if k != "SPACY_CLINICAL_ES_DEID_KEY"}
    out["PYTHONPATH"] = str(REPO) + os.pathsep + out.get("PYTHONPATH", "")
    out.update(extra)
    return out


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "spacy_clinical_es", "deid", *args]


@Language.component("test_runner_raise_on_boom")
def raise_on_boom(doc: Doc) -> Doc:
    if "BOOM" in doc.text:
        raise ValueError(f"cannot handle {doc.text!r}")  # quotes the text: it must not reach any report
    return doc


@Language.component("test_runner_exit_on_crash")
def exit_on_crash(doc: Doc) -> Doc:
    if "CRASH" in doc.text:
        os._exit(1)  # a worker that dies (segfault, OOM killer)
    return doc


@Language.component("test_runner_fake_leak")
def fake_leak(doc: Doc) -> Doc:
    """After the randomizer: count an unresolved leak where the text says LEAK (what randomize() reports)."""
    stored = doc.user_data.get(DEID_USER_DATA_KEY)
    if stored is not None and "LEAK" in doc.text:
        stored.setdefault("stats", {})["unresolved_leaks"] = 1
    return doc


@Language.component("test_runner_interrupt")
def interrupt(doc: Doc) -> Doc:
    """Stop the run (as a kill would) at a text that says STOP while the environment asks for it."""
    if "STOP" in doc.text and os.environ.get("TEST_RUNNER_INTERRUPT") == "1":
        raise KeyboardInterrupt
    return doc
