from __future__ import annotations

import pytest

from spacy_clinical_es.linking import Concept, TerminologyKB


@pytest.fixture
def hand_kb() -> TerminologyKB:
    """A small hand-made KB of procedures and diseases."""
    kb = TerminologyKB()
    kb.add(Concept("77477000", "tomografía computarizada", ("TAC", "escáner"), "PROCEDIMIENTO", "SNOMEDCT"))
    kb.add(Concept("241615005", "resonancia magnética", ("RM", "RMN"), "PROCEDIMIENTO", "SNOMEDCT"))
    kb.add(Concept("80146002", "apendicectomía", (), "PROCEDIMIENTO", "SNOMEDCT"))
    kb.add(Concept("74400008", "apendicitis", ("apendicitis aguda",), "ENFERMEDAD", "SNOMEDCT"))
    kb.add(Concept("K35.80", "apendicitis aguda", (), "DIAGNOSTICO", "ICD10-CM"))
    kb.add(Concept("38341003", "hipertensión arterial", ("HTA",), "ENFERMEDAD", "SNOMEDCT", parent="38936003"))
    return kb
