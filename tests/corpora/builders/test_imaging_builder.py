"""Image-entity corpus on the real data directory: every source mention is accounted for."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from spacy.tokens import DocBin

from spacy_clinical_es.corpora.builders.char_align import MAPPED, REASONS
from spacy_clinical_es.corpora.builders.imaging import (
    LABELS,
    SOURCE_LABELS,
    SPAN_KEY,
    build_imaging,
    statistics_table,
)
from spacy_clinical_es.corpora.builders.split import stratified_split
from spacy_clinical_es.corpora.readers import iter_corpus
from spacy_clinical_es.corpora.report import ConversionReport
from spacy_clinical_es.tokenizer import make_clinical_nlp


@pytest.fixture(scope="module")
def nlp():
    return make_clinical_nlp()


@pytest.fixture(scope="module")
def sources(data_dir):
    meddocan = {
        d.id: d for split in ("train", "dev") for d in iter_corpus("meddocan", split, data_dir=data_dir)
    }
    distemist = {d.id: d for d in iter_corpus("distemist", "train", data_dir=data_dir)}
    medprocner = {d.id: d for d in iter_corpus("medprocner", "train", data_dir=data_dir)}
    return data_dir, meddocan, distemist, medprocner


@pytest.fixture(scope="module")
def built(tmp_path_factory, nlp, sources):
    data_dir = sources[0]
    out = tmp_path_factory.mktemp("imaging")
    report = ConversionReport()
    stats = build_imaging(out, data_dir, nlp=nlp, report=report)
    return out, stats, report


def test_every_source_mention_is_counted(built, sources) -> None:
    _out, stats, report = built
    _, meddocan, distemist, medprocner = sources
    shared = sorted(set(meddocan) & set(distemist))
    assert stats["documents"]["shared"] == len(shared) == 559
    expected: Counter = Counter()
    for corpus, docs in (("meddocan", meddocan), ("distemist", distemist), ("medprocner", medprocner)):
        for doc_id in shared:
            for ann in docs[doc_id].annotations if doc_id in docs else []:
                if ann.label in SOURCE_LABELS[corpus]:
                    expected[(corpus, SOURCE_LABELS[corpus][ann.label])] += 1
    mapping = stats["mapping"]
    for (corpus, label), total in expected.items():
        entry = mapping[corpus][label]
        assert entry["total"] == total, (corpus, label)
        assert entry["mapped"] + entry["unmapped"] == total
        assert sum(entry["reasons"].values()) == entry["unmapped"]
        assert set(entry["reasons"]) <= set(REASONS)
        # Each unmapped mention is a skipped item of the report, under its reason.
        for reason, n in entry["reasons"].items():
            assert report.skipped[("imaging", f"{corpus} {label}: {reason}")] == n
    # DisTEMIST is the base text: nothing to map.
    assert mapping["distemist"]["ENFERMEDAD"]["unmapped"] == 0
    # The synthetic header holds about half of MEDDOCAN's ages and sexes.
    for label in ("EDAD", "SEXO"):
        e = mapping["meddocan"][label]
        assert 0.3 < e["mapped"] / e["total"] < 0.7
        assert e["reasons"]["in inserted region"] > 0


def test_text_identity_checked(built) -> None:
    _, stats, _ = built
    identity = stats["text_identity"]
    assert identity["meddocan different"] == 559
    assert identity["medprocner identical"] + identity.get("medprocner different", 0) == 559
    assert len(stats["texts_differing_from_distemist"].get("medprocner", [])) == identity.get(
        "medprocner different", 0
    )


def test_docbins_hold_the_mapped_mentions(built, nlp, sources) -> None:
    out, stats, _report = built
    _, meddocan, distemist, _ = sources
    docs = []
    for split in ("train", "dev", "test"):
        docs += list(DocBin().from_disk(out / f"{split}.spacy").get_docs(nlp.vocab))
    assert len(docs) == 559
    in_group: Counter = Counter()
    for doc in docs:
        store = doc.user_data["spacy_clinical_es"]
        doc_id = store["document"]["id"]
        assert doc.text == distemist[doc_id].text
        records = store["annotations"]
        for ann_id, record in records.items():
            in_group[record["label"]] += 1
            if ann_id.startswith("mdc-"):
                # A mapped MEDDOCAN mention has exactly its MEDDOCAN text.
                source = next(a for a in meddocan[doc_id].annotations if a.id == ann_id[4:])
                (start, end), = record["fragments"]
                assert doc.text[start:end] == source.text
        # doc.ents is a non-overlapping subset of the span group.
        group = {(s.start, s.end, s.label_) for s in doc.spans[SPAN_KEY]}
        assert all((e.start, e.end, e.label_) in group for e in doc.ents)
    for label in LABELS:
        mapped = sum(stats["mapping"][c][label]["mapped"] for c in stats["mapping"] if label in stats["mapping"][c])
        assert in_group[label] == mapped
        assert sum(stats["splits"][s]["annotations"][label] for s in stats["splits"]) == mapped


def test_split_is_deterministic_and_disjoint(built, nlp) -> None:
    out, stats, _ = built
    parts = json.loads((out / "splits.json").read_text(encoding="utf-8"))
    assert {k: len(v) for k, v in parts.items()} == {"train": 391, "dev": 84, "test": 84}
    ids = [i for v in parts.values() for i in v]
    assert len(ids) == len(set(ids)) == 559
    # Recompute the split from the written documents: same seed, same split.
    counts: dict = {}
    for split in parts:
        for doc in DocBin().from_disk(out / f"{split}.spacy").get_docs(nlp.vocab):
            store = doc.user_data["spacy_clinical_es"]
            assert store["document"]["id"] in parts[split]
            counts[store["document"]["id"]] = Counter(r["label"] for r in store["annotations"].values())
    assert stratified_split(counts, seed=0) == parts
    assert stratified_split(dict(reversed(list(counts.items()))), seed=0) == parts
    for label in LABELS:
        total = sum(stats["label_counts_per_split"][s][label] for s in parts)
        for split, share in (("train", 0.7), ("dev", 0.15), ("test", 0.15)):
            assert abs(stats["label_counts_per_split"][split][label] / total - share) < 0.03


def test_statistics_table(built) -> None:
    out, stats, _ = built
    table = statistics_table(stats)
    md = (out / "stats.md").read_text(encoding="utf-8")
    assert table in md
    assert "| reports | 391 | 84 | 84 | 559 |" in table
    for label in LABELS:
        assert f"| {label} |" in table
    assert "±" in table
    conll = (out / "dev.conll").read_text(encoding="utf-8")
    assert "\tB-ENFERMEDAD" in conll and "\tB-PROCEDIMIENTO" in conll
    assert MAPPED == "mapped"


def test_the_concept_corpus_follows_the_linking_split(tmp_path, nlp, sources) -> None:
    """``convert concepts``: same documents as the image corpus, split like the linking corpus, codes kept."""
    from spacy_clinical_es.corpora.builders.imaging import build_concepts
    from spacy_clinical_es.corpora.builders.linking import joint_link_split
    from spacy_clinical_es.corpora.representation import doc_to_document

    data_dir, _meddocan, distemist, medprocner = sources
    stats = build_concepts(tmp_path, data_dir, nlp=nlp)
    parts = json.loads((tmp_path / "splits.json").read_text(encoding="utf-8"))
    linking, _ = joint_link_split({"medprocner": medprocner, "distemist": distemist})
    assert stats["split_by"] == "links"
    assert sum(len(ids) for ids in parts.values()) == len({i for ids in parts.values() for i in ids}) == 559
    # every linked document is where the linking corpus put it; the unlinked ones are all in train
    for split in ("dev", "test"):
        assert parts[split] == sorted(i for i in linking[split] if i in set().union(*parts.values()))
    assert set(linking["train"]) <= set(parts["train"])
    test_docs = list(DocBin().from_disk(tmp_path / "test.spacy").get_docs(nlp.vocab))
    coded = Counter(
        (a.label, system)
        for doc in test_docs
        for a in doc_to_document(doc, SPAN_KEY).annotations
        for system in a.codes
    )
    assert coded[("PROCEDIMIENTO", "SNOMEDCT")] > 0 and coded[("ENFERMEDAD", "SNOMEDCT")] > 0


def test_an_unknown_split_rule_is_a_clear_error(tmp_path, nlp, sources) -> None:
    from spacy_clinical_es.errors import ConfigError

    with pytest.raises(ConfigError, match="split_by"):
        build_imaging(tmp_path, sources[0], nlp=nlp, split_by="random")
