"""``deid_randomizer``: a thin spaCy component over :mod:`spacy_clinical_es.deid`.

It reads PHI spans (``doc.ents``, or the span group ``spans_key``), calls
:func:`spacy_clinical_es.deid.randomize` and sets:

* ``doc._.deid_text``: the de-identified text;
* ``doc._.deid_doc``: a new :class:`~spacy.tokens.Doc` of that text (made with
  the pipeline's tokenizer) whose surrogate spans carry the original labels,
  in ``doc.ents`` and in the span group ``output_spans_key`` (with the
  package's annotation records, so ``doc_to_document`` writes it as BRAT).
  It is built lazily, on first access (tokenizing the output and writing it
  as bytes cost more than the de-identification itself, and most callers
  only want the text); the recipe (output spans and labels) is what is stored;
* ``doc._.deid_offset_map``: an :class:`~spacy_clinical_es.deid.OffsetMap`
  from output offsets to input offsets;
* ``doc._.deid_stats``: counts (replaced, kept, fallbacks…; no text).

All four are stored as plain data in ``doc.user_data`` (text, offset map,
output spans, counts), so they survive ``DocBin(store_user_data=True)`` and
``nlp.pipe(n_process=…)``. ``doc._.deid_doc`` is made with the tokenizer of
the live pipeline whose ``deid_randomizer`` processed the Doc (the one that
shares its vocab), else with the package's clinical tokenizer; spans of the
output that do not fall on token boundaries are counted in ``deid_stats``
(``output_doc_*``) once the Doc was built.

The secret key (cross-document consistency, see :mod:`spacy_clinical_es.deid`)
is never part of the config, ``to_disk`` or pickles. Give it at runtime with
``nlp.get_pipe("deid_randomizer").set_key(...)``, or in the environment
variable named by ``key_env`` (default ``SPACY_CLINICAL_ES_DEID_KEY``; use
the variable with ``n_process > 1``, since worker processes do not receive a
key set with ``set_key``). ``doc._.deid_patient_key`` (set it before the
component runs) makes documents of one patient share their date shift.
"""
from __future__ import annotations

import functools
import logging
import os
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import SimpleFrozenList, ensure_path, from_disk, to_disk
from thinc.api import Config

from ..corpora.annotations import Annotation, Document
from ..corpora.report import ConversionReport
from ..corpora.representation import USER_DATA_KEY, document_to_doc
from ..deid import DeidError, DeidOptions, OffsetMap, randomize

logger = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "SPACY_CLINICAL_ES_DEID_KEY"
DEFAULT_OUTPUT_SPANS_KEY = "deid"
#: ``doc.user_data`` entry holding the component's output as plain data.
DEID_USER_DATA_KEY = "spacy_clinical_es.deid"

deid_randomizer_default_config = """
[deid_randomizer]
spans_key = null
output_spans_key = null
mode = "surrogate"
seed = null
key_env = "SPACY_CLINICAL_ES_DEID_KEY"
keep_sex = true
keep_ages = true
max_age = 89
keep_relatives = false
date_shift_min_days = 365
date_shift_max_days = 1095
mask_format = "[{tag}]"
"""
DEFAULT_DEID_RANDOMIZER_CONFIG = Config().from_str(deid_randomizer_default_config)["deid_randomizer"]

_OPTION_NAMES = (
    "keep_sex",
    "keep_ages",
    "max_age",
    "keep_relatives",
    "date_shift_min_days",
    "date_shift_max_days",
    "mask_format",
)

# Objects rebuilt from user_data, cached for the Doc's lifetime only.
_CACHE: weakref.WeakKeyDictionary[Doc, dict[str, Any]] = weakref.WeakKeyDictionary()
# id(vocab) -> the last pipeline created with that vocab that has a deid_randomizer (its tokenizer
# makes doc._.deid_doc). A Vocab cannot be weakly referenced; the Language can, and while it
# lives its vocab does too, so the id cannot be reused meanwhile (checked on use anyway).
_PIPELINES: dict[int, weakref.ref[Language]] = {}


