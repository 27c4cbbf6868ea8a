"""Hospitals, health centre names and other institutions. Licence: see ``__init__``."""
from __future__ import annotations

HOSPITALS: tuple[str, ...] = (
    "Hospital Universitario La Paz", "Hospital General Universitario Gregorio Marañón",
    "Hospital Universitario 12 de Octubre", "Hospital Clínico San Carlos", "Hospital Universitario Ramón y Cajal",
    "Hospital Universitario de La Princesa", "Hospital Universitario Puerta de Hierro Majadahonda",
    "Hospital Universitario Fundación Jiménez Díaz", "Hospital Universitario Infanta Leonor",
    "Hospital Universitario Severo Ochoa", "Hospital Universitario de Getafe",
    "Hospital Universitario Príncipe de Asturias", "Hospital Clínic de Barcelona",
    "Hospital Universitari Vall d'Hebron", "Hospital de la Santa Creu i Sant Pau", "Hospital del Mar",
    "Hospital Universitari de Bellvitge", "Hospital Universitari Germans Trias i Pujol",
    "Hospital Universitari Arnau de Vilanova", "Hospital Universitari Doctor Josep Trueta",
    "Hospital Universitari Joan XXIII", "Hospital Universitario y Politécnico La Fe",
    "Hospital Clínico Universitario de Valencia", "Hospital General Universitario de Alicante",
    "Hospital General Universitario de Elche", "Hospital Universitario Doctor Peset",
    "Hospital Universitario Virgen del Rocío", "Hospital Universitario Virgen Macarena",
    "Hospital Universitario Virgen de las Nieves", "Hospital Universitario Reina Sofía",
    "Hospital Regional Universitario de Málaga", "Hospital Universitario Virgen de la Victoria",
    "Hospital Universitario Puerta del Mar", "Hospital Universitario Torrecárdenas", "Hospital Universitario de Jaén",
    "Hospital Juan Ramón Jiménez", "Hospital Universitario Miguel Servet", "Hospital Clínico Universitario Lozano Blesa",
    "Hospital Universitario Marqués de Valdecilla", "Hospital Universitario Central de Asturias",
    "Hospital Universitario de Cabueñes", "Complejo Hospitalario Universitario de Santiago",
    "Complejo Hospitalario Universitario de A Coruña", "Hospital Álvaro Cunqueiro",
    "Complejo Hospitalario Universitario de Ourense", "Hospital Universitario Lucus Augusti",
    "Hospital Universitario de Cruces", "Hospital Universitario Donostia", "Hospital Universitario de Basurto",
    "Hospital Universitario Araba", "Hospital Universitario de Navarra", "Hospital Reina Sofía de Tudela",
    "Hospital San Pedro de Logroño", "Hospital Clínico Universitario de Valladolid",
    "Hospital Universitario Río Hortega", "Complejo Asistencial Universitario de Salamanca",
    "Complejo Asistencial Universitario de León", "Hospital Universitario de Burgos",
    "Complejo Hospitalario Universitario de Albacete", "Hospital General Universitario de Ciudad Real",
    "Hospital Universitario de Guadalajara", "Complejo Hospitalario Universitario de Toledo",
    "Hospital Virgen de la Luz", "Hospital Universitario de Badajoz", "Hospital San Pedro de Alcántara",
    "Hospital Clínico Universitario Virgen de la Arrixaca", "Hospital General Universitario Santa Lucía",
    "Hospital Universitario Son Espases", "Hospital Universitario Son Llàtzer", "Hospital Universitario de Canarias",
    "Hospital Universitario Nuestra Señora de Candelaria", "Hospital Universitario de Gran Canaria Doctor Negrín",
    "Hospital Universitario Insular de Gran Canaria", "Hospital Universitario de Ceuta", "Hospital Comarcal de Melilla",
)  # fmt: skip

#: Names of neighbourhoods and areas used in "Centro de Salud <name>" surrogates.
HEALTH_CENTRE_AREAS: tuple[str, ...] = (
    "Las Fuentes", "Delicias", "San Blas", "La Chopera", "El Arrabal", "Casco Viejo", "Los Ángeles", "Ensanche",
    "Puerta del Ángel", "La Victoria", "El Palo", "San Andrés", "Valdepasillas", "Zona Centro", "Zona Norte",
    "Zona Sur", "La Alameda", "Las Huertas", "El Carmen", "San Roque", "Santa Clara", "Vista Alegre", "La Estación",
    "El Puerto", "Los Pinos", "La Magdalena", "San Lorenzo", "El Molino", "Campo de la Cruz", "Barrio Nuevo",
)  # fmt: skip

INSTITUTIONS: tuple[str, ...] = (
    "Universidad de Salamanca", "Universidad Complutense de Madrid", "Universidad de Granada", "Universidad de Sevilla",
    "Universidad de Zaragoza", "Universidad de Oviedo", "Universidad del País Vasco", "Universitat de València",
    "Universitat de Barcelona", "Universidad de Murcia", "Instituto de Salud Carlos III",
    "Instituto Nacional de Toxicología y Ciencias Forenses", "Instituto de Medicina Legal de Aragón",
    "Instituto de Medicina Legal de Galicia", "Agencia Española de Medicamentos y Productos Sanitarios",
    "Organización Nacional de Trasplantes", "Centro Nacional de Epidemiología", "Cruz Roja Española",
    "Escuela Nacional de Sanidad", "Colegio Oficial de Médicos", "Colegio Oficial de Enfermería",
    "Servicio de Emergencias 112", "Fundación para la Investigación Biomédica", "Residencia de Mayores Los Olivos",
    "Residencia San Rafael", "Facultad de Medicina", "Centro de Rehabilitación Psicosocial Los Álamos",
    "Servicio de Salud Laboral", "Centro Penitenciario", "Juzgado de Primera Instancia",
)  # fmt: skip

#: Normalized starts that make an institution a hospital or a health centre.
HOSPITAL_WORDS: tuple[str, ...] = (
    "hospital", "complejo hospitalario", "complexo hospitalario", "complejo asistencial", "clinica", "clinic ",
    "policlinica", "sanatorio", "hcu", "h.u.", "hu ", "huca", "hgu", "fundacion jimenez diaz", "hosp",
)  # fmt: skip
HEALTH_CENTRE_WORDS: tuple[str, ...] = ("centro de salud", "c.s.", "cs ", "consultorio", "cap ", "centre d'atencio primaria", "ambulatorio")
