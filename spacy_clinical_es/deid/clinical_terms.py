"""The clinical term list that the replacement policy never replaces.

Built from the mention texts of public clinical corpora (DisTEMIST diseases,
MedProcNER procedures, SympTEMIST symptoms, CodiEsp diagnosis/procedure
evidence; *train* parts only), normalized (:func:`.textutil.normalize`),
one term per line. It holds public-corpus clinical vocabulary, not PHI:

* documents that are also MEDDOCAN dev documents are left out, so the
  clinical-damage measure on MEDDOCAN dev is not flattered by its own
  mentions (the MEDDOCAN test documents are withheld from every corpus);
* a term that contains a MEDDOCAN *train* PHI annotation (as a word
  sequence, e.g. a name or a city) is dropped, so the list can never keep a
  real identifier.

It also lists *eponym heads* (lines ``@head <word>``): the nouns that
introduce an eponym in at least :data:`MIN_HEAD_COUNT` mentions ("enfermedad",
"maniobra", "tinción" of "enfermedad de Crohn", "maniobra de Romberg"), so a
name after "<head> de" is taken as an eponym even when the exact term is
not in the list ("maniobra de Valsalva").

The list ships as ``resources/clinical_terms_es.txt``; rebuild it with
``python -m spacy_clinical_es deid-terms`` (``--data-dir``, ``--out``).
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .textutil import normalize

logger = logging.getLogger(__name__)

#: Corpora (and split) whose mentions make the list.
TERM_CORPORA: tuple[tuple[str, str], ...] = (
    ("distemist", "train"),
    ("medprocner", "train"),
    ("symptemist", "train"),
    ("codiesp", "train"),
)
#: MEDDOCAN labels whose annotations do not filter terms (kept by default, or clinical words themselves).
_NOT_FILTERING = frozenset({"SEXO_SUJETO_ASISTENCIA", "EDAD_SUJETO_ASISTENCIA", "FAMILIARES_SUJETO_ASISTENCIA", "PROFESION"})
MAX_WORDS = 12
MIN_HEAD_COUNT = 2
HEAD_PREFIX = "@head "
_EPONYM_RE = re.compile(r"([^\W\d_]{4,}) (?:de|del) [A-ZÁÉÍÓÚÑ][^\W\d_]+")
RESOURCE_NAME = "clinical_terms_es.txt"
_WORD_RE = re.compile(r"[^\W_]+")


def resource_path() -> Path:
    """Where the shipped list lives."""
    return Path(__file__).parent / "resources" / RESOURCE_NAME


def _doc_key(doc_id: str) -> str:
    key = doc_id.rsplit("/", 1)[-1]
    key = re.sub(r"\.(txt|ann|tsv)$", "", key)
    return key.removeprefix("es-")


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD_RE.findall(normalize(text)))


def _contains(haystack: tuple[str, ...], needles: set[tuple[str, ...]], lengths: Iterable[int]) -> bool:
    for n in lengths:
        for i in range(len(haystack) - n + 1):
            if haystack[i : i + n] in needles:
                return True
    return False


def build_clinical_terms(data_dir: str | Path | None = None) -> tuple[list[str], dict[str, int]]:
    """``(lines, counts)``: the eponym head lines and the sorted normalized terms; what was read and dropped."""
    from ..corpora.readers import iter_corpus

    counts: Counter = Counter()
    excluded = {_doc_key(d.id) for d in iter_corpus("meddocan", "dev", data_dir=data_dir)}
    phi: set[tuple[str, ...]] = set()
    for document in iter_corpus("meddocan", "train", data_dir=data_dir):
        for ann in document.annotations:
            if ann.label not in _NOT_FILTERING:
                words = _words(ann.text)
                if words:
                    phi.add(words)
    phi_lengths = sorted({len(w) for w in phi})
    terms: set[tuple[str, ...]] = set()
    heads: Counter = Counter()
    for name, split in TERM_CORPORA:
        for document in iter_corpus(name, split, data_dir=data_dir):
            if _doc_key(document.id) in excluded:
                counts["documents_skipped_meddocan_dev"] += 1
                continue
            counts[f"documents_{name}"] += 1
            for ann in document.annotations:
                counts["mentions"] += 1
                words = _words(ann.text)
                if not words or len(words) > MAX_WORDS or not any(len(w) >= 3 and not w.isdigit() for w in words):
                    counts["mentions_dropped_shape"] += 1
                    continue
                terms.add(words)
                for m in _EPONYM_RE.finditer(ann.text):
                    heads[normalize(m.group(1))] += 1
    kept = []
    for words in terms:
        if _contains(words, phi, phi_lengths):
            counts["terms_dropped_contain_meddocan_phi"] += 1
            continue
        kept.append(" ".join(words))
    kept.sort()
    counts["terms"] = len(kept)
    head_lines = sorted(HEAD_PREFIX + h for h, n in heads.items() if n >= MIN_HEAD_COUNT and (h,) not in phi)
    counts["eponym_heads"] = len(head_lines)
    return head_lines + kept, dict(counts)


def write_clinical_terms(terms: list[str], counts: dict[str, int], path: str | Path | None = None) -> Path:
    """Write the list (a header with its origin and counts, then one term per line)."""
    header = [
        "Clinical terms never replaced by the de-identification policy (spacy_clinical_es.deid.clinical_terms).",
        "Mention texts of DisTEMIST, MedProcNER, SympTEMIST and CodiEsp train (CC BY 4.0, BSC / Plan TL),",
        "normalized; MEDDOCAN dev documents left out; terms containing a MEDDOCAN train PHI annotation dropped.",
        "Rebuild: python -m spacy_clinical_es deid-terms",
    ]
    path = write_resource_list(Path(path) if path is not None else resource_path(), header, counts, terms)
    logger.info("wrote %d lines (terms and eponym heads) to %s", len(terms), path)
    return path


def write_resource_list(path: Path, header: list[str], counts: dict[str, int], items: list[str]) -> Path:
    """The format of the policy's shipped lists: ``#`` header lines, a ``# counts:`` line, then one item per line."""
    lines = [f"# {line}" for line in header]
    lines.append("# counts: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines + items) + "\n", encoding="utf-8")
    return path
