"""Round trip on the imaging dev split: gold → List/Tag/JSON → parse → align gives the gold spans.

Chunks are sentences (:func:`~spacy_clinical_es.corpora.builders.common.sentence_spans`,
as in the paper). Gold: the exact fragments in
``doc.user_data["spacy_clinical_es"]["annotations"]`` (nested included).
Every gold span is either rendered and aligned back exactly, or counted by
the reason the format cannot express it. The dev split is built from the
corpora with :func:`~spacy_clinical_es.corpora.builders.imaging.build_imaging`
(about 5 s); without the corpora the built ``corpus/imaging/dev.spacy`` is
used if present, else the test is skipped.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest

from spacy_clinical_es.corpora.builders.imaging import build_imaging
from spacy_clinical_es.corpora.paths import resolve_data_dir
from spacy_clinical_es.errors import DataDirError
from spacy_clinical_es.generative import JsonFormat, ListFormat, TagFormat
from spacy_clinical_es.generative.chunks import round_trip_counts

logger = logging.getLogger(__name__)

DEV = Path(__file__).resolve().parents[2] / "corpus" / "imaging" / "dev.spacy"
LABELS = ["EDAD", "SEXO", "ENFERMEDAD", "PROCEDIMIENTO"]
FORMATS = {
    "list": ListFormat(),
    "tag": TagFormat(),
    "tag_nested": TagFormat(nested=True),
    "json": JsonFormat(),
}
# Reasons each format may give for a span it cannot express.
ALLOWED = {
    "list": {"crosses_chunk", "discontinuous", "separator_in_text", "ambiguous"},
    "tag": {"crosses_chunk", "discontinuous", "nested", "overlap"},
    "tag_nested": {"crosses_chunk", "discontinuous", "overlap"},
    "json": {"crosses_chunk", "ambiguous"},
}


@pytest.fixture(scope="module")
def dev_docs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, list]]:
    import spacy
    from spacy.tokens import DocBin

    try:
        data_dir = resolve_data_dir()
    except DataDirError:
        data_dir = None
    if data_dir is not None:
        out = tmp_path_factory.mktemp("imaging")
        build_imaging(out, data_dir)
        path = out / "dev.spacy"
    elif DEV.exists():
        path = DEV
    else:
        pytest.skip(f"no corpus data directory (set SPACY_CLINICAL_ES_DATA) and no built {DEV}")
    nlp = spacy.blank("es")
    docs = []
    for doc in DocBin().from_disk(path).get_docs(nlp.vocab):
        records = doc.user_data["spacy_clinical_es"]["annotations"]
        docs.append((doc.text, [([tuple(f) for f in r["fragments"]], r["label"]) for r in records.values()]))
    return docs


@pytest.mark.parametrize("name", list(FORMATS))
def test_round_trip_dev(name: str, dev_docs: list[tuple[str, list]]) -> None:
    counts = round_trip_counts(FORMATS[name], dev_docs, labels=LABELS)
    not_expressible = Counter(counts["not_expressible"])
    logger.info("%s: %s", name, counts)
    assert counts["spans"] > 2000
    assert counts["hallucinated"] == 0
    assert counts["exact"] == counts["rendered"]
    # Nothing lost silently: every gold span is rendered or counted.
    assert counts["rendered"] + sum(not_expressible.values()) == counts["spans"]
    assert set(not_expressible) <= ALLOWED[name], not_expressible
    assert counts["chunks_with_tag_like_text"] == 0
    if name in ("list", "json", "tag_nested"):
        assert counts["rendered"] >= 0.99 * counts["spans"]
    else:
        assert not_expressible["nested"] > 0
