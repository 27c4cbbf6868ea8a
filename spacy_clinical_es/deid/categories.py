"""Label → surrogate category: MEDDOCAN labels, the coarse scheme, common aliases.

The randomizer works per *category*, not per label, so it accepts the 22
MEDDOCAN labels, the coarse labels of
``spacy_clinical_es.corpora.builders.deid.COARSE_MAPPING`` (NAME, DIR, LOC,
NUM, FECHA, INST, EDAD, SEXO, CONTACTO, PROFESION, OTROS) and the usual
generic NER labels (PER, LOC, ORG, DATE…). Coarse labels that merge several
kinds (LOC, INST, CONTACTO, OTROS) are resolved by the span's content. A
label that is none of these gets :data:`OTHER`: its span is still replaced.
"""
from __future__ import annotations

import re

from .people import is_relative
from .places import is_country
from .resources.institutions_es import HEALTH_CENTRE_WORDS, HOSPITAL_WORDS
from .textutil import normalize

NAME = "NAME"
STREET = "STREET"
TERRITORY = "TERRITORY"
COUNTRY = "COUNTRY"
ID = "ID"
DATE = "DATE"
HOSPITAL = "HOSPITAL"
HEALTH_CENTRE = "HEALTH_CENTRE"
INSTITUTION = "INSTITUTION"
AGE = "AGE"
SEX = "SEX"
PHONE = "PHONE"
FAX = "FAX"
EMAIL = "EMAIL"
URL = "URL"
IP = "IP"
PROFESSION = "PROFESSION"
RELATIVE = "RELATIVE"
OTHER = "OTHER"

#: Categories resolved by content.
_LOCATION = "LOCATION"
_INST = "INST"
_CONTACT = "CONTACT"
_OTHER_OR_RELATIVE = "OTHER_OR_RELATIVE"

CATEGORIES: tuple[str, ...] = (
    NAME, STREET, TERRITORY, COUNTRY, ID, DATE, HOSPITAL, HEALTH_CENTRE, INSTITUTION, AGE, SEX, PHONE, FAX,
    EMAIL, URL, IP, PROFESSION, RELATIVE, OTHER,
)  # fmt: skip

#: Label (upper case) → category or content-resolved group.
LABEL_CATEGORIES: dict[str, str] = {
    # MEDDOCAN (fine) labels, guideline types included.
    "NOMBRE_SUJETO_ASISTENCIA": NAME,
    "NOMBRE_PERSONAL_SANITARIO": NAME,
    "CALLE": STREET,
    "TERRITORIO": TERRITORY,
    "PAIS": COUNTRY,
    "ID_SUJETO_ASISTENCIA": ID,
    "ID_ASEGURAMIENTO": ID,
    "ID_CONTACTO_ASISTENCIAL": ID,
    "ID_TITULACION_PERSONAL_SANITARIO": ID,
    "ID_EMPLEO_PERSONAL_SANITARIO": ID,
    "NUMERO_BENEF_PLAN_SALUD": ID,
    "IDENTIF_VEHICULOS_NRSERIE_PLACAS": ID,
    "IDENTIF_DISPOSITIVOS_NRSERIE": ID,
    "IDENTIF_BIOMETRICOS": ID,
    "OTRO_NUMERO_IDENTIF": ID,
    "FECHAS": DATE,
    "HOSPITAL": HOSPITAL,
    "CENTRO_SALUD": HEALTH_CENTRE,
    "INSTITUCION": INSTITUTION,
    "EDAD_SUJETO_ASISTENCIA": AGE,
    "SEXO_SUJETO_ASISTENCIA": SEX,
    "NUMERO_TELEFONO": PHONE,
    "NUMERO_FAX": FAX,
    "CORREO_ELECTRONICO": EMAIL,
    "URL_WEB": URL,
    "DIREC_PROT_INTERNET": IP,
    "PROFESION": PROFESSION,
    "FAMILIARES_SUJETO_ASISTENCIA": RELATIVE,
    "OTROS_SUJETO_ASISTENCIA": OTHER,
    # Coarse labels (corpora.builders.deid.COARSE_MAPPING).
    "NAME": NAME,
    "DIR": STREET,
    "LOC": _LOCATION,
    "NUM": ID,
    "FECHA": DATE,
    "INST": _INST,
    "EDAD": AGE,
    "SEXO": SEX,
    "CONTACTO": _CONTACT,
    "OTROS": _OTHER_OR_RELATIVE,
    # Generic aliases.
    "PER": NAME,
    "PERSON": NAME,
    "PERSONA": NAME,
    "NOMBRE": NAME,
    "GPE": _LOCATION,
    "LUGAR": _LOCATION,
    "ORG": _INST,
    "DATE": DATE,
    "AGE": AGE,
    "ID": ID,
    "PHONE": PHONE,
    "EMAIL": EMAIL,
    "URL": URL,
}

#: Category → tag written by ``mode="mask"`` (``[NOMBRE]``).
MASK_TAGS: dict[str, str] = {
    NAME: "NOMBRE",
    STREET: "CALLE",
    TERRITORY: "TERRITORIO",
    COUNTRY: "PAIS",
    ID: "ID",
    DATE: "FECHA",
    HOSPITAL: "HOSPITAL",
    HEALTH_CENTRE: "CENTRO_SALUD",
    INSTITUTION: "INSTITUCION",
    AGE: "EDAD",
    SEX: "SEXO",
    PHONE: "TELEFONO",
    FAX: "FAX",
    EMAIL: "EMAIL",
    URL: "URL",
    IP: "IP",
    PROFESSION: "PROFESION",
    RELATIVE: "FAMILIAR",
    OTHER: "OTROS",
}

EMAIL_RE = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
URL_RE = re.compile(r"^(?:https?://|www\.)\S+$|^\S+\.(?:es|com|org|net|eu|cat|gal|eus)(?:/\S*)?$", re.IGNORECASE)
IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
IPV6_RE = re.compile(r"^[0-9a-fA-F:]{2,39}$")


def _contact_category(text: str) -> str:
    stripped = text.strip()
    if EMAIL_RE.match(stripped):
        return EMAIL
    if IPV4_RE.match(stripped) or (":" in stripped and IPV6_RE.match(stripped)):
        return IP
    if URL_RE.match(stripped):
        return URL
    return PHONE


def _inst_category(text: str) -> str:
    norm = normalize(text) + " "
    if any(norm.startswith(word) for word in HOSPITAL_WORDS):
        return HOSPITAL
    if any(norm.startswith(word) for word in HEALTH_CENTRE_WORDS):
        return HEALTH_CENTRE
    return INSTITUTION


def is_phi_label(label: str) -> bool:
    """Whether ``label`` names a kind of PHI (a MEDDOCAN, coarse or generic label above), not e.g. a disease."""
    return label.upper() in LABEL_CATEGORIES


def category_of(label: str, text: str) -> str:
    """The surrogate category of a span (see the module docstring)."""
    group = LABEL_CATEGORIES.get(label.upper(), OTHER)
    if group == _LOCATION:
        return COUNTRY if is_country(text) else TERRITORY
    if group == _INST:
        return _inst_category(text)
    if group == _CONTACT:
        return _contact_category(text)
    if group == _OTHER_OR_RELATIVE:
        return RELATIVE if is_relative(text) else OTHER
    return group


def mask_tag(label: str, category: str) -> str:
    """The mask tag of a span: the category's tag, or the label for unknown labels."""
    if label.upper() not in LABEL_CATEGORIES:
        return label
    return MASK_TAGS[category]
