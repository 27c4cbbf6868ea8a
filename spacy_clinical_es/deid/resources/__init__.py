"""Small word lists shipped with the randomizer (surrogate pools and recognizers).

Licence: compiled for spacy-clinical-es by its authors from general knowledge
of common Spanish given names, surnames, street names, place names, postal
code prefixes and the names of public institutions. Such names are facts,
not creative works; the lists are distributed under the package's MIT
licence. No third-party list (Faker, INE files) was copied.

Every list is a tuple of strings in natural case; recognizers compare
normalized forms (see :func:`..textutil.normalize`).
"""
