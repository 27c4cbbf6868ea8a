"""Negation and uncertainty on the NUBes test part: rules vs trained ``clinical_context`` vs a NegEx baseline.

Gold: the test DocBin of ``convert nubes`` (SAMPLE-001; span groups ``context_cues`` and ``context_scopes``).
Systems, each run on the gold texts with the clinical tokenizer:

* ``rules``: ``clinical_context`` with ``spacy_clinical_es.ContextRules.v1``, its lexicon and terminators
  learned from the training DocBin (``train``) when the benchmark starts (the dev part chose the defaults);
* ``trained``: a pipeline trained with ``configs/nubes_context.cfg`` (``model``), when given;
* ``negex``: negspacy's NegEx (optional package) with a Spanish termset built from the training cues:
  forward cues of the rules' lexicon as preceding terms, backward ones as following terms, the learned
  terminators and "," as terminations; run twice, once with the negation cues and once with the
  uncertainty cues. NegEx marks concepts only: it has no cue or scope output, so it appears in the concept
  rows only.

Scores (:func:`spacy_clinical_es.context.scoring.score_context`, on
:mod:`spacy_clinical_es.evaluation.metrics`): strict cue F1 per cue type and per polarity, scope-token P/R/F
and exact-scope match per polarity; at the concept level, every gold scope target typed DISO or PROC is a
concept (duplicates by offsets count once), gold-negated when a negation cue's scope is (or holds) it,
gold-uncertain likewise; each system gets the concepts as targets (span group ``nubes_targets``) and its
``negated``/``uncertain`` flags are scored with P/R/F. Speed: words (non-space tokens) per second of the
whole pipeline (tokenizer included) on one process, best of ``repeats`` passes.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from ...context.lexicon import BACKWARD, FORWARD
from ...context.registry import doc_result
from ...context.schema import (
    CUE_LABELS,
    CUE_POLARITY,
    CUES_KEY,
    NEGATION,
    POLARITIES,
    SCOPES_KEY,
    UNCERTAINTY,
)
from ...context.scoring import score_context
from ...errors import ConfigError
from ...pipeline.clinical_context import FACTORY, find_context_pipe
from ...tokenizer import make_clinical_nlp
from ..evaluate import load_model
from ..metrics import strict_span_prf
from ..report import prf_cell, table, write_json, write_text

logger = logging.getLogger(__name__)

TARGETS_KEY = "nubes_targets"
CONCEPT_LABELS: tuple[str, ...] = ("DISO", "PROC")
FLAGS: dict[str, str] = {NEGATION: "negated", UNCERTAINTY: "uncertain"}
#: Acceptance goals of issue 13 (for the better implementation).
GOALS: dict[str, tuple[str, str, float]] = {
    "negation_cue_f": ("cues_by_polarity", NEGATION, 0.95),
    "negation_scope_token_f": ("scope_tokens", NEGATION, 0.90),
    "uncertainty_cue_f": ("cues_by_polarity", UNCERTAINTY, 0.85),
    "uncertainty_scope_token_f": ("scope_tokens", UNCERTAINTY, 0.80),
}
RULES_MIN_WORDS_PER_SECOND = 20_000


def read_docs(path: str | Path, nlp: Language) -> list[Doc]:
    """The Docs of a NUBes DocBin (raise with the path when it is missing)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} not found; build it with: python -m spacy_clinical_es convert nubes --output corpus/nubes")
    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def gold_concepts(doc: Doc) -> dict[tuple[int, int], set[str]]:
    """Gold DISO/PROC scope targets (char offsets) → the polarities of the cues that reach them."""
    polarity = {c.id_: CUE_POLARITY[c.label_] for c in doc.spans.get(CUES_KEY, [])}
    concepts: dict[tuple[int, int], set[str]] = {}
    for scope in doc.spans.get(SCOPES_KEY, []):
        if scope.label_ in CONCEPT_LABELS and scope.id_ in polarity:
            concepts.setdefault((scope.start_char, scope.end_char), set()).add(polarity[scope.id_])
    return concepts


