"""The MEDDOCAN de-identification benchmark: accuracy, clinical damage, speed, long documents.

The detector is a trained pipeline whose statistical NER is followed by
``phi_rules`` (structured PHI), ``phi_gazetteer`` (training phrases and
in-document propagation) and ``phi_recall``, as ``configs/deid_cnn.cfg``
trains it. A detector without the rule components gets ``phi_rules`` added,
and ``phi_gazetteer`` too when ``train`` gives the corpus to build its
gazetteer from.

1. **Accuracy** on the MEDDOCAN dev DocBin (gold: span group ``meddocan``,
   exact offsets), per *setting*: the NER alone, NER + ``phi_rules`` (each
   merge policy), NER + ``phi_gazetteer``, the whole detector (``doc.ents``),
   and the span group the randomizer replaces (entities + ``phi_recall``
   spans) for a grid of ``phi_recall`` thresholds and temperatures (the
   pipeline runs once; ``phi_recall`` re-annotates from its stored
   probabilities). Strict micro P/R/F per label and PHI token P/R/F
   (:func:`spacy_clinical_es.evaluation.scorer.score_docs`).
2. **Clinical damage**, beside those numbers for every setting: the
   ``deid_randomizer`` with its default policy replaces the setting's spans,
   and on the MEDDOCAN dev documents that DisTEMIST, MedProcNER and SympTEMIST
   also annotate (the detector was not trained on them; their disease,
   procedure and symptom mentions are moved onto the MEDDOCAN text with
   :class:`~spacy_clinical_es.corpora.builders.char_align.CharAlignment`), the
   share of mentions whose text the de-identification changes, by type and by
   cause (what replaced it: an NER entity, a rule, the gazetteer, a recall
   span; and whether the changed characters are gold PHI), with a few short
   examples of the public corpus per cause; plus, over all dev documents,
   non-PHI tokens (no character in a gold PHI span) changed per 1,000 tokens,
   and the *replaced PHI token recall after the policy*: of the gold PHI
   tokens that the same randomizer changes when it is given the gold spans
   (so what the policy and options keep on purpose, sex, ages, kinship words,
   is left out), the share the setting's output changes — overall and per
   gold label (which categories leak, most leaked tokens first).
3. **Speed**: detector + ``deid_randomizer`` with ``nlp.pipe`` over the dev
   texts on 1 and 2 processes (the key is a random one put in
   ``SPACY_CLINICAL_ES_DEID_KEY`` for the run, never written), and the seconds
   of each component on one process.
4. **Long documents**: one document of ``long_sizes`` characters (the dev
   texts repeated) de-identified by
   :func:`spacy_clinical_es.runtime.batch.deidentify_batch` (the function the
   CLI, Spark and the service call), each size in a fresh process: seconds
   and peak resident memory (``ru_maxrss``; the model load included).

NumPy's BLAS gets one thread (``threadpoolctl``, and the ``*_NUM_THREADS``
variables for child processes), so "one process" means one core. Writes
``output`` (JSON: numbers, targets met or not, the command, model and machine)
and optionally a Markdown summary. Run it with ``python -m spacy_clinical_es
benchmark deid``.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import platform
import resource
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from ... import __version__
from ...corpora.builders.char_align import CharAlignment
from ...corpora.readers import iter_corpus
from ...corpora.representation import USER_DATA_KEY
from ...errors import ConfigError, DataDirError
from ..evaluate import read_gold_docs
from ..report import prf_cell, table, write_json, write_text
from ..scorer import score_docs

logger = logging.getLogger(__name__)

__all__ = [
    "CLINICAL_CORPORA",
    "TARGETS",
    "ClinicalMention",
    "clinical_mentions",
    "damage",
    "run_deid_benchmark",
]

_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Targets: value and direction (``min``: measured >= value; ``max``: measured <= value).
TARGETS: dict[str, tuple[float, str]] = {
    "strict_micro_f1": (0.965, "min"),
    "replaced_phi_token_recall": (0.99, "min"),
    "clinical_mentions_changed": (0.001, "max"),
    "words_per_second_1_process": (8000.0, "min"),
    "long_document_time_ratio": (10.0, "max"),
    "long_document_peak_rss_gb": (2.0, "max"),
}
GOLD_SPAN_KEY = "meddocan"
RULE_COMPONENTS = ("phi_rules", "phi_gazetteer")
RECALL_COMPONENT = "phi_recall"
FULL = "detector"  # the whole detector: NER + phi_rules + phi_gazetteer (its doc.ents)
REPLACED = "replaced"  # what the randomizer replaces: phi_recall's group (entities + recall spans)
#: Corpora whose mentions measure clinical damage, and the mention type each gives.
CLINICAL_CORPORA = {"distemist": "disease", "medprocner": "procedure", "symptemist": "symptom"}
EXAMPLES_PER_CAUSE = 3
_EXAMPLE_CHARS = 60
DEFAULT_LONG_SIZES = (100_000, 1_000_000)


# -- clinical mentions on the MEDDOCAN dev texts -------------------------------------------------


@dataclass(frozen=True)
class ClinicalMention:
    """A disease/procedure/symptom mention moved onto a MEDDOCAN text: its fragments there and its type."""

    type: str
    fragments: tuple[tuple[int, int], ...]

    @property
    def start(self) -> int:
        return min(s for s, _ in self.fragments)

    @property
    def end(self) -> int:
        return max(e for _, e in self.fragments)


def _doc_id(doc: Doc) -> str:
    record = doc.user_data.get(USER_DATA_KEY)
    document = record.get("document", {}) if isinstance(record, dict) else {}
    return str(document.get("id") or "")


def clinical_mentions(
    gold_docs: Sequence[Doc], data_dir: str | Path | None = None
) -> tuple[dict[int, list[ClinicalMention]], dict[str, Any]]:
    """Mentions of :data:`CLINICAL_CORPORA` (train) on the gold docs they share an id with, by doc index.

    Returns the mentions and the counts (documents shared, mentions mapped and
    not mapped per type and reason). The MEDDOCAN text carries a synthetic PHI
    header and small edits, so mentions are moved with :class:`CharAlignment`;
    one that does not map exactly is counted, not used.
    """
    by_id = {_doc_id(doc): i for i, doc in enumerate(gold_docs)}
    by_id.pop("", None)
    if not by_id:
        raise ConfigError("The gold docs carry no document ids (convert the corpus with spacy-clinical-es convert deid).")
    mentions: dict[int, list[ClinicalMention]] = defaultdict(list)
    counts: dict[str, Any] = {"documents": {}, "mapped": Counter(), "not_mapped": Counter()}
    shared: set[int] = set()
    for corpus, mention_type in CLINICAL_CORPORA.items():
        n_docs = 0
        for document in iter_corpus(corpus, "train", data_dir):
            index = by_id.get(document.id)
            if index is None:
                continue
            n_docs += 1
            shared.add(index)
            target = gold_docs[index].text
            align = None if document.text == target else CharAlignment(document.text, target)
            for annotation in document.annotations:
                if align is None:
                    fragments, reason = list(annotation.fragments), "mapped"
                else:
                    fragments, reason = align.align_fragments(annotation.fragments)
                if fragments is None:
                    counts["not_mapped"][f"{mention_type}: {reason}"] += 1
                    continue
                counts["mapped"][mention_type] += 1
                mentions[index].append(ClinicalMention(mention_type, tuple(sorted(fragments))))
        counts["documents"][corpus] = n_docs
    counts["documents"]["shared_with_any"] = len(shared)
    counts["mapped"] = dict(counts["mapped"])
    counts["not_mapped"] = dict(counts["not_mapped"])
    return dict(mentions), counts


# -- what a de-identification changed ------------------------------------------------------------


def _mask(length: int, ranges: Iterable[tuple[int, int]]) -> bytearray:
    mask = bytearray(length)
    for start, end in ranges:
        mask[start:end] = b"\x01" * (end - start)
    return mask


def _overlaps(ranges: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in ranges)


def changed_ranges(doc: Doc) -> list[tuple[int, int]]:
    """Input character ranges whose output text differs (the randomizer's changed segments)."""
    offset_map = doc._.deid_offset_map
    text, out = doc.text, doc._.deid_text
    return [
        (seg.in_start, seg.in_end)
        for seg in offset_map.segments
        if seg.changed and text[seg.in_start : seg.in_end] != out[seg.out_start : seg.out_end]
    ]


def _span_sources(doc: Doc, spans_key: str | None, source_keys: dict[str, str]) -> list[tuple[int, int, str]]:
    """``(start_char, end_char, source)`` of the replaced spans: entity (the NER), phi_rules, phi_gazetteer or phi_recall."""
    from ...pipeline.phi_recall import RECALL_KB_ID

    spans = list(doc.ents) if spans_key is None else list(doc.spans.get(spans_key, []))
    by_offsets: dict[tuple[int, int], str] = {}
    for key, source in source_keys.items():
        for span in doc.spans.get(key, []):
            by_offsets.setdefault((span.start_char, span.end_char), source)
    out = []
    for span in spans:
        offsets = (span.start_char, span.end_char)
        source = RECALL_COMPONENT if span.kb_id_ == RECALL_KB_ID else by_offsets.get(offsets, "entity")
        out.append((offsets[0], offsets[1], source))
    return out


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


def damage(
    docs: Sequence[Doc],
    gold_docs: Sequence[Doc],
    mentions: dict[int, list[ClinicalMention]] | None,
    *,
    spans_key: str | None,
    source_keys: dict[str, str],
    policy_changes: Sequence[bytearray] | None = None,
) -> dict[str, Any]:
    """Clinical damage of de-identified ``docs`` (``doc._.deid_text`` set) against ``gold_docs``.

    ``mentions``: :func:`clinical_mentions` by doc index (``None``: no clinical
    mentions, their numbers are ``None``). ``spans_key``: the group the
    randomizer replaced (``None``: ``doc.ents``); ``source_keys``: span group →
    component name, to name the cause. ``policy_changes``: per doc, the
    characters the randomizer changes when given the gold spans
    (:func:`policy_changes`), for the replaced PHI token recall after the policy,
    overall and per gold label (``replaced_by_label``: which categories leak).
    """
    by_type: dict[str, Counter] = defaultdict(Counter)
    by_label: dict[str, Counter] = defaultdict(Counter)
    causes: Counter = Counter()
    examples: dict[str, list[dict[str, str]]] = defaultdict(list)
    tokens = non_phi_changed = phi_tokens = policy_tokens = policy_replaced = 0
    for index, (doc, gold) in enumerate(zip(docs, gold_docs)):
        changed = changed_ranges(doc)
        gold_spans = list(gold.spans.get(GOLD_SPAN_KEY, []))
        gold_phi = [(s.start_char, s.end_char) for s in gold_spans]
        gold_mask, changed_mask = _mask(len(doc.text), gold_phi), _mask(len(doc.text), changed)
        policy_mask = policy_changes[index] if policy_changes is not None else None
        for token in doc:
            if token.is_space:
                continue
            tokens += 1
            start, end = token.idx, token.idx + len(token)
            if any(gold_mask[start:end]):
                phi_tokens += 1
                if policy_mask is not None and any(policy_mask[start:end]):
                    replaced = any(changed_mask[start:end])
                    policy_tokens += 1
                    policy_replaced += replaced
                    label = next((s.label_ for s in gold_spans if s.start_char < end and start < s.end_char), "")
                    by_label[label]["tokens"] += 1
                    by_label[label]["replaced"] += replaced
            elif any(changed_mask[start:end]):
                non_phi_changed += 1
        doc_mentions = (mentions or {}).get(index, [])
        if not doc_mentions:
            continue
        sources = _span_sources(doc, spans_key, source_keys) if changed else []
        for mention in doc_mentions:
            by_type[mention.type]["mentions"] += 1
            hit = [(s, e) for s, e in changed if any(s < fe and fs < e for fs, fe in mention.fragments)]
            if not hit:
                continue
            by_type[mention.type]["changed"] += 1
            s, e = hit[0]
            source = next((src for a, b, src in sources if a < e and s < b), "other")
            cause = f"{source} ({'gold PHI' if _overlaps(gold_phi, s, e) else 'not PHI'})"
            causes[cause] += 1
            if len(examples[cause]) < EXAMPLES_PER_CAUSE:
                out = doc._.deid_offset_map.to_output_span(mention.start, mention.end)
                examples[cause].append(
                    {
                        "type": mention.type,
                        "mention": _short(doc.text[mention.start : mention.end]),
                        "replaced": _short(doc.text[s:e]),
                        "after": _short(doc._.deid_text[out[0] : out[1]]),
                    }
                )
    n_mentions = sum(c["mentions"] for c in by_type.values())
    n_changed = sum(c["changed"] for c in by_type.values())
    clinical = mentions is not None
    return {
        "clinical_mentions": n_mentions if clinical else None,
        "clinical_mentions_changed": n_changed if clinical else None,
        "clinical_mentions_changed_share": (n_changed / n_mentions if n_mentions else 0.0) if clinical else None,
        "by_type": {
            name: {**dict(c), "share": c["changed"] / c["mentions"] if c["mentions"] else 0.0}
            for name, c in sorted(by_type.items())
        },
        "causes": dict(causes.most_common()),
        "examples": {cause: examples[cause] for cause in causes},
        "tokens": tokens,
        "gold_phi_tokens": phi_tokens,
        "non_phi_tokens_changed": non_phi_changed,
        "non_phi_tokens_changed_per_1000": 1000.0 * non_phi_changed / tokens if tokens else 0.0,
        "policy_phi_tokens": policy_tokens if policy_changes is not None else None,
        "replaced_phi_tokens": policy_replaced if policy_changes is not None else None,
        "replaced_phi_token_recall": (policy_replaced / policy_tokens if policy_tokens else None)
        if policy_changes is not None
        else None,
        "replaced_by_label": _by_label(by_label) if policy_changes is not None else None,
    }


def _by_label(counts: dict[str, Counter]) -> dict[str, dict[str, Any]]:
    """Replaced PHI token recall per gold label (the categories that leak), most leaked tokens first."""
    rows = {
        label: {
            "tokens": c["tokens"],
            "replaced": c["replaced"],
            "leaked": c["tokens"] - c["replaced"],
            "recall": c["replaced"] / c["tokens"],
        }
        for label, c in counts.items()
    }
    return dict(sorted(rows.items(), key=lambda item: (-item[1]["leaked"], item[0])))


def policy_changes(nlp: Language, gold_docs: Sequence[Doc]) -> list[bytearray]:
    """Per gold doc, the characters a default-policy ``deid_randomizer`` changes when given the gold spans.

    What it leaves unchanged (sex, ages, kinship words, protected text) is the
    policy's choice, not a detection miss: the replaced PHI token recall
    counts the other gold PHI tokens only.
    """
    randomizer = nlp.create_pipe("deid_randomizer", config={"spans_key": GOLD_SPAN_KEY})
    masks = []
    for gold in gold_docs:
        copy = gold.copy()
        randomizer(copy)
        masks.append(_mask(len(copy.text), changed_ranges(copy)))
    return masks


# -- the pipeline and its settings ---------------------------------------------------------------


def summarize(scores: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's accuracy numbers from :func:`score_docs`' result."""
    strict = scores["strict"]
    token = scores["deid_token"]
    return {
        "strict": {k: strict[k] for k in ("p", "r", "f", "tp", "fp", "fn") if k in strict},
        "strict_per_label": strict["per_type"],
        "phi_token": {k: token[k] for k in ("p", "r", "f", "fn", "leak_rate") if k in token},
        "phi_char": {k: scores["deid_char"][k] for k in ("p", "r", "f", "leak_rate") if k in scores["deid_char"]},
        "n_docs": scores["n_docs"],
    }


def load_detector(model: str | Path, train: str | Path | None = None) -> Language:
    """The detector with ``phi_rules`` and, when it has one or ``train`` is given, ``phi_gazetteer``."""
    nlp = spacy.load(model)
    if "phi_rules" not in nlp.pipe_names:
        logger.info("%s has no phi_rules: adding one with the default config", model)
        nlp.add_pipe("phi_rules", before=RECALL_COMPONENT if RECALL_COMPONENT in nlp.pipe_names else None)
    if "phi_gazetteer" not in nlp.pipe_names and train is not None:
        logger.info("%s has no phi_gazetteer: building one from %s", model, train)
        gazetteer = nlp.add_pipe("phi_gazetteer", after="phi_rules")
        train_docs = list(DocBin().from_disk(train).get_docs(nlp.vocab))
        gazetteer.initialize(lambda: (Example(nlp.make_doc(d.text), d) for d in train_docs), nlp=nlp)
    return nlp


def settings(nlp: Language) -> dict[str, tuple[list[str], str]]:
    """Entity settings: name -> (components disabled, phi_rules merge policy)."""
    from ...pipeline.phi_rules import MERGE_POLICIES

    has_gazetteer = "phi_gazetteer" in nlp.pipe_names
    default_merge = nlp.get_pipe("phi_rules").cfg["merge"]
    # phi_recall never changes doc.ents (set_ents = false): off while the entities are scored.
    recall = [RECALL_COMPONENT] if RECALL_COMPONENT in nlp.pipe_names else []
    rows: dict[str, tuple[list[str], str]] = {"ner": ([*RULE_COMPONENTS, *recall], default_merge)}
    for policy in MERGE_POLICIES:
        rows[f"ner+phi_rules[{policy}]"] = (["phi_gazetteer", *recall], policy)
    if has_gazetteer:
        rows["ner+phi_gazetteer"] = (["phi_rules", *recall], default_merge)
        rows[FULL] = (recall, default_merge)
    present = set(nlp.pipe_names)
    return {name: ([c for c in disabled if c in present], merge) for name, (disabled, merge) in rows.items()}


def setting_key(threshold: float, temperature: float) -> str:
    """The key of one ``phi_recall`` setting in ``replaced.settings``."""
    return f"threshold={threshold:g} temperature={temperature:g}"


def _source_keys(nlp: Language) -> dict[str, str]:
    keys = {}
    for name in RULE_COMPONENTS:
        if name in nlp.pipe_names:
            key = nlp.get_pipe(name).cfg.get("spans_key")
            if key:
                keys[key] = name
    return keys


class _Damage:
    """Runs a default-policy randomizer over predicted docs and measures the damage (one per spans key)."""

    def __init__(
        self, nlp: Language, gold_docs: Sequence[Doc], mentions: dict[int, list[ClinicalMention]] | None
    ) -> None:
        self.nlp = nlp
        self.gold_docs = gold_docs
        self.mentions = mentions
        self.source_keys = _source_keys(nlp)
        self.policy_changes = policy_changes(nlp, gold_docs)
        self._randomizers: dict[str | None, Any] = {}

    def __call__(self, docs: Sequence[Doc], spans_key: str | None, policy: dict[str, Any] | None = None) -> dict[str, Any]:
        """The damage of ``docs`` de-identified from ``spans_key`` (``policy``: default-policy fields overridden)."""
        cache_key = (spans_key, tuple(sorted((policy or {}).items())))
        randomizer = self._randomizers.get(cache_key)
        if randomizer is None:
            config: dict[str, Any] = {"spans_key": spans_key}
            if policy:
                config["policy"] = {"@misc": "spacy_clinical_es.ReplacementPolicy.v1", **policy}
            randomizer = self._randomizers[cache_key] = self.nlp.create_pipe("deid_randomizer", config=config)
        for doc in docs:
            randomizer(doc)
        return damage(
            docs,
            self.gold_docs,
            self.mentions,
            spans_key=spans_key,
            source_keys=self.source_keys,
            policy_changes=self.policy_changes,
        )


def _pipe(nlp: Language, texts: list[str], batch_size: int) -> tuple[list[Doc], float]:
    start = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    return docs, time.perf_counter() - start


def score_settings(
    nlp: Language, gold_docs: list[Doc], measure: _Damage | None, *, batch_size: int
) -> dict[str, Any]:
    """Accuracy (and damage) of every entity setting (see :func:`settings`)."""
    rules = nlp.get_pipe("phi_rules")
    default_merge = rules.cfg["merge"]
    texts = [doc.text for doc in gold_docs]
    accuracy: dict[str, Any] = {}
    try:
        for name, (disabled, merge) in settings(nlp).items():
            rules.cfg["merge"] = merge
            rules._validate()
            logger.info("Scoring %s", name)
            with nlp.select_pipes(disable=disabled):
                docs, seconds = _pipe(nlp, texts, batch_size)
            row = summarize(score_docs((gold_docs, docs), gold_span_key=GOLD_SPAN_KEY))
            row["seconds_scoring_run"] = seconds
            if measure is not None:
                row["damage"] = measure(docs, None)
            accuracy[name] = row
    finally:
        rules.cfg["merge"] = default_merge
        rules._validate()
    return accuracy


def score_replaced(
    nlp: Language,
    gold_docs: list[Doc],
    measure: _Damage | None,
    *,
    key: str,
    thresholds: Iterable[float],
    temperatures: Iterable[float],
    isolation: Iterable[int | None] = (),
    batch_size: int,
) -> dict[str, Any]:
    """Scores (and damage) of the span group the randomizer replaces, per ``phi_recall`` threshold and temperature.

    ``isolation``: values of the policy's ``recall_isolation_chars`` whose damage is also measured at the
    configured threshold and temperature (``None``: the rule off).
    """
    recall = nlp.get_pipe(RECALL_COMPONENT)
    configured = (recall.cfg["threshold"], recall.cfg["temperature"])
    with nlp.select_pipes(disable=[RECALL_COMPONENT]):
        docs, _ = _pipe(nlp, [doc.text for doc in gold_docs], batch_size)
    probabilities = recall.predict(docs)
    rows: dict[str, Any] = {}
    grid = {(t, temp) for t in thresholds for temp in temperatures} | {configured}
    try:
        for threshold, temperature in sorted(grid, key=lambda s: (s[1], -s[0])):
            recall.cfg["threshold"], recall.cfg["temperature"] = threshold, temperature
            logger.info("Scoring the replaced spans at phi_recall %s", setting_key(threshold, temperature))
            recall.set_annotations(docs, probabilities)
            row = summarize(score_docs((gold_docs, docs), span_key=key, gold_span_key=GOLD_SPAN_KEY))
            if measure is not None:
                row["damage"] = measure(docs, key)
            rows[setting_key(threshold, temperature)] = row
        by_isolation: dict[str, Any] = {}
        if measure is not None and isolation:
            recall.cfg["threshold"], recall.cfg["temperature"] = configured
            recall.set_annotations(docs, probabilities)
            for distance in isolation:
                logger.info("Damage at the configured setting with recall_isolation_chars=%s", distance)
                by_isolation["off" if distance is None else str(distance)] = measure(docs, key, {"recall_isolation_chars": distance})
    finally:
        recall.cfg["threshold"], recall.cfg["temperature"] = configured
    return {"spans_key": key, "configured": setting_key(*configured), "settings": rows, "isolation": by_isolation}


# -- speed ---------------------------------------------------------------------------------------


def time_pipe(nlp: Language, texts: list[str], *, n_process: int, batch_size: int, repeats: int) -> dict[str, Any]:
    """Words per second of ``nlp.pipe`` over ``texts`` (best of ``repeats``; words: non-space tokens)."""
    list(nlp.pipe(texts[:8], batch_size=batch_size))  # warm-up (lazy initialization)
    runs = []
    words = 0
    for _ in range(repeats):
        start = time.perf_counter()
        docs = list(nlp.pipe(texts, n_process=n_process, batch_size=batch_size))
        seconds = time.perf_counter() - start
        words = sum(1 for doc in docs for token in doc if not token.is_space)
        if any(doc._.deid_text is None for doc in docs):
            raise ConfigError("the randomizer did not run on every document")
        runs.append(seconds)
    best = min(runs)
    return {
        "n_process": n_process,
        "batch_size": batch_size,
        "docs": len(texts),
        "words": words,
        "seconds_runs": runs,
        "seconds_best": best,
        "words_per_second": words / best,
    }


def time_components(nlp: Language, texts: list[str], *, batch_size: int) -> dict[str, float]:
    """Seconds of the tokenizer and of each component over ``texts`` on this process (one pass)."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    docs = [nlp.make_doc(text) for text in texts]
    result["tokenizer"] = time.perf_counter() - start
    for name, proc in nlp.pipeline:
        start = time.perf_counter()
        if hasattr(proc, "pipe"):
            docs = list(proc.pipe(docs, batch_size=batch_size))
        else:
            docs = [proc(doc) for doc in docs]
        result[name] = time.perf_counter() - start
    return result


def long_text(texts: Sequence[str], size: int) -> str:
    """``size`` characters of ``texts`` joined by blank lines, repeated as needed."""
    if not any(texts):
        raise ConfigError("No text to build a long document from.")
    parts: list[str] = []
    total = 0
    while total < size:
        text = texts[len(parts) % len(texts)]
        total += len(text) + (2 if parts else 0)
        parts.append(text)
    return "\n\n".join(parts)[:size]


def _long_document_child(model: str, texts: list[str], size: int, key: str, repeats: int, queue: Any) -> None:
    """In a fresh process: load, de-identify one ``size``-character document (best of ``repeats``), report time and memory."""
    try:
        _limit_blas_threads()
        from ...runtime.batch import DeidRecord, deidentify_batch, prepare_pipeline

        nlp, _ = prepare_pipeline(model, mode=None, seed=None, key=key)
        deidentify_batch(nlp, [DeidRecord("warm-up", texts[0])])
        rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        text = long_text(texts, size)
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = deidentify_batch(nlp, [DeidRecord("long", text)])[0]
            runs.append(time.perf_counter() - start)
        queue.put(
            {
                "chars": len(text),
                "seconds": min(runs),
                "seconds_runs": runs,
                "ok": result.ok,
                "reason": result.reason,
                "pieces": result.pieces,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peak_rss_mb_after_load": rss_loaded / 1024,
            }
        )
    except Exception as err:  # noqa: BLE001 (reported to the parent by type only, no text)
        queue.put({"error": type(err).__name__})


def time_long_documents(
    model: str | Path, texts: Sequence[str], sizes: Sequence[int], *, repeats: int = 2
) -> dict[str, Any]:
    """Seconds (best of ``repeats``) and peak memory of one document per size, each in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    key = secrets.token_hex(16)
    rows: dict[str, Any] = {}
    for size in sizes:
        logger.info("De-identifying one %d-character document in a fresh process", size)
        queue = context.Queue()
        process = context.Process(target=_long_document_child, args=(str(model), list(texts), size, key, repeats, queue))
        process.start()
        row = queue.get()
        process.join()
        rows[str(size)] = row
    result: dict[str, Any] = {
        "function": "spacy_clinical_es.runtime.batch.deidentify_batch",
        "repeats": repeats,
        "sizes": rows,
    }
    if len(sizes) >= 2:
        small, large = rows[str(min(sizes))], rows[str(max(sizes))]
        if "seconds" in small and "seconds" in large and small["seconds"] > 0:
            result["time_ratio"] = large["seconds"] / small["seconds"]
            result["size_ratio"] = max(sizes) / min(sizes)
            result["peak_rss_gb_largest"] = large["peak_rss_mb"] / 1024
    return result


def _limit_blas_threads() -> None:
    for var in _BLAS_VARS:
        os.environ.setdefault(var, "1")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        logger.warning("threadpoolctl is not installed: NumPy's BLAS may use several threads")
        return
    threadpool_limits(1)


def _git_commit() -> str | None:
    """The commit of the package's checkout (with ``+dirty`` when its files differ from it), if it is one."""
    import subprocess

    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "spacy_clinical_es"],
            cwd=root, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """Cores, load average, BLAS threads and versions (the timings depend on them)."""
    info: dict[str, Any] = {
        "git_commit": _git_commit(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "spacy_clinical_es": __version__,
        "blas_threads": {var: os.environ.get(var) for var in _BLAS_VARS[:2]},
    }
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        info["loadavg_1_5_15_at_start"] = list(os.getloadavg())
    except OSError:
        pass
    return info


# -- the run -------------------------------------------------------------------------------------


def _targets(measured: dict[str, float | None]) -> dict[str, Any]:
    rows = {}
    for name, (target, direction) in TARGETS.items():
        value = measured.get(name)
        met = None if value is None else (value >= target if direction == "min" else value <= target)
        rows[name] = {"target": target, "direction": direction, "measured": value, "met": met}
    return rows


def run_deid_benchmark(
    model: str | Path,
    data: str | Path,
    *,
    output: str | Path | None = "metrics/deid.json",
    markdown_path: str | Path | None = None,
    train: str | Path | None = None,
    data_dir: str | Path | None = None,
    batch_size: int = 64,
    repeats: int = 2,
    processes: Sequence[int] = (1, 2),
    limit: int = 0,
    thresholds: Sequence[float] = (0.5, 0.3, 0.2, 0.1, 0.05, 0.02),
    temperatures: Sequence[float] = (1.0, 2.0, 4.0),
    isolation: Sequence[int | None] = (None, 25, 50, 100, 200, 400),
    clinical: bool = True,
    long_sizes: Sequence[int] = DEFAULT_LONG_SIZES,
    long_repeats: int = 1,
    command: str = "",
) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); write ``output`` (and ``markdown_path``) and return the result."""
    from ...pipeline.deid_randomizer import DEFAULT_KEY_ENV
    from ...pipeline.phi_gazetteer import GAZETTEER_KEY_ENV
    from ...pipeline.phi_recall import replacement_spans_key

    _limit_blas_threads()
    started = machine()
    os.environ[DEFAULT_KEY_ENV] = secrets.token_hex(16)  # random, for this run only (workers read it)
    # phi_gazetteer's hashing key: the environment's (a hashed gazetteer needs the key it was built with); else a
    # random one, with which verbatim phrases of an older pipeline are hashed when it loads.
    gazetteer_key = "environment" if os.environ.get(GAZETTEER_KEY_ENV) else "random for this run"
    os.environ.setdefault(GAZETTEER_KEY_ENV, secrets.token_hex(16))
    nlp = load_detector(model, train)
    gold_docs = read_gold_docs(data, nlp)
    if limit:
        gold_docs = gold_docs[:limit]
    texts = [doc.text for doc in gold_docs]

    clinical_counts: dict[str, Any] | None = None
    mentions: dict[int, list[ClinicalMention]] | None = None
    if clinical:
        try:
            mentions, clinical_counts = clinical_mentions(gold_docs, data_dir)
        except DataDirError as err:
            logger.warning("No clinical damage measure: %s", err)
    measure = _Damage(nlp, gold_docs, mentions)
    accuracy = score_settings(nlp, gold_docs, measure, batch_size=batch_size)
    rules = nlp.get_pipe("phi_rules")
    main_name = FULL if FULL in accuracy else f"ner+phi_rules[{rules.cfg['merge']}]"
    replaced_key = replacement_spans_key(nlp)
    replaced = None
    if replaced_key is not None:
        replaced = score_replaced(
            nlp,
            gold_docs,
            measure,
            key=replaced_key,
            thresholds=thresholds,
            temperatures=temperatures,
            isolation=isolation,
            batch_size=batch_size,
        )

    speed: dict[str, Any] = {}
    nlp.add_pipe("deid_randomizer", config={"spans_key": replaced_key})
    logger.info("Timing each component on one process")
    speed["component_seconds_1_process"] = time_components(nlp, texts, batch_size=batch_size)
    for n_process in processes:
        logger.info("Timing %s on %d process(es)", "+".join(nlp.pipe_names), n_process)
        speed[f"n_process_{n_process}"] = time_pipe(
            nlp, texts, n_process=n_process, batch_size=batch_size, repeats=repeats
        )
    long_documents = time_long_documents(model, texts, long_sizes, repeats=long_repeats) if long_sizes else None

    main_result = accuracy[main_name]
    # What is replaced: phi_recall's group when there is one, else the entities.
    replaced_result = replaced["settings"][replaced["configured"]] if replaced is not None else main_result
    replaced_damage = replaced_result.get("damage")
    measured: dict[str, float | None] = {
        "strict_micro_f1": main_result["strict"]["f"],
        "phi_token_recall": replaced_result["phi_token"]["r"],
        "replaced_phi_token_recall": replaced_damage["replaced_phi_token_recall"] if replaced_damage else None,
        "clinical_mentions_changed": replaced_damage["clinical_mentions_changed_share"] if replaced_damage else None,
        "non_phi_tokens_changed_per_1000": replaced_damage["non_phi_tokens_changed_per_1000"]
        if replaced_damage
        else None,
        "words_per_second_1_process": speed.get("n_process_1", {}).get("words_per_second"),
        "long_document_time_ratio": (long_documents or {}).get("time_ratio"),
        "long_document_peak_rss_gb": (long_documents or {}).get("peak_rss_gb_largest"),
    }
    randomizer = nlp.get_pipe("deid_randomizer")
    result = {
        "model": str(model),
        "data": str(data),
        "train": str(train) if train else None,
        "limit": limit or None,
        "gold_span_key": GOLD_SPAN_KEY,
        "command": command,
        "tuning_note": "MEDDOCAN dev was used to choose the detector's configuration and rule options; "
        "these are dev scores, not held-out test scores.",
        "main_setting": main_name,
        "measured_on": {
            "strict_micro_f1": f"{main_name}: doc.ents",
            "phi_token_recall": (
                f"{REPLACED}: doc.spans[{replaced_key!r}] (entities + phi_recall spans), the spans the randomizer "
                "replaces"
                if replaced is not None
                else f"{main_name}: doc.ents"
            ),
            "replaced_phi_token_recall": "the same spans, de-identified by deid_randomizer with its default policy: "
            "share of the gold PHI tokens whose text changes, among those the policy changes given the gold spans",
            "clinical_mentions_changed": "the same spans, de-identified by deid_randomizer with its default policy, "
            "on the MEDDOCAN dev documents that DisTEMIST/MedProcNER/SympTEMIST train also annotate",
        },
        "clinical_mentions": clinical_counts,
        "config": {
            "pipeline": nlp.pipe_names,
            "phi_rules": dict(rules.cfg),
            "phi_gazetteer": (
                {
                    **{k: v for k, v in nlp.get_pipe("phi_gazetteer").cfg.items() if k != "key_check"},
                    "phrases": len(nlp.get_pipe("phi_gazetteer")),
                    "key": gazetteer_key,
                    "key_status": nlp.get_pipe("phi_gazetteer").key_status(),
                }
                if "phi_gazetteer" in nlp.pipe_names
                else None
            ),
            "phi_recall": (
                {k: v for k, v in nlp.get_pipe(RECALL_COMPONENT).cfg.items() if k != "labels"}
                if RECALL_COMPONENT in nlp.pipe_names
                else None
            ),
            "deid_randomizer": randomizer.settings() if hasattr(randomizer, "settings") else dict(randomizer.cfg),
            "batch_size": batch_size,
            "repeats": repeats,
            "model_meta": {k: nlp.meta.get(k) for k in ("lang", "name", "version", "spacy_version")},
        },
        "machine": started,
        "accuracy": accuracy,
        REPLACED: replaced,
        "speed": speed,
        "long_documents": long_documents,
        "measured": measured,
        "targets": _targets(measured),
    }
    if output is not None:
        write_json(result, output)
        logger.info("Wrote %s", output)
    if markdown_path is not None:
        write_text(markdown_summary(result), markdown_path)
    for name, row in result["targets"].items():
        logger.info("%s: %s (target %s %s) %s", name, row["measured"], row["direction"], row["target"], row["met"])
    return result


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown_summary(result: dict[str, Any]) -> str:
    """Markdown: targets, one row per setting (strict F1, replaced-token recall, clinical damage), causes, speed."""
    lines = [f"# De-identification benchmark (`{result['model']}` on `{result['data']}`)", ""]
    lines.append(f"Command: `{result['command']}`" if result.get("command") else "")
    lines += ["", "## Targets", ""]
    target_rows = [
        [name, f"{row['direction']} {row['target']:g}", _num(row["measured"], 4), {True: "yes", False: "**no**"}.get(row["met"], "-")]
        for name, row in result["targets"].items()
    ]
    lines += [table(["Target", "Goal", "Measured", "Met"], target_rows), ""]
    lines += ["## Every setting", ""]
    rows = []

    def add(name: str, row: dict[str, Any]) -> None:
        dmg = row.get("damage") or {}
        rows.append(
            [
                name,
                prf_cell(row["strict"]),
                prf_cell(row["phi_token"]),
                _num(dmg.get("replaced_phi_token_recall"), 4),
                _pct(dmg.get("clinical_mentions_changed_share")),
                *(_pct(dmg.get("by_type", {}).get(t, {}).get("share")) for t in ("disease", "procedure", "symptom")),
                _num(dmg.get("non_phi_tokens_changed_per_1000")),
            ]
        )

    for name, row in result["accuracy"].items():
        add(f"{name} (doc.ents)", row)
    replaced = result.get(REPLACED)
    if replaced:
        for name, row in replaced["settings"].items():
            add(f"replaced {name}" + (" **(configured)**" if name == replaced["configured"] else ""), row)
    header = [
        "Setting",
        "Strict P / R / F1",
        "PHI token P / R / F1",
        "Replaced PHI token R (after policy)",
        "Clinical mentions changed",
        "disease",
        "procedure",
        "symptom",
        "Non-PHI tokens changed / 1,000",
    ]
    lines += [table(header, rows), ""]
    configured = replaced["settings"][replaced["configured"]] if replaced else result["accuracy"][result["main_setting"]]
    dmg = configured.get("damage")
    if dmg and dmg.get("replaced_by_label"):
        lines += [
            "## Gold PHI tokens left unchanged by the configured setting, by category",
            "",
            (
                "Tokens of each gold label that the default policy replaces when given the gold spans; "
                "`leaked`: those the pipeline leaves unchanged."
            ),
            "",
        ]
        label_rows = [
            [label or "-", str(row["tokens"]), str(row["replaced"]), str(row["leaked"]), _num(row["recall"], 4)]
            for label, row in dmg["replaced_by_label"].items()
        ]
        header = ["Gold label", "PHI tokens (policy)", "Replaced", "Leaked", "Replaced R"]
        lines += [table(header, label_rows, [":---", "---:", "---:", "---:", "---:"]), ""]
    if dmg:
        lines += ["## Clinical mentions changed by the configured setting, by cause", ""]
        cause_rows = []
        for cause, count in dmg["causes"].items():
            example = "; ".join(
                f"{e['type']}: “{e['mention']}” → “{e['after']}”" for e in dmg["examples"].get(cause, [])
            )
            cause_rows.append([cause, str(count), example.replace("|", "\\|")])
        lines += [table(["Cause", "Mentions", "Examples (public corpus)"], cause_rows, [":---", "---:", ":---"]), ""]
    isolation = (replaced or {}).get("isolation")
    if isolation:
        lines += [
            f"## The policy's `recall_isolation_chars` at the configured setting ({replaced['configured']})",
            "",
            (
                "An uncertain recall span farther than this many characters from every entity, rule and gazetteer "
                "span is kept (`off`: the rule off)."
            ),
            "",
        ]
        iso_rows = [
            [
                distance,
                _num(row.get("replaced_phi_token_recall"), 4),
                _pct(row.get("clinical_mentions_changed_share")),
                str(row.get("clinical_mentions_changed", "-")),
                _num(row.get("non_phi_tokens_changed_per_1000")),
            ]
            for distance, row in isolation.items()
        ]
        header = ["recall_isolation_chars", "Replaced PHI token R", "Clinical mentions changed", "Mentions", "Non-PHI / 1,000"]
        lines += [table(header, iso_rows), ""]
    speed = result["speed"]
    lines += ["## Speed", ""]
    for key, row in speed.items():
        if key.startswith("n_process_"):
            lines.append(f"- {row['n_process']} process(es): {row['words_per_second']:,.0f} words/s")
    long_documents = result.get("long_documents")
    if long_documents:
        for size, row in long_documents["sizes"].items():
            if "seconds" in row:
                lines.append(
                    f"- one {int(size):,}-character document: {row['seconds']:.1f} s, "
                    f"peak RSS {row['peak_rss_mb']:,.0f} MB ({row['pieces']} pieces)"
                )
            else:
                lines.append(f"- one {int(size):,}-character document: failed ({row.get('error')})")
    return "\n".join(lines) + "\n"
