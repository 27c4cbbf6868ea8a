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

Usage (heavy: run alone)::

    flock /tmp/cpu.lock python scripts/linking_scale.py --output metrics/linking_scale.json
"""
from __future__ import annotations

import argparse
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

from spacy_clinical_es.linking import (
    CandidateGenerator,
    Concept,
    ExactCosineIndex,
    KnowledgeBase,
    TfidfCharEncoder,
    code_prior,
)

logger = logging.getLogger("linking_scale")

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
    words: set[str] = set()
    while len(words) < n:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        words.add(stem + rng.choice(SUFFIXES))
    return sorted(words)


def make_kb(entries: int, words: list[str], rng: random.Random) -> KnowledgeBase:
    """``entries`` concepts with one distinct 1-5-word term each (Zipf-like word choice)."""
    cum_weights = list(np.cumsum([1.0 / (i + 1) ** 0.8 for i in range(len(words))]))
    kb = KnowledgeBase()
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--exact-sample", type=int, default=200, help="queries compared with exact search")
    parser.add_argument("--ann-threshold", type=int, default=200_000, help="component default")
    parser.add_argument("--nprobe", type=int, default=16)
    parser.add_argument("--rescore-factor", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("metrics/linking_scale.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rng = random.Random(args.seed)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    words = make_words(args.words, rng)
    kb = make_kb(args.entries, words, rng)
    timings["kb"] = time.perf_counter() - t0
    logger.info("KB: %d concepts in %.1fs (rss %.2f GB)", len(kb), timings["kb"], peak_rss_gb())

    encoder = TfidfCharEncoder((2, 4), analyzer="char_wb", abbreviations=True)
    generator = CandidateGenerator(
        kb, encoder, k=5, threshold=0.6, token_match=True, rerankers=[code_prior(0.02)],
        ann_threshold=args.ann_threshold,
        ann_options={"nprobe": args.nprobe, "rescore_factor": args.rescore_factor},
    )
    terms = [norm for norm, _ in kb.aliases]
    t = time.perf_counter()
    encoder.fit(terms)
    timings["encoder_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    vectors = encoder.encode(terms)
    timings["encode_terms"] = time.perf_counter() - t
    logger.info("encoded %d terms, %d features, nnz %d (rss %.2f GB)", *vectors.shape, vectors.nnz, peak_rss_gb())
    t = time.perf_counter()
    from spacy_clinical_es.linking.index import build_index

    generator.index = build_index(vectors, ann_threshold=generator.ann_threshold, ann_options=generator.ann_options)
    timings["index"] = time.perf_counter() - t
    t = time.perf_counter()
    kb.exact("x"), kb.token_match("x")  # build the lazy exact and word-key tables
    timings["lookup_tables"] = time.perf_counter() - t
    build_seconds = time.perf_counter() - t0
    logger.info("built in %.1fs: %s (rss %.2f GB)", build_seconds, type(generator.index).__name__, peak_rss_gb())

    codes = list(kb.concepts)
    sources = [rng.choice(codes) for _ in range(args.queries)]
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
    sample = encoder.encode(mentions[: args.exact_sample])
    approx_idx, _ = generator.index.search(sample, 5)
    t = time.perf_counter()
    exact_idx, _ = ExactCosineIndex(vectors, batch_size=16).search(sample, 5)
    exact_seconds = time.perf_counter() - t
    agree1 = float(np.mean(approx_idx[:, 0] == exact_idx[:, 0]))
    recall5 = float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(approx_idx, exact_idx)]))
    report: dict[str, Any] = {
        "command": "python scripts/linking_scale.py " + " ".join(sys.argv[1:] if argv is None else argv),
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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.info("%s", json.dumps({k: report[k] for k in ("build_seconds", "mentions_per_second", "peak_rss_gb", "passed")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
