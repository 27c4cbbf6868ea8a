"""Scale benchmark of the linker: a synthetic knowledge base of 1,000,000 entries.

Builds a knowledge base of ``--entries`` concepts (one term each) from
pseudo-words made of random Spanish-like syllables (no corpus text), fits the
default offline encoder (``spacy_clinical_es.TfidfEncoder.v2``) and builds the
index the component would choose (faiss IVF above ``ann_threshold``), then
links ``--queries`` mentions made by perturbing random terms (a dropped or
doubled letter, two words swapped, a word added or removed; a quarter left
intact so the exact step is exercised) and reports:

* build seconds (KB, encoder fit, term encoding, index), each step apart;
* mentions per second through :meth:`CandidateGenerator.link_many` (exact,
  word-key and approximate nearest-neighbour steps, nested fallback on);
* peak resident memory of the process (``resource.getrusage``, ``ru_maxrss``)
  over build, linking and saving the index to bytes (what ``nlp.to_disk``
  writes), taken before the benchmark-only exact-search check (reported apart);
* quality: share of mentions whose source concept is ranked first, and the
  agreement of the approximate top-1/top-5 with exact search on a sample;
* the serialized index size.

Heavy (about 2-4 GB, minutes): run alone, e.g. under ``flock /tmp/cpu.lock``.
"""
from __future__ import annotations

import json
import logging
import platform
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...linking import (
    AnnOptions,
    CandidateGenerator,
    Concept,
    ExactCosineIndex,
    LinkerOptions,
    TerminologyKB,
    TfidfCharEncoder,
    build_index,
)
from ..report import write_json

logger = logging.getLogger(__name__)

