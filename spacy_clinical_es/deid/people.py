"""Ages, sex, relatives, professions and other patient details.

Ages and sex are kept by default (see :class:`..options.DeidOptions`); an
age above ``max_age`` years becomes "<max_age + 1> o más" ("95 años" →
"90 o más años"). When they are not kept, an age moves by a few years (same
unit, digits or words as written) and a sex word becomes the other sex's
word in the same form ("Varón" → "Mujer", "H" → "M"). Relatives keep their
sentence: kinship words become another kinship word of the same gender and
number, "materno" and "paterno" swap, numbers change and person names inside
become surrogate names. Professions and the classes of
:data:`..resources.vocab_es.OTHER_CLASSES` (marital status, ethnicity,
nationality, age group…) swap within their list.
"""
from __future__ import annotations

import re

from .context import SurrogateContext
from .names import is_first_name, map_word
from .resources.vocab_es import (
    KINSHIP,
    LINEAGE,
    OTHER_CLASSES,
    PROFESSIONS,
    RELATIVE_PHRASES,
    SEX_SWAP,
    TENS,
    UNITS,
)
from .textutil import apply_case, digits_surrogate, fold_accents, normalize

# ---------------------------------------------------------------- numbers


def number_words(value: int) -> str | None:
    """Spanish words for 0–199 (``None`` outside)."""
    if 0 <= value < 30:
        return UNITS[value]
    if 30 <= value < 100:
        tens, unit = divmod(value, 10)
        return TENS[tens * 10] + (f" y {UNITS[unit]}" if unit else "")
    if value == 100:
        return "cien"
    if 100 < value < 200:
        rest = number_words(value - 100)
        return f"ciento {rest}" if rest else None
    return None


_WORD_VALUES: dict[str, int] = {}
for _v in range(200):
    _w = number_words(_v)
    if _w is not None:
        _WORD_VALUES[normalize(_w)] = _v
_WORD_VALUES.update({"un": 1, "una": 1, "veintiun": 21, "veintiuna": 21})
_NUMBER_WORD_ALT = "|".join(sorted(_WORD_VALUES, key=len, reverse=True))
_NUMBER_RE = re.compile(rf"(?<![\w])(\d+|(?:{_NUMBER_WORD_ALT}))(?![\w])", re.IGNORECASE)
_YEARS_UNIT_RE = re.compile(r"^\s*(años?|a\.?|a[ñn]os?)(?![^\W\d_])", re.IGNORECASE)
_OTHER_UNIT_RE = re.compile(r"^\s*(mes|meses|d[ií]as?|semanas?|horas?)(?![^\W\d_])", re.IGNORECASE)


