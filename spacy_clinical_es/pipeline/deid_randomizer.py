"""``deid_randomizer``: a thin spaCy component over :mod:`spacy_clinical_es.deid`.

It reads PHI spans (``doc.ents``, or the span group ``spans_key``), tells
each span's *source* (a ``phi_recall`` span carries its ``RECALL_KB_ID``;
spans also in the group of a ``phi_rules`` or ``phi_gazetteer`` component are
``"rule"``/``"gazetteer"``; the rest ``"entity"``), calls
:func:`spacy_clinical_es.deid.randomize` with the component's
:class:`~spacy_clinical_es.deid.DeidOptions` and
:class:`~spacy_clinical_es.deid.ReplacementPolicy`, and sets:

* ``doc._.deid_text``: the de-identified text;
* ``doc._.deid_doc``: a new :class:`~spacy.tokens.Doc` of that text whose
  replaced spans carry the original labels, in ``doc.ents`` and in the span
  group ``output_spans_key``. It is built directly on first access (and
  kept, weakly keyed by the input Doc, while that Doc lives): the input
  Doc's tokens outside the replaced regions are copied, the replacements are
  tokenized once by the pipeline's tokenizer when the component runs (their
  token offsets are stored), so no tokenizer is needed later and no
  conversion type is involved;
* ``doc._.deid_offset_map``: an :class:`~spacy_clinical_es.deid.OffsetMap`
  from output offsets to input offsets;
* ``doc._.deid_stats``: counts (replaced, kept, protected, fallbacks…; no text).

All four are stored as plain data in ``doc.user_data`` (text, offset map,
output spans, replacement token offsets, counts), so they survive
``DocBin(store_user_data=True)`` and ``nlp.pipe(n_process=…)``.

Options and policy are config sections filled from the dataclasses'
own defaults (registered as ``spacy_clinical_es.DeidOptions.v1`` and
``spacy_clinical_es.ReplacementPolicy.v1``); :meth:`DeidRandomizer.configure`
changes them at runtime (the CLI's flags).

The secret key (cross-document consistency, see :mod:`spacy_clinical_es.deid`)
is never part of the config, ``to_disk`` or pickles. Give it at runtime with
``set_key(...)``, or in the environment variable :data:`DEFAULT_KEY_ENV`
(``SPACY_CLINICAL_ES_DEID_KEY``; use it with ``n_process > 1``: workers do not
receive a key set with ``set_key``). Which variable is read is a runtime
choice only (``configure(key_env=...)``): a saved pipeline's config cannot
name it, so a crafted pipeline cannot point it at a predictable variable.
``doc._.deid_patient_key`` (set it before the component runs) makes
documents of one patient share their date shift.
"""
from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional, Union

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import SimpleFrozenList, ensure_path, from_disk, registry, to_disk
from thinc.api import Config

from ..deid import (
    MODES,
    DeidError,
    DeidOptions,
    OffsetMap,
    ReplacementPolicy,
    randomize,
)
from ..deid.policy import ENTITY, GAZETTEER, RECALL, RULE
from .phi_recall import RECALL_KB_ID

logger = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "SPACY_CLINICAL_ES_DEID_KEY"
DEFAULT_OUTPUT_SPANS_KEY = "deid"
#: ``doc.user_data`` entry holding the component's output as plain data.
DEID_USER_DATA_KEY = "spacy_clinical_es.deid"
#: Factories whose span group marks the source of a span.
_SOURCE_FACTORIES = {
    "clinical_es_phi_rules": RULE,
    "clinical_es_phi_gazetteer": GAZETTEER,
    "phi_rules": RULE,  # the names before the clinical_es_ prefix (pipeline/aliases.py)
    "phi_gazetteer": GAZETTEER,
}

registry.misc.register("spacy_clinical_es.DeidOptions.v1", func=DeidOptions)
registry.misc.register("spacy_clinical_es.ReplacementPolicy.v1", func=ReplacementPolicy)

deid_randomizer_default_config = """
[deid_randomizer]
spans_key = null
output_spans_key = null
mode = "surrogate"
seed = null

[deid_randomizer.options]
@misc = "spacy_clinical_es.DeidOptions.v1"

[deid_randomizer.policy]
@misc = "spacy_clinical_es.ReplacementPolicy.v1"
"""
DEFAULT_DEID_RANDOMIZER_CONFIG = Config().from_str(deid_randomizer_default_config)["deid_randomizer"]

_WS_RE = re.compile(r"\s+|\S+")


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
    return OffsetMap.from_list(stored["offset_map"]) if stored else None


