"""Small Spanish vocabularies: kinship, professions, sex, quasi-identifier classes,
number words, months, contact domains. Licence: see ``__init__``.
"""
from __future__ import annotations

#: Kinship terms: (masculine singular, feminine singular, masculine plural, feminine plural).
KINSHIP: tuple[tuple[str, str, str, str], ...] = (
    ("padre", "madre", "padres", "madres"), ("hermano", "hermana", "hermanos", "hermanas"),
    ("hijo", "hija", "hijos", "hijas"), ("abuelo", "abuela", "abuelos", "abuelas"), ("tío", "tía", "tíos", "tías"),
    ("primo", "prima", "primos", "primas"), ("sobrino", "sobrina", "sobrinos", "sobrinas"),
    ("nieto", "nieta", "nietos", "nietas"), ("bisabuelo", "bisabuela", "bisabuelos", "bisabuelas"),
    ("cuñado", "cuñada", "cuñados", "cuñadas"), ("suegro", "suegra", "suegros", "suegras"),
    ("esposo", "esposa", "esposos", "esposas"), ("marido", "mujer", "maridos", "mujeres"),
    ("novio", "novia", "novios", "novias"), ("progenitor", "progenitora", "progenitores", "progenitoras"),
    ("familiar", "familiar", "familiares", "familiares"), ("pariente", "pariente", "parientes", "parientes"),
    ("pareja", "pareja", "parejas", "parejas"), ("familia", "familia", "familias", "familias"),
    ("tutor", "tutora", "tutores", "tutoras"), ("gemelo", "gemela", "gemelos", "gemelas"),
)  # fmt: skip

#: Lineage adjectives swapped with each other.
LINEAGE: dict[str, str] = {
    "materno": "paterno", "materna": "paterna", "maternos": "paternos", "maternas": "paternas",
    "paterno": "materno", "paterna": "materna", "paternos": "maternos", "paternas": "maternas",
}  # fmt: skip

#: Relative phrases used when a relative mention has nothing to swap.
RELATIVE_PHRASES: tuple[str, ...] = (
    "un primo", "una prima", "un tío", "una tía", "un vecino", "una vecina", "un allegado", "una allegada",
    "un sobrino", "una sobrina", "un cuñado", "una cuñada",
)  # fmt: skip

#: Professions: (masculine, feminine).
PROFESSIONS: tuple[tuple[str, str], ...] = (
    ("administrativo", "administrativa"), ("agricultor", "agricultora"), ("albañil", "albañil"),
    ("camarero", "camarera"), ("carpintero", "carpintera"), ("cocinero", "cocinera"), ("conductor", "conductora"),
    ("dependiente", "dependienta"), ("electricista", "electricista"), ("enfermero", "enfermera"),
    ("estudiante", "estudiante"), ("fontanero", "fontanera"), ("funcionario", "funcionaria"),
    ("ganadero", "ganadera"), ("ingeniero", "ingeniera"), ("jardinero", "jardinera"), ("maestro", "maestra"),
    ("mecánico", "mecánica"), ("panadero", "panadera"), ("peluquero", "peluquera"), ("pescador", "pescadora"),
    ("pintor", "pintora"), ("profesor", "profesora"), ("repartidor", "repartidora"), ("soldador", "soldadora"),
    ("taxista", "taxista"), ("transportista", "transportista"), ("vendedor", "vendedora"),
    ("vigilante de seguridad", "vigilante de seguridad"), ("operario de fábrica", "operaria de fábrica"),
    ("auxiliar administrativo", "auxiliar administrativa"), ("trabajador de la construcción", "trabajadora de la construcción"),
)  # fmt: skip

#: Sex and age-sex words and their other-sex counterpart (both directions listed).
SEX_SWAP: dict[str, str] = {
    "h": "M", "m": "H", "f": "M", "v": "M",
    "varon": "mujer", "mujer": "varón", "hombre": "mujer", "masculino": "femenino", "femenino": "masculino",
    "masculina": "femenina", "femenina": "masculina", "nino": "niña", "nina": "niño", "hembra": "varón",
    "macho": "hembra", "anciano": "anciana", "anciana": "anciano", "recien nacido": "recién nacida",
    "recien nacida": "recién nacido", "chico": "chica", "chica": "chico", "senor": "señora", "senora": "señor",
    "male": "female", "female": "male", "lactante": "lactante mujer",
}  # fmt: skip

#: Classes of quasi-identifying words; a member is replaced by another member of its class
#: with the same gender ending. Entries: (masculine, feminine).
OTHER_CLASSES: dict[str, tuple[tuple[str, str], ...]] = {
    "marital": (("soltero", "soltera"), ("casado", "casada"), ("viudo", "viuda"), ("divorciado", "divorciada"),
                ("separado", "separada")),
    "group": (("caucásico", "caucásica"), ("blanco", "blanca"), ("negro", "negra"), ("mestizo", "mestiza"),
              ("magrebí", "magrebí"), ("subsahariano", "subsahariana"), ("asiático", "asiática"),
              ("latino", "latina"), ("gitano", "gitana"), ("moreno", "morena")),
    "nationality": (("español", "española"), ("boliviano", "boliviana"), ("peruano", "peruana"),
                    ("ecuatoriano", "ecuatoriana"), ("colombiano", "colombiana"), ("marroquí", "marroquí"),
                    ("rumano", "rumana"), ("chino", "china"), ("vietnamita", "vietnamita"), ("afgano", "afgana"),
                    ("argentino", "argentina"), ("venezolano", "venezolana"), ("cubano", "cubana"),
                    ("senegalés", "senegalesa"), ("ucraniano", "ucraniana"), ("paraguayo", "paraguaya")),
    "age_group": (("lactante", "lactante"), ("neonato", "neonata"), ("niño", "niña"), ("adolescente", "adolescente"),
                  ("joven", "joven"), ("anciano", "anciana"), ("recién nacido", "recién nacida"), ("adulto", "adulta")),
    "orientation": (("heterosexual", "heterosexual"), ("homosexual", "homosexual"), ("bisexual", "bisexual")),
}  # fmt: skip

#: Spanish number words 0–29 (the tens and "cien" are built in code).
UNITS: tuple[str, ...] = (
    "cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "once", "doce",
    "trece", "catorce", "quince", "dieciséis", "diecisiete", "dieciocho", "diecinueve", "veinte", "veintiuno",
    "veintidós", "veintitrés", "veinticuatro", "veinticinco", "veintiséis", "veintisiete", "veintiocho", "veintinueve",
)  # fmt: skip
TENS: dict[int, str] = {30: "treinta", 40: "cuarenta", 50: "cincuenta", 60: "sesenta", 70: "setenta", 80: "ochenta", 90: "noventa"}

MONTHS: tuple[str, ...] = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre",
    "diciembre",
)  # fmt: skip
MONTH_ABBREVIATIONS: tuple[str, ...] = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")
WEEKDAYS: tuple[str, ...] = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")

EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com", "hotmail.com", "hotmail.es", "yahoo.es", "outlook.es", "outlook.com", "telefonica.net", "correo.es",
    "movistar.es", "orange.es",
)  # fmt: skip
URL_WORDS: tuple[str, ...] = (
    "salud", "clinica", "consulta", "centromedico", "sanidad", "pacientes", "cuidados", "bienestar", "medicina",
    "asociacion", "fundacion", "informacion",
)  # fmt: skip
