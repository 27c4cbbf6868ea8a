"""Regular expressions for structured PHI in Spanish clinical text; spaCy-free.

``find_phi(text)`` returns non-overlapping :class:`PhiMatch` objects
(character offsets, a MEDDOCAN label and the rule's name). The rules cover
what has a fixed *form* and is therefore better found by a pattern than by a
statistical model: e-mails, URLs, phone and fax numbers, identifiers that
follow a prefix (NHC, NASS, nº de colegiado, episodio, DNI/NIF/NIE, tarjeta
sanitaria), postal codes, dates, ages of infants ("a los 19 días de vida")
and the fields of the administrative header of a report (``Domicilio:``,
``Nombre:``, ``Apellidos:``, ``País:``, ``Edad:``, ``Sexo:``).

The patterns were written from the MEDDOCAN *train* annotations and their
left context (the infant-age and header rules were suggested by errors on
dev, then checked on train: each is right on train for at least 79% of its
matches, the header rules for at least 97%), so the spans follow MEDDOCAN's
conventions: the prefix is not part of the span (``NHC: [[368503]]``), each
number of a list is its own span (``Tlf: [[918038014]] / [[656352534]]``), a
leading ``+`` is left out, ``año`` belongs to a year (``en el [[año 2000]]``)
and a list-ending period is not part of a value.

Overlaps between rules are resolved deterministically: the longest match
wins, then the earliest, then the rule listed first (so ``Tel. y Fax: N`` is a
phone number, as in MEDDOCAN).

Nothing here logs or raises with the text of a match.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import DeidError

__all__ = [
    "DEFAULT_RULES",
    "RULE_NAMES",
    "PhiMatch",
    "Rule",
    "compile_patterns",
    "find_phi",
    "refine_span",
    "resolve_overlaps",
    "select_rules",
    "valid_dni",
    "valid_nie",
]

#: Letters of the DNI/NIE check digit (number modulo 23).
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

_MONTHS = (
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
)
_MONTHS_ABBR = "ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic"
_YEAR4 = r"(?:1[89]\d\d|20\d\d)"
_NB = r"(?<![\w@./+-])"  # no letter, digit or joining character before
_NA = r"(?![\w@]|[./-]\w)"  # ... nor after (a final period is allowed)

# -- phone numbers ---------------------------------------------------------------
# Spanish numbers have nine digits starting with 6, 7, 8 or 9, grouped 3-3-3,
# 3-2-2-2, 2-3-2-2, 2-7 or 3-6 (all seen in MEDDOCAN train), with spaces,
# periods or hyphens; an optional country code 34 (the ``+`` stays outside).
_SEP = r"[ .\-]?"
_PHONE_NATIONAL = (
    r"(?:[6789]\d\d" + _SEP + r"\d\d\d" + _SEP + r"\d\d\d"
    r"|[6789]\d\d" + _SEP + r"\d\d" + _SEP + r"\d\d" + _SEP + r"\d\d"
    r"|[6789]\d" + _SEP + r"\d\d\d" + _SEP + r"\d\d" + _SEP + r"\d\d"
    r"|[6789]\d" + _SEP + r"\d{7})"
)
_PHONE_ES = r"(?:(?:00|\+)?34" + _SEP + r")?" + _PHONE_NATIONAL
# Other (international) numbers, only right after a phone/fax prefix.
_PHONE_OTHER = r"\d{1,4}\)?[ .\-]?\d{2,4}(?:[ .\-]\d{2,4}){1,3}"
_PHONE_EXT = r"(?:\s?ext\.?\s?\d{1,5})?"
_PHONE_VALUE = rf"(?:{_PHONE_ES}|{_PHONE_OTHER}){_PHONE_EXT}(?!\d)"
_PHONE_LIST = rf"{_PHONE_VALUE}(?:\s*(?:/|,|;|-|\by\b|\bo\b)\s*{_PHONE_VALUE})*"
_PHONE_WORDS = r"tel[eé]fonos?|telfs?|tfnos?|tlfnos?|tlfs?|telef|tel|m[oó]vil|celular"
_PHONE_PREFIX = rf"\b(?:{_PHONE_WORDS})\b\.?(?:\s*(?:y|/)\s*fax\b\.?)?\s*[:.]?"
_FAX_PREFIX = r"(?<!y )(?<!/)\bfax\b\.?\s*[:.]?"

# -- identifiers -----------------------------------------------------------------
# A code with at least one digit, ending in a letter or digit ("78956135/2").
_CODE = r"(?=[A-Za-z]{0,4}\d)[A-Za-z0-9](?:[A-Za-z0-9/\-]{0,23}[A-Za-z0-9])?"
# Digits in up to five groups separated by one or two spaces, "-" or "/".
_SPACED_DIGITS = r"\d+(?:(?: {1,2}|[\-/])\d+){0,4}"
_COLON = r"\s*[:.]?\s*"
_NUMBER_WORDS = "un|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce"
# The value of a header field: the rest of the line, without final spaces, periods and commas; a line
# holding another field (a colon) or, for names, a digit is left to the other rules.
_HEADER_VALUE = r"[ \t]*(?P<value>[^\n:]*?)[ \t.,]*$"
_HEADER_NAME = r"[ \t]*(?P<value>[^\n:\d]*?)[ \t.,]*$"
_N = r"(?:n[ºo°]|n\.\s?º|núm(?:ero)?|num(?:ero)?)\.?"


@dataclass(frozen=True)
class PhiMatch:
    """One PHI span found by a rule: offsets, MEDDOCAN label, rule name."""

    start: int
    end: int
    label: str
    rule: str


@dataclass(frozen=True)
class Rule:
    """A named pattern; the PHI is group ``group`` (the whole match when absent).

    ``values``: when set, every match of it *inside* the group is one span
    (lists such as ``Telfs.: N / N / N``). ``validate``: called with the
    span's text; a span it rejects is dropped.
    """

    name: str
    label: str
    pattern: re.Pattern[str]
    group: int | str = 0
    values: re.Pattern[str] | None = None
    validate: Callable[[str], bool] | None = None

    def finditer(self, text: str) -> Iterable[PhiMatch]:
        """Yield this rule's matches in ``text`` (possibly overlapping each other)."""
        for match in self.pattern.finditer(text):
            start, end = match.span(self.group)
            if start < 0 or end <= start:
                continue
            if self.values is None:
                spans: Iterable[tuple[int, int]] = ((start, end),)
            else:
                spans = (m.span() for m in self.values.finditer(text, start, end))
            for s, e in spans:
                if e > s and (self.validate is None or self.validate(text[s:e])):
                    yield PhiMatch(s, e, self.label, self.name)


