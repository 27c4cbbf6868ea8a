"""Date surrogates: one shift per document, the original format kept.

Every date expression found in a span is moved by the document's shift
(``SurrogateContext.date_shift`` days) and written back in its own format:
``03/03/2014`` (field widths, separators and two-digit years kept),
``2014-03-03``, ``3 de marzo de 2014``, ``03-mar-2014``, ``marzo 2014``,
``mayo del 2003``, ``03/2014``, ``2014``, ``12 de agosto`` and month names
alone. Full dates move by exactly the shift, so intervals between them
survive. Partial dates move from their middle (the 15th of the month, the 2nd
of July, a leap reference year for day + month) and, when the rounded result
equals the original (a shift smaller than the precision), by one more unit in
the shift's direction. Text around the dates in the span is kept.
"""
from __future__ import annotations

import datetime as dt
import random
import re

from .context import SurrogateContext
from .resources.vocab_es import MONTH_ABBREVIATIONS, MONTHS, WEEKDAYS
from .textutil import apply_case, digits_surrogate, normalize

_MONTH_INDEX: dict[str, int] = {m: i + 1 for i, m in enumerate(MONTHS)}
_MONTH_INDEX["setiembre"] = 9
_ABBR_INDEX: dict[str, int] = {a: i + 1 for i, a in enumerate(MONTH_ABBREVIATIONS)}
_ABBR_INDEX.update({"sept": 9, "set": 9, "ag": 8})
_MONTH_WORDS = sorted(list(_MONTH_INDEX) + list(_ABBR_INDEX), key=len, reverse=True)
_MONTH_ALT = "|".join(_MONTH_WORDS)
_WEEKDAY_INDEX = {normalize(w): i for i, w in enumerate(WEEKDAYS)}

_LETTER_BEFORE = r"(?<![^\W\d_])"
_LETTER_AFTER = r"(?![^\W\d_])"
NUMERIC_RE = re.compile(r"(?<!\d)(\d{1,2})(\s*[/.\-]+\s*)(\d{1,2})(\s*[/.\-]+\s*)(\d{4}|\d{2})(?!\d)")
ISO_RE = re.compile(r"(?<!\d)(\d{4})([/.\-])(\d{1,2})([/.\-])(\d{1,2})(?!\d)")
TEXTUAL_RE = re.compile(
    rf"(?:(?<!\d)(\d{{1,2}})(\s+de\s+|\s*[-/.]\s*|\s+))?{_LETTER_BEFORE}({_MONTH_ALT})(\.?){_LETTER_AFTER}"
    r"(?:(\s+del?\s+año\s+|\s+del?\s+|\s*[-/.,]\s*|\s+)(\d{4}|\d{2})(?!\d))?",
    re.IGNORECASE,
)
MONTH_YEAR_RE = re.compile(r"(?<!\d)(\d{1,2})([/.\-])(\d{4})(?!\d)")
YEAR_RE = re.compile(r"(?<!\d)(1[89]\d{2}|20\d{2})(?!\d)")
WEEKDAY_RE = re.compile(r"(?<![^\W\d_])(lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bado|domingo)(?![^\W\d_])", re.IGNORECASE)

#: Two-digit years at or below this are 20xx, above it 19xx (fixed, so results do not depend on today).
TWO_DIGIT_PIVOT = 30
_REFERENCE_YEAR = 2000  # leap: 29 February without a year still parses


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        return 2000 + year if year <= TWO_DIGIT_PIVOT else 1900 + year
    return year


def _year_text(year: int, template: str) -> str:
    return f"{year % 100:02d}" if len(template) == 2 else f"{year:04d}"


def _field(value: int, template: str) -> str:
    return f"{value:02d}" if len(template) == 2 else str(value)


def _day_word(value: int, template: str) -> str:
    """A day written before a month name: zero-padded only when the original was ("03 de marzo")."""
    return f"{value:02d}" if template.startswith("0") else str(value)


def _month_text(month: int, template: str) -> str:
    norm = normalize(template)
    name = MONTH_ABBREVIATIONS[month - 1] if norm in _ABBR_INDEX and norm not in _MONTH_INDEX else MONTHS[month - 1]
    return apply_case(template, name)


def _month_of(word: str) -> int | None:
    norm = normalize(word)
    return _MONTH_INDEX.get(norm) or _ABBR_INDEX.get(norm)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _shift_full(date: dt.date, days: int) -> dt.date:
    return date + dt.timedelta(days=days)


def _shift_month_year(year: int, month: int, days: int) -> tuple[int, int]:
    moved = dt.date(year, month, 15) + dt.timedelta(days=days)
    if (moved.year, moved.month) == (year, month):
        return _add_months(year, month, 1 if days > 0 else -1)
    return moved.year, moved.month


def _shift_year(year: int, days: int) -> int:
    moved = (dt.date(year, 7, 2) + dt.timedelta(days=days)).year
    if moved == year:
        return year + (1 if days > 0 else -1)
    return moved


def _shift_day_month(day: int, month: int, days: int) -> tuple[int, int]:
    base = dt.date(_REFERENCE_YEAR, month, day)
    moved = base + dt.timedelta(days=days)
    if (moved.day, moved.month) == (day, month):
        moved = moved + dt.timedelta(days=1 if days > 0 else -1)
    return moved.day, moved.month


def _shift_month(month: int, days: int) -> int:
    moved = (dt.date(_REFERENCE_YEAR, month, 15) + dt.timedelta(days=days)).month
    if moved == month:
        moved = _add_months(_REFERENCE_YEAR, month, 1 if days > 0 else -1)[1]
    return moved


