"""Spanish provinces (postal code prefix, names, capital, municipalities), regions,
countries and foreign cities. Licence: see ``__init__``.

``PROVINCES`` maps the two-digit postal code prefix (the INE province code) to
``(names, capital, other municipalities)``; the first name is the one used
for surrogates, the others are recognized too.
"""
from __future__ import annotations

PROVINCES: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "01": (("Álava", "Araba", "Araba/Álava"), "Vitoria-Gasteiz", ("Llodio", "Amurrio", "Salvatierra", "Laguardia", "Vitoria")),
    "02": (("Albacete",), "Albacete", ("Hellín", "Villarrobledo", "Almansa", "La Roda", "Caudete")),
    "03": (("Alicante", "Alacant"), "Alicante", ("Elche", "Benidorm", "Torrevieja", "Orihuela", "Alcoy", "San Vicente del Raspeig", "Villajoyosa", "Elda", "Dénia")),
    "04": (("Almería",), "Almería", ("Roquetas de Mar", "El Ejido", "Níjar", "Vícar", "Huércal-Overa", "Adra")),
    "05": (("Ávila",), "Ávila", ("Arévalo", "Las Navas del Marqués", "Arenas de San Pedro", "Candeleda")),
    "06": (("Badajoz",), "Badajoz", ("Mérida", "Don Benito", "Almendralejo", "Villanueva de la Serena", "Zafra")),
    "07": (("Illes Balears", "Islas Baleares", "Baleares", "Mallorca"), "Palma", ("Calvià", "Manacor", "Ibiza", "Llucmajor", "Inca", "Ciutadella", "Mahón", "Palma de Mallorca")),
    "08": (("Barcelona",), "Barcelona", ("L'Hospitalet de Llobregat", "Badalona", "Terrassa", "Sabadell", "Mataró", "Santa Coloma de Gramenet", "Cornellà de Llobregat", "Sant Cugat del Vallès", "Manresa", "Vic", "Granollers")),
    "09": (("Burgos",), "Burgos", ("Miranda de Ebro", "Aranda de Duero", "Briviesca", "Medina de Pomar")),
    "10": (("Cáceres",), "Cáceres", ("Plasencia", "Navalmoral de la Mata", "Coria", "Trujillo", "Miajadas")),
    "11": (("Cádiz",), "Cádiz", ("Jerez de la Frontera", "Algeciras", "San Fernando", "El Puerto de Santa María", "Chiclana de la Frontera", "La Línea de la Concepción", "Sanlúcar de Barrameda", "Arcos de la Frontera", "Puerto de Santa María")),
    "12": (("Castellón", "Castelló"), "Castellón de la Plana", ("Vila-real", "Burriana", "Vinaròs", "Benicarló", "Onda")),
    "13": (("Ciudad Real",), "Ciudad Real", ("Puertollano", "Tomelloso", "Alcázar de San Juan", "Valdepeñas", "Manzanares", "Daimiel")),
    "14": (("Córdoba",), "Córdoba", ("Lucena", "Puente Genil", "Montilla", "Priego de Córdoba", "Cabra", "Palma del Río")),
    "15": (("A Coruña", "La Coruña", "Coruña"), "A Coruña", ("Santiago de Compostela", "Ferrol", "Narón", "Oleiros", "Arteixo", "Carballo", "Culleredo", "Santiago")),
    "16": (("Cuenca",), "Cuenca", ("Tarancón", "San Clemente", "Motilla del Palancar", "Quintanar del Rey")),
    "17": (("Girona", "Gerona"), "Girona", ("Figueres", "Blanes", "Lloret de Mar", "Olot", "Salt", "Palafrugell")),
    "18": (("Granada",), "Granada", ("Motril", "Almuñécar", "Armilla", "Maracena", "Loja", "Baza", "Guadix")),
    "19": (("Guadalajara",), "Guadalajara", ("Azuqueca de Henares", "Alovera", "Cabanillas del Campo", "Sigüenza")),
    "20": (("Gipuzkoa", "Guipúzcoa"), "Donostia-San Sebastián", ("Irun", "Errenteria", "Eibar", "Zarautz", "Arrasate", "Hernani", "Tolosa", "Andoain", "San Sebastián", "Donostia")),
    "21": (("Huelva",), "Huelva", ("Lepe", "Almonte", "Moguer", "Ayamonte", "Isla Cristina")),
    "22": (("Huesca",), "Huesca", ("Monzón", "Barbastro", "Fraga", "Jaca", "Sabiñánigo")),
    "23": (("Jaén",), "Jaén", ("Linares", "Andújar", "Úbeda", "Martos", "Alcalá la Real", "Baeza")),
    "24": (("León",), "León", ("Ponferrada", "San Andrés del Rabanedo", "Villaquilambre", "Astorga", "La Bañeza")),
    "25": (("Lleida", "Lérida"), "Lleida", ("Balaguer", "Tàrrega", "Mollerussa", "La Seu d'Urgell")),
    "26": (("La Rioja", "Rioja"), "Logroño", ("Calahorra", "Arnedo", "Haro", "Alfaro", "Lardero")),
    "27": (("Lugo",), "Lugo", ("Monforte de Lemos", "Viveiro", "Vilalba", "Sarria", "Burela")),
    "28": (("Madrid", "Comunidad de Madrid"), "Madrid", ("Móstoles", "Alcalá de Henares", "Fuenlabrada", "Leganés", "Getafe", "Alcorcón", "Torrejón de Ardoz", "Parla", "Alcobendas", "Las Rozas de Madrid", "Pozuelo de Alarcón", "Majadahonda", "Aranjuez", "Arganda del Rey", "Tres Cantos", "Collado Villalba", "Torrelodones", "San Sebastián de los Reyes")),
    "29": (("Málaga",), "Málaga", ("Marbella", "Mijas", "Vélez-Málaga", "Fuengirola", "Torremolinos", "Benalmádena", "Estepona", "Antequera", "Ronda")),
    "30": (("Murcia", "Región de Murcia"), "Murcia", ("Cartagena", "Lorca", "Molina de Segura", "Alcantarilla", "Mazarrón", "Águilas", "Yecla", "Cieza")),
    "31": (("Navarra", "Nafarroa", "Comunidad Foral de Navarra"), "Pamplona", ("Tudela", "Barañáin", "Burlada", "Estella-Lizarra", "Tafalla", "Zizur Mayor", "Estella", "Barañain", "Iruña")),
    "32": (("Ourense", "Orense"), "Ourense", ("Verín", "O Barco de Valdeorras", "O Carballiño", "Xinzo de Limia")),
    "33": (("Asturias", "Principado de Asturias"), "Oviedo", ("Gijón", "Avilés", "Siero", "Langreo", "Mieres", "Castrillón", "Llanera", "Lugo de Llanera")),
    "34": (("Palencia",), "Palencia", ("Guardo", "Aguilar de Campoo", "Venta de Baños", "Dueñas")),
    "35": (("Las Palmas", "Gran Canaria"), "Las Palmas de Gran Canaria", ("Telde", "Santa Lucía de Tirajana", "Arrecife", "San Bartolomé de Tirajana", "Puerto del Rosario", "Arucas")),
    "36": (("Pontevedra",), "Pontevedra", ("Vigo", "Vilagarcía de Arousa", "Redondela", "Cangas", "Marín", "Lalín", "Ponteareas")),
    "37": (("Salamanca",), "Salamanca", ("Béjar", "Ciudad Rodrigo", "Santa Marta de Tormes", "Villamayor", "Peñaranda de Bracamonte")),
    "38": (("Santa Cruz de Tenerife", "Tenerife"), "Santa Cruz de Tenerife", ("San Cristóbal de La Laguna", "Arona", "Adeje", "La Orotava", "Puerto de la Cruz", "Los Realejos", "Granadilla de Abona", "La Laguna")),
    "39": (("Cantabria",), "Santander", ("Torrelavega", "Castro-Urdiales", "Camargo", "Piélagos", "Laredo", "Santoña", "Reinosa", "Reocín")),
    "40": (("Segovia",), "Segovia", ("Cuéllar", "San Ildefonso", "El Espinar", "Cantalejo")),
    "41": (("Sevilla",), "Sevilla", ("Dos Hermanas", "Alcalá de Guadaíra", "Utrera", "Mairena del Aljarafe", "Écija", "La Rinconada", "Los Palacios y Villafranca", "Carmona")),
    "42": (("Soria",), "Soria", ("Almazán", "El Burgo de Osma", "Ólvega", "San Leonardo de Yagüe")),
    "43": (("Tarragona",), "Tarragona", ("Reus", "Tortosa", "Cambrils", "Salou", "El Vendrell", "Valls", "Amposta")),
    "44": (("Teruel",), "Teruel", ("Alcañiz", "Andorra", "Calamocha", "Utrillas")),
    "45": (("Toledo",), "Toledo", ("Talavera de la Reina", "Illescas", "Seseña", "Torrijos", "Quintanar de la Orden", "Consuegra", "Ocaña")),
    "46": (("Valencia", "València"), "Valencia", ("Torrent", "Gandia", "Paterna", "Sagunto", "Mislata", "Burjassot", "Ontinyent", "Xàtiva", "Alzira", "Manises", "Requena")),
    "47": (("Valladolid",), "Valladolid", ("Medina del Campo", "Laguna de Duero", "Arroyo de la Encomienda", "Tordesillas", "Íscar", "Medina de Rioseco")),
    "48": (("Bizkaia", "Vizcaya"), "Bilbao", ("Barakaldo", "Getxo", "Portugalete", "Santurtzi", "Basauri", "Leioa", "Galdakao", "Durango", "Sestao", "Erandio", "Baracaldo")),
    "49": (("Zamora",), "Zamora", ("Benavente", "Toro", "Puebla de Sanabria", "Villalpando")),
    "50": (("Zaragoza",), "Zaragoza", ("Calatayud", "Utebo", "Ejea de los Caballeros", "Tarazona", "Caspe", "La Almunia de Doña Godina")),
    "51": (("Ceuta",), "Ceuta", ()),
    "52": (("Melilla",), "Melilla", ()),
}  # fmt: skip

