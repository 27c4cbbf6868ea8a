"""Street names and street type prefixes. Licence: see ``__init__``."""
from __future__ import annotations

STREET_NAMES: tuple[str, ...] = (
    "Mayor", "Real", "Nueva", "Ancha", "de la Iglesia", "del Sol", "de la Paz", "de la Constitución",
    "San Francisco", "San Antonio", "San Juan", "San Pedro", "San José", "Santa Ana", "Santa María", "del Carmen",
    "del Rosario", "de la Libertad", "de Cervantes", "de Goya", "de Velázquez", "de Colón", "de Pablo Picasso",
    "de Miguel de Unamuno", "de Antonio Machado", "de Federico García Lorca", "de Juan Ramón Jiménez",
    "de Rosalía de Castro", "de Ramón y Cajal", "del Doctor Fleming", "de Severo Ochoa", "de Isaac Peral",
    "de Jacinto Benavente", "de Pío Baroja", "de Concepción Arenal", "de Clara Campoamor", "de los Reyes Católicos",
    "de Castilla", "de Aragón", "de Andalucía", "de Galicia", "de los Olmos", "de los Pinos", "de las Acacias",
    "de los Álamos", "de las Rosas", "de los Almendros", "de los Naranjos", "del Olivo", "del Pinar",
    "de la Fuente", "del Río", "del Mar", "de la Estación", "del Puerto", "de la Alameda", "del Molino",
    "de la Ermita", "del Convento", "del Castillo", "de la Muralla", "del Prado", "de la Vega", "del Campo",
    "de la Huerta", "de la Ribera", "del Parque", "de los Mártires", "de la Victoria", "de la Esperanza",
    "de la Cultura", "de la Industria", "del Comercio", "de los Artesanos", "de la Marina", "de Europa",
    "de América", "de Portugal", "de Italia", "del Sur", "del Norte", "de Levante", "de Poniente", "de la Luna",
    "de las Flores", "de la Rosaleda", "del Pilar", "de Santiago", "de San Roque", "de San Vicente",
    "de Santa Teresa", "de Santa Lucía", "de Santa Bárbara", "de San Isidro", "de San Cristóbal", "de Echegaray",
    "de Zorrilla", "de Quevedo", "de Góngora", "de Lope de Vega", "de Calderón de la Barca", "de Bécquer",
    "de Espronceda", "de Larra", "de Galdós", "de Emilia Pardo Bazán", "de Menéndez Pelayo", "de Jovellanos",
    "de Sorolla", "de Murillo", "de Zurbarán", "de Joaquín Costa", "de Manuel de Falla", "de Isaac Albéniz",
    "de Enrique Granados", "de Joaquín Rodrigo", "de la Trinidad", "de las Huertas", "de los Tilos",
)  # fmt: skip

#: Street type words and abbreviations recognized at the start of a street (normalized,
#: without the trailing dot or slash); the original spelling is kept in the surrogate.
STREET_TYPES: frozenset[str] = frozenset(
    {"calle", "c", "cl", "av", "avd", "avda", "avenida", "avenido", "paseo", "pso", "po", "pº", "plaza", "pza", "pl",
     "ctra", "carretera", "carrer", "rua", "ronda", "camino", "cno", "glorieta", "travesia", "trav", "passeig",
     "avinguda", "placa", "urbanizacion", "urb", "callejon", "paraje", "carrera", "colonia", "apartado", "calla",
     "bulevar", "pasaje", "psje", "cuesta", "costanilla", "rambla", "via", "poligono", "barrio", "bo", "cr"}
)  # fmt: skip