def valid_dni(value: str) -> bool:
    """Whether ``value`` is 8 digits and the right check letter (spaces/hyphen allowed)."""
    compact = re.sub(r"[\s\-.]", "", value).upper()
    if not re.fullmatch(r"\d{8}[A-Z]", compact):
        return False
    return DNI_LETTERS[int(compact[:8]) % 23] == compact[8]


def valid_nie(value: str) -> bool:
    """Whether ``value`` is X/Y/Z, 7 digits and the right check letter."""
    compact = re.sub(r"[\s\-.]", "", value).upper()
    if not re.fullmatch(r"[XYZ]\d{7}[A-Z]", compact):
        return False
    return valid_dni(str("XYZ".index(compact[0])) + compact[1:])


def _valid_numeric_date(value: str) -> bool:
    """Day 0–31 and month 1–12 (MEDDOCAN train has ``0/10/2017`` as a date)."""
    parts = [p for p in re.split(r"[\s/.\-]+", value) if p]
    if len(parts) != 3:
        return False
    day, month = int(parts[0]), int(parts[1])
    return 0 <= day <= 31 and 1 <= month <= 12


@dataclass(frozen=True)
class _DigitCount:
    """Accept values with ``low`` to ``high`` digits (picklable, unlike a closure)."""

    low: int
    high: int

    def __call__(self, value: str) -> bool:
        return self.low <= sum(ch.isdigit() for ch in value) <= self.high


def _digit_count_between(low: int, high: int) -> Callable[[str], bool]:
    return _DigitCount(low, high)


def _rule(
    name: str,
    label: str,
    pattern: str,
    *,
    group: int | str = "value",
    values: str | None = None,
    validate: Callable[[str], bool] | None = None,
    flags: int = re.IGNORECASE,
) -> Rule:
    return Rule(
        name,
        label,
        re.compile(pattern, flags),
        group,
        re.compile(values, flags) if values else None,
        validate,
    )