#: Spellings recognized as a municipality but never produced (variants listed above
#: after the canonical spelling are recognized too; these are the first spelling of
#: each tuple that should not be offered as a surrogate).
NON_SURROGATE_MUNICIPALITIES: frozenset[str] = frozenset(
    {"Vitoria", "Palma de Mallorca", "Puerto de Santa María", "Santiago", "San Sebastián", "Donostia", "Estella",
     "Barañain", "Iruña", "Lugo de Llanera", "La Laguna", "Baracaldo", "Reocín"}
)  # fmt: skip

REGIONS: tuple[str, ...] = (
    "Andalucía", "Aragón", "Canarias", "Castilla y León", "Castilla-La Mancha", "Cataluña", "Comunidad Valenciana",
    "Extremadura", "Galicia", "País Vasco", "Euskadi", "Catalunya", "Comunitat Valenciana",
)  # fmt: skip

#: Region names used as surrogates (a subset of REGIONS without duplicate spellings).
SURROGATE_REGIONS: tuple[str, ...] = (
    "Andalucía", "Aragón", "Canarias", "Castilla y León", "Castilla-La Mancha", "Cataluña", "Comunidad Valenciana",
    "Extremadura", "Galicia", "País Vasco",
)  # fmt: skip

#: Countries: (surrogate name, other spellings recognized).
COUNTRIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("España", ("Spain", "Reino de España")),
    ("Portugal", ()), ("Francia", ("France",)), ("Italia", ("Italy",)), ("Alemania", ("Germany",)),
    ("Reino Unido", ("United Kingdom", "UK", "Inglaterra", "England", "Gran Bretaña", "Escocia", "Gales")),
    ("Irlanda", ()), ("Países Bajos", ("Holanda",)), ("Bélgica", ()), ("Suiza", ()), ("Austria", ()),
    ("Suecia", ()), ("Noruega", ()), ("Dinamarca", ()), ("Finlandia", ()), ("Polonia", ()), ("Rumanía", ("Rumania",)),
    ("Bulgaria", ()), ("Ucrania", ()), ("Rusia", ()), ("Grecia", ()), ("Hungría", ()), ("República Checa", ("Chequia",)),
    ("Marruecos", ()), ("Argelia", ()), ("Túnez", ()), ("Egipto", ()), ("Senegal", ()), ("Mali", ("Malí",)),
    ("Gambia", ()), ("Guinea", ()), ("Guinea-Bisáu", ("Guinea Bissau", "Guinea-Bissau")), ("Guinea Ecuatorial", ()),
    ("Sierra Leona", ()), ("Nigeria", ()), ("Ghana", ()), ("Camerún", ()), ("Mauritania", ()), ("Sudáfrica", ()),
    ("Estados Unidos", ("EE.UU.", "EE. UU.", "EEUU", "USA", "U.S.A.", "EE.UU")), ("Canadá", ()),
    ("México", ("Mexico", "Méjico")), ("Guatemala", ()), ("Honduras", ()), ("El Salvador", ()), ("Nicaragua", ()),
    ("Costa Rica", ()), ("Panamá", ()), ("Cuba", ()), ("República Dominicana", ()), ("Puerto Rico", ()),
    ("Colombia", ()), ("Venezuela", ()), ("Ecuador", ()), ("Perú", ("Peru",)), ("Bolivia", ()), ("Chile", ()),
    ("Argentina", ("República Argentina",)), ("Uruguay", ()), ("Paraguay", ()), ("Brasil", ("Brazil",)),
    ("China", ()), ("Japón", ()), ("India", ()), ("Pakistán", ()), ("Afganistán", ()), ("Filipinas", ()),
    ("Vietnam", ()), ("Corea del Sur", ()), ("Irán", ()), ("Irak", ()), ("Siria", ()), ("Turquía", ()),
    ("Israel", ()), ("Australia", ()), ("Nueva Zelanda", ()),
)  # fmt: skip