def doc_from_token_offsets(vocab: Any, text: str, offsets: Iterable[tuple[int, int]]) -> Doc:
    """A Doc of ``text`` whose tokens are ``offsets`` (sorted, disjoint); whitespace as spaCy's tokenizer leaves it."""
    words: list[str] = []
    spaces: list[bool] = []

    def fill(gap: str) -> None:
        if words and gap.startswith(" ") and not spaces[-1]:
            spaces[-1] = True
            gap = gap[1:]
        for piece in _WS_RE.findall(gap):
            words.append(piece)
            spaces.append(False)

    pos = 0
    for start, end in offsets:
        if end <= start or start < pos:
            continue
        fill(text[pos:start])
        words.append(text[start:end])
        spaces.append(False)
        pos = end
    fill(text[pos:])
    return Doc(vocab, words=words, spaces=spaces)


def build_output_doc(doc: Doc, stored: Mapping[str, Any]) -> Doc:
    """The de-identified Doc of ``doc`` from its stored output (see the module docstring)."""
    text = stored["text"]
    region_tokens = stored.get("tokens", [])
    offsets: list[tuple[int, int]] = []
    tokens = [(t.idx, t.idx + len(t)) for t in doc if not t.is_space]
    ti = 0
    ri = 0
    for out_s, _out_e, in_s, in_e, changed in stored["offset_map"]:
        if changed:
            while ri < len(region_tokens) and region_tokens[ri][0] < _out_e:
                offsets.append((region_tokens[ri][0], region_tokens[ri][1]))
                ri += 1
            continue
        while ti < len(tokens) and tokens[ti][1] <= in_s:
            ti += 1
        j = ti
        while j < len(tokens) and tokens[j][0] < in_e:
            start, end = max(tokens[j][0], in_s), min(tokens[j][1], in_e)
            if end > start:
                offsets.append((out_s + start - in_s, out_s + end - in_s))
            j += 1
    offsets.sort()
    out_doc = doc_from_token_offsets(doc.vocab, text, offsets)
    spans = []
    for start, end, label in stored["spans"]:
        if end <= start:
            continue
        span = out_doc.char_span(start, end, label=label, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    out_doc.spans[stored["span_key"]] = spans
    ents, last = [], -1
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.start >= last:
            ents.append(span)
            last = span.end
    out_doc.ents = ents
    return out_doc


# Memo of the built output Doc, weakly keyed by the input Doc (gone with it): the output's
# spans need their Doc alive while the caller holds the input. It changes no result.
_OUTPUT_DOCS: weakref.WeakKeyDictionary[Doc, tuple[dict[str, Any], Doc]] = weakref.WeakKeyDictionary()


def _get_deid_doc(doc: Doc) -> Doc | None:
    stored = _stored(doc)
    if not stored:
        return None
    memo = _OUTPUT_DOCS.get(doc)
    if memo is None or memo[0] is not stored:
        memo = (stored, build_output_doc(doc, stored))
        _OUTPUT_DOCS[doc] = memo
    return memo[1]


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
    "clinical_es_deid_randomizer",
    assigns=["doc._.deid_text", "doc._.deid_doc", "doc._.deid_offset_map", "doc._.deid_stats"],
    default_config=DEFAULT_DEID_RANDOMIZER_CONFIG,
)
def make_deid_randomizer(
    nlp: Language,
    name: str,
    spans_key: Optional[str],
    output_spans_key: Optional[str],
    mode: str,
    seed: Optional[int],
    options: DeidOptions,
    policy: ReplacementPolicy,
) -> DeidRandomizer:
    """Create a :class:`DeidRandomizer` (see the module docstring for the options)."""
    return DeidRandomizer(
        nlp, name, spans_key=spans_key, output_spans_key=output_spans_key, mode=mode, seed=seed, options=options, policy=policy
    )


