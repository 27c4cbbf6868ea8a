"""Cache srsly's msgpack hook lookup, so that DocBins (corpora, training, evaluation) load up to 28× faster.

srsly's ``msgpack_loads`` / ``msgpack_dumps`` ask their catalogue registries for every decoder / encoder on each
call (``Registry.get_all()``), and catalogue answers by reading the entry points of every installed distribution
and walking its whole registry. ``DocBin.get_docs`` calls ``msgpack_loads`` once per document and once per span
group, so with this package's dependencies installed reading ``corpus/nubes/train.spacy`` (17,820 sentences, four
span groups each) took 92.7 s, nearly all of it in that lookup, and 3.3 s with the lookup cached (README,
*Training budget*) — and ``spacy train`` reads its training DocBin again every epoch.

:func:`cache_msgpack_hooks` wraps ``get_all`` of srsly's two registries with a cache that is rebuilt whenever
catalogue's registry gains, loses or replaces an entry of the registry's namespace (so a decoder registered later
is still used). Entry points are read once per process, as spaCy reads its own; a package installed while a process
runs is seen by the next process. The package calls it when it is imported (idempotent; it changes what srsly does
in no other way); set ``SPACY_CLINICAL_ES_NO_MSGPACK_CACHE=1`` to keep srsly's own lookup.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

DISABLE_ENV = "SPACY_CLINICAL_ES_NO_MSGPACK_CACHE"
_MARK = "_spacy_clinical_es_cached"


def cached_get_all(registry: Any, registry_entries: dict[tuple[str, ...], Any]) -> Callable[[], dict[str, Any]]:
    """A ``get_all`` for ``registry`` that calls the original only when its namespace changed in ``registry_entries``.

    ``registry_entries`` is catalogue's global registry (namespace tuple → function). The cache key is its size
    plus the identity of every entry of ``registry``'s namespace seen when the cache was filled.
    """
    original = registry.get_all
    namespace = tuple(registry.namespace)
    state: dict[str, Any] = {"size": None, "entries": (), "value": {}}

    def fresh() -> bool:
        if state["size"] != len(registry_entries):
            return False
        return all(registry_entries.get(key) is value for key, value in state["entries"])

    def get_all() -> dict[str, Any]:
        if not fresh():
            state["value"] = original()
            state["size"] = len(registry_entries)
            state["entries"] = tuple(
                (key, value)
                for key, value in registry_entries.copy().items()
                if len(key) == len(namespace) + 1 and key[: len(namespace)] == namespace
            )
        return dict(state["value"])

    setattr(get_all, _MARK, True)
    get_all.original = original  # type: ignore[attr-defined]
    return get_all


def cache_msgpack_hooks() -> bool:
    """Cache the hook lookup of srsly's ``msgpack_encoders`` and ``msgpack_decoders``; True when they are cached."""
    if os.environ.get(DISABLE_ENV, "").strip() not in ("", "0"):
        return False
    try:
        import catalogue
        from srsly import msgpack
    except ImportError:  # pragma: no cover - both are spaCy dependencies
        return False
    registry_entries = getattr(catalogue, "REGISTRY", None)
    registries = [getattr(msgpack, name, None) for name in ("msgpack_encoders", "msgpack_decoders")]
    if not isinstance(registry_entries, dict) or not all(hasattr(r, "get_all") and hasattr(r, "namespace") for r in registries):
        logger.debug("srsly or catalogue changed shape: their msgpack hook lookup is left as it is")
        return False
    for registry in registries:
        if not getattr(registry.get_all, _MARK, False):
            registry.get_all = cached_get_all(registry, registry_entries)
    return True
