"""One package error hierarchy.

Messages name files, lines, annotation ids and offsets so users can fix their
input, but never quote annotated text: it may be protected health information.
"""
from __future__ import annotations


class ClinicalEsError(Exception):
    """Base class of every error raised by spacy-clinical-es."""


class CorpusFormatError(ClinicalEsError, ValueError):
    """A corpus file is malformed or disagrees with its text.

    Carries the location so callers (and converters' reports) can point at it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        annotation_id: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.annotation_id = annotation_id
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if annotation_id is not None:
            where.append(f"annotation {annotation_id}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DataDirError(ClinicalEsError, FileNotFoundError):
    """The corpus data directory (or a corpus inside it) cannot be found."""


class ConfigError(ClinicalEsError, ValueError):
    """An option or argument has a value the package cannot use (unknown corpus, bad ratios, missing path)."""


class EvaluationError(ClinicalEsError, ValueError):
    """Gold and predicted documents cannot be compared (e.g. different texts)."""
