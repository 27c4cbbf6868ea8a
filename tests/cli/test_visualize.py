"""``visualize``: both pages render in headless Chromium, are not blank, and hold every span of every document."""
from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import spacy
from PIL import Image
from typer.testing import CliRunner

from spacy_clinical_es.cli import app
from spacy_clinical_es.evaluation.visualize import (
    DrawnSpan,
    Replacement,
    concepts_page,
    layers,
    review_page,
)
from spacy_clinical_es.runtime.annotate import concept_records
from spacy_clinical_es.runtime.batch import find_randomizer, piece_audit
from spacy_clinical_es.tokenizer import make_clinical_nlp

from .test_annotate import build_concepts_model

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
NOTES = {
    "a.txt": "Paciente con apendicitis aguda.\nSe realiza apendicectomía el 12/03/2019.\nSin fiebre.",
    "b.txt": "Correo: juan.garcia@gmail.com, NHC 1234567.\nTeléfono 912 345 678. Apendicitis.",
}


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        check=False, capture_output=True, text=True, timeout=120,
    )


def _not_blank(png: Path) -> None:
    image = Image.open(png).convert("RGB")
    pixels = list(image.resize((200, 150)).getdata())
    coloured = sum(1 for p in pixels if p != (255, 255, 255))
    assert coloured > 0.02 * len(pixels), f"{png} is (almost) blank"
    assert len(set(pixels)) > 10  # text and label colours, not one flat fill


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pipelines")
    concepts = build_concepts_model(root / "concepts")
    nlp = make_clinical_nlp()
    nlp.add_pipe("phi_rules")
    nlp.add_pipe("deid_randomizer", config={"seed": 0})
    nlp.to_disk(root / "deid")
    return concepts, root / "deid"


def test_layers_never_overlap_and_keep_every_span() -> None:
    spans = [DrawnSpan(0, 10, "A"), DrawnSpan(2, 5, "A"), DrawnSpan(3, 4, "B"), DrawnSpan(12, 15, "A")]
    drawn = layers(spans)
    key = lambda s: (s.start, s.end, s.label)
    assert sorted((s for layer in drawn for s in layer), key=key) == sorted(spans, key=key)
    for layer in drawn:
        assert all(a.end <= b.start for a, b in itertools.pairwise(layer))


def test_concepts_page_marks_negation_codes_and_fragments() -> None:
    text = "No hay dolor en brazo ni pierna."
    records = [
        {"concept_id": "C1", "label": "ENFERMEDAD", "fragments": [[7, 12], [16, 21]], "nested_in": None,
         "codes": {"SNOMED CT": {"code": "22253000", "score": 0.91}}, "negated": True},
    ]
    page = concepts_page([("d<1>", text, records)])
    assert page.count('data-concept="C1"') == 2 and 'class="entity negated fragment"' in page
    assert "SNOMED CT: 22253000 (0.91)" in page and "NEGADO" in page
    assert "d&lt;1&gt;" in page and "d<1>" not in page  # ids and text are escaped


def test_pages_draw_negation_set_by_the_pipeline(tmp_path: Path) -> None:
    """A pipeline ending in clinical_context (as es_clinical_concepts does): its negated concepts are struck through."""
    from spacy_clinical_es.cli.visualize import build_pages

    nlp = spacy.load(build_concepts_model(tmp_path / "concepts"))
    context = nlp.add_pipe("clinical_es_context", config={"targets": ["concepts"]})
    context.implementation.add_cues([{"words": ["sin"], "label": "NegSyn", "direction": "forward"}])
    text = "Apendicitis aguda. Sin fiebre."
    build_pages([("a.txt", text)], nlp, tmp_path / "html")
    page = (tmp_path / "html" / "concepts.html").read_text(encoding="utf-8")
    marks = {span: css for css, span in re.findall(r'<mark class="entity ([^"]*)" data-span="(\d+-\d+)"', page)}
    fiebre = f"{text.index('fiebre')}-{len(text) - 1}"
    assert "negated" in marks[fiebre] and "negated" not in marks["0-17"]


def test_review_page_pairs_every_replacement() -> None:
    from spacy_clinical_es.deid import OffsetMap
    from spacy_clinical_es.deid.offsets import Segment

    original, deid = "Juan vino.\nAna no.", "Pedro vino.\nAna no."
    offset_map = OffsetMap([Segment(0, 5, 0, 4, True), Segment(5, 19, 4, 18, False)])
    page = review_page([("d", original, deid, [Replacement(0, 4, 0, 5, "NOMBRE_SUJETO_ASISTENCIA")], offset_map)])
    assert page.count('data-pair="D1P1"') == 2
    assert 'data-span="0-4"' in page and 'data-span="0-5"' in page
    assert "<td>Juan</td><td>Pedro</td>" in page


@pytest.mark.skipif(CHROMIUM is None, reason="needs the Debian package chromium (.ci/run installs it)")
def test_pages_render_in_headless_chromium(pipelines: tuple[Path, Path], tmp_path: Path) -> None:
    concepts_model, deid_model = pipelines
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in NOTES.items():
        (notes / name).write_text(text, encoding="utf-8")
    out = tmp_path / "html"
    result = CliRunner().invoke(
        app, ["visualize", str(notes), "--model", str(concepts_model), "--deid-model", str(deid_model), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    concepts_html, review_html = out / "concepts.html", out / "deid_review.html"
    assert concepts_html.as_uri() in result.output and review_html.as_uri() in result.output

    # what must be on the pages, computed here from the same pipelines
    nlp, deid = spacy.load(concepts_model), spacy.load(deid_model)
    expected_concepts = {
        f"{s}-{e}" for name, text in NOTES.items() for r in concept_records(nlp(text), name) for s, e in r["fragments"]
    }
    randomizer = find_randomizer(deid)
    audits = {name: piece_audit(deid(text), randomizer, keep_originals=False) for name, text in NOTES.items()}
    assert len(expected_concepts) >= 4 and all(audits.values())

    for page in (concepts_html, review_html):
        shot = tmp_path / f"{page.stem}.png"
        run = _chromium(["--window-size=1000,700", f"--screenshot={shot}", page.as_uri()], tmp_path / "profile")
        assert shot.exists(), run.stderr[-2000:]
        _not_blank(shot)
    dom = _chromium(["--dump-dom", concepts_html.as_uri()], tmp_path / "profile").stdout
    assert "<mark" in dom
    assert expected_concepts <= set(re.findall(r'data-span="(\d+-\d+)"', dom))
    dom = _chromium(["--dump-dom", review_html.as_uri()], tmp_path / "profile").stdout
    spans = set(re.findall(r'data-span="(\d+-\d+)"', dom))
    for d, (name, rows) in enumerate(sorted(audits.items()), start=1):
        assert f'data-doc="{name}"' in dom
        for n, row in enumerate(rows, start=1):
            assert dom.count(f'data-pair="D{d}P{n}"') == 2  # the original and its replacement
            assert f"{row['start']}-{row['end']}" in spans and f"{row['out_start']}-{row['out_end']}" in spans