def rules_pipeline(train_docs: Sequence[Doc], nlp: Language | None = None) -> Language:
    """The clinical tokenizer + ``clinical_context`` (rules, default settings) initialized on ``train_docs``."""
    nlp = nlp if nlp is not None else make_clinical_nlp()
    nlp.add_pipe(FACTORY, name="clinical_context", config={"targets": [TARGETS_KEY]})
    nlp.initialize(lambda: (Example(nlp.make_doc(d.text), d) for d in train_docs))
    return nlp


def negex_termsets(rules_nlp: Language, train_docs: Sequence[Doc]) -> dict[str, dict[str, list[str]]]:
    """Spanish NegEx termsets (per polarity) from the training cues kept by the rules' lexicon."""
    impl = find_context_pipe(rules_nlp).implementation
    lexicon, rules = impl.lexicon, impl.rules
    forms: dict[str, dict[str, set[str]]] = {p: {FORWARD: set(), BACKWARD: set()} for p in POLARITIES}
    for doc in train_docs:
        for cue in doc.spans.get(CUES_KEY, []):
            entry = lexicon.get([t.text for t in cue])
            if entry is not None and entry.direction in (FORWARD, BACKWARD):
                forms[CUE_POLARITY[entry.label]][entry.direction].add(cue.text.lower())
    for entry in lexicon.entries:  # unaccented forms and siblings the training text never wrote
        if entry.direction in (FORWARD, BACKWARD):
            forms[CUE_POLARITY[entry.label]][entry.direction].add(" ".join(entry.words))
    termination = sorted(rules.terminators | {","})
    return {
        p: {
            "pseudo_negations": [],
            "preceding_negations": sorted(forms[p][FORWARD]),
            "following_negations": sorted(forms[p][BACKWARD]),
            "termination": termination,
        }
        for p in POLARITIES
    }


def negex_pipeline(termsets: dict[str, dict[str, list[str]]]) -> Language:
    """Clinical tokenizer + sentencizer + negspacy's ``negex`` once per polarity (``negex_<polarity>``)."""
    try:
        import negspacy.negation  # noqa: F401  (registers the "negex" factory)
    except ImportError as err:
        raise ConfigError(
            "the NegEx baseline needs negspacy: pip install negspacy (in the dev extra), or pass --no-negex"
        ) from err
    nlp = make_clinical_nlp()
    nlp.add_pipe("sentencizer")
    for polarity in POLARITIES:
        nlp.add_pipe(
            "negex",
            name=f"negex_{polarity}",
            config={"neg_termset": termsets[polarity], "extension_name": f"negex_{polarity}", "span_keys": [TARGETS_KEY]},
        )
    return nlp


def _run(nlp: Language, gold_docs: Sequence[Doc], batch_size: int, repeats: int) -> tuple[list[Doc], dict[str, Any]]:
    """Predicted Docs (targets set before the pipeline runs) and the best words/s of ``repeats`` passes."""
    best = float("inf")
    predicted: list[Doc] = []
    for _ in range(repeats):
        start = time.perf_counter()
        docs = []
        for gold in gold_docs:
            doc = nlp.make_doc(gold.text)
            spans = [doc.char_span(s, e, alignment_mode="expand") for s, e in gold_concepts(gold)]
            doc.spans[TARGETS_KEY] = [s for s in spans if s is not None]
            docs.append(doc)
        for name, proc in nlp.pipeline:
            docs = list(proc.pipe(docs, batch_size=batch_size)) if hasattr(proc, "pipe") else [proc(d) for d in docs]
        best = min(best, time.perf_counter() - start)
        predicted = docs
    words = sum(1 for doc in gold_docs for t in doc if not t.is_space)
    return predicted, {"words": words, "seconds": best, "words_per_second": words / best if best else 0.0}