#: The built-in rules, in priority order for equally long overlapping matches.
DEFAULT_RULES: tuple[Rule, ...] = (
    _rule(
        "email",
        "CORREO_ELECTRONICO",
        r"(?:(?<=e-mail[.\-])|(?<=email[.\-])|(?<![\w.%+\-]))(?!e-?mail[.\-])(?P<value>[\w%+\-]+(?:\.[\w%+\-]+)*@[\w\-]+(?:\.[\w\-]+)+)",
    ),
    _rule(
        "url",
        "URL_WEB",
        r"(?<![\w@/])(?P<value>(?:https?://|www\.)[^\s<>\"'()\[\]{}]*[^\s<>\"'()\[\]{}.,;:!?])",
    ),
    _rule(
        "phone",
        "NUMERO_TELEFONO",
        rf"{_PHONE_PREFIX}[\s(+]{{0,3}}(?P<value>{_PHONE_LIST})",
        values=_PHONE_VALUE,
        validate=_digit_count_between(6, 15),
    ),
    _rule(
        "fax",
        "NUMERO_FAX",
        rf"{_FAX_PREFIX}[\s(+]{{0,3}}(?P<value>{_PHONE_LIST})",
        values=_PHONE_VALUE,
        validate=_digit_count_between(6, 15),
    ),
    # A phone word further away ("al número de móvil 618981345", "citas previas
    # del hospital 942 56 21 60"): Spanish formats only, same line.
    _rule(
        "phone_context",
        "NUMERO_TELEFONO",
        rf"\b(?:tel[eé]fonos?|m[oó]vil|celular)\b[^\d\n]{{0,60}}?(?<!\d)(?P<value>{_PHONE_ES})(?!\d)",
    ),
    _rule("phone_international", "NUMERO_TELEFONO", rf"(?<![\w+])(?:\+|00)(?P<value>34{_SEP}{_PHONE_NATIONAL})(?!\d)"),
    _rule(
        "nhc",
        "ID_SUJETO_ASISTENCIA",
        r"\b(?:N\.?\s?H\.?\s?C|CIPA?|"
        rf"{_N}\s*(?:de\s+)?historia(?:\s+cl[ií]nica)?|historia\s+cl[ií]nica\s*(?:{_N})?)"
        rf"\.?{_COLON}(?:nhc-)?(?P<value>{_CODE}(?:(?<=\d) \d{{1,10}}){{0,3}})(?![\w/-])",
    ),
    _rule(
        "nass",
        "ID_ASEGURAMIENTO",
        r"\b(?:NASS|NSS|N\.?\s?S\.?\s?S|" rf"{_N}\s*(?:de\s+)?(?:la\s+)?(?:seguridad\s+social|afiliaci[oó]n)|"
        r"tarjeta\s+sanitaria|TSI|TIS)" rf"\.?{_COLON}(?P<value>{_SPACED_DIGITS})(?!\d)",
        validate=_digit_count_between(6, 16),
    ),
    _rule(
        "colegiado",
        "ID_TITULACION_PERSONAL_SANITARIO",
        rf"(?:N[º°]\.?\s?col(?:eg(?:iad[oa])?)?|\b{_N}\s?col(?:eg(?:iad[oa])?)?|\bcol(?:egiad[oa])?\s*{_N}|colegiad[oa]|n[úu]mero\s+de\s+colegiad[oa])"
        rf"\.?{_COLON}(?P<value>{_SPACED_DIGITS})(?!\d)",
        validate=_digit_count_between(4, 12),
    ),
    _rule(
        "episodio",
        "ID_CONTACTO_ASISTENCIAL",
        rf"\bepisodio\s*(?:{_N})?{_COLON}(?P<value>{_CODE})",
        validate=_digit_count_between(4, 16),
    ),
    _rule(
        "dni_prefixed",
        "ID_SUJETO_ASISTENCIA",
        r"\b(?:D\.?\s?N\.?\s?I|N\.?\s?I\.?\s?F|N\.?\s?I\.?\s?E|pasaporte)\.?" rf"(?:\s*{_N})?{_COLON}"
        r"(?P<value>[XYZ]?[\- ]?\d{7,8}[\- ]?[A-Z]|[A-Z]{1,3}\d{6,9})(?![\w])",
    ),
    # Without a prefix only a correct check letter makes a DNI/NIE.
    _rule("dni", "ID_SUJETO_ASISTENCIA", r"\b(?P<value>\d{8}-?[A-Z])\b", validate=valid_dni, flags=0),
    _rule("nie", "ID_SUJETO_ASISTENCIA", r"\b(?P<value>[XYZ]-?\d{7}-?[A-Z])\b", validate=valid_nie, flags=0),
    _rule(
        "postal_code",
        "TERRITORIO",
        r"\b(?:C\.\s?P|CP|c[oó]d(?:igo|\.)?\s+postal|c[oó]digo\s+postal)\.?" rf"{_COLON}(?P<value>\d{{4,8}}(?:-\d{{1,4}})?)(?!\d)",
    ),
    # "28046 Madrid", "08009, Barcelona": a Spanish postal code before a capitalized place.
    _rule(
        "postal_code_address",
        "TERRITORIO",
        r"(?:(?<=\d)|(?<=s/n)|(?<=[,.\-–)ºª]))\.?\s{1,2}(?:-\s)?(?<!\d \d{5} )(?P<value>(?:0[1-9]|[1-4]\d|5[0-2])\d{3})(?!\d)(?=[.,]?\s?[-–]?\s?(?-i:[A-ZÁÉÍÓÚÑ][a-záéíóúñ]))",
    ),
    _rule(
        "date_numeric",
        "FECHAS",
        rf"{_NB}(?P<value>\d{{1,2}}\s?[/.\-]\s?\d{{1,2}}\s?(?:[/\-]{{1,2}}|\.)\s?(?:\d{{4}}|\d{{2}})){_NA}",
        validate=_valid_numeric_date,
    ),
    _rule(
        "date_text",
        "FECHAS",
        rf"\b(?P<value>(?:\d{{1,2}}(?:º|°)?\s+de\s+)?(?:{_MONTHS})(?:\s+(?:de|del)(?:\s+año)?)?\s+{_YEAR4})(?!\d)",
    ),
    _rule(
        "date_hyphen",
        "FECHAS",
        rf"\b(?P<value>\d{{1,2}}[\-/ ](?:{_MONTHS}|{_MONTHS_ABBR})\.?[\-/ ]{_YEAR4})(?!\d)",
    ),
    # Month and a two-digit year after "en" or "(": "en noviembre 06", "(Junio 04)".
    _rule(
        "date_month_yy",
        "FECHAS",
        rf"(?:\ben\s+|\()(?P<value>(?:{_MONTHS})\s+\d\d)(?![\d:.,]\d|\d)",
    ),
    # Day and month without a year: lower-case months only ("12 de Octubre" is a hospital).
    _rule(
        "date_day_month",
        "FECHAS",
        rf"\b(?P<value>\d{{1,2}}\s+de\s+(?-i:{_MONTHS}))\b",
    ),
    # A year after a preposition or "año": "en 2006", "desde el año 2004".
    _rule(
        "date_year",
        "FECHAS",
        r"\b(?:en|desde|hasta|del|de|durante|entre|antes\s+de|después\s+de|a\s+principios\s+del?|"
        r"a\s+finales\s+del?|a\s+mediados\s+del?)\s+(?:el\s+)?"
        rf"(?P<value>(?:año\s+)?{_YEAR4})(?!\d|[,.]\d)(?!\s*(?:mg|mcg|µg|g|kg|ml|cc|ui|u|unidades|mm|cm|m|kcal|ng|pg)\b)",
    ),
    # An infant's age before "de vida" / "de edad" ("a los 19 días de vida"); the span leaves them out.
    _rule(
        "age_infant",
        "EDAD_SUJETO_ASISTENCIA",
        rf"\b(?:de|a\s+los|al|los)\s+(?P<value>(?:\d{{1,2}}|{_NUMBER_WORDS})\s+(?:mes(?:es)?|d[ií]as|semanas))"
        r"(?=\s+de\s+(?:vida|edad)\b)",
    ),
    # Fields of the administrative header of a clinical report, one per line ("Domicilio: …", "Nombre: …").
    _rule("address_header", "CALLE", rf"(?m)^Domicilio:{_HEADER_VALUE}", flags=0),
    _rule("name_header", "NOMBRE_SUJETO_ASISTENCIA", rf"(?m)^Nombre:{_HEADER_NAME}", flags=0),
    _rule("surname_header", "NOMBRE_SUJETO_ASISTENCIA", rf"(?m)^Apellidos:{_HEADER_NAME}", flags=0),
    _rule("country_header", "PAIS", rf"(?m)^País:{_HEADER_NAME}", flags=0),
    _rule("age_header", "EDAD_SUJETO_ASISTENCIA", r"\bEdad:[ \t]*(?P<value>\d{1,3}[ \t]*años)\b", flags=0),
    _rule("sex_header", "SEXO_SUJETO_ASISTENCIA", r"\bSexo:[ \t]*(?P<value>[A-Za-z]\w*)", flags=0),
)