SYLLABLES = [
    c + v for c in ("", "b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "tr", "gr", "pl", "qu")
    for v in ("a", "e", "i", "o", "u", "ia", "io", "ue")
]
SUFFIXES = ["", "", "", "itis", "osis", "ectomia", "grafia", "scopia", "plastia", "al", "ico", "ica"]
LIMITS = {"build_seconds": 600.0, "mentions_per_second": 500.0, "peak_rss_gb": 4.0}


def peak_rss_gb() -> float:
    """Peak resident set size of this process in GB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024**3 if sys.platform == "darwin" else 1024**2)


def make_words(n: int, rng: random.Random) -> list[str]:
    """``n`` distinct pseudo-words of random Spanish-like syllables (no corpus text)."""
    words: set[str] = set()
    while len(words) < n:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        words.add(stem + rng.choice(SUFFIXES))
    return sorted(words)


def make_kb(entries: int, words: list[str], rng: random.Random) -> TerminologyKB:
    """``entries`` concepts with one distinct 1-5-word term each (Zipf-like word choice)."""
    cum_weights = list(np.cumsum([1.0 / (i + 1) ** 0.8 for i in range(len(words))]))
    kb = TerminologyKB()
    seen: set[str] = set()
    i = 0
    while len(kb) < entries:
        term = " ".join(rng.choices(words, cum_weights=cum_weights, k=rng.randint(1, 5)))
        if term in seen:
            continue
        seen.add(term)
        kb.add(Concept(f"C{i:07d}", term, frequency=rng.randint(1, 50)))
        i += 1
    return kb


def perturb(term: str, words: list[str], rng: random.Random) -> str:
    """A mention made from ``term``: kept, a letter dropped/doubled, two words swapped, a word added/removed."""
    tokens = term.split()
    kind = rng.randrange(4)
    if kind == 0:
        return term
    if kind == 1:  # drop or double one letter
        j = rng.randrange(len(term))
        return term[:j] + term[j + 1 :] if rng.random() < 0.5 else term[:j] + term[j] + term[j:]
    if kind == 2 and len(tokens) > 1:  # swap two words
        a, b = rng.sample(range(len(tokens)), 2)
        tokens[a], tokens[b] = tokens[b], tokens[a]
        return " ".join(tokens)
    if len(tokens) > 2 and rng.random() < 0.5:
        tokens.pop(rng.randrange(len(tokens)))
    else:
        tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(words))
    return " ".join(tokens)


def run_linking_scale(
    output: Path | None = Path("metrics/linking_scale.json"),
    *,
    entries: int = 1_000_000,
    queries: int = 5_000,
    words_n: int = 30_000,
    exact_sample: int = 200,
    ann_threshold: int = 200_000,
    nprobe: int = 16,
    rescore_factor: int = 4,
    seed: int = 0,
    command: str = "",
) -> dict[str, Any]:
    """Build, link and save at scale (see the module docstring); write ``output`` (JSON), return the report."""
    rng = random.Random(seed)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    words = make_words(words_n, rng)
    kb = make_kb(entries, words, rng)
    timings["kb"] = time.perf_counter() - t0
    logger.info("KB: %d concepts in %.1fs (rss %.2f GB)", len(kb), timings["kb"], peak_rss_gb())

    encoder = TfidfCharEncoder((2, 4), analyzer="char_wb", abbreviations=True)
    options = LinkerOptions(
        k=5, threshold=0.6, token_match=True, prior_weight=0.02,
        ann=AnnOptions(threshold=ann_threshold, nprobe=nprobe, rescore_factor=rescore_factor),
    )
    generator = CandidateGenerator(kb, encoder, options=options)
    terms = [norm for norm, _ in kb.aliases]
    t = time.perf_counter()
    encoder.fit(terms)
    timings["encoder_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    vectors = encoder.encode(terms)
    timings["encode_terms"] = time.perf_counter() - t
    logger.info("encoded %d terms, %d features, nnz %d (rss %.2f GB)", *vectors.shape, vectors.nnz, peak_rss_gb())
    t = time.perf_counter()
    generator.index = build_index(vectors, options.ann)
    timings["index"] = time.perf_counter() - t
    t = time.perf_counter()
    kb.exact("x"), kb.token_match("x")  # build the lazy exact and word-key tables
    timings["lookup_tables"] = time.perf_counter() - t
    build_seconds = time.perf_counter() - t0
    logger.info("built in %.1fs: %s (rss %.2f GB)", build_seconds, type(generator.index).__name__, peak_rss_gb())

    codes = list(kb.concepts)
    sources = [rng.choice(codes) for _ in range(queries)]
    mentions = [perturb(kb[c].preferred_term, words, rng) for c in sources]
    t = time.perf_counter()
    results = generator.link_many(mentions)
    link_seconds = time.perf_counter() - t
    rate = len(mentions) / link_seconds
    top1 = sum(r.best is not None and r.best.code == c for r, c in zip(results, sources)) / len(sources)
    logger.info("linked %d mentions in %.1fs: %.0f/s, source ranked first %.3f", len(mentions), link_seconds, rate, top1)

    # saving: the bytes nlp.to_disk writes for the index (the copies count in the peak)
    t = time.perf_counter()
    index_bytes = len(generator.index.to_bytes())
    save_seconds = time.perf_counter() - t
    # peak over the linker's whole life: build, link, save
    peak = peak_rss_gb()
    logger.info("index saved: %.2f GB in %.1fs; peak rss %.2f GB", index_bytes / 1e9, save_seconds, peak)

    # benchmark-only check, after the peak is taken: approximate vs brute-force exact
    # search on a sample (the exact search transposes all rows, a copy the linker never makes)
    sample = encoder.encode(mentions[: exact_sample])
    approx_idx, _ = generator.index.search(sample, 5)
    t = time.perf_counter()
    exact_idx, _ = ExactCosineIndex(vectors, batch_size=16).search(sample, 5)
    exact_seconds = time.perf_counter() - t
    agree1 = float(np.mean(approx_idx[:, 0] == exact_idx[:, 0]))
    recall5 = float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(approx_idx, exact_idx)]))
    report: dict[str, Any] = {
        "command": command,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "entries": len(kb),
        "terms": len(terms),
        "features": int(vectors.shape[1]),
        "index": type(generator.index).__name__,
        "index_settings": {
            name: getattr(generator.index, attr)
            for name, attr in (("factory", "factory"), ("nprobe", "nprobe"), ("svd_dim", "dim"),
                               ("rescore_factor", "rescore_factor"))
            if hasattr(generator.index, attr)
        },
        "build_seconds": round(build_seconds, 1),
        "build_steps_seconds": {k: round(v, 1) for k, v in timings.items()},
        "queries": len(mentions),
        "link_seconds": round(link_seconds, 2),
        "mentions_per_second": round(rate, 1),
        "source_concept_top1": round(top1, 4),
        "ann_vs_exact": {
            "sample": len(sample.indptr) - 1,
            "top1_agreement": round(agree1, 4),
            "recall@5": round(recall5, 4),
            "exact_search_seconds": round(exact_seconds, 1),
        },
        "index_bytes": index_bytes,
        "index_save_seconds": round(save_seconds, 1),
        "peak_rss_gb": round(peak, 3),
        "peak_rss_gb_note": "build + link + save (ru_maxrss before the exact-search check)",
        "peak_rss_gb_with_exact_check": round(peak_rss_gb(), 3),
        "limits": LIMITS,
        "passed": {
            "build_seconds": build_seconds <= LIMITS["build_seconds"],
            "mentions_per_second": rate >= LIMITS["mentions_per_second"],
            "peak_rss_gb": peak <= LIMITS["peak_rss_gb"],
        },
    }
    if output is not None:
        write_json(report, output)
    logger.info("%s", json.dumps({k: report[k] for k in ("build_seconds", "mentions_per_second", "peak_rss_gb", "passed")}))
    return report