def _number_value(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _WORD_VALUES.get(normalize(token))


def age_numbers(text: str) -> list[tuple[int, int, int, bool]]:
    """``(start, end, value, in_years)`` for each number of an age expression."""
    found = []
    plain = fold_accents(text)
    for m in _NUMBER_RE.finditer(plain):
        value = _number_value(m.group(1))
        if value is None:
            continue
        after = plain[m.end() :]
        in_years = not _OTHER_UNIT_RE.match(after) and (bool(_YEARS_UNIT_RE.match(after)) or not after.strip(" ."))
        found.append((m.start(), m.end(), value, in_years))
    return found


def generalize_age(text: str, max_age: int | None) -> str:
    """``text`` with every age in years above ``max_age`` written "<max_age + 1> o más"."""
    if max_age is None:
        return text
    out: list[str] = []
    last = 0
    for start, end, value, in_years in age_numbers(text):
        if in_years and value > max_age:
            out.append(text[last:start])
            out.append(f"{max_age + 1} o más")
            last = end
    out.append(text[last:])
    return "".join(out)


def surrogate_age(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """Each number moved by 1–5 (never below 0), as digits or words like the original."""
    numbers = age_numbers(text)
    if not numbers:
        return None
    rng = ctx.rng("AGE", normalize(text), str(attempt))
    out: list[str] = []
    last = 0
    for start, end, value, _ in numbers:
        delta = rng.randint(1, 5) * rng.choice((-1, 1))
        new = value + delta if value + delta >= 0 else value + abs(delta)
        token = text[start:end]
        if token.isdigit():
            written = str(new)
        else:
            words = number_words(new)
            written = apply_case(token, words) if words else str(new)
        out.append(text[last:start])
        out.append(written)
        last = end
    out.append(text[last:])
    return "".join(out)


# ---------------------------------------------------------------- sex


def surrogate_sex(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """The other sex in the same form; ``None`` for unknown words."""
    stripped = text.strip()
    norm = normalize(stripped).replace(" ", "")
    swap = SEX_SWAP.get(normalize(stripped)) or SEX_SWAP.get(norm)
    if swap is None:
        return None
    return text.replace(stripped, apply_case(stripped, swap), 1)


# ---------------------------------------------------------------- relatives

#: normalized kinship word → (row, column) in KINSHIP
_KIN_INDEX: dict[str, tuple[int, int]] = {}
for _row, _forms in enumerate(KINSHIP):
    for _col, _form in enumerate(_forms):
        _KIN_INDEX.setdefault(normalize(_form), (_row, _col))
_WORD_RE = re.compile(r"[^\W\d_]+|\d+")


def is_relative(text: str) -> bool:
    """Whether a text mentions a relative (a kinship word)."""
    return any(normalize(w) in _KIN_INDEX for w in _WORD_RE.findall(text))


#: Words that may stand with kinship words in a kinship-only mention ("su hija", "los tíos").
_KINSHIP_GLUE = frozenset({"su", "sus", "mi", "mis", "el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "y", "e"})


def is_kinship_only(text: str) -> bool:
    """Whether ``text`` is made of kinship and lineage words only ("su padre", "tía materna")."""
    words = [normalize(w) for w in _WORD_RE.findall(text)]
    return any(w in _KIN_INDEX for w in words) and all(w in _KIN_INDEX or w in LINEAGE or w in _KINSHIP_GLUE for w in words)


def relative_name_words(text: str) -> list[str]:
    """The words of a relative mention that ``keep_relatives`` still replaces (capitalized, not kinship)."""
    out = []
    for index, m in enumerate(_WORD_RE.finditer(text)):
        word = m.group()
        norm = normalize(word)
        if word.isdigit() or norm in _KIN_INDEX or norm in LINEAGE or norm in _WORD_VALUES:
            continue
        if word[:1].isupper() and (index > 0 or not word.isupper()) and len(word) > 1:
            out.append(word)
    return out


def _swap_kin(word: str, ctx: SurrogateContext, attempt: int) -> str:
    row, col = _KIN_INDEX[normalize(word)]
    pool = tuple(forms[col] for i, forms in enumerate(KINSHIP) if i != row and forms[col] != KINSHIP[row][col])
    surrogate = ctx.token("kin", word, lambda rng: rng.choice(pool), variant=str(col), attempt=attempt)
    return apply_case(word, surrogate)


def surrogate_relative(text: str, ctx: SurrogateContext, attempt: int, *, keep_kinship: bool = False) -> str | None:
    """A relative mention with kinship, lineage, numbers and names replaced.

    With ``keep_kinship`` only person names (and nothing else) are replaced;
    the result may then equal the original (the caller keeps it).
    """
    out: list[str] = []
    last = 0
    for index, m in enumerate(_WORD_RE.finditer(text)):
        word = m.group()
        norm = normalize(word)
        out.append(text[last : m.start()])
        last = m.end()
        if word.isdigit():
            out.append(word if keep_kinship else digits_surrogate(word, ctx.rng("REL-NUM", norm, str(attempt))))
        elif norm in _KIN_INDEX:
            out.append(word if keep_kinship else _swap_kin(word, ctx, attempt))
        elif norm in LINEAGE:
            out.append(word if keep_kinship else apply_case(word, LINEAGE[norm]))
        elif norm in _WORD_VALUES and not keep_kinship:
            value = _WORD_VALUES[norm]
            step = ctx.rng("REL-WORD", norm, str(attempt)).randint(1, 3)
            new = value + step if value < 20 else value - step
            out.append(apply_case(word, number_words(new) or str(new)))
        elif word[:1].isupper() and (index > 0 or not word.isupper()) and len(word) > 1:
            role = "first" if is_first_name(word) else "surname"
            out.append(map_word(ctx, word, role, None, attempt))
        else:
            out.append(word)
    out.append(text[last:])
    result = "".join(out)
    if keep_kinship or normalize(result) != normalize(text):
        return result
    return apply_case(text, ctx.rng("REL-PHRASE", normalize(text), str(attempt)).choice(RELATIVE_PHRASES))


# ---------------------------------------------------------------- professions and other details

_PROFESSION_GENDER: dict[str, int] = {}
for _m, _f in PROFESSIONS:
    _PROFESSION_GENDER.setdefault(normalize(_m), 0)
    _PROFESSION_GENDER.setdefault(normalize(_f), 1)


def _gender_column(text: str) -> int:
    norm = normalize(text)
    if norm in _PROFESSION_GENDER:
        return _PROFESSION_GENDER[norm]
    first = norm.split(" ", 1)[0] if norm else ""
    return 1 if first.endswith("a") else 0


def surrogate_profession(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """Another profession from the shipped list, of the original's grammatical gender."""
    column = _gender_column(text)
    choice = ctx.rng("PROFESSION", normalize(text), str(attempt)).choice(PROFESSIONS)[column]
    return apply_case(text, choice)


_CLASS_INDEX: dict[str, tuple[str, int, int]] = {}
for _name, _members in OTHER_CLASSES.items():
    for _i, (_m, _f) in enumerate(_members):
        _CLASS_INDEX.setdefault(normalize(_m), (_name, _i, 0))
        _CLASS_INDEX.setdefault(normalize(_f), (_name, _i, 1))


def surrogate_other(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """Swap words of a known class (marital status, ethnicity, nationality, age group…).

    A text with kinship or lineage words ("abuelo materno") is treated as a
    relative. ``None`` when the text has no such word: the caller falls back.
    """
    if is_relative(text) or any(normalize(w) in LINEAGE for w in _WORD_RE.findall(text)):
        return surrogate_relative(text, ctx, attempt)
    out: list[str] = []
    last = 0
    changed = False
    for m in _WORD_RE.finditer(text):
        norm = normalize(m.group())
        out.append(text[last : m.start()])
        last = m.end()
        if norm in _CLASS_INDEX:
            name, index, column = _CLASS_INDEX[norm]
            members = OTHER_CLASSES[name]
            pool = tuple(pair[column] for i, pair in enumerate(members) if i != index)
            new = ctx.token("other", m.group(), lambda rng, pool=pool: rng.choice(pool), variant=name, attempt=attempt)
            out.append(apply_case(m.group(), new))
            changed = True
        else:
            out.append(m.group())
    out.append(text[last:])
    return "".join(out) if changed else None