def concept_scores(gold_docs: Sequence[Doc], predicted: Sequence[Doc], flags: Callable[[Any], set[str]]) -> dict[str, Any]:
    """Negated/uncertain P/R/F over the gold DISO/PROC concepts."""
    gold_items: list[tuple[int, int, int, str]] = []
    pred_items: list[tuple[int, int, int, str]] = []
    for i, (gold, doc) in enumerate(zip(gold_docs, predicted)):
        for (s, e), polarities in gold_concepts(gold).items():
            gold_items += [(i, s, e, FLAGS[p]) for p in polarities]
        for span in doc.spans.get(TARGETS_KEY, []):
            pred_items += [(i, span.start_char, span.end_char, FLAGS[p]) for p in flags(span)]
    return strict_span_prf(gold_items, pred_items, labels=tuple(FLAGS.values()))


def _context_flags(span: Any) -> set[str]:
    return {p for p, flag in ((NEGATION, span._.negated), (UNCERTAINTY, span._.uncertain)) if flag}


def _negex_flags(span: Any) -> set[str]:
    return {p for p in POLARITIES if span._.get(f"negex_{p}")}


def score_system(
    nlp: Language, gold_docs: Sequence[Doc], *, context: bool, batch_size: int, repeats: int
) -> dict[str, Any]:
    """Run one system and score it (cue/scope scores only for ``clinical_context`` systems)."""
    flags = _context_flags if context else _negex_flags
    predicted, speed = _run(nlp, gold_docs, batch_size, repeats)
    out: dict[str, Any] = {"speed": speed, "concepts": concept_scores(gold_docs, predicted, flags)}
    if context:
        pipe = find_context_pipe(nlp)
        keys = pipe.cfg["cues_key"], pipe.cfg["scopes_key"]
        pairs = [(doc_result(g, CUES_KEY, SCOPES_KEY), doc_result(p, *keys)) for g, p in zip(gold_docs, predicted)]
        out.update(score_context(pairs))
    return out


def goals(system: dict[str, Any]) -> dict[str, Any]:
    """Each acceptance goal: value, target and whether it is met (cue/scope systems only)."""
    out = {}
    for name, (part, polarity, target) in GOALS.items():
        if part in system:
            value = system[part]["per_type"][polarity]["f"]
            out[name] = {"value": value, "target": target, "met": value >= target}
    return out


def run_negation_benchmark(
    test: str | Path,
    train: str | Path,
    *,
    model: str | Path | None = None,
    output: str | Path = "metrics/negation.json",
    markdown_path: str | Path | None = None,
    negex: bool = True,
    batch_size: int = 256,
    repeats: int = 2,
    limit: int = 0,
    command: str = "",
) -> dict[str, Any]:
    """Score the systems on ``test`` and write ``output`` (JSON) and the Markdown beside it; return the JSON."""
    reader = make_clinical_nlp()
    gold_docs = read_docs(test, reader)
    if limit:
        gold_docs = gold_docs[:limit]
    train_docs = read_docs(train, reader)
    rules = rules_pipeline(train_docs)
    systems: dict[str, Any] = {}
    logger.info("negation benchmark: rules on %d test sentences", len(gold_docs))
    systems["rules"] = score_system(rules, gold_docs, context=True, batch_size=batch_size, repeats=repeats)
    systems["rules"]["lexicon_forms"] = len(find_context_pipe(rules).implementation.lexicon)
    if model is not None:
        trained = load_model(model)
        find_context_pipe(trained).cfg["targets"] = [TARGETS_KEY]
        logger.info("negation benchmark: trained model %s", model)
        systems["trained"] = score_system(trained, gold_docs, context=True, batch_size=batch_size, repeats=repeats)
        systems["trained"]["model"] = str(model)
    if negex:
        baseline = negex_pipeline(negex_termsets(rules, train_docs))
        logger.info("negation benchmark: NegEx baseline")
        systems["negex"] = score_system(baseline, gold_docs, context=False, batch_size=batch_size, repeats=repeats)
    concepts = sum(len(gold_concepts(d)) for d in gold_docs)
    result: dict[str, Any] = {
        "command": command,
        "test": str(test),
        "train": str(train),
        "sentences": len(gold_docs),
        "words": systems["rules"]["speed"]["words"],
        "concepts": concepts,
        "systems": systems,
        "goals": {name: goals(s) for name, s in systems.items() if "cues" in s},
        "rules_speed_goal": {
            "value": systems["rules"]["speed"]["words_per_second"],
            "target": RULES_MIN_WORDS_PER_SECOND,
            "met": systems["rules"]["speed"]["words_per_second"] >= RULES_MIN_WORDS_PER_SECOND,
        },
        "licence_note": "scores on NUBes (CC BY-SA 3.0 ES); the numbers are ours, the data stays under its licence",
    }
    write_json(result, output)
    md_path = Path(markdown_path) if markdown_path is not None else Path(output).with_suffix(".md")
    write_text(markdown(result), md_path)
    return result


