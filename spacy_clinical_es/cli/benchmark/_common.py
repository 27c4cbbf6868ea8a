"""What every ``benchmark`` command shares: the command line it records and how it reports a package error."""
from __future__ import annotations

import sys

from .._runner import user_errors  # noqa: F401  (one definition for every command; imported from here by benchmarks)


def invoked_command() -> str:
    """The command line as the user typed it, for the ``command`` field of a metrics file."""
    return "python -m spacy_clinical_es " + " ".join(sys.argv[1:])
