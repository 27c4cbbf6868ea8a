"""Options of the randomizer (everything but the mode, the seed, the key and the policy).

The defaults written here are the only ones: the spaCy component's config
section ``[components.deid_randomizer.options]`` is filled from this class
(registered as ``spacy_clinical_es.DeidOptions.v1``).
"""
from __future__ import annotations

# Fields keep ``Optional``: spaCy's config validation evaluates them at runtime (Python 3.9).
from dataclasses import asdict, dataclass, fields
from typing import Any, Optional

from .errors import DeidError

MODES: tuple[str, ...] = ("surrogate", "mask", "redact")


@dataclass(frozen=True)
class DeidOptions:
    """What to keep and how to shift.

    keep_sex: leave sex mentions as written (the image-entity NER needs them).
    keep_ages: leave ages as written, except ages above ``max_age`` years.
    max_age: ages above it become "<max_age + 1> o más" (``None``: never).
    keep_relatives: leave kinship words of relative mentions ("su hija",
        "tío materno") as written (rewriting them falsifies family history);
        person names inside them are still replaced.
    date_shift_min_days, date_shift_max_days: the document's date shift is
        drawn from ±[min, max] days (both ≥ 1).
    mask_format: the text written by ``mode="mask"``; ``{tag}`` is the tag.
    locale: the Faker locale whose name, street, place and institution
        lists feed the surrogates (one of :data:`.locales.LOCALES`).
    """

    keep_sex: bool = True
    keep_ages: bool = True
    max_age: Optional[int] = 89
    keep_relatives: bool = True
    date_shift_min_days: int = 365
    date_shift_max_days: int = 1095
    mask_format: str = "[{tag}]"
    locale: str = "es_ES"

    def __post_init__(self) -> None:
        if not 1 <= self.date_shift_min_days <= self.date_shift_max_days:
            raise DeidError(
                "date_shift_min_days and date_shift_max_days must satisfy 1 <= min <= max "
                f"(got {self.date_shift_min_days}, {self.date_shift_max_days})"
            )
        if self.date_shift_max_days > 36500:
            raise DeidError("date_shift_max_days must be at most 36500 (100 years)")
        if self.max_age is not None and self.max_age < 0:
            raise DeidError(f"max_age must be a non-negative number of years or None (got {self.max_age})")
        from .locales import LOCALES

        if self.locale not in LOCALES:
            raise DeidError(f"unknown locale {self.locale!r}; use one of: {', '.join(LOCALES)}")
        if "{tag}" not in self.mask_format:
            raise DeidError("mask_format must contain '{tag}'")
        try:
            self.mask_format.format(tag="NOMBRE")
        except (IndexError, KeyError, ValueError) as err:
            raise DeidError("mask_format may hold no other field than '{tag}' (write '{{' for a brace)") from err

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DeidOptions:
        """Options from a dict; unknown keys are an error (they would be silently ignored)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise DeidError(f"unknown randomizer options: {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**values)
