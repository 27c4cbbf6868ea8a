"""Streets, postal codes, municipalities, provinces, regions, countries, institutions.

Postal codes and places agree: each Spanish province of the input (known
from a postal code's two-digit prefix or from a province or municipality
name in the shipped lists) is mapped, by the keyed seeder, to one other
province; a postal code gets that province's prefix, a capital becomes that
province's capital and another municipality one of its municipalities. So
"Madrid" and "28016" in one document become, e.g., "Zaragoza" and "50xxx".
Regions map to regions, foreign cities to foreign cities, countries to
countries; an unknown place becomes a Spanish municipality. Streets keep
their type word ("C/", "Avda.") and numbering layout with new numbers.

With another locale (``DeidOptions.locale``) places come from that
locale's Faker lists: provinces (states, departments) become provinces,
regions regions, other places municipalities (communes); postal codes keep
their digits' shape. Street, hospital and institution names are drawn from
the locale's patterns (:mod:`.locales`) in every locale.
"""
from __future__ import annotations

import re

from .context import SurrogateContext
from .locales import LOCALES, draw, locale_data
from .resources.places_es import (
    COUNTRIES,
    FOREIGN_CITIES,
    FOREIGN_CITY_VARIANTS,
    NON_SURROGATE_MUNICIPALITIES,
    PROVINCES,
    REGIONS,
    SURROGATE_REGIONS,
)
from .resources.streets_es import STREET_TYPES
from .textutil import apply_case, digits_surrogate, normalize, shape_surrogate

PROVINCE_CODES: tuple[str, ...] = tuple(sorted(PROVINCES))
#: normalized province name → code
_PROVINCE_NAMES: dict[str, str] = {normalize(n): code for code, (names, _, _) in PROVINCES.items() for n in names}
#: normalized municipality → (code, is capital)
_MUNICIPALITIES: dict[str, tuple[str, bool]] = {}
for _code, (_names, _capital, _others) in PROVINCES.items():
    for _name in _others:
        _MUNICIPALITIES.setdefault(normalize(_name), (_code, False))
    _MUNICIPALITIES[normalize(_capital)] = (_code, True)
_SURROGATE_OTHERS: dict[str, tuple[str, ...]] = {
    code: tuple(n for n in others if n not in NON_SURROGATE_MUNICIPALITIES)
    for code, (_, _, others) in PROVINCES.items()
}
_ALL_MUNICIPALITIES: tuple[str, ...] = tuple(
    [capital for _, capital, _ in PROVINCES.values()] + [n for code in PROVINCE_CODES for n in _SURROGATE_OTHERS[code]]
)
_REGIONS = frozenset(normalize(r) for r in REGIONS)
_COUNTRY_NAMES: tuple[str, ...] = tuple(name for name, _ in COUNTRIES)
_COUNTRIES = frozenset(normalize(v) for name, variants in COUNTRIES for v in (name, *variants))
_FOREIGN = frozenset(normalize(c) for c in (*FOREIGN_CITIES, *FOREIGN_CITY_VARIANTS))

POSTAL_CODE_RE = re.compile(r"^(\s*(?:E|ES)?[\s-]?)(\d{2})(\d{3})(\s*)$", re.IGNORECASE)


def is_country(text: str) -> bool:
    return normalize(text) in _COUNTRIES


def province_of(text: str) -> str | None:
    """Province code of a postal code, province or municipality name (``None`` if unknown)."""
    m = POSTAL_CODE_RE.match(text)
    if m:
        return m.group(2) if m.group(2) in PROVINCES else None
    norm = normalize(text)
    if norm in _PROVINCE_NAMES:
        return _PROVINCE_NAMES[norm]
    if norm in _MUNICIPALITIES:
        return _MUNICIPALITIES[norm][0]
    return None


def surrogate_province(code: str, ctx: SurrogateContext) -> str:
    """The keyed image of a province: always another province, the same for the whole run."""
    rng = ctx.rng("PROVINCE", code)
    others = [c for c in PROVINCE_CODES if c != code]
    return rng.choice(others)


