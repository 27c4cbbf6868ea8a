"""Tagger encoding: gold cues/scopes → tags → decoded cues/scopes."""
from __future__ import annotations

from spacy_clinical_es.context.lexicon import TokenSpan
from spacy_clinical_es.context.tagging import (
    CUE_FEATURES,
    CUE_TAGS,
    N_COLUMNS,
    SCOPE_TAGS,
    cue_feature_table,
    decode,
    encode,
)


def test_tag_sets_and_columns() -> None:
    assert len(CUE_TAGS) == 11 and len(SCOPE_TAGS) == 7 and N_COLUMNS == 25


def test_encode_then_decode_round_trips_cues_scopes_and_links() -> None:
    cues = [TokenSpan(0, 1, "NegSyn", "T1"), TokenSpan(4, 6, "UncertLex", "T9")]
    scopes = [TokenSpan(1, 3, "DISO", "T1"), TokenSpan(6, 7, "Phrase", "T9")]
    tags = encode(8, cues, scopes)
    assert tags["cues"] == ["B-NegSyn", "O", "O", "O", "B-UncertLex", "I-UncertLex", "O", "O"]
    assert tags["negation"] == ["O", "DISO", "DISO", "O", "O", "O", "O", "O"]
    assert tags["uncertainty"] == ["O"] * 6 + ["Phrase", "O"]
    result = decode(tags)
    assert [(c.start, c.end, c.label, c.id) for c in result.cues] == [(0, 1, "NegSyn", "c0"), (4, 6, "UncertLex", "c1")]
    assert [(s.start, s.end, s.label, s.id) for s in result.scopes] == [(1, 3, "DISO", "c0"), (6, 7, "Phrase", "c1")]


def test_decode_drops_scopes_without_a_cue_of_their_polarity() -> None:
    tags = {"cues": ["B-NegSyn", "O", "O"], "negation": ["O", "DISO", "O"], "uncertainty": ["O", "O", "DISO"]}
    result = decode(tags)
    assert [(s.start, s.end) for s in result.scopes] == [(1, 2)]


def test_decode_starts_a_cue_on_a_stray_inside_tag() -> None:
    result = decode({"cues": ["I-NegLex", "I-NegLex", "B-NegSyn"], "negation": ["O"] * 3, "uncertainty": ["O"] * 3})
    assert [(c.start, c.end, c.label) for c in result.cues] == [(0, 2, "NegLex"), (2, 3, "NegSyn")]


def test_best_tags_argmax_or_threshold_on_not_outside() -> None:
    import numpy as np

    from spacy_clinical_es.context.tagging import best_tags

    tagset = ("O", "DISO", "Phrase")
    probs = np.asarray([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.9, 0.05, 0.05]], dtype="float32")
    assert best_tags(probs, tagset) == ["O", "Phrase", "O"]
    assert best_tags(probs, tagset, 0.3) == ["DISO", "Phrase", "O"]
    assert best_tags(probs[:0], tagset, 0.3) == []


def test_cue_feature_table_maps_each_cue_tag_to_its_polarity_and_position() -> None:
    table = cue_feature_table()
    assert table.shape == (len(CUE_TAGS), len(CUE_FEATURES))
    assert (table.sum(axis=1) == 1).all()
    feature = {tag: CUE_FEATURES[int(row.argmax())] for tag, row in zip(CUE_TAGS, table)}
    assert feature["O"] == "O"
    assert feature["B-NegLex"] == feature["B-NegSyn"] == "B-negation"
    assert feature["I-NegMor"] == "I-negation"
    assert feature["B-UncertLex"] == "B-uncertainty" and feature["I-UncertSyn"] == "I-uncertainty"
