"""``clinical_es_context`` (alias ``clinical_context``): negation and uncertainty of clinical concepts in Spanish (NUBes scheme).

One factory, two implementations chosen in the config (``implementation``, a registry function behind
:class:`~spacy_clinical_es.context.registry.ContextImplementation`):

* ``spacy_clinical_es.ContextRules.v1``: cue lexicon learned from the training part + ConText-style scope
  rules (:mod:`spacy_clinical_es.context.lexicon`, :mod:`~spacy_clinical_es.context.scope`); no weights;
  the lexicon is saved with the pipeline like span_ruler's patterns (``cues.jsonl`` + ``cfg``);
* ``spacy_clinical_es.ContextTagger.v1``: cue and scope taggers on a tok2vec, trained with ``spacy train``
  (``configs/nubes_context.cfg``).

Output, whichever implementation:

* ``doc.spans[cues_key]``: the cues, labelled ``NegSyn``/``NegLex``/``NegMor``/``UncertSyn``/``UncertLex``,
  ``span.id_`` the cue id (``c0``, ``c1``…);
* ``doc.spans[scopes_key]``: their scopes, labelled with the concept type (the rules write ``Phrase``),
  ``span.id_`` the id of their cue (pieces of a discontinuous scope share it);
* on every span of ``doc.ents`` (target ``"ents"``) and of the span groups named in ``targets``:
  ``span._.negated`` and ``span._.uncertain`` (a scope of that polarity overlaps the span, or a cue without
  scope lies in it, e.g. "afebril"), and ``span._.context_cue``: the text of the cue behind it (the negation
  cue when both apply), else ``None``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import SimpleFrozenList
from thinc.api import Config, Optimizer

from ..context.registry import ContextImplementation, doc_result, example_sentence
from ..context.schema import CUES_KEY, SCOPES_KEY
from ..context.scope import ContextResult, mark_targets
from ..context.scoring import score_context
from ..errors import ConfigError

ENTS = "ents"

clinical_context_default_config = """
[clinical_context]
targets = ["ents"]
cues_key = "context_cues"
scopes_key = "context_scopes"

[clinical_context.implementation]
@misc = "spacy_clinical_es.ContextRules.v1"
min_count = 1
min_precision = 0.4
window = 15
min_ratio = 0.5
stop_at_cues = true
scope_label = "Phrase"
"""
DEFAULT_CLINICAL_CONTEXT_CONFIG = Config().from_str(clinical_context_default_config)["clinical_context"]


def register_extensions() -> None:
    """``Span._.negated``, ``Span._.uncertain`` (False) and ``Span._.context_cue`` (None); idempotent."""
    for name, default in (("negated", False), ("uncertain", False), ("context_cue", None)):
        if not Span.has_extension(name):
            Span.set_extension(name, default=default)


register_extensions()


def make_clinical_context(
    nlp: Language,
    name: str,
    implementation: ContextImplementation,
    targets: list[str],
    cues_key: str,
    scopes_key: str,
) -> ClinicalContext:
    """Create a :class:`ClinicalContext` component (see the module docstring)."""
    return ClinicalContext(
        nlp.vocab, implementation, name=name, targets=targets, cues_key=cues_key, scopes_key=scopes_key
    )


#: The factory name (the package convention: ``clinical_es_<name>``); the name issue 13 gave it,
#: ``clinical_context``, is registered as an alias in :mod:`.aliases` like every earlier name.
FACTORY = "clinical_es_context"
Language.factory(
    FACTORY,
    assigns=["doc.spans", "span._.negated", "span._.uncertain", "span._.context_cue"],
    default_config=DEFAULT_CLINICAL_CONTEXT_CONFIG,
    default_score_weights={
        "context_f": 1.0,
        "context_neg_cue_f": 0.0,
        "context_unc_cue_f": 0.0,
        "context_neg_scope_f": 0.0,
        "context_unc_scope_f": 0.0,
    },
)(make_clinical_context)


def find_context_pipe(nlp: Language) -> ClinicalContext:
    """The pipeline's clinical_context component, whatever its name (raise when there is none)."""
    for _, pipe in nlp.pipeline:
        if isinstance(pipe, ClinicalContext):
            return pipe
    raise ConfigError(f"the pipeline has no {FACTORY} component; add one or train configs/nubes_context.cfg")


