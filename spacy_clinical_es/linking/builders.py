"""Knowledge-base builders: CIE-10 from the ``cie`` package, SNOMED CT and CodiEsp codes from mentions.

* :func:`cie10_kb`: the Spanish CIE-10 (WHO ICD-10) code table shipped by the
  PyPI package ``cie`` (version 0.208, https://github.com/cluster311/cie10).
  Licence: the package declares MIT (its ``METADATA``: ``License: MIT`` and
  the OSI MIT classifier). Its data file ``cie/data/cie-10.csv`` was scraped
  by the package authors from icdcode.info (the Spanish WHO ICD-10 list) and
  from Chile's health statistics office (deis.cl) — 14,498 entries: chapters,
  blocks, 3-character categories and subcategories, Spanish descriptions.
  The ICD-10 classification itself is WHO's; the MIT label covers the
  package, so whoever redistributes a knowledge base built from it should
  check WHO's terms for ICD-10. Nothing of it is copied into this
  repository: the builder reads the installed package at run time. Codes
  are written with a dot after the category (``R10.0``), the style of the
  DisTEMIST ICD-10 cross-map; they are WHO ICD-10, not the ICD-10-CM of
  CodiEsp (which shares most 3-character categories).
* :func:`cie10_mentions_kb`: that table plus the DisTEMIST ICD-10 cross-map
  mentions (their forms as synonyms): what ``kb/cie10.jsonl`` holds.
* :func:`snomed_kb`: SNOMED CT concepts seen in MedProcNER and DisTEMIST
  training mentions (linking corpus rows, ``system == "SNOMEDCT"``), the
  mention label (PROCEDIMIENTO / ENFERMEDAD) as semantic type, so
  :func:`~.candidates.semantic_type_match` can prefer the right sub-hierarchy.
* :func:`codiesp_kb`: ICD-10-CM (diagnoses) and ICD-10-PCS (procedures) codes
  seen in CodiEsp evidence mentions.

``python -m spacy_clinical_es.linking.builders --linking corpus/linking
--output kb`` writes all three as JSONL (no mention text is logged).
"""
from __future__ import annotations

import argparse
import csv
import io
import logging
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ..util import PathLike
from .kb import Concept, LinkingError, TerminologyKB, iter_jsonl

logger = logging.getLogger(__name__)

CIE10_VOCABULARY = "CIE10"
SNOMED_CORPORA = ("medprocner", "distemist")
CODIESP_SYSTEMS = ("ICD10-CM", "ICD10-PCS")


def dotted(code: str) -> str:
    """``R100`` → ``R10.0``; ranges (``A00-B99``) and 3-character codes unchanged."""
    code = code.strip().upper()
    if "-" in code or len(code) <= 3 or "." in code:
        return code
    return f"{code[:3]}.{code[3:]}"


def cie_rows() -> list[dict[str, str]]:
    """Rows of the ``cie`` package's CSV (read from its zip if not extracted)."""
    try:
        import cie.cie10 as cie_module  # 'cie' is a namespace package: locate its module
    except ImportError:
        raise LinkingError(
            "The CIE-10 builder needs the 'cie' package: pip install \"spacy-clinical-es[linking]\" (MIT; see "
            "spacy_clinical_es.linking.builders for the data's origin)."
        ) from None
    data = Path(cie_module.__file__).parent / "data"
    csv_path, zip_path = data / "cie-10.csv", data / "cie-10.zip"
    if csv_path.is_file():
        text = csv_path.read_text(encoding="utf-8")
    elif zip_path.is_file():
        with zipfile.ZipFile(zip_path) as archive:
            text = archive.read("cie-10.csv").decode("utf-8")
    else:
        raise LinkingError(f"No cie-10.csv or cie-10.zip in {data}: reinstall the 'cie' package.")
    fields = ["code", "code_0", "code_1", "code_2", "code_3", "code_4", "description", "level", "source"]
    reader = csv.DictReader(io.StringIO(text), fieldnames=fields)
    next(reader, None)  # header
    return [{k: (v or "").strip().replace("\u2013", "-") for k, v in row.items() if k} for row in reader]


def cie10_kb(*, min_level: int = 2, include_ranges: bool = False) -> TerminologyKB:
    """The CIE-10 table of the ``cie`` package as a :class:`TerminologyKB`.

    ``min_level`` drops levels above it (0 chapters, 1 blocks, 2 categories,
    3+ subcategories); chapter/block ranges (``A00-B99``) are skipped unless
    ``include_ranges``. The parent is the next level up (dotted). Rows
    without a code or description are counted and logged, not kept.
    """
    rows = cie_rows()
    kb = TerminologyKB()
    skipped = 0
    for row in rows:
        code, description = row.get("code", ""), row.get("description", "")
        try:
            level = int(row.get("level") or "")
        except ValueError:
            skipped += 1
            continue
        if not code or not description:
            skipped += 1
            continue
        if level < min_level or ("-" in code and not include_ranges):
            continue
        parent = row.get(f"code_{level - 1}") if level > 0 else None
        kb.add(
            Concept(
                code=dotted(code),
                preferred_term=description,
                semantic_type=None,
                vocabulary=CIE10_VOCABULARY,
                parent=dotted(parent) if parent and (include_ranges or "-" not in parent) else None,
            )
        )
    if skipped:
        logger.warning("cie10_kb: %d rows without code, description or level skipped", skipped)
    return kb