def _stored(doc: Doc) -> dict[str, Any] | None:
    value = doc.user_data.get(DEID_USER_DATA_KEY)
    return value if isinstance(value, dict) else None


def _get_deid_text(doc: Doc) -> str | None:
    stored = _stored(doc)
    return stored.get("text") if stored else None


def _get_deid_stats(doc: Doc) -> dict[str, int] | None:
    stored = _stored(doc)
    return dict(stored.get("stats", {})) if stored else None


def _get_deid_offset_map(doc: Doc) -> OffsetMap | None:
    stored = _stored(doc)
    if not stored:
        return None
    cache = _CACHE.setdefault(doc, {})
    if cache.get("offset_map_source") is not stored:
        cache["offset_map"] = OffsetMap.from_list(stored["offset_map"])
        cache["offset_map_source"] = stored
    return cache["offset_map"]


def _register_pipeline(nlp: Language) -> None:
    _PIPELINES[id(nlp.vocab)] = weakref.ref(nlp)
    for key in [k for k, ref in _PIPELINES.items() if ref() is None]:
        del _PIPELINES[key]


@functools.lru_cache(maxsize=1)
def _fallback_pipeline() -> Language:
    from ..tokenizer import make_clinical_nlp

    return make_clinical_nlp()


def _pipeline_for(doc: Doc) -> Language:
    """The live pipeline sharing ``doc``'s vocab, else a blank one with the clinical tokenizer."""
    ref = _PIPELINES.get(id(doc.vocab))
    nlp = ref() if ref is not None else None
    if nlp is not None and nlp.vocab is doc.vocab:
        return nlp
    return _fallback_pipeline()


def build_deid_doc(
    nlp: Language,
    text: str,
    spans_out: Iterable[Sequence[Any]],
    *,
    span_key: str,
    mode: str,
    doc_id: str = "",
    corpus: str = "",
) -> tuple[Doc, ConversionReport]:
    """The de-identified Doc: ``text`` tokenized by ``nlp``, ``spans_out`` in ``doc.ents`` and ``doc.spans[span_key]``."""
    annotations = [
        Annotation(f"T{i}", label, [(start, end)], text[start:end], source="deid_randomizer")
        for i, (start, end, label) in enumerate(((s, e, lab) for s, e, lab in spans_out if e > s), start=1)
    ]
    document = Document(id=doc_id, text=text, annotations=annotations, corpus=corpus, meta={"deid_mode": mode})
    report = ConversionReport()
    out_doc = document_to_doc(document, nlp, span_key=span_key, set_ents=True, report=report)
    return out_doc, report


def _report_stats(report: ConversionReport) -> dict[str, int]:
    stats: dict[str, int] = {}
    for outcome, counter in (("skipped", report.skipped), ("adjusted", report.adjusted)):
        for (_, reason), n in counter.items():
            stats[f"output_doc_{outcome}_{reason}"] = stats.get(f"output_doc_{outcome}_{reason}", 0) + int(n)
    return stats


def _get_deid_doc(doc: Doc) -> Doc | None:
    stored = _stored(doc)
    if not stored:
        return None
    cache = _CACHE.setdefault(doc, {})
    if cache.get("doc_source") is not stored:
        if "doc" in stored:  # written eagerly by an earlier version
            cache["doc"] = Doc(doc.vocab).from_bytes(stored["doc"])
        else:
            out_doc, report = build_deid_doc(
                _pipeline_for(doc),
                stored["text"],
                stored["spans"],
                span_key=stored["span_key"],
                mode=stored["mode"],
                doc_id=stored.get("doc_id", ""),
                corpus=stored.get("corpus", ""),
            )
            stats = stored.setdefault("stats", {})
            for name, n in _report_stats(report).items():
                stats[name] = stats.get(name, 0) + n
            cache["doc"] = out_doc
        cache["doc_source"] = stored
    return cache["doc"]


