"""Linking JSONL on the real data directory; the sentence rule."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_clinical_es.corpora.builders.common import sentence_of, sentence_spans
from spacy_clinical_es.corpora.builders.linking import NO_CODE, SOURCES, build_linking
from spacy_clinical_es.corpora.readers import iter_corpus
from spacy_clinical_es.corpora.report import ConversionReport

FIELDS = {
    "corpus", "doc_id", "mention", "fragments", "label", "code", "system", "composite",
    "sentence", "sentence_start", "sentence_end", "sentence_fragments", "sem_rel",
}  # fmt: skip



@pytest.fixture(scope="module")
def built(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("linking")
    report = ConversionReport()
    stats = build_linking(out, data_dir, report=report)
    rows = {}
    for path in sorted(out.glob("*.jsonl")):
        rows[path.stem] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return out, stats, report, rows, data_dir


def test_rows_are_consistent(built) -> None:
    _, _, _, rows, data_dir = built
    texts = {
        corpus: {d.id: d.text for split in splits for d in iter_corpus(corpus, split, data_dir=data_dir)}
        for corpus, splits in (("medprocner", ["train"]), ("distemist", ["train"]), ("codiesp", ["train", "dev", "test"]))
    }
    n = 0
    for name, items in rows.items():
        corpus = name.split("_")[0]
        for row in items:
            n += 1
            assert set(row) == FIELDS
            assert row["corpus"] == corpus
            assert row["system"] in SOURCES[corpus][0]
            assert row["code"] and row["composite"] == ("+" in row["code"])
            text = texts[corpus][row["doc_id"]]
            assert row["mention"] == " ".join(text[s:e] for s, e in row["fragments"])
            assert text[row["sentence_start"] : row["sentence_end"]] == row["sentence"]
            for (s, e), (rs, re_) in zip(row["fragments"], row["sentence_fragments"]):
                assert row["sentence"][rs:re_] == text[s:e]
            if corpus == "codiesp":
                assert row["sem_rel"] is None
            else:
                assert row["sem_rel"]
    assert n > 20000


def test_counts_match_sources(built) -> None:
    _, stats, report, rows, data_dir = built
    for corpus in ("medprocner", "distemist"):
        systems, rel = SOURCES[corpus]
        docs = list(iter_corpus(corpus, "train", data_dir=data_dir))
        linked = [a for d in docs for a in d.annotations if rel in a.attributes]
        with_code = [a for a in linked if a.codes.get("SNOMEDCT")]
        per_system = Counter(s for a in linked for s in systems if a.codes.get(s))
        written = Counter(r["system"] for name, items in rows.items() if name.startswith(corpus) for r in items)
        assert written == per_system
        assert stats["mentions"][f"{corpus}: linked mentions"] == len(with_code)
        skipped = report.skipped.get(("linking", f"{corpus}: {NO_CODE}"), 0)
        assert len(with_code) + skipped == len(linked)
        assert stats["mentions"].get(f"{corpus}: skipped: {NO_CODE}", 0) == skipped
    assert stats["rows"]["distemist"]["train"]["ICD10"] > 0
    codiesp = sum(len(items) for name, items in rows.items() if name.startswith("codiesp"))
    assert codiesp == report.count("codiesp", "evidence_rows")


def test_documents_never_in_two_splits(built) -> None:
    out, stats, _, rows, _ = built
    splits = json.loads((out / "splits.json").read_text(encoding="utf-8"))
    joint = splits["medprocner+distemist"]
    seen = {}
    for split, ids in joint.items():
        for doc_id in ids:
            assert doc_id not in seen
            seen[doc_id] = split
    for name, items in rows.items():
        corpus, split = name.split("_")
        for row in items:
            if corpus == "codiesp":
                assert row["doc_id"] in splits["codiesp"][split]
            else:
                assert seen[row["doc_id"]] == split
    n = len(seen)
    assert {k: len(v) for k, v in joint.items()} == {
        "train": n - 2 * round(0.15 * n), "dev": round(0.15 * n), "test": round(0.15 * n)
    }
    assert stats["joint_split_documents"] == {k: len(v) for k, v in joint.items()}


def test_sentence_rule() -> None:
    text = (
        "Varón de 37 años. Visto por el Dr. Pérez el día 3. TA 120/80 mmHg.\n"
        "Tratamiento: vía i.v. durante 3 días, p. ej. amoxicilina. ¿Fuma? No. fin de frase"
    )
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == [
        "Varón de 37 años.",
        "Visto por el Dr. Pérez el día 3.",
        "TA 120/80 mmHg.",
        "Tratamiento: vía i.v. durante 3 días, p. ej. amoxicilina.",
        "¿Fuma?",
        "No. fin de frase",
    ]
    spans = sentence_spans(text)
    start = text.index("Pérez")
    assert text[slice(*sentence_of(spans, start, start + 5))] == sentences[1]
    # A range over two sentences gets both.
    assert sentence_of(spans, 0, text.index("Visto") + 3) == (0, spans[1][1])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab .?\nAB1¿", max_size=80))
def test_sentences_are_ordered_stripped_and_cover_all_text(text: str) -> None:
    spans = sentence_spans(text)
    last = 0
    for s, e in spans:
        assert last <= s < e
        assert text[s:e] == text[s:e].strip()
        assert "\n" not in text[s:e]
        last = e
    covered = "".join(text[s:e] for s, e in spans)
    assert covered.replace(" ", "") == "".join(text.split())
