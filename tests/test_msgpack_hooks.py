"""The cached msgpack hook lookup: same hooks as srsly's own, looked up once, refreshed when the registry changes."""
from __future__ import annotations

import os
import subprocess
import sys

import catalogue
import numpy
import pytest
import spacy
import srsly
from spacy.tokens import DocBin

from spacy_clinical_es.msgpack_hooks import (
    DISABLE_ENV,
    cache_msgpack_hooks,
    cached_get_all,
)


@pytest.fixture
def registry():
    """A throwaway catalogue registry (no entry points), removed from catalogue's global registry afterwards."""
    reg = catalogue.create("spacy_clinical_es_test", "msgpack_hooks", entry_points=False)
    yield reg
    for key in [k for k in catalogue.REGISTRY if k[:2] == ("spacy_clinical_es_test", "msgpack_hooks")]:
        del catalogue.REGISTRY[key]


def test_the_lookup_runs_once_until_the_namespace_changes(registry) -> None:
    calls = []
    original = registry.get_all

    def counting() -> dict:
        calls.append(1)
        return original()

    registry.get_all = counting
    registry.register("first", func=lambda obj, chain=None: obj)
    get_all = cached_get_all(registry, catalogue.REGISTRY)
    assert list(get_all()) == ["first"] and list(get_all()) == ["first"]
    assert len(calls) == 1
    # a new entry of the namespace, then a replaced one: both seen
    registry.register("second", func=lambda obj, chain=None: obj)
    assert sorted(get_all()) == ["first", "second"] and len(calls) == 2
    replacement = lambda obj, chain=None: obj
    registry.register("first", func=replacement)
    assert get_all()["first"] is replacement and len(calls) == 3
    get_all()
    assert len(calls) == 3
    # what the caller gets is a copy: changing it does not change the cache
    get_all().clear()
    assert sorted(get_all()) == ["first", "second"]


def test_srsly_uses_the_cached_lookup_and_decodes_the_same(tmp_path) -> None:
    assert cache_msgpack_hooks() is True
    for reg in (srsly.msgpack.msgpack_encoders, srsly.msgpack.msgpack_decoders):
        assert getattr(reg.get_all, "_spacy_clinical_es_cached", False)
        assert reg.get_all() == reg.get_all.original()
    assert cache_msgpack_hooks() is True  # idempotent: not wrapped twice
    assert not hasattr(srsly.msgpack.msgpack_decoders.get_all.original, "original")
    data = {"array": numpy.arange(4, dtype="float32"), "text": "día"}
    back = srsly.msgpack_loads(srsly.msgpack_dumps(data))
    assert back["text"] == "día" and numpy.array_equal(back["array"], data["array"])
    # a DocBin with span groups and user data reads back the same
    nlp = spacy.blank("es")
    doc = nlp("No se observan adenopatías .")
    doc.spans["cues"] = [doc[0:1]]
    doc.user_data["k"] = {"v": [1, 2]}
    DocBin(docs=[doc], store_user_data=True).to_disk(tmp_path / "x.spacy")
    (read,) = DocBin().from_disk(tmp_path / "x.spacy").get_docs(nlp.vocab)
    assert read.to_bytes() == doc.to_bytes()


def test_a_decoder_registered_later_is_used() -> None:
    cache_msgpack_hooks()
    seen = []

    def decoder(obj, chain=None):
        seen.append(1)
        return obj if chain is None else chain(obj)

    srsly.msgpack.msgpack_decoders.register("spacy_clinical_es_test", func=decoder)
    try:
        assert srsly.msgpack_loads(srsly.msgpack_dumps({"a": 1})) == {"a": 1}
        assert seen
    finally:
        del catalogue.REGISTRY[("srsly", "msgpack_decoders", "spacy_clinical_es_test")]
    seen.clear()
    srsly.msgpack_loads(srsly.msgpack_dumps({"a": 1}))
    assert not seen


def test_the_environment_switch_keeps_srsly_as_it_is() -> None:
    code = (
        "import srsly, spacy_clinical_es; "
        "print(getattr(srsly.msgpack.msgpack_decoders.get_all, '_spacy_clinical_es_cached', False))"
    )
    for value, expected in (("1", "False"), ("", "True")):
        out = subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, DISABLE_ENV: value},
            capture_output=True, text=True, check=True,
        )
        assert out.stdout.strip() == expected