FOREIGN_CITIES: tuple[str, ...] = (
    "Buenos Aires", "Rosario", "Mendoza", "Montevideo", "Santiago de Chile", "Valparaíso", "Lima", "Arequipa",
    "Quito", "Guayaquil", "Bogotá", "Medellín", "Cali", "Barranquilla", "Caracas", "Maracaibo", "La Habana",
    "Santo Domingo", "Ciudad de México", "Monterrey", "Puebla", "Tijuana", "Managua", "Tegucigalpa",
    "San Salvador", "Ciudad de Guatemala", "La Paz", "Santa Cruz de la Sierra", "Asunción", "París", "Londres",
    "Lisboa", "Oporto", "Roma", "Milán", "Berlín", "Múnich", "Bruselas", "Ámsterdam", "Casablanca", "Rabat",
    "Tánger", "Dakar", "Bucarest", "Kiev", "Nueva York", "Miami", "Chicago", "Houston", "São Paulo",
    "Río de Janeiro", "Fortaleza",
)  # fmt: skip

#: Other spellings of foreign cities: recognized, never produced.
FOREIGN_CITY_VARIANTS: tuple[str, ...] = (
    "México D.F.", "Mexico DF", "México DF", "Ciudad de Mexico", "Bogotá D.C.", "CDMX", "Sao Paulo", "Habana",
    "New York", "London", "Paris",
)  # fmt: skip
