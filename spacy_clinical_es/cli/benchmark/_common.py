"""What every ``benchmark`` command shares: the command line it records and how it reports a package error."""
from __future__ import annotations

import sys

from ...errors import ConfigError
from .._runner import user_errors  # noqa: F401  (one definition for every command; imported from here by benchmarks)


def invoked_command() -> str:
    """The command line as the user typed it, for the ``command`` field of a metrics file."""
    return "python -m spacy_clinical_es " + " ".join(sys.argv[1:])


def numbers(value: str, kind: type, what: str) -> list:
    """``"1,2"`` → ``[1, 2]`` of ``kind``; a clear error naming the option ``what`` otherwise."""
    try:
        return [kind(v) for v in value.split(",") if v.strip()]
    except ValueError as err:
        raise ConfigError(f"{what}: give comma-separated numbers, e.g. 1,2") from err
