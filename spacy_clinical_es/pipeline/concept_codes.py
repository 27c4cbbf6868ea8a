"""``clinical_es_concept_codes``: keep one code system's link results before the next linker overwrites them.

A ``clinical_es_entity_linker`` writes ``span.kb_id_`` and ``span._.candidates``;
a second linker on the same spans (CIE-10 after SNOMED CT) replaces both. Put
a ``clinical_es_concept_codes`` right after each linker: it copies, per span of the
linker's group, the best candidate (when its score reaches the linker's
``threshold``) and the top candidates under ``code_system`` into
``doc.user_data`` (plain data: survives ``DocBin`` and ``n_process``), read
back through ``span._.concept_codes``::

    {"SNOMED CT": {"code": "22298006", "score": 0.97, "candidates": [["22298006", 0.97], ...]},
     "CIE-10": {"code": null, "score": 0.41, "candidates": [...]}}

``code`` is ``None`` when no candidate reaches the threshold (a NIL mention).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span
from thinc.api import Config

from ..errors import ConfigError

#: ``doc.user_data`` entry: ``"start,end,label"`` -> {code system: record}.
CONCEPT_CODES_USER_DATA_KEY = "spacy_clinical_es.concept_codes"

concept_codes_default_config = """
[concept_codes]
linker = "clinical_entity_linker"
code_system = "SNOMED CT"
"""
DEFAULT_CONCEPT_CODES_CONFIG = Config().from_str(concept_codes_default_config)["concept_codes"]


def span_key(span: Span) -> str:
    """The key of ``span`` in the stored codes (offsets and label)."""
    return f"{span.start_char},{span.end_char},{span.label_}"


def _get_concept_codes(span: Span) -> dict[str, dict[str, Any]]:
    stored = span.doc.user_data.get(CONCEPT_CODES_USER_DATA_KEY)
    if not isinstance(stored, dict):
        return {}
    codes: dict[str, dict[str, Any]] = {}
    for system, record in stored.get(span_key(span), {}).items():
        # lists again after a msgpack round trip (DocBin, n_process) turned them into tuples
        codes[system] = {**record, "candidates": [list(pair) for pair in record.get("candidates", [])]}
    return codes


def register_extensions() -> None:
    """Register ``Span._.concept_codes`` (idempotent)."""
    if not Span.has_extension("concept_codes"):
        Span.set_extension("concept_codes", getter=_get_concept_codes)


register_extensions()


@Language.factory(
    "clinical_es_concept_codes",
    assigns=["span._.concept_codes"],
    default_config=DEFAULT_CONCEPT_CODES_CONFIG,
)
def make_concept_codes(nlp: Language, name: str, linker: str, code_system: str) -> ConceptCodes:
    """Create a :class:`ConceptCodes` (see the module docstring)."""
    return ConceptCodes(nlp, name, linker=linker, code_system=code_system)


class ConceptCodes:
    """Store the link results of the linker named ``linker`` under ``code_system``."""

    def __init__(self, nlp: Language, name: str = "concept_codes", *, linker: str, code_system: str) -> None:
        self.nlp = nlp
        self.name = name
        self.cfg: dict[str, Any] = {"linker": linker, "code_system": code_system}

    def _linker(self) -> Any:
        if self.cfg["linker"] not in self.nlp.component_names:
            raise ConfigError(
                f"concept_codes '{self.name}': no component named {self.cfg['linker']!r} in the pipeline; "
                "set linker to the name of the clinical_es_entity_linker it follows."
            )
        return self.nlp.get_pipe(self.cfg["linker"])

    def __call__(self, doc: Doc) -> Doc:
        """Copy the linker's results on ``doc`` under this code system."""
        linker = self._linker()
        key = linker.spans_key
        spans = list(doc.ents) if key is None else list(doc.spans[key]) if key in doc.spans else []
        stored = doc.user_data.setdefault(CONCEPT_CODES_USER_DATA_KEY, {})
        for span in spans:
            if not linker.links(span):
                continue
            candidates = [[str(code), float(score)] for code, score in (span._.candidates or [])]
            best = candidates[0] if candidates else None
            record = {
                "code": best[0] if best is not None and best[1] >= linker.threshold else None,
                "score": best[1] if best is not None else None,
                "candidates": candidates,
            }
            stored.setdefault(span_key(span), {})[self.cfg["code_system"]] = record
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """Copy the link results of each Doc."""
        for doc in stream:
            yield self(doc)