def with_table(mentions: TerminologyKB, table: TerminologyKB, *, lowercase: bool = False) -> TerminologyKB:
    """A KB of every code of ``mentions`` and ``table``: table codes gain the mention forms, mention codes the table's wording.

    ``lowercase`` writes table codes in lower case (CodiEsp's ICD-10-CM style,
    ``n20.0``; the WHO CIE-10 table shares most codes down to the 4th
    character). Concepts keep the mentions' semantic type and frequency, so a
    table-only code has no frequency.
    """
    merged = TerminologyKB()
    for concept in table.concepts.values():
        code = concept.code.lower() if lowercase else concept.code
        merged.add(Concept(code=code, preferred_term=concept.preferred_term, synonyms=concept.synonyms,
                           semantic_type=concept.semantic_type, vocabulary=concept.vocabulary,
                           parent=(concept.parent.lower() if lowercase and concept.parent else concept.parent)))
    for concept in mentions.concepts.values():
        if concept.code in merged:
            entry = merged[concept.code]
            terms = tuple(dict.fromkeys(concept.terms + entry.terms))
            merged.add(Concept(code=concept.code, preferred_term=entry.preferred_term,
                               synonyms=tuple(t for t in terms if t != entry.preferred_term),
                               semantic_type=concept.semantic_type, vocabulary=concept.vocabulary,
                               parent=entry.parent, frequency=concept.frequency))
        else:
            merged.add(concept)
    return merged


def _linking_files(linking_dir: PathLike, corpora: Iterable[str], splits: Iterable[str]) -> list[Path]:
    base = Path(linking_dir)
    paths = [base / f"{corpus}_{split}.jsonl" for corpus in corpora for split in splits]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise LinkingError(
            f"Linking corpus files missing in {base}: {missing}. Build them with "
            "'python -m spacy_clinical_es convert linking'."
        )
    return paths


def snomed_kb(linking_dir: PathLike, *, splits: Iterable[str] = ("train",)) -> TerminologyKB:
    """SNOMED CT concepts of the MedProcNER and DisTEMIST mentions of ``splits``."""
    paths = _linking_files(linking_dir, SNOMED_CORPORA, tuple(splits))
    return TerminologyKB.from_linking_rows(iter_jsonl(paths), systems=["SNOMEDCT"])


def cie10_mentions_kb(
    linking_dir: PathLike, *, splits: Iterable[str] = ("train",), table: TerminologyKB | None = None
) -> TerminologyKB:
    """The CIE-10 table (:func:`cie10_kb`, or ``table``) plus the DisTEMIST ICD-10 cross-map mentions of ``splits``.

    A table code gains the mention forms as synonyms and their frequency; a
    mention code the table lacks is added (:func:`with_table`). The table's
    wording alone links DisTEMIST's ICD-10 test mentions far worse than with
    the annotated forms (``metrics/linking.json``: ``distemist/ICD10+CIE10``).
    """
    paths = _linking_files(linking_dir, ("distemist",), tuple(splits))
    mentions = TerminologyKB.from_linking_rows(iter_jsonl(paths), systems=["ICD10"])
    return with_table(mentions, table if table is not None else cie10_kb())


def codiesp_kb(
    linking_dir: PathLike,
    *,
    splits: Iterable[str] = ("train",),
    systems: Iterable[str] = CODIESP_SYSTEMS,
) -> TerminologyKB:
    """ICD-10-CM / ICD-10-PCS codes of the CodiEsp evidence mentions of ``splits``."""
    paths = _linking_files(linking_dir, ("codiesp",), tuple(splits))
    return TerminologyKB.from_linking_rows(iter_jsonl(paths), systems=list(systems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the CIE-10, SNOMED CT and CodiEsp knowledge bases.")
    parser.add_argument("--linking", type=Path, default=Path("corpus/linking"), help="linking JSONL dir")
    parser.add_argument("--output", type=Path, default=Path("kb"))
    parser.add_argument("--splits", default="train", help="comma-separated mention splits")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    splits = [s for s in args.splits.split(",") if s]
    args.output.mkdir(parents=True, exist_ok=True)
    kbs = {
        "cie10.jsonl": cie10_mentions_kb(args.linking, splits=splits),
        "snomed.jsonl": snomed_kb(args.linking, splits=splits),
        "codiesp.jsonl": codiesp_kb(args.linking, splits=splits),
    }
    for name, kb in kbs.items():
        kb.to_disk(args.output / name)
        logger.info("%s: %d concepts, %d terms", name, len(kb), len(kb.aliases))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
