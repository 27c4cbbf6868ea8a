"""Surrogate diversity and randomizer scaling (issues 15 and 20).

:func:`surrogate_diversity`: for each category (names, streets,
municipalities, provinces, institutions, hospitals, phones, e-mails), make
``n`` replacements of ``n`` different synthetic originals, each as its own
document with its own seed, and count the distinct surrogates. A small pool
shows up as few distinct values (and as re-identification risk through
repeated surrogates). Only the public :func:`~spacy_clinical_es.deid.randomize`
is used, so the same function measures older versions of the package.

:func:`randomizer_scaling`: time of one ``randomize`` call on a document
made of MEDDOCAN documents (gold spans) repeated up to each size, to show
the randomizer is linear in the document's length.

Both are reached from ``python -m spacy_clinical_es benchmark deid-surrogates``.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_SYLLABLES = ("ba", "ce", "di", "lo", "mu", "ra", "se", "ti", "no", "ga", "pe", "ru", "za", "vi", "to", "le", "mi", "sa")


def _word(rng: random.Random, syllables: int = 3) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()


def _provinces() -> Sequence[str]:
    from ...deid.resources.places_es import PROVINCES

    return [names[0] for names, _, _ in PROVINCES.values()]


#: category → (label, original maker)
CATEGORIES: dict[str, tuple[str, Callable[[random.Random, int], str]]] = {
    "names": ("NOMBRE_SUJETO_ASISTENCIA", lambda rng, i: _word(rng)),
    "full_names": ("NOMBRE_SUJETO_ASISTENCIA", lambda rng, i: f"{_word(rng)} {_word(rng)}"),
    "streets": ("CALLE", lambda rng, i: f"Calle {_word(rng)}"),
    "street_addresses": ("CALLE", lambda rng, i: f"Calle {_word(rng)} {rng.randint(1, 200)}"),
    "municipalities": ("TERRITORIO", lambda rng, i: _word(rng, 4)),
    "provinces": ("TERRITORIO", lambda rng, i: _provinces()[i % len(_provinces())]),
    "institutions": ("INSTITUCION", lambda rng, i: f"Fundación {_word(rng)}"),
    "hospitals": ("HOSPITAL", lambda rng, i: f"Hospital {_word(rng)}"),
    "phones": ("NUMERO_TELEFONO", lambda rng, i: f"6{rng.randint(0, 99_999_999):08d}"),
    "emails": ("CORREO_ELECTRONICO", lambda rng, i: f"{_word(rng).lower()}.{_word(rng).lower()}@gmail.com"),
}


def surrogate_diversity(n: int = 10_000, *, locale: str | None = None, seed: int = 0) -> dict[str, dict[str, int]]:
    """Distinct surrogates per ``n`` replacements, per category (see the module docstring)."""
    from ...deid import randomize

    kwargs: dict[str, Any] = {}
    if locale is not None:
        from ...deid import DeidOptions

        kwargs["options"] = DeidOptions(locale=locale)
    results: dict[str, dict[str, int]] = {}
    for category, (label, make) in CATEGORIES.items():
        rng = random.Random(f"{seed}-{category}")
        outputs = set()
        for i in range(n):
            original = make(rng, i)
            outputs.add(randomize(original, [(0, len(original), label)], seed=seed * n + i, **kwargs).text)
        results[category] = {"replacements": n, "distinct": len(outputs)}
        logger.info("%s: %d distinct surrogates per %d replacements", category, len(outputs), n)
    return results


def _meddocan_document(n_chars: int, data_dir: str | Path | None) -> tuple[str, list[tuple[int, int, str]]]:
    from ...corpora.readers import iter_corpus

    documents = list(iter_corpus("meddocan", "train", data_dir=data_dir))
    texts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    offset = 0
    while offset < n_chars:
        for document in documents:
            texts.append(document.text + "\n\n")
            spans += [(offset + a.start, offset + a.end, a.label) for a in document.annotations]
            offset += len(document.text) + 2
            if offset >= n_chars:
                break
    return "".join(texts), spans


def randomizer_scaling(
    sizes: Sequence[int] = (100_000, 500_000, 1_000_000), *, data_dir: str | Path | None = None
) -> list[dict[str, Any]]:
    """Seconds (and, in a second traced call, peak Python memory) of one ``randomize`` call per document size (MEDDOCAN train, gold spans),
    and seconds of the ``deid_randomizer`` component on the same Doc (its call, then building ``doc._.deid_doc``)."""
    import tracemalloc

    from ...deid import randomize
    from ...pipeline.deid_randomizer import DeidRandomizer
    from ...tokenizer import make_clinical_nlp

    nlp = make_clinical_nlp()
    nlp.max_length = max(sizes) * 2
    component = DeidRandomizer(nlp, spans_key="gold", seed=0)
    warm = nlp.make_doc("Ana López")
    warm.spans["gold"] = [warm[0:2]]
    component(warm)  # load the lists and the tokenizer once
    rows = []
    for size in sizes:
        text, spans = _meddocan_document(size, data_dir)
        doc = nlp.make_doc(text)
        group = [doc.char_span(s, e, label, alignment_mode="expand") for s, e, label in spans]
        doc.spans["gold"] = [span for span in group if span is not None]
        started = time.perf_counter()
        component(doc)
        component_seconds = time.perf_counter() - started
        started = time.perf_counter()
        n_tokens = len(doc._.deid_doc)
        output_doc_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = randomize(text, spans, seed=0)
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a second call: tracing slows Python down several times
        randomize(text, spans, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append(
            {
                "characters": len(text),
                "spans": len(spans),
                "seconds": round(seconds, 3),
                "peak_traced_mb": round(peak / 2**20, 1),
                "rounds": int(result.stats.get("rounds", 1)),
                "unresolved_leaks": int(result.stats.get("unresolved_leaks", 0)),
                "component_seconds": round(component_seconds, 3),
                "output_doc_seconds": round(output_doc_seconds, 3),
                "output_doc_tokens": n_tokens,
            }
        )
        logger.info("randomize: %d characters, %d spans in %.2f s", len(text), len(spans), seconds)
    return rows
