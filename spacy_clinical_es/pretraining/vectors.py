"""floret vectors from the raw clinical text (PyPI ``floret``; spaCy loads them with ``spacy init vectors --mode floret``).

The text is tokenized with the clinical tokenizer first (one line per text, tokens separated by spaces), so a
vector is learned for the strings spaCy will look up. floret keeps subword information in a small hash table:
every word, seen or not, gets a vector from its character n-grams, which matters for rare clinical forms.
Settings (:class:`FloretSettings`, written once here): CBOW, ``mode floret``, ``hashCount 2``, ``bucket 50000`` rows
and ``dim 100`` (20 MB of float32 in spaCy: the committed-assets budget of the issue is 40 MB with the pretrained
tok2vec), character n-grams 4–5 (spaCy's floret recommendation), 5 epochs, ``minCount 2``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ClinicalEsError

logger = logging.getLogger(__name__)


#: The name ``spacy init vectors --name`` gives our floret table (project.yml ``train-vectors``): packaging
#: recognises a pipeline that carries it and adds the vectors' sources (and their licence) to its meta.
VECTORS_NAME = "es_clinical_floret"


class PretrainingError(ClinicalEsError, ValueError):
    """Bad input for pretraining (missing text, missing package)."""


@dataclass(frozen=True)
class FloretSettings:
    """floret's training settings (the defaults are the ones chosen for this project)."""

    model: str = "cbow"
    dim: int = 100
    bucket: int = 50_000
    hash_count: int = 2
    minn: int = 4
    maxn: int = 5
    epoch: int = 5
    min_count: int = 2
    threads: int = 2  # floret with more than one thread is not deterministic (and its Python API has no seed)


def tokenize_file(source: Path, target: Path, *, batch_size: int = 256) -> dict[str, int]:
    """Write ``source`` (one text per line) to ``target`` as clinical-tokenizer tokens joined by spaces."""
    from ..tokenizer import make_clinical_nlp

    if not source.is_file():
        raise PretrainingError(f"Raw text {source} not found: run 'python -m spacy_clinical_es convert raw-text' first.")
    nlp = make_clinical_nlp()
    lines = tokens = 0
    with source.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as out:
        texts = (line.rstrip("\n") for line in src)
        for doc in nlp.tokenizer.pipe(texts, batch_size=batch_size):
            words = [t.text for t in doc if not t.is_space]
            out.write(" ".join(words) + "\n")
            lines += 1
            tokens += len(words)
    return {"lines": lines, "tokens": tokens}


def train_floret(text: Path, output: Path, settings: FloretSettings = FloretSettings()) -> dict[str, Any]:
    """Tokenize ``text``, train floret on it and write ``output/vectors.floret``; return what was done."""
    try:
        import floret
    except ImportError:
        raise PretrainingError("Training vectors needs floret: pip install 'spacy-clinical-es[pretrain]'.") from None
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tokenized = output / "tokens.txt"
    counts = tokenize_file(text, tokenized)
    tokenize_seconds = time.perf_counter() - started
    model = floret.train_unsupervised(
        str(tokenized),
        model=settings.model,
        mode="floret",
        hashCount=settings.hash_count,
        bucket=settings.bucket,
        dim=settings.dim,
        minn=settings.minn,
        maxn=settings.maxn,
        epoch=settings.epoch,
        minCount=settings.min_count,
        thread=settings.threads,
        verbose=0,
    )
    model.save_floret_vectors(str(output / "vectors.floret"))
    tokenized.unlink()
    result = {
        "settings": asdict(settings),
        **counts,
        "vocabulary": len(model.words),
        "tokenize_seconds": round(tokenize_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    logger.info("floret: %s", result)
    return result