#: Names of the built-in rules, in priority order.
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in DEFAULT_RULES)


def select_rules(names: Sequence[str] | None = None) -> tuple[Rule, ...]:
    """The built-in rules named in ``names`` (all when ``None``), in priority order."""
    if names is None:
        return DEFAULT_RULES
    unknown = sorted(set(names) - set(RULE_NAMES))
    if unknown:
        raise DeidError(f"Unknown PHI rule(s) {', '.join(unknown)}; choose among: {', '.join(RULE_NAMES)}")
    wanted = set(names)
    return tuple(rule for rule in DEFAULT_RULES if rule.name in wanted)


def compile_patterns(patterns: Iterable[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Compile user patterns ``{"label", "pattern", "name"?, "ignore_case"?}``.

    The PHI is the group named ``value`` when the pattern has one, else the
    whole match. Raises :class:`DeidError` naming the pattern's position.
    """
    rules = []
    for i, spec in enumerate(patterns):
        if not isinstance(spec, Mapping) or not spec.get("label") or not spec.get("pattern"):
            raise DeidError(f"PHI pattern {i}: give a dict with a non-empty 'label' and 'pattern'")
        flags = re.IGNORECASE if spec.get("ignore_case", False) else 0
        try:
            compiled = re.compile(str(spec["pattern"]), flags)
        except re.error as err:
            raise DeidError(f"PHI pattern {i} is not a valid regular expression ({err.msg} at {err.pos})") from None
        group: int | str = "value" if "value" in compiled.groupindex else 0
        rules.append(Rule(str(spec.get("name") or f"pattern_{i}"), str(spec["label"]), compiled, group))
    return tuple(rules)


def resolve_overlaps(matches: Iterable[PhiMatch], order: Mapping[str, int] | None = None) -> list[PhiMatch]:
    """Keep non-overlapping matches: longest first, then earliest, then by rule ``order``."""
    rank = order or {}
    ranked = sorted(matches, key=lambda m: (m.start - m.end, m.start, rank.get(m.rule, len(rank)), m.label))
    kept: list[PhiMatch] = []
    taken: list[tuple[int, int]] = []
    for match in ranked:
        if all(match.end <= s or match.start >= e for s, e in taken):
            kept.append(match)
            taken.append((match.start, match.end))
    return sorted(kept, key=lambda m: (m.start, m.end))


#: Courtesy titles MEDDOCAN leaves out of name spans ("Dr. [[Ana Gil]]", "Doctora [[Eva Sanz]]").
_TITLE_PREFIX = re.compile(r"(?:Dr|Dra|Doctor|Doctora)\.?\s+")
_NAME_LABELS = frozenset({"NOMBRE_PERSONAL_SANITARIO", "NOMBRE_SUJETO_ASISTENCIA"})
#: "médico de familia" is a general practitioner, not a relative.
_GP_BEFORE = re.compile(r"\bm[eé]dic[oa]s?\s+de\s+$", re.IGNORECASE)


def refine_span(text: str, start: int, end: int, label: str) -> tuple[int, int] | None:
    """Apply three MEDDOCAN conventions a statistical detector tends to miss.

    No annotation crosses a line break (none of MEDDOCAN's 17,134 train and
    dev annotations does; a transition-based NER sometimes runs an entity on
    for a paragraph): such a span is dropped (``None``). A leading courtesy
    title is not part of a name (the span starts after it), and ``familia`` in
    ``médico de familia`` is no relative (dropped). RETURNS the (possibly
    trimmed) offsets, or ``None``.
    """
    if "\n" in text[start:end]:
        return None
    if label in _NAME_LABELS:
        match = _TITLE_PREFIX.match(text, start, end)
        if match and match.end() < end:
            start = match.end()
    elif (
        label == "FAMILIARES_SUJETO_ASISTENCIA"
        and text[start:end].lower() == "familia"
        and _GP_BEFORE.search(text, max(0, start - 40), start)
    ):
        return None
    return start, end


def find_phi(text: str, rules: Sequence[Rule] | None = None) -> list[PhiMatch]:
    """Find structured PHI in ``text``; non-overlapping matches sorted by offset."""
    if not isinstance(text, str):
        raise DeidError(f"find_phi expects a str, got {type(text).__name__}")
    active = DEFAULT_RULES if rules is None else tuple(rules)
    matches = [match for rule in active for match in rule.finditer(text)]
    return resolve_overlaps(matches, {rule.name: i for i, rule in enumerate(active)})
