"""Surrogate pools per locale, read from Faker's provider lists.

Names, streets, municipalities, provinces, regions, institutions and e-mail
domains come from the *data* of Faker's locale providers (``es_ES`` by
default; ``es_MX``, ``es_AR``, ``es_CO``, ``es_CL``). Only the lists are read:
every choice is made by our keyed generator (:mod:`.seeding`), never by
Faker's own generator, so the output of a key does not change with Faker's
generator internals (it does change when a Faker release edits a list).

A :class:`LocaleData` holds plain tuples; a street or institution name is
drawn from one of its *patterns* (a sequence of pools, one word group from
each: ``("de",) + first names + surnames`` gives "de Lucía Ortega"). The
``es_ES`` data keep the package's own province table
(:mod:`.resources.places_es`) for postal-code/province agreement, and add
its hand-made street and hospital lists to Faker's.

Recognizers (is this word a first name? which gender?) use the union of
every locale and of the shipped lists, whatever the surrogate locale.
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Any

from .errors import DeidError
from .resources import institutions_es, names_es, places_es, streets_es, vocab_es

#: The selectable locales (the first is the default).
LOCALES: tuple[str, ...] = ("es_ES", "es_MX", "es_AR", "es_CO", "es_CL")

Pattern = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class LocaleData:
    """Plain surrogate pools of one locale (see the module docstring)."""

    locale: str
    male_first: tuple[str, ...]
    female_first: tuple[str, ...]
    surnames: tuple[str, ...]
    street_names: tuple[Pattern, ...]
    municipalities: tuple[str, ...]
    provinces: tuple[str, ...]
    regions: tuple[str, ...]
    hospitals: tuple[Pattern, ...]
    health_centre_areas: tuple[str, ...]
    institutions: tuple[Pattern, ...]
    email_domains: tuple[str, ...]

    def __repr__(self) -> str:
        return f"LocaleData({self.locale!r}, {len(self.male_first) + len(self.female_first)} first names, {len(self.surnames)} surnames)"


def draw(pattern_pool: Sequence[Pattern], rng: Random) -> str:
    """One name from a list of patterns: pick a pattern, then one entry of each of its pools."""
    pattern = pattern_pool[rng.randrange(len(pattern_pool))]
    return " ".join(pool[rng.randrange(len(pool))] if len(pool) > 1 else pool[0] for pool in pattern)


def pattern_size(pattern_pool: Sequence[Pattern]) -> int:
    """How many different strings the patterns can give (an upper bound)."""
    total = 0
    for pattern in pattern_pool:
        n = 1
        for pool in pattern:
            n *= len(pool)
        total += n
    return total


def _provider(kind: str, locale: str) -> Any:
    try:
        return importlib.import_module(f"faker.providers.{kind}.{locale}").Provider
    except ModuleNotFoundError:
        return None


def _names(values: Iterable[Any], index: int = 0) -> tuple[str, ...]:
    """Strings of a Faker list, a weighted dict (its keys) or a list of tuples (one column)."""
    out: list[str] = []
    for value in values:
        if isinstance(value, (tuple, list)):
            value = value[index]
        if isinstance(value, str) and value.strip() and "{" not in value and "#" not in value and "%" not in value:
            out.append(value.strip())
    return tuple(dict.fromkeys(out))


def _attr(provider: Any, name: str, index: int = 0) -> tuple[str, ...]:
    if provider is None:
        return ()
    value = getattr(provider, name, None)
    if value is None:
        return ()
    if isinstance(value, dict):  # weighted lists (name → weight) and code → name tables
        return _names(value.keys() if index == 0 else value.values())
    return _names(value, index)


def _single(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if n.isalpha())


def _literal(*words: str) -> tuple[str, ...]:
    return tuple(words)


@functools.lru_cache(maxsize=len(LOCALES))
def locale_data(locale: str = "es_ES") -> LocaleData:
    """The surrogate pools of ``locale`` (read once per process)."""
    if locale not in LOCALES:
        raise DeidError(f"unknown locale {locale!r}; use one of: {', '.join(LOCALES)}")
    try:
        importlib.import_module("faker")
    except ModuleNotFoundError as err:  # pragma: no cover - Faker is in install_requires
        raise DeidError("the surrogate lists come from Faker: pip install Faker") from err
    person = _provider("person", locale)
    address = _provider("address", locale)
    company = _provider("company", locale) or _provider("company", "es_ES")
    internet = _provider("internet", locale)
    # one-word names only: a name is replaced word by word, keeping its number of words
    male = _single(_attr(person, "first_names_male"))
    female = _single(_attr(person, "first_names_female"))
    surnames = _single(_attr(person, "last_names"))
    first = male + female
    if locale == "es_ES":
        municipalities = tuple(
            dict.fromkeys(n for _, (_, capital, others) in places_es.PROVINCES.items() for n in (capital, *others))
        )
        provinces = _attr(address, "states") or tuple(names[0] for names, _, _ in places_es.PROVINCES.values())
        regions = _attr(address, "regions") or places_es.SURROGATE_REGIONS
        streets: tuple[Pattern, ...] = (
            (streets_es.STREET_NAMES,),
            (first, surnames),
            (_literal("de"), first, surnames),
        )
    elif locale == "es_MX":
        states = _attr(address, "states", 1)
        municipalities = tuple(f"San {n}" for n in male[:120]) + states
        provinces, regions = states, states
        streets = ((surnames,), (states,), (_attr(address, "city_prefixes"), surnames))
    elif locale == "es_AR":
        municipalities = _attr(address, "municipalities", 1)
        provinces = _attr(address, "provinces", 1)
        regions = provinces
        streets = ((municipalities,), (provinces,), (_attr(address, "street_proceres"),), (first, surnames))
    elif locale == "es_CO":
        municipalities = _attr(address, "municipalities", 1)
        provinces = _attr(address, "departments", 1)
        regions = provinces
        streets = ((surnames,), (first, surnames), (municipalities,))
    else:  # es_CL
        municipalities = _attr(address, "communes", 1)
        provinces = _attr(address, "provinces", 1)
        regions = _attr(address, "regions", 1)
        streets = (
            (_attr(address, "common_street_names"),),
            (_attr(address, "historic_people_street_names"),),
            (_attr(address, "plant_street_names"),),
            (first, surnames),
        )
    streets = tuple(p for p in streets if all(p))
    company_types = _attr(company, "company_types") or ("Fundación", "Instituto", "Asociación")
    hospitals: tuple[Pattern, ...] = (
        (_literal("Hospital"), surnames),
        (_literal("Hospital General de"), municipalities),
        (_literal("Hospital Universitario de"), municipalities),
        (_literal("Clínica"), surnames),
        (_literal("Hospital"), _literal("San", "Santa"), first),
    )
    institutions: tuple[Pattern, ...] = (
        (_literal("Fundación"), first, surnames),
        (_literal("Instituto"), surnames),
        (_literal("Universidad de"), municipalities),
        (_literal("Asociación"), surnames),
        (company_types, surnames),
    )
    health_areas = municipalities
    if locale == "es_ES":
        hospitals = ((institutions_es.HOSPITALS,), *hospitals)
        institutions = ((institutions_es.INSTITUTIONS,), *institutions)
        health_areas = tuple(dict.fromkeys(institutions_es.HEALTH_CENTRE_AREAS + municipalities))
    free = _names(getattr(_provider("internet", "en_US") or object, "free_email_domains", ()) or ())
    tlds = _attr(internet, "tlds") or ("com",)
    domains = tuple(dict.fromkeys((*vocab_es.EMAIL_DOMAINS, *free, *(f"correo.{t}" for t in tlds[:4]))))
    if not (male and female and surnames and municipalities and provinces and streets):
        raise DeidError(f"Faker's {locale} lists are incomplete in this Faker version; use another locale")
    return LocaleData(
        locale=locale,
        male_first=male,
        female_first=female,
        surnames=surnames,
        street_names=streets,
        municipalities=municipalities,
        provinces=provinces,
        regions=regions,
        hospitals=hospitals,
        health_centre_areas=health_areas,
        institutions=institutions,
        email_domains=domains,
    )


@functools.lru_cache(maxsize=1)
def recognizer_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Raw (not normalized) male first names, female first names and surnames of every locale and the shipped lists."""
    male = set(names_es.MALE_FIRST_NAMES)
    female = set(names_es.FEMALE_FIRST_NAMES)
    surnames = set(names_es.SURNAMES)
    for locale in LOCALES:
        data = locale_data(locale)
        male.update(data.male_first)
        female.update(data.female_first)
        surnames.update(data.surnames)
    return frozenset(male), frozenset(female), frozenset(surnames)
