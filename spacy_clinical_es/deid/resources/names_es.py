"""Common Spanish first names (by gender) and surnames. Licence: see ``__init__``."""
from __future__ import annotations

MALE_FIRST_NAMES: tuple[str, ...] = (
    "Antonio", "José", "Manuel", "Francisco", "David", "Juan", "Javier", "Daniel", "Carlos", "Jesús",
    "Alejandro", "Miguel", "Rafael", "Pedro", "Pablo", "Ángel", "Sergio", "Fernando", "Jorge", "Luis",
    "Alberto", "Álvaro", "Adrián", "Diego", "Raúl", "Enrique", "Ramón", "Vicente", "Iván", "Rubén",
    "Óscar", "Andrés", "Joaquín", "Santiago", "Eduardo", "Víctor", "Roberto", "Jaime", "Mario", "Ignacio",
    "Alfonso", "Salvador", "Ricardo", "Marcos", "Jordi", "Emilio", "Julián", "Julio", "Guillermo", "Gabriel",
    "Tomás", "Agustín", "Marc", "Gonzalo", "Félix", "Hugo", "Lucas", "Martín", "Nicolás", "Samuel",
    "Héctor", "Mariano", "Ismael", "Cristian", "Aitor", "Iker", "Gregorio", "Domingo", "Alfredo", "Sebastián",
    "Felipe", "Esteban", "Lorenzo", "Arturo", "Rodrigo", "Gerardo", "Benito", "Eugenio", "Bruno", "Mateo",
    "Izan", "Unai", "Asier", "Xavier", "Pau", "Joan", "Josep", "Xabier", "Borja", "Íñigo",
    "Gorka", "Ernesto", "Germán", "Marcelino", "Cristóbal", "Valentín", "Elías", "Simón", "Abel", "Aurelio",
    "Bernardo", "Clemente", "Damián", "Eloy", "Fidel", "Gaspar", "Jacinto", "Leonardo", "Matías", "Octavio",
    "Patricio", "Rogelio", "Saturnino", "Teodoro", "Marcelo", "Lisardo", "Anselmo", "Benjamín", "Ezequiel", "Fermín",
)  # fmt: skip

FEMALE_FIRST_NAMES: tuple[str, ...] = (
    "María", "Carmen", "Ana", "Isabel", "Laura", "Cristina", "Marta", "Dolores", "Lucía", "Pilar",
    "Elena", "Paula", "Sara", "Raquel", "Rosa", "Manuela", "Mercedes", "Teresa", "Beatriz", "Nuria",
    "Silvia", "Julia", "Irene", "Patricia", "Alba", "Andrea", "Rocío", "Montserrat", "Mónica", "Rosario",
    "Sonia", "Alicia", "Marina", "Sandra", "Susana", "Yolanda", "Natalia", "Margarita", "Inmaculada", "Claudia",
    "Eva", "Esther", "Ángela", "Noelia", "Verónica", "Carolina", "Nerea", "Sofía", "Encarnación", "Victoria",
    "Amparo", "Lorena", "Daniela", "Antonia", "Josefa", "Francisca", "Concepción", "Consuelo", "Remedios", "Milagros",
    "Lourdes", "Gloria", "Inés", "Olga", "Almudena", "Begoña", "Ainhoa", "Leire", "Itziar", "Aitana",
    "Carla", "Martina", "Valeria", "Emma", "Noa", "Olivia", "Adriana", "Blanca", "Celia", "Clara",
    "Diana", "Estefanía", "Fátima", "Gemma", "Lidia", "Míriam", "Paloma", "Rebeca", "Soledad", "Tamara",
    "Vanesa", "Zoe", "Aurora", "Belén", "Cecilia", "Esperanza", "Eugenia", "Guadalupe", "Jimena", "Leonor",
    "Luisa", "Maite", "Matilde", "Nieves", "Purificación", "Ramona", "Trinidad", "Vicenta", "Virginia", "Adela",
    "Agustina", "Amaia", "Araceli", "Asunción", "Catalina", "Elisa", "Emilia", "Graciela", "Judith", "Lorena",
)  # fmt: skip

SURNAMES: tuple[str, ...] = (
    "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín",
    "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez",
    "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina",
    "Morales", "Suárez", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín", "Sanz", "Núñez",
    "Iglesias", "Medina", "Garrido", "Cortés", "Castillo", "Santos", "Lozano", "Guerrero", "Cano", "Prieto",
    "Méndez", "Cruz", "Calvo", "Gallego", "Vidal", "León", "Márquez", "Herrera", "Peña", "Flores",
    "Cabrera", "Campos", "Vega", "Fuentes", "Carrasco", "Díez", "Caballero", "Reyes", "Nieto", "Aguilar",
    "Pascual", "Santana", "Herrero", "Lorenzo", "Montero", "Hidalgo", "Giménez", "Ibáñez", "Ferrer", "Durán",
    "Santiago", "Benítez", "Mora", "Vicente", "Vargas", "Arias", "Carmona", "Crespo", "Román", "Pastor",
    "Soto", "Sáez", "Velasco", "Moya", "Soler", "Parra", "Esteban", "Bravo", "Gallardo", "Rojas",
    "Pardo", "Merino", "Franco", "Espinosa", "Izquierdo", "Lara", "Rivas", "Silva", "Rivera", "Casado",
    "Arroyo", "Redondo", "Camacho", "Rey", "Vera", "Otero", "Luque", "Galán", "Montes", "Ríos",
    "Sierra", "Segura", "Carrillo", "Marcos", "Soriano", "Mendoza", "Robles", "Bernal", "Vila", "Valero",
    "Palacios", "Benito", "Pozo", "Bueno", "Aranda", "Salas", "Contreras", "Beltrán", "Cuesta", "Trujillo",
    "Mateo", "Miranda", "Macías", "Heredia", "Vallejo", "Rosales", "Toledo", "Guillén", "Manzano", "Blasco",
    "Escobar", "Villar", "Ávila", "Zamora", "Rincón", "Salazar", "Quintana", "Bermúdez", "Cordero", "Fajardo",
    "Valle", "Maldonado", "Barrera", "Ballesteros", "Aparicio", "Plaza", "Acosta", "Polo", "Mesa", "Sosa",
    "Figueroa", "Paredes", "Tapia", "Andrés", "Estévez", "Gracia", "Villanueva", "Lucas", "Osorio", "Caro",
    "Pacheco", "Chacón", "Cid", "Conde", "Mata", "Oliva", "Padilla", "Pineda", "Quiroga", "Rico",
    "Sancho", "Tomás", "Ugarte", "Uribe", "Varela", "Zapata", "Echeverría", "Etxeberria", "Goñi", "Arrieta",
    "Aguirre", "Olano", "Puig", "Roca", "Serra", "Mas", "Pons", "Costa", "Font", "Sala",
    "Riera", "Casas", "Bosch", "Castells", "Couto", "Fraga", "Lema", "Souto", "Piñeiro", "Rial",
)  # fmt: skip

#: Lower-case words inside names that are kept as written.
NAME_PARTICLES: frozenset[str] = frozenset(
    {"de", "del", "la", "las", "los", "y", "i", "e", "da", "das", "do", "dos", "di", "van", "von", "der", "den", "le", "el"}
)

#: Titles and forms of address kept as written (compared without dots).
NAME_TITLES: frozenset[str] = frozenset(
    {"dr", "dra", "dres", "dn", "don", "dona", "dna", "sr", "sra", "srta", "sres", "prof", "profa", "lic", "enf", "mr", "mrs", "ms"}
)