def _replace_numeric(m: re.Match[str], days: int) -> tuple[str, dt.date | None] | None:
    day_s, sep1, month_s, sep2, year_s = m.groups()
    try:
        date = dt.date(_full_year(year_s), int(month_s), int(day_s))
        moved = _shift_full(date, days)
    except (ValueError, OverflowError):
        return None
    text = f"{_field(moved.day, day_s)}{sep1}{_field(moved.month, month_s)}{sep2}{_year_text(moved.year, year_s)}"
    return text, moved


def _replace_iso(m: re.Match[str], days: int) -> tuple[str, dt.date | None] | None:
    year_s, sep1, month_s, sep2, day_s = m.groups()
    try:
        moved = _shift_full(dt.date(int(year_s), int(month_s), int(day_s)), days)
    except (ValueError, OverflowError):
        return None
    return f"{moved.year:04d}{sep1}{_field(moved.month, month_s)}{sep2}{_field(moved.day, day_s)}", moved


def _replace_textual(m: re.Match[str], days: int) -> tuple[str, dt.date | None] | None:
    day_s, sep1, month_w, dot, sep2, year_s = m.groups()
    month = _month_of(month_w)
    if month is None:
        return None
    try:
        if day_s and year_s:
            moved = _shift_full(dt.date(_full_year(year_s), month, int(day_s)), days)
            parts = [_day_word(moved.day, day_s), sep1, _month_text(moved.month, month_w), dot, sep2,
                     _year_text(moved.year, year_s)]  # fmt: skip
            return "".join(parts), moved
        if year_s:
            year, new_month = _shift_month_year(_full_year(year_s), month, days)
            return f"{_month_text(new_month, month_w)}{dot}{sep2}{_year_text(year, year_s)}", None
        if day_s:
            new_day, new_month = _shift_day_month(int(day_s), month, days)
            return f"{_day_word(new_day, day_s)}{sep1}{_month_text(new_month, month_w)}{dot}", None
        return f"{_month_text(_shift_month(month, days), month_w)}{dot}", None
    except (ValueError, OverflowError):
        return None


def _replace_month_year(m: re.Match[str], days: int) -> tuple[str, dt.date | None] | None:
    month_s, sep, year_s = m.groups()
    if not 1 <= int(month_s) <= 12:
        return None
    try:
        year, month = _shift_month_year(int(year_s), int(month_s), days)
    except (ValueError, OverflowError):
        return None
    return f"{_field(month, month_s)}{sep}{year:04d}", None


def _replace_year(m: re.Match[str], days: int) -> tuple[str, dt.date | None] | None:
    try:
        return f"{_shift_year(int(m.group(1)), days):04d}", None
    except (ValueError, OverflowError):
        return None


_PATTERNS = (
    (NUMERIC_RE, _replace_numeric),
    (ISO_RE, _replace_iso),
    (TEXTUAL_RE, _replace_textual),
    (MONTH_YEAR_RE, _replace_month_year),
    (YEAR_RE, _replace_year),
)


def shift_dates(text: str, days: int, rng: random.Random | None = None) -> str | None:
    """``text`` with every date expression moved by ``days``; ``None`` when none is found.

    A full date that does not exist (``31/02/2014``) is not shifted: its
    digits are drawn from ``rng`` (``None``: the whole text gets ``None``,
    so the caller falls back).
    """
    taken: list[tuple[int, int, str, dt.date | None]] = []
    for pattern, replace in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e, _, _ in taken):
                continue
            replaced = replace(m, days)
            if replaced is not None:
                taken.append((m.start(), m.end(), replaced[0], replaced[1]))
            elif pattern in _FULL_PATTERNS:
                if rng is None:
                    return None
                taken.append((m.start(), m.end(), digits_surrogate(m.group(), rng), None))
    if not taken or all(d is None and r == text[s:e] for s, e, r, d in taken):
        return None
    taken.sort()
    full_dates = [d for _, _, _, d in taken if d is not None]
    out: list[str] = []
    last = 0
    for start, end, replacement, _ in taken:
        out.append(_fix_weekdays(text[last:start], full_dates))
        out.append(replacement)
        last = end
    out.append(_fix_weekdays(text[last:], full_dates))
    return "".join(out)


_FULL_PATTERNS = (NUMERIC_RE, ISO_RE)


def _fix_weekdays(text: str, full_dates: list[dt.date]) -> str:
    """Rename weekdays next to a single full date after its shift ("lunes, 3 de marzo")."""
    if len(full_dates) != 1:
        return text
    weekday = WEEKDAYS[full_dates[0].weekday()]
    return WEEKDAY_RE.sub(lambda m: apply_case(m.group(), weekday), text)


def surrogate_date(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """The shifted date (the attempt does not matter: the shift is the document's)."""
    return shift_dates(text, ctx.date_shift, ctx.rng("DATE-INVALID", normalize(text), str(attempt)))


def parse_full_date(text: str) -> dt.date | None:
    """The first full date in ``text`` (numeric, ISO or textual with day and year), for checks."""
    for pattern in (NUMERIC_RE, ISO_RE, TEXTUAL_RE):
        m = pattern.search(text)
        if not m:
            continue
        try:
            if pattern is NUMERIC_RE:
                return dt.date(_full_year(m.group(5)), int(m.group(3)), int(m.group(1)))
            if pattern is ISO_RE:
                return dt.date(int(m.group(1)), int(m.group(3)), int(m.group(5)))
            month = _month_of(m.group(3))
            if m.group(1) and m.group(6) and month:
                return dt.date(_full_year(m.group(6)), month, int(m.group(1)))
        except ValueError:
            continue
    return None