def register_extensions() -> None:
    """Register ``Doc._.deid_*`` (idempotent)."""
    getters = {
        "deid_text": _get_deid_text,
        "deid_doc": _get_deid_doc,
        "deid_offset_map": _get_deid_offset_map,
        "deid_stats": _get_deid_stats,
    }
    for name, getter in getters.items():
        if not Doc.has_extension(name):
            Doc.set_extension(name, getter=getter)
    if not Doc.has_extension("deid_patient_key"):
        Doc.set_extension("deid_patient_key", default=None)


register_extensions()


@Language.factory(
    "deid_randomizer",
    assigns=["doc._.deid_text", "doc._.deid_doc", "doc._.deid_offset_map", "doc._.deid_stats"],
    default_config=DEFAULT_DEID_RANDOMIZER_CONFIG,
)
def make_deid_randomizer(
    nlp: Language,
    name: str,
    spans_key: Optional[str],  # noqa: UP045 (read by spaCy's registry at runtime)
    output_spans_key: Optional[str],  # noqa: UP045
    mode: str,
    seed: Optional[int],  # noqa: UP045
    key_env: Optional[str],  # noqa: UP045
    keep_sex: bool,
    keep_ages: bool,
    max_age: Optional[int],  # noqa: UP045
    keep_relatives: bool,
    date_shift_min_days: int,
    date_shift_max_days: int,
    mask_format: str,
) -> DeidRandomizer:
    """Create a :class:`DeidRandomizer` (see the module docstring for the options)."""
    return DeidRandomizer(
        nlp,
        name,
        spans_key=spans_key,
        output_spans_key=output_spans_key,
        mode=mode,
        seed=seed,
        key_env=key_env,
        keep_sex=keep_sex,
        keep_ages=keep_ages,
        max_age=max_age,
        keep_relatives=keep_relatives,
        date_shift_min_days=date_shift_min_days,
        date_shift_max_days=date_shift_max_days,
        mask_format=mask_format,
    )


