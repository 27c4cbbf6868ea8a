"""The error of the de-identification package."""
from __future__ import annotations

from ..errors import ClinicalEsError


class DeidError(ClinicalEsError, ValueError):
    """Bad input or options for the randomizer.

    Messages give offsets, lengths and option names, never the text itself.
    """
