"""Save pipelines without the strings of their training data: a pruned ``StringStore``.

spaCy's ``StringStore`` keeps every string the pipeline has seen, and
``nlp.to_disk`` writes it to ``vocab/strings.json``: a detector trained on
notes ships every token of them (patient IDs, e-mails, names). A pipeline
needs few of those strings to run:

* hashed features (``NORM``, ``PREFIX``, ``SUFFIX``, ``SHAPE`` of a
  ``MultiHashEmbed``) are hashes of strings computed from the text being
  processed, whether or not the string is in the store;
* what a component needs (labels, rules, lexicons, tokenizer special cases)
  is written by the component itself and interned again when it is loaded.

:func:`prune_string_store` therefore builds a *copy* of the pipeline from its
config, loads every component and the tokenizer from the original's bytes
(vectors and lookups tables included, the string store excluded) and keeps in
the copy's store only what that loading interned, plus every label and any
``keep`` string. The copy predicts exactly as the original (tests check it);
the original is not changed (pruning a live store would break its cached
lexemes). Vector keys' strings are not kept (vectors are looked up by hash).

Use it when saving: ``prune_string_store(nlp).to_disk(path)``, the
``prune-model`` command for a saved pipeline, and in a training config::

    [training.before_to_disk]
    @callbacks = "spacy_clinical_es.prune_strings.v1"

so that ``model-best`` / ``model-last`` are saved pruned.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from spacy import util
from spacy.language import Language
from spacy.util import registry

logger = logging.getLogger(__name__)

__all__ = ["create_prune_strings", "prune_string_store", "save_pruned"]


def prune_string_store(nlp: Language, *, keep: Iterable[str] = ()) -> Language:
    """A copy of ``nlp`` whose ``StringStore`` holds only the strings it needs to run (``nlp`` is unchanged).

    keep (Iterable[str]): extra strings to keep (e.g. for a component that
        looks strings up by hash at runtime without interning them itself).
    RETURNS (Language): the copy, ready for ``to_disk``.
    """
    config = nlp.config.copy()
    copy = util.load_model_from_config(config, auto_fill=False, validate=False, meta=dict(nlp.meta))
    # Vectors and lookup tables travel; the string store does not.
    copy.vocab.from_bytes(nlp.vocab.to_bytes(exclude=["strings"]), exclude=["strings"])
    copy.from_bytes(nlp.to_bytes(exclude=["vocab"]), exclude=["vocab"])
    for labels in copy.pipe_labels.values():
        for label in labels:
            copy.vocab.strings.add(str(label))
    for value in keep:
        copy.vocab.strings.add(value)
    copy.meta.update({k: v for k, v in nlp.meta.items() if k not in copy.meta})
    logger.info(
        "Pruned the string store: %d of %d strings kept", len(copy.vocab.strings), len(nlp.vocab.strings)
    )
    return copy


def save_pruned(nlp: Language, path: str | Path, *, keep: Iterable[str] = ()) -> Path:
    """``prune_string_store(nlp).to_disk(path)``; returns ``path``."""
    path = Path(path)
    prune_string_store(nlp, keep=keep).to_disk(path)
    return path


@registry.callbacks("spacy_clinical_es.prune_strings.v1")
def create_prune_strings(keep: list[str] = []) -> Callable[[Language], Language]:  # noqa: B006 (config default)
    """``[training.before_to_disk]`` callback: every checkpoint is saved with a pruned string store.

    keep (List[str]): extra strings to keep.
    """
    extra = tuple(keep)

    def before_to_disk(nlp: Language) -> Language:
        return prune_string_store(nlp, keep=extra)

    return before_to_disk