class DeidRandomizer:
    """Replace the PHI spans of each Doc by surrogates, tags or nothing."""

    def __init__(
        self,
        nlp: Language,
        name: str = "deid_randomizer",
        *,
        spans_key: str | None = None,
        output_spans_key: str | None = None,
        mode: str = "surrogate",
        seed: int | None = None,
        key_env: str | None = DEFAULT_KEY_ENV,
        keep_sex: bool = True,
        keep_ages: bool = True,
        max_age: int | None = 89,
        keep_relatives: bool = False,
        date_shift_min_days: int = 365,
        date_shift_max_days: int = 1095,
        mask_format: str = "[{tag}]",
    ) -> None:
        """Initialize the component.

        nlp (Language): the pipeline; its tokenizer makes ``doc._.deid_doc``.
        spans_key (Optional[str]): span group with the PHI spans; ``None``: ``doc.ents``.
        output_spans_key (Optional[str]): span group of ``doc._.deid_doc``;
            ``None``: ``spans_key``, or ``"deid"`` when reading ``doc.ents``.
        mode (str): ``"surrogate"``, ``"mask"`` or ``"redact"``.
        seed (Optional[int]): makes runs reproducible when no key is given.
        key_env (Optional[str]): environment variable read for the secret key.
        The other options are those of :class:`spacy_clinical_es.deid.DeidOptions`.
        """
        self.nlp = nlp
        self.name = name
        self.cfg: dict[str, Any] = {
            "spans_key": spans_key,
            "output_spans_key": output_spans_key,
            "mode": mode,
            "seed": seed,
            "key_env": key_env,
            "keep_sex": keep_sex,
            "keep_ages": keep_ages,
            "max_age": max_age,
            "keep_relatives": keep_relatives,
            "date_shift_min_days": date_shift_min_days,
            "date_shift_max_days": date_shift_max_days,
            "mask_format": mask_format,
        }
        self._key: bytes | str | None = None
        self._key_lost = False
        self._validate()
        _register_pipeline(nlp)

    def _validate(self) -> None:
        from ..deid import MODES

        if self.cfg["mode"] not in MODES:
            raise DeidError(f"deid_randomizer: unknown mode {self.cfg['mode']!r}; use one of: {', '.join(MODES)}")
        self.options = DeidOptions(**{k: self.cfg[k] for k in _OPTION_NAMES})

    def __repr__(self) -> str:  # never shows the key
        return f"DeidRandomizer(name={self.name!r}, mode={self.cfg['mode']!r}, key={'set' if self._key else 'unset'})"

    def set_key(self, key: bytes | str | None) -> None:
        """Set (or clear with ``None``) the secret key; it is kept in memory only."""
        if key is not None and len(key) == 0:
            raise DeidError("deid_randomizer: the secret key is empty")
        self._key = key
        self._key_lost = False

    def _resolve_key(self) -> bytes | str | None:
        if self._key is not None:
            return self._key
        env = self.cfg.get("key_env")
        value = os.environ.get(env) if env else None
        if value:
            return value
        if self._key_lost:
            raise DeidError(
                "deid_randomizer: a key given with set_key() is not copied to other processes; "
                f"put it in the environment variable {env or DEFAULT_KEY_ENV} (and set key_env) instead"
            )
        return None

    @property
    def output_key(self) -> str:
        return self.cfg["output_spans_key"] or self.cfg["spans_key"] or DEFAULT_OUTPUT_SPANS_KEY

    def _input_spans(self, doc: Doc) -> list[tuple[int, int, str]]:
        key = self.cfg["spans_key"]
        if key is None:
            spans = list(doc.ents)
        else:
            if key not in doc.spans:
                raise DeidError(
                    f"deid_randomizer: the Doc has no span group {key!r}; set spans_key to the group your PHI "
                    "detector writes, or to null to read doc.ents"
                )
            spans = list(doc.spans[key])
        return [(span.start_char, span.end_char, span.label_) for span in spans]

    def __call__(self, doc: Doc) -> Doc:
        """De-identify one Doc (the Doc itself is not changed, only ``doc._`` is set)."""
        result = randomize(
            doc.text,
            self._input_spans(doc),
            mode=self.cfg["mode"],
            seed=self.cfg["seed"],
            key=self._resolve_key(),
            patient_key=doc._.deid_patient_key,
            options=self.options,
        )
        record = doc.user_data.get(USER_DATA_KEY)
        source = record.get("document", {}) if isinstance(record, dict) else {}
        stored = {
            "text": result.text,
            "offset_map": result.offset_map.to_list(),
            "spans": [[start, end, label] for start, end, label in result.spans_out],
            "span_key": self.output_key,
            "mode": self.cfg["mode"],
            "doc_id": str(source.get("id") or ""),
            "corpus": str(source.get("corpus") or ""),
            "stats": {k: int(v) for k, v in result.stats.items()},
        }
        doc.user_data[DEID_USER_DATA_KEY] = stored
        _CACHE[doc] = {"offset_map": result.offset_map, "offset_map_source": stored}
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """De-identify a stream of Docs."""
        for doc in stream:
            yield self(doc)

    # -- serialization: the cfg only, never the key ---------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_key_lost"] = state.get("_key") is not None or state.get("_key_lost", False)
        state["_key"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        _register_pipeline(self.nlp)

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        """Serialize the cfg (the key is not part of it)."""
        return srsly.msgpack_dumps({"cfg": self.cfg})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> DeidRandomizer:
        """Load the cfg written by :meth:`to_bytes`."""
        self.cfg.update(srsly.msgpack_loads(bytes_data)["cfg"])
        self._validate()
        return self

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        """Write the cfg to ``path/cfg`` (the key is not part of it)."""
        path = ensure_path(path)
        serializers = {"cfg": lambda p: srsly.write_json(p, self.cfg)}
        to_disk(path, serializers, exclude)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> DeidRandomizer:
        """Load the cfg written by :meth:`to_disk`."""
        path = ensure_path(path)

        def load_cfg(p: Path) -> None:
            if p.exists():
                self.cfg.update(srsly.read_json(p))

        from_disk(path, {"cfg": load_cfg}, exclude)
        self._validate()
        return self
