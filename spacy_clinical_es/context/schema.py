"""The negation/uncertainty scheme shared by the NUBes corpus, the component and the benchmark (spaCy-free).

Cues and scopes follow NUBes (Lima López et al., LREC 2020):

* cue labels (``doc.spans[CUES_KEY]``): ``NegSyn``, ``NegLex``, ``NegMor`` (negation: syntactic, lexical,
  morphological) and ``UncertSyn``, ``UncertLex`` (uncertainty). The BRAT labels end in ``Marker``; the suffix
  is dropped. The fragments of a discontinuous cue ("sin … aparente") share ``span.id_``.
* scope labels (``doc.spans[SCOPES_KEY]``): the concept type of the scope, ``DISO``, ``PROC``, ``SUBS``,
  ``BODY``, ``OTHER`` or the generic ``Phrase``. A scope's ``span.id_`` is the ``id_`` of the cue it belongs
  to, so the fragments of a discontinuous scope share it and the scope's polarity is its cue's.
"""
from __future__ import annotations

from ..errors import ConfigError

NEGATION = "negation"
UNCERTAINTY = "uncertainty"
POLARITIES: tuple[str, ...] = (NEGATION, UNCERTAINTY)

#: Cue label → polarity.
CUE_POLARITY: dict[str, str] = {
    "NegSyn": NEGATION,
    "NegLex": NEGATION,
    "NegMor": NEGATION,
    "UncertSyn": UNCERTAINTY,
    "UncertLex": UNCERTAINTY,
}
CUE_LABELS: tuple[str, ...] = tuple(CUE_POLARITY)
SCOPE_LABELS: tuple[str, ...] = ("DISO", "PROC", "SUBS", "BODY", "OTHER", "Phrase")
#: Label of a scope whose concept type is unknown (the rules do not type scopes).
GENERIC_SCOPE_LABEL = "Phrase"

CUES_KEY = "context_cues"
SCOPES_KEY = "context_scopes"


def polarity_of(cue_label: str) -> str:
    """``negation`` or ``uncertainty`` for a cue label."""
    try:
        return CUE_POLARITY[cue_label]
    except KeyError:
        raise ConfigError(f"unknown cue label {cue_label!r}; known: {', '.join(CUE_LABELS)}") from None
