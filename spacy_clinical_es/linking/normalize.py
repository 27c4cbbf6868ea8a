"""Surface-form normalization shared by exact lookup and the encoders.

:func:`normalize_term` (the exact-match key): lowercased, diacritics removed
(NFKD, combining marks dropped: ``ñ`` → ``n``), whitespace runs collapsed to
one space and trimmed. Punctuation is kept: it distinguishes codes (``T4`` vs
``T-4`` is left to the dense encoder).

Token level, for the word-key tier and the TF-IDF encoder's options:
:func:`tokens` (alphanumeric runs), :func:`expand_abbreviations` (a small
table of common Spanish clinical abbreviations, :data:`ABBREVIATIONS`),
:func:`light_stem` (plural, gender and adjective endings) and
:func:`token_key` (sorted stems of the content words: word order, plurals,
stop words and abbreviations do not matter).
"""
from __future__ import annotations

import re

from ..textfold import fold

_WS = re.compile(r"\s+")


def _once(text: str) -> str:
    return _WS.sub(" ", fold(text)).strip()


def normalize_term(text: str) -> str:
    """Return the normalized form of ``text`` used as exact-match key.

    Idempotent: compatibility decomposition can reveal capitals (``ᴬ`` → ``A``)
    and casefolding can add combining marks, so the step repeats until stable.
    """
    result = _once(text)
    for _ in range(4):
        again = _once(result)
        if again == result:
            break
        result = again
    return result


# -- token-level normalization: abbreviations, stop words, light stemming -------------

_TOKEN = re.compile(r"[^\W_]+")

#: Common Spanish clinical abbreviations (normalized form → expansion), from general
#: clinical usage; ambiguous ones (PCR: polymerase chain reaction / C-reactive protein,
#: CA: cancer / CA 19.9) are left out. Used by :func:`expand_abbreviations`.
ABBREVIATIONS: dict[str, str] = {
    "tac": "tomografia computarizada",
    "tc": "tomografia computarizada",
    "tacar": "tomografia computarizada de alta resolucion",
    "rm": "resonancia magnetica",
    "rmn": "resonancia magnetica",
    "rx": "radiografia",
    "eco": "ecografia",
    "ecg": "electrocardiograma",
    "ekg": "electrocardiograma",
    "eeg": "electroencefalograma",
    "emg": "electromiografia",
    "pet": "tomografia por emision de positrones",
    "ete": "ecocardiograma transesofagico",
    "ett": "ecocardiograma transtoracico",
    "eda": "endoscopia digestiva alta",
    "cpre": "colangiopancreatografia retrograda endoscopica",
    "qt": "quimioterapia",
    "rt": "radioterapia",
    "hd": "hemodialisis",
    "dp": "dialisis peritoneal",
    "nf": "nefrectomia",
    "vm": "ventilacion mecanica",
    "vmni": "ventilacion mecanica no invasiva",
    "iot": "intubacion orotraqueal",
    "rcp": "reanimacion cardiopulmonar",
    "paaf": "puncion aspiracion con aguja fina",
    "bag": "biopsia con aguja gruesa",
    "rtu": "reseccion transuretral",
    "rtup": "reseccion transuretral de prostata",
    "pl": "puncion lumbar",
    "ihq": "inmunohistoquimica",
    "ap": "anatomia patologica",
    "zn": "ziehl neelsen",
    "npt": "nutricion parenteral total",
    "npd": "nutricion parenteral domiciliaria",
    "sng": "sonda nasogastrica",
    "iq": "intervencion quirurgica",
    "qx": "cirugia",
    "tto": "tratamiento",
    "atb": "antibiotico",
    "aine": "antiinflamatorio no esteroideo",
    "aines": "antiinflamatorios no esteroideos",
    "hta": "hipertension arterial",
    "dm": "diabetes mellitus",
    "irc": "insuficiencia renal cronica",
    "ira": "insuficiencia renal aguda",
    "ic": "insuficiencia cardiaca",
    "icc": "insuficiencia cardiaca congestiva",
    "epoc": "enfermedad pulmonar obstructiva cronica",
    "iam": "infarto agudo de miocardio",
    "acv": "accidente cerebrovascular",
    "tep": "tromboembolismo pulmonar",
    "tvp": "trombosis venosa profunda",
    "itu": "infeccion del tracto urinario",
    "fa": "fibrilacion auricular",
    "tbc": "tuberculosis",
    "lcr": "liquido cefalorraquideo",
    "vih": "virus de la inmunodeficiencia humana",
    "hbp": "hiperplasia benigna de prostata",
    "tce": "traumatismo craneoencefalico",
    "sdra": "sindrome de distres respiratorio agudo",
    "lla": "leucemia linfoblastica aguda",
    "lma": "leucemia mieloide aguda",
}

#: Spanish function words ignored by the word-order-insensitive key (:func:`token_key`).
STOP_WORDS = frozenset(
    ["a", "al", "como", "con", "de", "del", "desde", "e", "el", "en", "la", "las", "lo", "los", "mediante", "o", "para", "por", "se", "sin", "sobre", "su", "sus", "tras", "u", "un", "una", "unas", "unos", "via", "y"]
)

_SUFFIXES = ("amiento", "imiento", "acion", "icion", "mente", "ico", "ica", "ia", "al", "a", "o", "e")


def tokens(text: str) -> list[str]:
    """Alphanumeric runs of the normalized text (punctuation dropped)."""
    return _TOKEN.findall(normalize_term(text))


def expand_abbreviations(words: list[str], abbreviations: dict[str, str] | None = None) -> list[str]:
    """Replace each normalized token found in ``abbreviations`` by its expansion's tokens."""
    table = ABBREVIATIONS if abbreviations is None else abbreviations
    out: list[str] = []
    for word in words:
        expansion = table.get(word)
        out.extend(expansion.split() if expansion else (word,))
    return out


def light_stem(word: str, min_stem: int = 4) -> str:
    """Strip a Spanish plural, then one derivational/gender suffix, keeping ``min_stem`` chars.

    Deliberately crude (``radiografías``/``radiográfico`` → ``radiograf``,
    ``trasplantes``/``trasplante`` → ``trasplant``): it only has to make
    plural, gender and adjective forms of a word meet.
    """
    if word.endswith("es") and len(word) - 2 >= min_stem and word[-3] not in "aeiou":
        word = word[:-2]
    elif word.endswith("s") and len(word) - 1 >= min_stem:
        word = word[:-1]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            return word[: -len(suffix)]
    return word


def expanded_text(text: str, abbreviations: dict[str, str] | None = None) -> str:
    """Normalized tokens with abbreviations expanded, joined by one space."""
    return " ".join(expand_abbreviations(tokens(text), abbreviations))


def token_key(text: str, abbreviations: dict[str, str] | None = None) -> str:
    """Word-order-insensitive key: sorted distinct stems of the content words.

    Abbreviations are expanded and stop words dropped (unless nothing else is
    left), so ``"analíticas sangre y orina"`` and ``"analítica de orina y
    sangre"`` share a key. Empty for text without letters or digits.
    """
    words = expand_abbreviations(tokens(text), abbreviations)
    content = [w for w in words if w not in STOP_WORDS] or words
    return " ".join(sorted({light_stem(w) for w in content}))