class DeidRandomizer:
    """Replace the PHI spans of each Doc by surrogates, tags or nothing, as the policy says."""

    def __init__(
        self,
        nlp: Language,
        name: str = "deid_randomizer",
        *,
        spans_key: str | None = None,
        output_spans_key: str | None = None,
        mode: str = "surrogate",
        seed: int | None = None,
        options: DeidOptions | None = None,
        policy: ReplacementPolicy | None = None,
    ) -> None:
        """Initialize the component.

        nlp (Language): the pipeline; its tokenizer splits the replacements.
        spans_key (Optional[str]): span group with the PHI spans; ``None``: ``doc.ents``.
        output_spans_key (Optional[str]): span group of ``doc._.deid_doc``;
            ``None``: ``spans_key``, or ``"deid"`` when reading ``doc.ents``.
        mode (str): ``"surrogate"``, ``"mask"`` or ``"redact"``.
        seed (Optional[int]): makes runs reproducible when no key is given.
        options (DeidOptions): what to keep, how to shift dates, the surrogate locale.
        policy (ReplacementPolicy): what happens per label and source.
        """
        self.nlp = nlp
        self.name = name
        self.cfg: dict[str, Any] = {
            "spans_key": spans_key,
            "output_spans_key": output_spans_key,
            "mode": mode,
            "seed": seed,
            "options": (options or DeidOptions()).to_dict(),
            "policy": (policy or ReplacementPolicy()).to_dict(),
        }
        self._key: bytes | str | None = None
        self._key_lost = False
        self._key_env = DEFAULT_KEY_ENV
        self._apply_cfg()

    def _apply_cfg(self) -> None:
        """Check ``cfg`` and rebuild the option objects from it."""
        unknown = sorted(set(self.cfg) - {"spans_key", "output_spans_key", "mode", "seed", "options", "policy"})
        if unknown:
            raise DeidError(
                f"deid_randomizer: unknown settings {', '.join(unknown)}; options such as keep_sex or max_age now live "
                "under 'options' and the replacement actions under 'policy' (re-create the component from its config)"
            )
        if self.cfg["mode"] not in MODES:
            raise DeidError(f"deid_randomizer: unknown mode {self.cfg['mode']!r}; use one of: {', '.join(MODES)}")
        seed = self.cfg["seed"]
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise DeidError("deid_randomizer: seed must be an integer or null")
        self.options = DeidOptions.from_dict(self.cfg["options"])
        self.policy = ReplacementPolicy.from_dict(self.cfg["policy"])

    def configure(
        self,
        *,
        mode: str | None = None,
        seed: int | None = None,
        spans_key: str | None = None,
        policy: Union[ReplacementPolicy, Mapping[str, Any], str, Path, None] = None,
        options: Union[DeidOptions, Mapping[str, Any], None] = None,
        keep_relatives: bool | None = None,
        locale: str | None = None,
        use_recall: bool | None = None,
        recall_threshold: float | None = None,
        key_env: str | None = None,
    ) -> DeidRandomizer:
        """Change settings at runtime (what the CLI's flags do); ``None`` leaves a setting alone.

        policy: a :class:`ReplacementPolicy`, a dict of its fields, or a YAML/JSON file.
        options: a :class:`DeidOptions` or a dict of the fields to change.
        keep_relatives, locale: shortcuts for those options.
        use_recall: ``False`` keeps every recall span (the policy's ``recall = "keep"``);
            ``True`` restores the default action for them.
        recall_threshold: the threshold of the ``phi_recall`` components of the pipeline.
        key_env: the environment variable read for the key (runtime only, never saved).
        Everything is checked before anything changes.
        """
        cfg = dict(self.cfg)
        if mode is not None:
            cfg["mode"] = mode
        if seed is not None:
            cfg["seed"] = seed
        if spans_key is not None:
            cfg["spans_key"] = spans_key
        if policy is not None:
            if isinstance(policy, (str, Path)):
                policy = ReplacementPolicy.from_file(policy)
            elif isinstance(policy, Mapping):
                policy = ReplacementPolicy.from_dict(policy)
            cfg["policy"] = policy.to_dict()
        if use_recall is not None:
            cfg["policy"] = {**cfg["policy"], "recall": ReplacementPolicy().recall if use_recall else "keep"}
        if options is not None:
            values = options.to_dict() if isinstance(options, DeidOptions) else {**cfg["options"], **dict(options)}
            cfg["options"] = DeidOptions.from_dict(values).to_dict()
        changes = {k: v for k, v in (("keep_relatives", keep_relatives), ("locale", locale)) if v is not None}
        if changes:
            cfg["options"] = DeidOptions.from_dict({**cfg["options"], **changes}).to_dict()
        if key_env is not None and not key_env:
            raise DeidError("deid_randomizer: key_env must name an environment variable")
        recall_pipes = [pipe for _, pipe in self.nlp.pipeline if hasattr(pipe, "set_threshold")]
        if recall_threshold is not None and not recall_pipes:
            raise DeidError("deid_randomizer: recall_threshold needs a phi_recall component in the pipeline")
        old = self.cfg
        self.cfg = cfg
        try:
            self._apply_cfg()
        except DeidError:
            self.cfg = old
            self._apply_cfg()
            raise
        if recall_threshold is not None:
            for pipe in recall_pipes:
                pipe.set_threshold(recall_threshold)
        if key_env is not None:
            self._key_env = key_env
        return self

    def settings(self) -> dict[str, Any]:
        """Everything that decides the output, as plain data (for an audit; never the key)."""
        recall = {
            name: {"threshold": pipe.cfg.get("threshold"), "temperature": pipe.cfg.get("temperature")}
            for name, pipe in self.nlp.pipeline
            if hasattr(pipe, "set_threshold")
        }
        return {**{k: v for k, v in self.cfg.items()}, "key_env": self._key_env, "phi_recall": recall}

    def __repr__(self) -> str:  # never shows the key
        return f"DeidRandomizer(name={self.name!r}, mode={self.cfg['mode']!r}, key={'set' if self._key else 'unset'})"

    def set_key(self, key: bytes | str | None) -> None:
        """Set (or clear with ``None``) the secret key; it is kept in memory only."""
        if key is not None and len(key) == 0:
            raise DeidError("deid_randomizer: the secret key is empty")
        self._key = key
        self._key_lost = False

    @property
    def key_env(self) -> str:
        """The environment variable read for the key (runtime setting, see :meth:`configure`)."""
        return self._key_env

    def _resolve_key(self) -> bytes | str | None:
        if self._key is not None:
            return self._key
        value = os.environ.get(self._key_env)
        if value:
            return value
        if self._key_lost:
            raise DeidError(
                "deid_randomizer: a key given with set_key() is not copied to other processes; "
                f"put it in the environment variable {self._key_env} instead"
            )
        return None

    @property
    def output_key(self) -> str:
        return self.cfg["output_spans_key"] or self.cfg["spans_key"] or DEFAULT_OUTPUT_SPANS_KEY

    def _source_offsets(self, doc: Doc) -> dict[tuple[int, int], str]:
        """``(start_char, end_char)`` → source for the spans of ``phi_rules``/``phi_gazetteer`` groups."""
        found: dict[tuple[int, int], str] = {}
        for name, pipe in self.nlp.pipeline:
            try:
                factory = self.nlp.get_pipe_meta(name).factory
            except (KeyError, ValueError):
                continue
            source = _SOURCE_FACTORIES.get(factory)
            key = getattr(pipe, "cfg", {}).get("spans_key") if source else None
            if key and key in doc.spans:
                for span in doc.spans[key]:
                    found.setdefault((span.start_char, span.end_char), source)
        return found

    def _input_spans(self, doc: Doc) -> list[tuple[int, int, str, str]]:
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
        sources = self._source_offsets(doc)
        out = []
        for span in spans:
            offsets = (span.start_char, span.end_char)
            source = RECALL if span.kb_id_ == RECALL_KB_ID else sources.get(offsets, ENTITY)
            out.append((offsets[0], offsets[1], span.label_, source))
        return out

    def _replacement_tokens(self, text: str, replacements: Iterable[Any]) -> list[list[int]]:
        """Output token offsets inside the changed regions (the tokenizer runs on the replacements only)."""
        tokens: list[list[int]] = []
        tokenizer = self.nlp.tokenizer
        for rep in replacements:
            piece = text[rep.out_start : rep.out_end]
            if not piece:
                continue
            for token in tokenizer(piece):
                if not token.is_space:
                    tokens.append([rep.out_start + token.idx, rep.out_start + token.idx + len(token)])
        return tokens

    def __call__(self, doc: Doc) -> Doc:
        """De-identify one Doc (the Doc itself is not changed, only ``doc._`` is set)."""
        text = doc.text  # built from the tokens on every access: once
        result = randomize(
            text,
            self._input_spans(doc),
            mode=self.cfg["mode"],
            seed=self.cfg["seed"],
            key=self._resolve_key(),
            patient_key=doc._.deid_patient_key,
            options=self.options,
            policy=self.policy,
        )
        changed = [rep for rep in result.replacements if text[rep.start : rep.end] != result.text[rep.out_start : rep.out_end]]
        doc.user_data[DEID_USER_DATA_KEY] = {
            "text": result.text,
            "offset_map": result.offset_map.to_list(),
            "spans": [[start, end, label] for start, end, label in result.spans_out],
            "tokens": self._replacement_tokens(result.text, changed),
            "span_key": self.output_key,
            "mode": self.cfg["mode"],
            "stats": {k: int(v) for k, v in result.stats.items()},
        }
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        """De-identify a stream of Docs."""
        for doc in stream:
            yield self(doc)

    # -- serialization: the cfg only, never the key or its variable ------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_key_lost"] = state.get("_key") is not None or state.get("_key_lost", False)
        state["_key"] = None
        return state

    def _load_cfg(self, values: Mapping[str, Any]) -> None:
        values = dict(values)
        if "key_env" in values:  # never taken from a saved pipeline (issue 20)
            values.pop("key_env")
            logger.warning("deid_randomizer: ignoring 'key_env' in a saved pipeline; the key variable is a runtime setting")
        self.cfg.update(values)
        self._apply_cfg()

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        """Serialize the cfg (the key is not part of it)."""
        return srsly.msgpack_dumps({"cfg": self.cfg})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> DeidRandomizer:
        """Load the cfg written by :meth:`to_bytes`."""
        self._load_cfg(srsly.msgpack_loads(bytes_data)["cfg"])
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
                self._load_cfg(srsly.read_json(p))

        from_disk(path, {"cfg": load_cfg}, exclude)
        return self