def markdown(result: dict[str, Any]) -> str:
    """The Markdown report: cues per type, polarity summary, concepts, speed, goals."""
    systems = result["systems"]
    context = [n for n, s in systems.items() if "cues" in s]
    lines = [
        f"# Negation and uncertainty (NUBes, `{result['test']}`)",
        "",
        (
            f"{result['sentences']} sentences, {result['words']} words, {result['concepts']} gold DISO/PROC "
            f"concepts. Command: `{result['command']}`"
        ),
        "",
        "## Cues: strict F1 per type (P / R / **F1**)",
        "",
    ]
    rows = []
    for label in CUE_LABELS:
        support = systems[context[0]]["cues"]["per_type"][label]
        rows.append([label, str(support["tp"] + support["fn"]), *[prf_cell(systems[n]["cues"]["per_type"][label]) for n in context]])
    lines += [table(["cue", "gold", *context], rows), "", "## Per polarity (P / R / **F1**)", ""]
    rows = []
    for polarity in POLARITIES:
        for part, what in (("cues_by_polarity", "cue"), ("scope_tokens", "scope tokens"), ("scope_exact", "exact scope")):
            gold = systems[context[0]][part]["per_type"][polarity]
            rows.append([f"{polarity} {what}", str(gold["tp"] + gold["fn"]), *[prf_cell(systems[n][part]["per_type"][polarity]) for n in context]])
    lines += [table(["", "gold", *context], rows), "", "## Concepts: negated / uncertain (P / R / **F1**)", ""]
    rows = []
    for flag in FLAGS.values():
        gold = systems[context[0]]["concepts"]["per_type"][flag]
        rows.append([flag, str(gold["tp"] + gold["fn"]), *[prf_cell(s["concepts"]["per_type"][flag]) for s in systems.values()]])
    lines += [table(["", "gold", *systems], rows), "", "## Speed (one process, tokenizer included)", ""]
    rows = [[n, f"{s['speed']['words_per_second']:,.0f}", f"{s['speed']['seconds']:.2f}"] for n, s in systems.items()]
    lines += [table(["system", "words/s", "seconds"], rows), "", "## Goals (issue 13)", ""]
    rows = []
    for name, checks in result["goals"].items():
        for goal, check in checks.items():
            rows.append([name, goal, f"{check['value']:.4f}", f"{check['target']:.2f}", "yes" if check["met"] else "no"])
    speed = result["rules_speed_goal"]
    rows.append(["rules", "words/s", f"{speed['value']:,.0f}", f"{speed['target']:,}", "yes" if speed["met"] else "no"])
    lines += [table(["system", "goal", "value", "target", "met"], rows), ""]
    return "\n".join(lines) + "\n"
