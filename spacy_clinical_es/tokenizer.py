"""A Spanish word tokenizer whose token boundaries fit clinical annotations.

spaCy's Spanish defaults leave many annotated spans of Spanish clinical
corpora inside a token: a period glued to a single capital (``Sexo: H.``),
a label glued to its value (``CP:28029``, ``nhc-150679``), two sentences
glued by a missing space (``2014.El``), compounds written with a hyphen
(``TC-cistografía``) or parentheses without a space (``(AR)de``). Such a
span cannot be an entity of a ``Doc``. The registered tokenizer
``spacy_clinical_es.ClinicalTokenizer.v1`` is spaCy's own
:class:`~spacy.tokenizer.Tokenizer` built from the language defaults plus the
rules below, so it serializes with ``nlp.to_disk`` like any other tokenizer
(the patterns are stored with the pipeline) and ``spacy.load`` finds the
registered function through the ``spacy_tokenizers`` entry point.

Every rule splits only at a character class boundary that a clinical
annotation may use; none looks at labels or offsets. Use
``python -m spacy_clinical_es tokenization-report`` to measure how many gold
spans still cut a token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from spacy.lang.char_classes import ALPHA, ALPHA_LOWER, ALPHA_UPPER
from spacy.lang.tokenizer_exceptions import URL_PATTERN
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.util import (
    compile_infix_regex,
    compile_prefix_regex,
    compile_suffix_regex,
    registry,
)

logger = logging.getLogger(__name__)

_a = ALPHA
_al = ALPHA_LOWER
_au = ALPHA_UPPER
# ASCII hyphen-minus, Unicode hyphen, non-breaking hyphen, en dash, em dash.
_hy = "\\-\u2010\u2011\u2013\u2014"

# ---------------------------------------------------------------------------
# The clinical rules. Each entry is a regular expression in spaCy's syntax;
# prefixes are anchored at the start of a token candidate, suffixes at its
# end, infixes split anywhere inside it (a zero-width infix splits without
# producing a token).
# ---------------------------------------------------------------------------

CLINICAL_PREFIXES: list[str] = [
    # A list dash or a dash used as a parenthesis glued to the next word:
    # "\n-Linfedema primario", "tumor dermoide -teratoma". Not before a digit
    # (a negative value such as "-2,5" stays whole).
    rf"[{_hy}](?=[{_a}])",
]

CLINICAL_SUFFIXES: list[str] = [
    # A period after a capital letter: single capitals and alphanumeric codes
    # at the end of a sentence or a header field ("Sexo: H.", "Domicilio:
    # ... 11A.", "hepatitis B.", "IgG.", "T.A.C."). Spanish defaults only split
    # it after two capitals. Abbreviations such as "Dr." or "EE.UU." are
    # tokenizer exceptions and are matched before any suffix is split.
    rf"(?<=[{_au}])\.",
    # A period after an ordinal indicator or a degree sign: "Colón, 28, 1º.",
    # "3ª.", "a 37 °." (the Spanish defaults only split it after lowercase
    # letters and digits).
    r"(?<=[ºª°])\.",
    # A dash glued to the end of a word before a space: "Sarcoma osteogénico-
    # osteoblástico", "RP-," (negative receptor status).
    rf"(?<=[{_a}])[{_hy}]",
]

CLINICAL_INFIXES: list[str] = [
    # A colon between a field name and a number without a space: "Edad:62",
    # "CP:28029", "NASS:36", "NºCol:28". (A colon before a letter is already
    # split by the Spanish defaults; "10:30" keeps its colon.)
    rf"(?<=[{_a}]):(?=[0-9])",
    # Hyphens joining a word and a number or two words: "nhc-150679",
    # "Zaragoza-50009", "08005-Barcelona", "TC-cistografía",
    # "Varicela-zóster", "anti-VHC", "T3-N2b". Number ranges and dates
    # ("8-10", "12-03-2015") keep their hyphens.
    rf"(?<=[{_a}0-9])[{_hy}](?=[{_a}])",
    rf"(?<=[{_a}])[{_hy}](?=[0-9])",
    # A slash between a word and a number: "nhc/976421", "mg/12 h". (Slashes
    # between numbers, as in dates "12/11/2013" or "120/80", stay; a slash
    # before a letter is already split by the Spanish defaults.)
    rf"(?<=[{_a}])/(?=[0-9])",
    # A period between two sentences written without a space: "en 2014.El
    # paciente", "(TAC).La", "UCI.Se". The Spanish defaults only split
    # "lower.Upper".
    rf"(?<=[{_a}0-9)\]%])\.(?=[{_au}][{_al}])",
    # A period followed by a reference number glued to the sentence:
    # "un molar inferior.46", "derecho.3.500 impactos". Two lowercase letters
    # before it keep abbreviations such as "p.3" or "fig.2" whole.
    rf"(?<=[{_al}][{_al}])\.(?=[0-9])",
    # Parentheses and brackets inside a token: "(AR)de 20 años",
    # "dolor(EVA", "receptor(es)".
    r"[()\[\]{}]",
    # A plus sign joining two words: "carcinoma+sarcoma", "cT3N+M0" ("CD4+"
    # and "3+2" are handled by the defaults).
    rf"(?<=[{_a}0-9])\+(?=[{_a}])",
    # A reference number glued to a lowercase word (SciELO superscripts lost
    # in the plain text): "con neumonia2-6", "obesidad extrema2 (IMC".
    # Three lowercase letters before the digit keep units such as "cm3" or
    # "m2" whole. Zero-width: splits without creating a token.
    rf"(?<=[{_al}][{_al}][{_al}])(?=[0-9])",
    # Histological grade glued to a TNM stage: "G3pT3N2Mx" -> "G3" "pT3N2Mx".
    # Zero-width. (The TNM stage itself stays one token.)
    r"(?<=G[0-9])(?=[cpy]{0,2}T[0-9isx])",
]

# A field name and a colon glued to an e-mail address ("E-mail:ana@x.es") is
# not a URL with a "user:password@" part: such a part needs a scheme
# ("https://user:pw@host"). Without this guard spaCy's URL match would keep
# the field name and the address in one token.
CLINICAL_URL_PATTERN: str = r"^(?![^\s:/@]+:(?!//)[^\s@]*@)" + URL_PATTERN[1:]

# Extra special cases (exceptions), orth -> token texts, added to the Spanish
# exceptions ("Dr.", "Sra.", "EE.UU.", "p.ej.", ...).
CLINICAL_SPECIAL_CASES: dict[str, list[str]] = {
    # "sin número" in addresses ("Avda. de Elvas s/n.") stays one token.
    "s/n": ["s/n"],
    "S/N": ["S/N"],
}


def _is_dropped_exception(orth: str) -> bool:
    """Exceptions removed from the defaults: a lowercase letter and a period.

    spaCy keeps "a." ... "z." whole for list markers and initials. In Spanish
    clinical text they are units at the end of a sentence ("cada 8 h.",
    "2,3 mg/l.", "s/n.") or the words "a", "y", "o" before a period, so the
    period is split off like after any other lowercase word.
    """
    return len(orth) == 2 and orth[1] == "." and orth[0].isalpha() and orth[0].islower()


def clinical_tokenizer_settings(nlp: Language) -> dict[str, Any]:
    """Return the keyword arguments of :class:`Tokenizer` for ``nlp``.

    The language defaults (prefixes, suffixes, infixes, exceptions) come
    first; the clinical rules are appended, and the single-letter exceptions
    "a." ... "z." are dropped (see ``_is_dropped_exception``). Exposed so
    callers can inspect or extend the rules.
    """
    defaults = nlp.Defaults
    prefixes = list(defaults.prefixes or []) + CLINICAL_PREFIXES
    suffixes = list(defaults.suffixes or []) + CLINICAL_SUFFIXES
    infixes = list(defaults.infixes or []) + CLINICAL_INFIXES
    rules = {
        k: v
        for k, v in defaults.tokenizer_exceptions.items()
        if not _is_dropped_exception(k)
    }
    for orth, pieces in CLINICAL_SPECIAL_CASES.items():
        rules[orth] = [{"ORTH": piece} for piece in pieces]
    return {
        "rules": rules,
        "prefix_search": compile_prefix_regex(prefixes).search,
        "suffix_search": compile_suffix_regex(suffixes).search,
        "infix_finditer": compile_infix_regex(infixes).finditer,
        "token_match": defaults.token_match,
        "url_match": re.compile("(?u)" + CLINICAL_URL_PATTERN).match,
    }


@registry.tokenizers("spacy_clinical_es.ClinicalTokenizer.v1")
def create_clinical_tokenizer() -> Callable[[Language], Tokenizer]:
    """Registered function: a factory that builds the clinical tokenizer.

    Use it in a config as ``[nlp.tokenizer] @tokenizers =
    "spacy_clinical_es.ClinicalTokenizer.v1"``. Designed for ``lang = "es"``;
    with another language its defaults get the same extra rules.
    """

    def clinical_tokenizer_factory(nlp: Language) -> Tokenizer:
        if nlp.lang != "es":
            logger.warning(
                "ClinicalTokenizer.v1 is designed for Spanish; adding its rules to the '%s' defaults.",
                nlp.lang,
            )
        return Tokenizer(nlp.vocab, **clinical_tokenizer_settings(nlp))

    return clinical_tokenizer_factory


def make_clinical_nlp(lang: str = "es") -> Language:
    """Return a blank pipeline whose tokenizer is the clinical tokenizer."""
    import spacy

    return spacy.blank(
        lang,
        config={
            "nlp": {
                "tokenizer": {"@tokenizers": "spacy_clinical_es.ClinicalTokenizer.v1"}
            }
        },
    )