def _pick(ctx: SurrogateContext, pool: tuple[str, ...], *parts: str) -> str:
    return ctx.rng(*parts).choice(pool)


_PLACE_SETS: dict[str, frozenset[str]] = {}


def _locale_places(kind: str) -> frozenset[str]:
    """Normalized provinces or regions of every locale (for recognition)."""
    if kind not in _PLACE_SETS:
        _PLACE_SETS[kind] = frozenset(normalize(n) for loc in LOCALES for n in getattr(locale_data(loc), kind))
    return _PLACE_SETS[kind]


def _foreign_locale_territory(text: str, ctx: SurrogateContext, attempt: int) -> str:
    """A place of a non-Spanish locale: province for a province, region for a region, else a municipality."""
    data = ctx.data
    norm = normalize(text)
    a = str(attempt)
    if norm in _PROVINCE_NAMES or norm in _locale_places("provinces"):
        return apply_case(text, _pick(ctx, data.provinces, "L-PROVINCE", norm, a))
    if norm in _REGIONS or norm in _locale_places("regions"):
        return apply_case(text, _pick(ctx, data.regions, "L-REGION", norm, a))
    return apply_case(text, _pick(ctx, data.municipalities, "L-MUNI", norm, a))


def surrogate_territory(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """Postal code, province, municipality, region, foreign city or country surrogate."""
    norm = normalize(text)
    a = str(attempt)
    if ctx.data.locale != "es_ES":
        if POSTAL_CODE_RE.match(text) or (any(c.isdigit() for c in text) and not any(c.isalpha() for c in text)):
            return shape_surrogate(text, ctx.rng("TERRITORY-NUM", norm, a))
        if norm in _FOREIGN and norm not in _locale_places("provinces"):
            return apply_case(text, _pick(ctx, FOREIGN_CITIES, "FOREIGN", norm, a))
        if norm in _COUNTRIES:
            return surrogate_country(text, ctx, attempt)
        return _foreign_locale_territory(text, ctx, attempt)
    m = POSTAL_CODE_RE.match(text)
    if m:
        code = m.group(2)
        rng = ctx.rng("POSTAL", norm, a)
        new_code = surrogate_province(code, ctx) if code in PROVINCES else f"{rng.randint(1, 52):02d}"
        return f"{m.group(1)}{new_code}{rng.randint(0, 999):03d}{m.group(4)}"
    if norm in _PROVINCE_NAMES and not _MUNICIPALITIES.get(norm, ("", False))[1]:
        target = surrogate_province(_PROVINCE_NAMES[norm], ctx)
        if attempt > 0:  # the mapped province was refused: any other one
            target = _pick(ctx, PROVINCE_CODES, "PROVINCE-RETRY", norm, a)
        return apply_case(text, PROVINCES[target][0][0])
    if norm in _MUNICIPALITIES:
        code, capital = _MUNICIPALITIES[norm]
        target = surrogate_province(code, ctx)
        if attempt >= 4:
            target = _pick(ctx, PROVINCE_CODES, "PROVINCE-RETRY", norm, a)
        others = _SURROGATE_OTHERS[target]
        if capital or not others:
            name = PROVINCES[target][1] if attempt == 0 or not others else _pick(ctx, others, "MUNI", norm, a)
        else:
            name = _pick(ctx, others, "MUNI", norm, a)
        return apply_case(text, name)
    if norm in _REGIONS:
        return apply_case(text, _pick(ctx, SURROGATE_REGIONS, "REGION", norm, a))
    if norm in _FOREIGN:
        return apply_case(text, _pick(ctx, FOREIGN_CITIES, "FOREIGN", norm, a))
    if norm in _COUNTRIES:
        return surrogate_country(text, ctx, attempt)
    if any(c.isdigit() for c in text) and not any(c.isalpha() for c in text):
        return shape_surrogate(text, ctx.rng("TERRITORY-NUM", norm, a))
    return apply_case(text, _pick(ctx, _ALL_MUNICIPALITIES, "TERRITORY", norm, a))


def surrogate_country(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """Another country (its usual Spanish name)."""
    return apply_case(text, _pick(ctx, _COUNTRY_NAMES, "COUNTRY", normalize(text), str(attempt)))


_STREET_TYPE_RE = re.compile(r"^\s*([^\W\d_]+º?)(\.?\s*/?\.?)(?=\s|[^\W\d_]|$)")


def _split_street(text: str) -> tuple[str, str, str]:
    """``(type prefix, name, numbering tail)`` of a street address."""
    prefix = ""
    rest = text
    m = _STREET_TYPE_RE.match(text)
    if m and normalize(m.group(1)).replace("º", "o") in STREET_TYPES | {"po"}:
        end = m.end()
        while end < len(text) and text[end] == " ":
            end += 1
        prefix, rest = text[:end], text[end:]
    else:
        slash = re.match(r"^\s*([cC]/\.?\s*)", text)
        if slash:
            prefix, rest = text[: slash.end()], text[slash.end() :]
    cut = re.search(r"\d|,|\bs/n|\bnº|\bn\.º|\bkm\b", rest, re.IGNORECASE)
    if cut is None:
        return prefix, rest, ""
    name_end = cut.start()
    while name_end > 0 and rest[name_end - 1] in " ":
        name_end -= 1
    return prefix, rest[:name_end], rest[name_end:]


def split_street_type(text: str) -> str:
    """The street type prefix of an address ("Calle ", "Avda. ", "C/"), or ``""``."""
    return _split_street(text)[0]


_TAIL_WORD_RE = re.compile(r"(?<![^\W\d_])[^\W\d_]{3,}(?![^\W\d_])")


def _tail_word(word: str, ctx: SurrogateContext, attempt: int) -> str:
    """A place name (or an original of the document) in a street's tail becomes another place."""
    norm = normalize(word)
    if ctx.is_blocked(word) or province_of(word) or norm in _FOREIGN or norm in _COUNTRIES or norm in _REGIONS:
        return surrogate_territory(word, ctx, attempt) or word
    return word


def surrogate_street(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """Same street type word, another street name, same numbering layout with new numbers."""
    prefix, name, tail = _split_street(text)
    norm = normalize(text)
    rng = ctx.rng("STREET", norm, str(attempt))
    new_name = ""
    if name.strip():
        new_name = draw(ctx.data.street_names, rng)
        if not prefix:
            new_name = new_name[:1].upper() + new_name[1:]
        if name.strip().isupper() and len(name.strip()) > 1:
            new_name = new_name.upper()
    new_tail = digits_surrogate(tail, rng) if tail else ""
    if attempt >= 2:  # the tail holds an original place ("…, s/n Alicante-Valencia"): replace its words
        new_tail = _TAIL_WORD_RE.sub(lambda m: _tail_word(m.group(), ctx, attempt), new_tail)
    if not new_name and tail and not any(c.isdigit() for c in tail):
        return None
    if not new_name and not tail:
        return None
    return f"{prefix}{new_name}{new_tail}"


def surrogate_hospital(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """A hospital of the locale's patterns (and, for es_ES, of the shipped list)."""
    return apply_case(text, draw(ctx.data.hospitals, ctx.rng("HOSPITAL", normalize(text), str(attempt))))


def surrogate_health_centre(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """``Centro de Salud <area>`` with an area of the locale."""
    area = _pick(ctx, ctx.data.health_centre_areas, "CENTRE", normalize(text), str(attempt))
    return apply_case(text, f"Centro de Salud {area}")


def surrogate_institution(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """An institution of the locale's patterns (and, for es_ES, of the shipped list)."""
    return apply_case(text, draw(ctx.data.institutions, ctx.rng("INSTITUTION", normalize(text), str(attempt))))
