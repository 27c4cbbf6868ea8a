"""Category dispatch and the acceptance loop that makes every surrogate safe.

:func:`make_surrogate` tries the category's generator (up to
:data:`GENERATOR_ATTEMPTS` keyed attempts), then the shape-preserving
fallback (digits → digits, letters → letters; not for letter-only texts of
categories where gibberish words would mislead). A candidate is taken only
when :meth:`..context.SurrogateContext.acceptable` says so: it differs from
the original (case- and accent-insensitive), contains no original of the
document and no significant token of its own original. When no candidate is
acceptable it returns ``None`` and the randomizer writes the neutral mask as
the whole region: a mask tag never ends up inside surrogate text. The attempt that succeeded is remembered per (category,
normalized original), so the same original gets the same surrogate
throughout the document whatever its case or spacing.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable

from . import categories as cat
from .contact import surrogate_email, surrogate_ip, surrogate_phone, surrogate_url
from .context import SurrogateContext
from .dates import surrogate_date
from .ids import surrogate_id
from .names import surrogate_name
from .people import (
    is_relative,
    surrogate_age,
    surrogate_other,
    surrogate_profession,
    surrogate_relative,
    surrogate_sex,
)
from .places import (
    is_country,
    province_of,
    surrogate_country,
    surrogate_health_centre,
    surrogate_hospital,
    surrogate_institution,
    surrogate_street,
    surrogate_territory,
)
from .textutil import normalize, shape_surrogate

Generator = Callable[[str, SurrogateContext, int], "str | None"]

GENERATORS: dict[str, Generator] = {
    cat.NAME: surrogate_name,
    cat.STREET: surrogate_street,
    cat.TERRITORY: surrogate_territory,
    cat.COUNTRY: surrogate_country,
    cat.ID: surrogate_id,
    cat.DATE: surrogate_date,
    cat.HOSPITAL: surrogate_hospital,
    cat.HEALTH_CENTRE: surrogate_health_centre,
    cat.INSTITUTION: surrogate_institution,
    cat.AGE: surrogate_age,
    cat.SEX: surrogate_sex,
    cat.PHONE: surrogate_phone,
    cat.FAX: functools.partial(surrogate_phone, kind="FAX"),
    cat.EMAIL: surrogate_email,
    cat.URL: surrogate_url,
    cat.IP: surrogate_ip,
    cat.PROFESSION: surrogate_profession,
    cat.RELATIVE: surrogate_relative,
    cat.OTHER: surrogate_other,
}

GENERATOR_ATTEMPTS = 8
SHAPE_ATTEMPTS = 8
#: Categories whose letters-only texts are not shape-randomized (gibberish words): they get the tag.
_NO_LETTER_SHAPE = frozenset({cat.OTHER, cat.RELATIVE, cat.PROFESSION, cat.SEX, cat.HOSPITAL, cat.INSTITUTION, cat.HEALTH_CENTRE})

#: How a surrogate was made (counted in the result's stats).
BY_GENERATOR = "generator"
BY_SHAPE = "shape"
#: No acceptable surrogate: the region gets the neutral mask.
NO_SURROGATE = "no_surrogate"


_DATE_LIKE_RE = re.compile(r"\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{2,4}|\b(?:19|20)\d{2}\b")
_AGE_LIKE_RE = re.compile(r"\d+\s*(?:años?|mes(?:es)?|d[ií]as?|semanas?)\b", re.IGNORECASE)
_PHONE_LIKE_RE = re.compile(r"^\s*(?:\+?34[\s.-]*)?[6789](?:[\s.-]*\d){8}\s*$")
_NAME_LIKE_RE = re.compile(r"^\s*[^\W\d_][^\W\d_'.-]*(?:[\s-]+[^\W\d_][^\W\d_'.-]*)*\s*$")


def guess_category(text: str) -> str | None:
    """A category from the span's content, for spans whose labelled category does not fit.

    MEDDOCAN has a few such spans ("Colombia" as FECHAS, "39 años" as FECHAS,
    a name as CORREO_ELECTRONICO).
    """
    stripped = text.strip()
    if cat.EMAIL_RE.match(stripped):
        return cat.EMAIL
    if _PHONE_LIKE_RE.match(stripped):
        return cat.PHONE
    if _AGE_LIKE_RE.search(stripped):
        return cat.AGE
    if _DATE_LIKE_RE.search(stripped):
        return cat.DATE
    if is_country(stripped):
        return cat.COUNTRY
    if province_of(stripped) is not None:
        return cat.TERRITORY
    if is_relative(stripped):
        return cat.RELATIVE
    if _NAME_LIKE_RE.match(stripped) and all(w[:1].isupper() for w in re.split(r"[\s-]+", stripped) if w):
        return cat.NAME
    if any(c.isdigit() for c in stripped):
        return cat.ID
    return None


def _candidates(text: str, category: str, ctx: SurrogateContext) -> list[tuple[str, Callable[[], str | None]]]:
    generator = GENERATORS.get(category, surrogate_other)
    if generator(text, ctx, 0) is None:
        guessed = guess_category(text)
        if guessed is not None and guessed != category:
            generator = GENERATORS[guessed]
    steps: list[tuple[str, Callable[[], str | None]]] = [
        (BY_GENERATOR, functools.partial(generator, text, ctx, attempt)) for attempt in range(GENERATOR_ATTEMPTS)
    ]
    if category not in _NO_LETTER_SHAPE or any(c.isdigit() for c in text):
        norm = normalize(text)
        steps += [
            (BY_SHAPE, functools.partial(lambda a: shape_surrogate(text, ctx.rng("SHAPE", category, norm, str(a))), a))
            for a in range(SHAPE_ATTEMPTS)
        ]
    return steps


def make_surrogate(text: str, category: str, ctx: SurrogateContext) -> tuple[str | None, str]:
    """``(surrogate, how)`` for one original; ``(None, NO_SURROGATE)`` when none is acceptable."""
    key = (category, normalize(text))
    steps = _candidates(text, category, ctx)
    first = ctx.attempts.get(key, 0)
    for index in range(first, len(steps)):
        how, step = steps[index]
        candidate = step()
        if candidate is not None and ctx.acceptable(candidate, text):
            ctx.attempts[key] = index
            return candidate, how
    ctx.attempts[key] = len(steps)
    return None, NO_SURROGATE
