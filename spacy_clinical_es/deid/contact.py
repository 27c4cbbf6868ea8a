"""Phones, faxes, e-mails, URLs and IP addresses in valid (Spanish) formats.

Phones keep their layout (spaces, dots, dashes, a ``34`` or ``+34`` prefix,
an extension) and the first digit of the national number (9: landline, 6/7:
mobile, 8), so a Spanish number stays a plausible Spanish number. E-mails
are built from a first name and a surname of the locale's lists on a common
provider's domain; URLs keep their scheme and ``www.``; IPv4 addresses come from the
documentation ranges (RFC 5737), which are never assigned to anyone.
"""
from __future__ import annotations

import re

from .context import SurrogateContext
from .resources.vocab_es import URL_WORDS
from .textutil import normalize, shape_surrogate, strip_accents

_PREFIX_RE = re.compile(r"^(\+?\s*34[\s.\-)]*|\(\+?34\)\s*|0034\s*)")
_TEST_NETS = ("192.0.2", "198.51.100", "203.0.113")


def surrogate_phone(text: str, ctx: SurrogateContext, attempt: int, *, kind: str = "PHONE") -> str | None:
    """Same layout, same first digit of the national number, other digits random."""
    if not any(c.isdigit() for c in text):
        return None
    rng = ctx.rng(kind, normalize(text), str(attempt))
    prefix_match = _PREFIX_RE.match(text)
    prefix = ""
    body = text
    if prefix_match and sum(c.isdigit() for c in text[prefix_match.end() :]) >= 9:
        prefix, body = text[: prefix_match.end()], text[prefix_match.end() :]
    out: list[str] = []
    first = True
    for char in body:
        if char.isdigit() and char.isascii():
            if first:
                out.append(char if char in "6789" else str(rng.choice("69")))
                first = False
            else:
                out.append(str(rng.randint(0, 9)))
        else:
            out.append(char)
    return prefix + "".join(out)


def _ascii_word(word: str) -> str:
    return re.sub(r"[^a-z]", "", strip_accents(word).lower())


def surrogate_email(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """``nombre.apellido``-style local part (separator and digits as in the original) on a common domain."""
    if "@" not in text:
        return None
    local = text.strip().split("@", 1)[0]
    rng = ctx.rng("EMAIL", normalize(text), str(attempt))
    data = ctx.data
    first = _ascii_word(rng.choice(data.male_first + data.female_first))
    surname = _ascii_word(rng.choice(data.surnames))
    separator = next((c for c in local if c in "._-"), "")
    style = rng.randrange(3)
    if style == 0 or separator:
        name = f"{first}{separator or '.'}{surname}"
    elif style == 1:
        name = f"{first[0]}{surname}"
    else:
        name = f"{first}{surname[:3]}"
    n_digits = sum(c.isdigit() for c in local)
    if n_digits:
        name += "".join(str(rng.randint(0, 9)) for _ in range(min(n_digits, 4)))
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{name}@{rng.choice(data.email_domains)}{trail}"


def surrogate_url(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """A URL with the original scheme and ``www.``, a random site on ``.es`` and a random path."""
    rng = ctx.rng("URL", normalize(text), str(attempt))
    stripped = text.strip()
    scheme_match = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", stripped)
    scheme = scheme_match.group() if scheme_match else ""
    rest = stripped[len(scheme) :]
    www = "www." if rest.lower().startswith("www.") else ""
    path = rest.split("/", 1)[1] if "/" in rest else None
    host = f"{www}{rng.choice(URL_WORDS)}{rng.choice(URL_WORDS)}{rng.randint(1, 99)}.es"
    new_path = "" if path is None else "/" + shape_surrogate(path, rng).lower()
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{scheme}{host}{new_path}{trail}"


def surrogate_ip(text: str, ctx: SurrogateContext, attempt: int) -> str | None:
    """An IPv4 address of a documentation range; other addresses keep their shape."""
    rng = ctx.rng("IP", normalize(text), str(attempt))
    stripped = text.strip()
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", stripped):
        new = f"{rng.choice(_TEST_NETS)}.{rng.randint(1, 254)}"
        return text.replace(stripped, new, 1)
    if not any(c.isalnum() for c in text):
        return None
    return shape_surrogate(text, rng)
