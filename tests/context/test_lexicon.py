"""Cue lexicon: normalization, learning (precision, direction, siblings, pseudo-cues), matching, records."""
from __future__ import annotations

import pytest

from spacy_clinical_es.context.lexicon import (
    BACKWARD,
    FORWARD,
    NO_SCOPE,
    PSEUDO,
    CueEntry,
    CueLexicon,
    Sentence,
    TokenSpan,
    learn_lexicon,
    normalize,
)
from spacy_clinical_es.errors import ConfigError


def _sentence(text: str, cues: list[tuple[int, int, str]], scopes: list[tuple[int, int, int]] = ()) -> Sentence:
    """``cues``: (start, end, label); ``scopes``: (start, end, index of the cue)."""
    return Sentence(
        text.split(),
        [TokenSpan(s, e, label, f"T{i}") for i, (s, e, label) in enumerate(cues)],
        [TokenSpan(s, e, "DISO", f"T{k}") for s, e, k in scopes],
    )


def test_normalize_folds_accents_and_case() -> None:
    assert normalize("ASINTOMÁTICO") == "asintomatico"
    assert normalize("Pingüino") == "pinguino"
    assert normalize("Niño") == "nino"
    assert normalize("no") == "no"


TRAIN = [
    _sentence("No se observan adenopatías .", [(0, 1, "NegSyn")], [(1, 4, 0)]),
    _sentence("no fiebre", [(0, 1, "NegSyn")], [(1, 2, 0)]),
    _sentence("no tos", [(0, 1, "NegSyn")], [(1, 2, 0)]),
    _sentence("no disnea", [(0, 1, "NegSyn")], [(1, 2, 0)]),
    _sentence("Imagen sugestiva de espondilolisis", [(1, 3, "UncertLex")], [(3, 4, 0)]),
    _sentence("Serologías negativas .", [(1, 2, "NegLex")], [(0, 1, 0)]),
    _sentence("Cultivos negativas", [(1, 2, "NegLex")], [(0, 1, 0)]),
    _sentence("Paciente afebril", [(1, 2, "NegMor")]),
    _sentence("Paciente Afébril", [(1, 2, "NegMor")]),
    _sentence("clara mejoría", []),
    _sentence("sin clara causa", [(0, 2, "UncertLex")], [(2, 3, 0)]),
    _sentence("sin clara causa", [(0, 2, "UncertLex")], [(2, 3, 0)]),
    _sentence("no obstante mejora", []),
    _sentence("no obstante sigue", []),
    _sentence("no obstante bien", []),
]


def test_learn_lexicon_keeps_forms_labels_and_directions() -> None:
    lexicon = learn_lexicon(TRAIN, min_count=2, min_precision=0.5, pseudo_min_count=3)
    assert lexicon.get(["No"]).label == "NegSyn"
    assert lexicon.get(["no"]).direction == FORWARD
    assert lexicon.get(["sugestiva", "de"]) is None  # seen once: below min_count
    assert lexicon.get(["afebril"]).direction == NO_SCOPE
    assert lexicon.get(["sin", "clara"]).label == "UncertLex"
    assert lexicon.get(["clara"]) is None  # never a cue on its own
    negativas = lexicon.get(["negativas"])
    assert negativas is not None and negativas.direction == BACKWARD
    assert lexicon.get(["negativo"]).label == "NegLex"  # sibling the training text never shows
    assert lexicon.get(["no", "obstante"]).label == PSEUDO


def test_learn_lexicon_drops_imprecise_forms() -> None:
    sentences = [_sentence("no fiebre", [(0, 1, "NegSyn")], [(1, 2, 0)])] * 2 + [_sentence("no sé", [])] * 5
    assert learn_lexicon(sentences, min_count=1, min_precision=0.5).get(["no"]) is None
    assert learn_lexicon(sentences, min_count=1, min_precision=0.2).get(["no"]) is not None


def test_find_prefers_the_longest_form_and_skips_pseudo_cues() -> None:
    lexicon = CueLexicon(
        [
            CueEntry(("no",), "NegSyn", FORWARD),
            CueEntry(("no", "parece"), "UncertLex", FORWARD),
            CueEntry(("no", "obstante"), PSEUDO, NO_SCOPE),
        ]
    )
    words = [normalize(w) for w in ["no", "parece", "neumonia", ",", "no", "obstante", "no", "hay", "fiebre"]]
    matches = [(m.start, m.end, m.entry.label) for m in lexicon.find(words)]
    assert matches == [(0, 2, "UncertLex"), (6, 7, "NegSyn")]


def test_records_round_trip_and_bad_records_raise() -> None:
    lexicon = learn_lexicon(TRAIN, min_count=1, min_precision=0.5)
    again = CueLexicon.from_records(lexicon.to_records())
    assert again.to_records() == lexicon.to_records()
    with pytest.raises(ConfigError, match="label"):
        CueLexicon.from_records([{"words": ["no"], "label": "Negation"}])
    with pytest.raises(ConfigError, match="words"):
        CueLexicon.from_records([{"label": "NegSyn"}])
