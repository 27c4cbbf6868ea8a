"""The common clinical vocabulary: word forms that a recall-only span may be made of and still be kept.

``phi_recall`` (the high-recall safety net) also fires on capitalized
clinical words ("Mitomicina C", "TAC Multicorte", "Calcificaciones en pelvis
menor"). The policy keeps a *recall-only* span (never a detector entity) whose
words are all in this vocabulary (``keep_clinical_vocab``).

Built from the *texts* (not only the mentions) of the public clinical corpora
(DisTEMIST, MedProcNER, SympTEMIST, CodiEsp, CANTEMIST; *train* parts only), normalized
(:func:`.textutil.normalize`):

* a word is in the vocabulary when it occurs in at least
  :data:`MIN_DOCUMENTS` distinct documents (common clinical Spanish, not a
  name that one case report mentions);
* a word that is more than :data:`MAX_PHI_SHARE` of the time part of a
  MEDDOCAN *train* PHI annotation (a name, a city, a street, a hospital;
  labels that are clinical words themselves, such as sex or profession,
  excepted) is dropped, so the vocabulary does not keep a word that is an
  identifier ("garcia", "madrid", "calle", "hospital") yet keeps clinical
  words a PHI annotation once contained ("sindrome": 1 of 113);
* documents that are also MEDDOCAN dev documents are left out, as in
  :mod:`.clinical_terms`, so the clinical-damage measure on MEDDOCAN dev is
  not flattered by its own texts;
* the words of the CIE-10 descriptions of diseases, symptoms and injuries
  (chapters A–T of the ``cie`` package's table; external causes and health
  factors, V–Z, left out: they are everyday words, "carretera", "hogar") are
  added under the same MEDDOCAN filter: a terminology knows "fobia",
  "antidiurética" and "coxsackie", which a few hundred case reports may not.
  CIE-10 is the WHO's classification (Spanish edition); the file keeps single
  word forms, not its descriptions or codes.

The vocabulary ships as ``resources/clinical_vocab_es.txt``; rebuild it with
``python -m spacy_clinical_es deid-vocab`` (``--data-dir``, ``--out``).
"""
from __future__ import annotations

import functools
import logging
from collections import Counter
from pathlib import Path

from .clinical_terms import (
    _NOT_FILTERING,
    TERM_CORPORA,
    _doc_key,
    _words,
    write_resource_list,
)
from .errors import DeidError

logger = logging.getLogger(__name__)

#: Corpora (and split) whose texts make the vocabulary: the term list's (SPACCC case reports) and CANTEMIST
#: (oncology case reports, not SPACCC: no MEDDOCAN document among them).
VOCAB_CORPORA: tuple[tuple[str, str], ...] = (*TERM_CORPORA, ("cantemist", "train"))
#: A word is common when this many distinct train documents use it.
MIN_DOCUMENTS = 5
#: A word is dropped when more than this share of its MEDDOCAN train occurrences lie inside a PHI annotation.
MAX_PHI_SHARE = 0.1
#: CIE-10 chapters (first letter of the code) whose description words join the vocabulary.
CIE10_CHAPTERS = frozenset("ABCDEFGHIJKLMNOPQRST")
#: Shorter words (initials, "c", "mg") are never vocabulary: a lone letter is as often part of a name.
MIN_LENGTH = 3
RESOURCE_NAME = "clinical_vocab_es.txt"


def vocab_resource_path() -> Path:
    """Where the shipped vocabulary lives."""
    return Path(__file__).parent / "resources" / RESOURCE_NAME


