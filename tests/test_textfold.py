"""The one accent/case folding helper: what it folds, idempotence, the index map, and that its users share it."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spacy_clinical_es import textfold
from spacy_clinical_es.textfold import fold, fold_with_index, strip_marks


def test_fold_spanish_clinical_forms() -> None:
    assert fold("Ñandú") == "nandu"
    assert fold("CÁNCER de Mama") == "cancer de mama"
    assert fold("ﬁbrosis") == "fibrosis"
    assert fold("Straße") == "strasse"
    assert strip_marks("Ñandú") == "Nandu"
    assert fold("") == "" and strip_marks("") == ""


@given(st.text(max_size=40))
def test_fold_is_idempotent_on_spanish_letters(text: str) -> None:
    spanish = "".join(c for c in text if c.isascii() or c in "áéíóúüñÁÉÍÓÚÜÑ¿¡ºª")
    assert fold(fold(spanish)) == fold(spanish)


@given(st.text(max_size=40))
def test_index_points_at_the_source_character(text: str) -> None:
    folded, index = fold_with_index(text, skip="\ufeff")
    assert len(folded) == len(index)
    assert index == sorted(index)
    for char, i in zip(folded, index):
        assert char in fold(text[i])
        assert not text[i].isspace() and text[i] != "\ufeff"


def test_every_caller_uses_this_module() -> None:
    from spacy_clinical_es.concepts import align as concepts_align
    from spacy_clinical_es.deid import textutil
    from spacy_clinical_es.generative.align import normalize as generative_normalize
    from spacy_clinical_es.linking.normalize import normalize_term

    assert concepts_align.fold is textfold.fold
    assert generative_normalize(" Cáncer\ufeff ").text == "cancer"
    assert textutil.normalize("  GARCÍA   López ") == "garcia lopez"
    assert normalize_term("  Tomografía   Axial ") == "tomografia axial"