class ClinicalContext(TrainablePipe):
    """Find negation/uncertainty cues and scopes and flag the target spans they reach."""

    def __init__(
        self,
        vocab: Any,
        implementation: ContextImplementation,
        *,
        name: str = "clinical_context",
        targets: Sequence[str] = (ENTS,),
        cues_key: str = CUES_KEY,
        scopes_key: str = SCOPES_KEY,
    ) -> None:
        if not isinstance(implementation, ContextImplementation):
            raise ConfigError(
                "clinical_context: implementation must be a registered implementation such as "
                "spacy_clinical_es.ContextRules.v1 or spacy_clinical_es.ContextTagger.v1"
            )
        if not cues_key or not scopes_key or cues_key == scopes_key:
            raise ConfigError("clinical_context: cues_key and scopes_key must be two different, non-empty span keys")
        if cues_key in targets or scopes_key in targets:
            raise ConfigError("clinical_context: targets cannot include the component's own cue or scope groups")
        self.vocab = vocab
        self.name = name
        self.implementation = implementation
        self.model = implementation.model
        self.cfg: dict[str, Any] = {"targets": list(targets), "cues_key": cues_key, "scopes_key": scopes_key}

    @property
    def is_trainable(self) -> bool:  # type: ignore[override]
        """Only the tagger has weights; spaCy skips ``finish_update`` for the rules."""
        return bool(self.implementation.is_trainable)

    def predict(self, docs: Iterable[Doc]) -> list[ContextResult]:
        """Cues and scopes per Doc (token offsets)."""
        return self.implementation.predict(list(docs))

    def set_annotations(self, docs: Iterable[Doc], results: Sequence[ContextResult]) -> None:
        """Write the cue and scope span groups and flag the targets."""
        cues_key, scopes_key = self.cfg["cues_key"], self.cfg["scopes_key"]
        for doc, result in zip(docs, results):
            cues = {c.id: c for c in result.cues}
            doc.spans[cues_key] = [Span(doc, c.start, c.end, label=c.label, span_id=c.id) for c in result.cues]
            doc.spans[scopes_key] = [Span(doc, s.start, s.end, label=s.label, span_id=s.id) for s in result.scopes]
            for spans in self._target_groups(doc):
                marks = mark_targets([(s.start, s.end) for s in spans], result)
                for span, mark in zip(spans, marks):
                    span._.negated = mark.negated
                    span._.uncertain = mark.uncertain
                    cue_id = mark.negation_cue or mark.uncertainty_cue
                    if cue_id is None:
                        span._.context_cue = None
                    else:
                        pieces = [c for c in result.cues if c.id == cue_id] or [cues[cue_id]]
                        span._.context_cue = " ".join(doc[c.start : c.end].text for c in pieces)

    def _target_groups(self, doc: Doc) -> list[Sequence[Span]]:
        groups: list[Sequence[Span]] = []
        for key in self.cfg["targets"]:
            if key == ENTS:
                groups.append(list(doc.ents))
            elif key in doc.spans:
                groups.append(list(doc.spans[key]))
        return groups

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optimizer | None = None,
        losses: dict[str, float] | None = None,
    ) -> dict[str, float]:
        """One gradient step of the tagger (nothing for the rules)."""
        losses = {} if losses is None else losses
        examples = list(examples)
        validate_examples(examples, "ClinicalContext.update")
        return self.implementation.update(
            examples, drop=drop, sgd=sgd, losses=losses, name=self.name,
            cues_key=self.cfg["cues_key"], scopes_key=self.cfg["scopes_key"],
        )  # fmt: skip

    def get_loss(self, examples: Iterable[Example], scores: Any) -> tuple[float, Any]:
        """The tagger's loss (see :meth:`~spacy_clinical_es.context.registry.ContextTagger.get_loss`)."""
        get_loss = getattr(self.implementation, "get_loss", None)
        if get_loss is None:
            raise ConfigError("clinical_context: the rules implementation has no loss")
        sentences = [example_sentence(eg, self.cfg["cues_key"], self.cfg["scopes_key"], words=False) for eg in examples]
        return get_loss(sentences, scores)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Language | None = None,
        examples: Any = None,
    ) -> None:
        """Learn the rules' lexicon or initialize the tagger from the training examples.

        ``examples``: a corpus reader from ``[initialize.components.<name>.examples]``, e.g. ``spacy.Corpus.v1``
        on ``corpus/nubes/train.spacy``, used instead of the pipeline's own training data, so that the rules can
        be learned where the pipeline is assembled rather than trained (``spacy assemble``, the concepts
        product). It is a ``Callable[[Language], Iterable[Example]]``, annotated ``Any`` because spaCy validates
        initialize settings with pydantic, which cannot resolve this module's names.
        """
        if examples is not None:
            if nlp is None:
                raise ConfigError("clinical_context: initialize(examples=...) needs the pipeline (nlp) to read them")
            get_examples = lambda: examples(nlp)
            try:
                has_cues = any(eg.reference.spans.get(self.cfg["cues_key"]) for eg in get_examples())
            except FileNotFoundError as err:
                raise ConfigError(
                    f"clinical_context: the initialize examples {err.filename} do not exist; convert NUBes first "
                    "(`python -m spacy_clinical_es convert nubes`) or point the reader's path at a converted part"
                ) from None
            if not has_cues:
                raise ConfigError(
                    f"clinical_context: the initialize examples have no cues in doc.spans[{self.cfg['cues_key']!r}]; "
                    "point [initialize.components.<name>.examples] at a converted NUBes part "
                    "(`python -m spacy_clinical_es convert nubes`)"
                )
        validate_get_examples(get_examples, "ClinicalContext.initialize")
        self.implementation.initialize(get_examples, cues_key=self.cfg["cues_key"], scopes_key=self.cfg["scopes_key"])

    def score(self, examples: Iterable[Example], **_: Any) -> dict[str, Any]:
        """``context_{neg,unc}_{cue,scope}_f`` and their mean ``context_f`` (cue strict F1 by polarity,
        scope token F1 by polarity; :func:`~spacy_clinical_es.context.scoring.score_context`)."""
        cues_key, scopes_key = self.cfg["cues_key"], self.cfg["scopes_key"]
        pairs = [(doc_result(eg.reference, cues_key, scopes_key), doc_result(eg.predicted, cues_key, scopes_key)) for eg in examples]
        scores = score_context(pairs)
        by_pol, tokens = scores["cues_by_polarity"]["per_type"], scores["scope_tokens"]["per_type"]
        out = {
            "context_neg_cue_f": by_pol["negation"]["f"],
            "context_unc_cue_f": by_pol["uncertainty"]["f"],
            "context_neg_scope_f": tokens["negation"]["f"],
            "context_unc_scope_f": tokens["uncertainty"]["f"],
        }
        out["context_f"] = sum(out.values()) / 4
        return out

    # -- serialization: the implementation's state (lexicon or weights) ---------------------------------

    def to_bytes(self, *, exclude: Iterable[str] = SimpleFrozenList()) -> bytes:
        return self.implementation.to_bytes(exclude=exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = SimpleFrozenList()) -> ClinicalContext:
        self.implementation.from_bytes(bytes_data, exclude=exclude)
        return self

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> None:
        self.implementation.to_disk(path, exclude=exclude)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = SimpleFrozenList()) -> ClinicalContext:
        self.implementation.from_disk(path, exclude=exclude)
        return self