def build_clinical_vocab(
    data_dir: str | Path | None = None,
    *,
    min_documents: int = MIN_DOCUMENTS,
    max_phi_share: float = MAX_PHI_SHARE,
    cie10: bool = True,
) -> tuple[list[str], dict[str, int]]:
    """``(words, counts)``: the sorted normalized vocabulary; what was read and dropped."""
    from ..corpora.readers import iter_corpus

    counts: Counter = Counter()
    excluded = {_doc_key(d.id) for d in iter_corpus("meddocan", "dev", data_dir=data_dir)}
    phi_words: Counter = Counter()
    all_words: Counter = Counter()
    for document in iter_corpus("meddocan", "train", data_dir=data_dir):
        all_words.update(_words(document.text))
        for ann in document.annotations:
            if ann.label not in _NOT_FILTERING:
                phi_words.update(_words(ann.text))
    by_doc: dict[str, set[str]] = {}
    for name, split in VOCAB_CORPORA:
        for document in iter_corpus(name, split, data_dir=data_dir):
            key = _doc_key(document.id)
            if key in excluded:
                counts["documents_skipped_meddocan_dev"] += 1
                continue
            counts[f"documents_{name}"] += 1
            by_doc.setdefault(key, set()).update(_words(document.text))
    counts["documents_distinct"] = len(by_doc)
    df: Counter = Counter()
    for words in by_doc.values():
        df.update(words)
    candidates = {word for word, n in df.items() if n >= min_documents}
    if cie10:
        terminology = _cie10_words()
        counts["cie10_words"] = len(terminology)
        counts["words_from_cie10_only"] = len(terminology - candidates)
        candidates |= terminology
    vocab = []
    for word in candidates:
        if len(word) < MIN_LENGTH or word.isdigit():
            continue
        if phi_words[word] > max_phi_share * max(all_words[word], phi_words[word]):
            counts["words_dropped_meddocan_phi"] += 1
            continue
        vocab.append(word)
    vocab.sort()
    counts["words"] = len(vocab)
    return vocab, dict(counts)


def _cie10_words() -> set[str]:
    """Normalized words of the CIE-10 descriptions of chapters :data:`CIE10_CHAPTERS`."""
    from ..linking.builders import cie_rows

    words: set[str] = set()
    for row in cie_rows():
        if row.get("code", "")[:1].upper() in CIE10_CHAPTERS:
            words.update(_words(row.get("description", "")))
    return words | {singular for word in words if (singular := _singular(word))}


def _singular(word: str) -> str | None:
    """The singular of a plural Spanish word form ("fobias" → "fobia", "tumores" → "tumor"), else ``None``.

    CIE-10 names classes in the plural ("Fobias sociales"); a note names one case.
    """
    if len(word) < 5 or not word.endswith("s"):
        return None
    if word.endswith("es") and word[-3] not in "aeiou":
        return word[:-2]
    if word[-2] in "aeo":  # not "-is", "-us": "análisis", "virus" are singular
        return word[:-1]
    return None


def write_clinical_vocab(words: list[str], counts: dict[str, int], path: str | Path | None = None) -> Path:
    """Write the vocabulary (a header with its origin and counts, then one word per line)."""
    header = [
        "Common clinical vocabulary: a phi_recall-only span made of these words is kept (spacy_clinical_es.deid.clinical_vocab).",
        f"Word forms in >= {MIN_DOCUMENTS} distinct DisTEMIST/MedProcNER/SympTEMIST/CodiEsp/CANTEMIST train texts",
        "(CC BY 4.0, BSC / Plan TL) and words of the CIE-10 descriptions of chapters A-T (WHO classification,",
        "Spanish edition, from the 'cie' package), normalized; MEDDOCAN dev documents left out; words more than",
        f"{MAX_PHI_SHARE:.0%} of the time inside a MEDDOCAN train PHI annotation dropped.",
        "Rebuild: python -m spacy_clinical_es deid-vocab",
    ]
    path = write_resource_list(Path(path) if path is not None else vocab_resource_path(), header, counts, words)
    logger.info("wrote %d vocabulary words to %s", len(words), path)
    return path


@functools.lru_cache(maxsize=4)
def load_clinical_vocab(path: str | None = None) -> frozenset[str]:
    """The vocabulary at ``path`` (one normalized word per line, ``#`` comments), else the shipped one."""
    file = vocab_resource_path() if path is None else Path(path)
    if not file.is_file():
        if path is None:
            raise DeidError(
                "the shipped clinical vocabulary is missing; rebuild it with "
                "`python -m spacy_clinical_es deid-vocab` or set keep_clinical_vocab to false"
            )
        raise DeidError(f"clinical vocabulary not found: {file}")
    return frozenset(
        line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")
    )
