"""Text encoders for nearest-neighbour candidate search.

:class:`Encoder` is the protocol: ``fit`` on the knowledge base's terms,
``encode`` queries and terms into L2-normalised rows so that a dot product is
the cosine similarity. Three implementations:

* :class:`TfidfCharEncoder`, the offline default (no weights to download):
  character n-gram TF-IDF over normalized text, as scispaCy's linker does;
  optionally per word (``analyzer="char_wb"``), with clinical abbreviations
  expanded and blended with word-stem TF-IDF. Sparse rows.
* :class:`TransformerEncoder`: SapBERT-style, a Hugging Face ``AutoModel``
  with ``[CLS]`` pooling (default model
  ``cambridgeltl/SapBERT-UMLS-2020AB-all-lang-from-XLMR``, or a local
  directory). Dense rows.
* :class:`SentenceTransformerEncoder`: any sentence-transformers model from a
  local directory or a hub name. Dense rows.
* :class:`CharCNNEncoder`: the character CNN of :mod:`.char_model`, trained
  from scratch by :mod:`.finetune`. Dense rows.

The neural encoders do not learn at ``fit``; ``to_bytes`` holds their settings
(the model is referenced by path, as spaCy's transformer components reference
theirs) and ``to_disk``/``from_disk`` copy the model itself, so a fine-tuned
encoder travels inside the linker's pipeline. The vectors of the knowledge
base live in the index.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from .kb import LinkingError
from .normalize import (
    STOP_WORDS,
    expand_abbreviations,
    light_stem,
    normalize_term,
    tokens,
)

logger = logging.getLogger(__name__)

#: Default SapBERT checkpoint (multilingual, XLM-R based; reachable only with hub access).
SAPBERT_MODEL = "cambridgeltl/SapBERT-UMLS-2020AB-all-lang-from-XLMR"
ANALYZERS = ("char", "char_wb")
_CHUNK = 20_000  # texts per block when encoding: bounds the Python lists alive at once


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to L2-normalised vectors (a scipy sparse matrix or numpy array)."""

    def fit(self, texts: Sequence[str]) -> Encoder: ...

    def encode(self, texts: Sequence[str]) -> Any: ...

    def to_bytes(self) -> bytes: ...

    def from_bytes(self, data: bytes) -> Encoder: ...


class TfidfCharEncoder:
    """Character n-gram TF-IDF (sublinear tf, smoothed idf, L2 rows) over normalized text.

    ``analyzer="char"`` pads the whole normalized text with one space, so
    n-grams cross word boundaries; ``"char_wb"`` pads each word and keeps
    n-grams inside words (sklearn's analyzer of that name). With
    ``abbreviations`` the text is tokenized and the clinical abbreviations of
    :data:`~spacy_clinical_es.linking.normalize.ABBREVIATIONS` are expanded
    first (``QT`` → ``quimioterapia``). ``word_weight`` > 0 appends word-stem
    TF-IDF features (stop words dropped, :func:`light_stem`), the two blocks
    each L2-normalised and weighted ``1 - word_weight`` / ``word_weight``.
    N-grams unseen at ``fit`` are ignored but count in the row norm.
    """

    def __init__(
        self,
        ngram_range: tuple[int, int] = (3, 4),
        min_df: int = 1,
        *,
        analyzer: str = "char",
        abbreviations: bool = False,
        word_weight: float = 0.0,
    ) -> None:
        low, high = int(ngram_range[0]), int(ngram_range[1])
        if low < 1 or high < low:
            raise LinkingError(f"ngram_range must be 1 <= low <= high, got {ngram_range!r}.")
        if analyzer not in ANALYZERS:
            raise LinkingError(f"analyzer must be one of {ANALYZERS}, got {analyzer!r}.")
        if not 0.0 <= float(word_weight) < 1.0:
            raise LinkingError(f"word_weight must be in [0, 1), got {word_weight!r}.")
        self.ngram_range = (low, high)
        self.min_df = max(1, int(min_df))
        self.analyzer = analyzer
        self.abbreviations = bool(abbreviations)
        self.word_weight = float(word_weight)
        self.vocab: dict[str, int] = {}
        self.idf: np.ndarray = np.zeros(0, dtype=np.float32)
        self.n_docs = 0

    @property
    def unseen_idf(self) -> float:
        """Smoothed idf of a feature absent from the fitted texts."""
        return math.log(1 + self.n_docs) + 1.0

    @property
    def is_fitted(self) -> bool:
        return bool(self.vocab)

    # -- features -------------------------------------------------------------

    def _char_grams(self, text: str) -> list[str]:
        if self.abbreviations:
            words = expand_abbreviations(tokens(text))
        elif self.analyzer == "char_wb":
            words = normalize_term(text).split()
        else:
            words = None
        low, high = self.ngram_range
        if self.analyzer == "char" or words is None:
            padded = f" {' '.join(words) if words is not None else normalize_term(text)} "
            pieces = [padded]
        else:
            pieces = [f" {w} " for w in words]
        grams: list[str] = []
        for piece in pieces:
            size = len(piece)
            for n in range(low, high + 1):
                grams.extend(piece[i : i + n] for i in range(size - n + 1))
        return grams

    def _word_grams(self, text: str) -> list[str]:
        words = tokens(text)
        if self.abbreviations:
            words = expand_abbreviations(words)
        content = [w for w in words if w not in STOP_WORDS] or words
        return ["\x00w:" + light_stem(w) for w in content]

    def _features(self, text: str) -> tuple[Counter, Counter]:
        chars = Counter(self._char_grams(text))
        words = Counter(self._word_grams(text)) if self.word_weight > 0 else Counter()
        return chars, words

    # -- fitting and encoding ---------------------------------------------------

    def fit(self, texts: Sequence[str]) -> TfidfCharEncoder:
        """Learn the feature vocabulary and idf weights from ``texts``."""
        df: Counter = Counter()
        for text in texts:
            chars, words = self._features(text)
            df.update(chars.keys())
            df.update(words.keys())
        kept = sorted(g for g, c in df.items() if c >= self.min_df)
        if not kept:
            raise LinkingError("TfidfCharEncoder.fit got no n-grams: give non-empty terms.")
        n_docs = len(texts)
        self.n_docs = n_docs
        self.vocab = {g: i for i, g in enumerate(kept)}
        counts = np.array([df[g] for g in kept], dtype=np.float64)
        self.idf = (np.log((1 + n_docs) / (1 + counts)) + 1.0).astype(np.float32)
        return self

    def _block(self, grams: Counter) -> tuple[list[int], np.ndarray, float]:
        """(columns, weighted values, squared weight of unknown features) of one block."""
        cols: list[int] = []
        tfs: list[float] = []
        unknown = 0.0
        vocab = self.vocab
        for gram, count in grams.items():
            col = vocab.get(gram)
            tf = 1.0 + math.log(count)
            if col is None:
                unknown += (tf * self.unseen_idf) ** 2
            else:
                cols.append(col)
                tfs.append(tf)
        values = np.asarray(tfs, dtype=np.float32) * self.idf[cols] if cols else np.zeros(0, np.float32)
        return cols, values, unknown

    def _row(self, text: str) -> tuple[list[int], np.ndarray]:
        chars, words = self._features(text)
        cols, values, unknown = self._block(chars)
        norm = math.sqrt(float(np.dot(values, values)) + unknown)
        if norm > 0:
            values = values / norm
        if self.word_weight > 0:
            wcols, wvalues, wunknown = self._block(words)
            wnorm = math.sqrt(float(np.dot(wvalues, wvalues)) + wunknown)
            if wnorm > 0:
                wvalues = wvalues / wnorm
            # blended cosine = (1-w)·cos_char + w·cos_word: scale blocks by the square roots
            values = np.concatenate(
                [values * math.sqrt(1 - self.word_weight), wvalues * math.sqrt(self.word_weight)]
            )
            cols = cols + wcols
        return cols, values

    def encode(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Return a (len(texts), n_features) CSR matrix of L2-normalised rows.

        Features unseen at ``fit`` have no column but still count in the row
        norm (with the idf of a never-seen feature), so unknown material lowers
        the cosine instead of being ignored. A text without known features
        gets an all-zero row (cosine 0 with everything).
        """
        if not self.is_fitted:
            raise LinkingError("TfidfCharEncoder is not fitted: call fit() or load it first.")
        blocks = []
        for start in range(0, len(texts), _CHUNK):
            indptr = [0]
            indices: list[np.ndarray] = []
            data: list[np.ndarray] = []
            for text in texts[start : start + _CHUNK]:
                cols, values = self._row(text)
                order = np.argsort(cols)
                indices.append(np.asarray(cols, dtype=np.int32)[order])
                data.append(values[order])
                indptr.append(indptr[-1] + len(cols))
            blocks.append(
                sp.csr_matrix(
                    (
                        np.concatenate(data) if data else np.zeros(0, np.float32),
                        np.concatenate(indices) if indices else np.zeros(0, np.int32),
                        np.asarray(indptr, dtype=np.int64),
                    ),
                    shape=(len(indptr) - 1, len(self.vocab)),
                    dtype=np.float32,
                )
            )
        if not blocks:
            return sp.csr_matrix((0, len(self.vocab)), dtype=np.float32)
        return blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")

    # -- serialization ----------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {
            "ngram_range": list(self.ngram_range),
            "min_df": self.min_df,
            "analyzer": self.analyzer,
            "abbreviations": self.abbreviations,
            "word_weight": self.word_weight,
        }

    def to_bytes(self) -> bytes:
        payload = {
            **self.settings(),
            "n_docs": self.n_docs,
            "vocab": sorted(self.vocab, key=self.vocab.__getitem__),
            "idf": [float(x) for x in self.idf],
        }
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def from_bytes(self, data: bytes) -> TfidfCharEncoder:
        try:
            payload = json.loads(data.decode("utf-8"))
            grams = payload["vocab"]
            idf = np.asarray(payload["idf"], dtype=np.float32)
            ngram_range = tuple(payload["ngram_range"])
        except (ValueError, KeyError, TypeError):
            raise LinkingError("Encoder data is not a saved TfidfCharEncoder.") from None
        if len(grams) != len(idf):
            raise LinkingError("Saved TfidfCharEncoder has mismatched vocabulary and idf sizes.")
        analyzer = payload.get("analyzer", "char")
        if analyzer not in ANALYZERS:
            raise LinkingError("Saved TfidfCharEncoder has an unknown analyzer.")
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.min_df = int(payload.get("min_df", 1))
        self.analyzer = analyzer
        self.abbreviations = bool(payload.get("abbreviations", False))
        self.word_weight = float(payload.get("word_weight", 0.0))
        self.n_docs = int(payload.get("n_docs", 0))
        self.vocab = {g: i for i, g in enumerate(grams)}
        self.idf = idf
        return self


# -- neural encoders ----------------------------------------------------------------


def _local_or_hub(name_or_path: str) -> str:
    """A local directory as a string, else the hub name unchanged."""
    local = Path(name_or_path).expanduser()
    return str(local) if local.exists() else name_or_path


class _NeuralEncoder:
    """Shared parts: lazy model loading, batching, settings-only serialization."""

    kind = "neural"

    def __init__(self, name_or_path: str, *, batch_size: int = 64, device: str = "cpu") -> None:
        if batch_size < 1:
            raise LinkingError(f"batch_size must be positive, got {batch_size}.")
        self.name_or_path = str(name_or_path)
        self.batch_size = int(batch_size)
        self.device = device
        self._model: Any = None

    def _load(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _load_error(self, err: Exception) -> LinkingError:
        return LinkingError(
            f"Cannot load the {type(self).__name__} model from {self.name_or_path!r} "
            f"({type(err).__name__}): give a local directory written by save_pretrained/save "
            "(model hubs may be unreachable), and install the extra: "
            "pip install 'spacy-clinical-es[transformers]'."
        )

    @property
    def model(self) -> Any:
        if self._model is None:
            self._load()
        return self._model

    def fit(self, texts: Sequence[str]) -> _NeuralEncoder:
        """Nothing to learn: the pretrained model is used as is (loaded here if needed)."""
        _ = self.model
        return self

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "name_or_path": self.name_or_path, "batch_size": self.batch_size}

    def to_bytes(self) -> bytes:
        return json.dumps(self.settings(), ensure_ascii=False).encode("utf-8")

    def _apply(self, payload: dict[str, Any]) -> None:
        self.name_or_path = str(payload["name_or_path"])
        self.batch_size = int(payload.get("batch_size", self.batch_size))

    def save_model(self, path: Path) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_disk(self, path: Path) -> None:
        """Write the model itself under ``path`` (a directory its loader reads back)."""
        path = Path(path)
        _ = self.model  # loaded first: the folder replaced may be the one it loads from (a pipeline saved over itself)
        if path.exists():
            shutil.rmtree(path)
        self.save_model(path)

    def from_disk(self, path: Path) -> _NeuralEncoder:
        """Use the model saved under ``path`` by :meth:`to_disk` (loaded lazily)."""
        if not Path(path).is_dir():
            raise LinkingError(f"No saved encoder model at {path}: save the pipeline again.")
        self.name_or_path = str(path)
        self._model = None
        return self

    def from_bytes(self, data: bytes) -> _NeuralEncoder:
        try:
            payload = json.loads(data.decode("utf-8"))
            if payload.get("kind") != self.kind:
                raise ValueError(payload.get("kind"))
            before = self.settings()
            self._apply(payload)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LinkingError(f"Encoder data is not a saved {type(self).__name__}.") from None
        if self.settings() != before:
            self._model = None  # a different model: reload lazily
        return self


class TransformerEncoder(_NeuralEncoder):
    """SapBERT-style encoder: ``AutoModel`` + ``[CLS]`` pooling (or mean pooling), L2 rows.

    Texts are normalized (lowercase, no diacritics) unless ``normalize=False``
    and truncated to ``max_length`` tokens (SapBERT was trained on 25).
    """

    kind = "transformer"

    def __init__(
        self,
        name_or_path: str = SAPBERT_MODEL,
        *,
        pooling: str = "cls",
        max_length: int = 25,
        batch_size: int = 64,
        device: str = "cpu",
        normalize: bool = True,
    ) -> None:
        super().__init__(name_or_path, batch_size=batch_size, device=device)
        if pooling not in ("cls", "mean"):
            raise LinkingError(f"pooling must be 'cls' or 'mean', got {pooling!r}.")
        self.pooling = pooling
        self.max_length = int(max_length)
        self.normalize = bool(normalize)
        self._tokenizer: Any = None

    def _load(self) -> None:
        try:
            from transformers import AutoModel, AutoTokenizer

            source = _local_or_hub(self.name_or_path)
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModel.from_pretrained(source)
            model.to(self.device)
            model.eval()
        except Exception as err:  # noqa: BLE001 - OSError, ValueError, HTTP errors, ImportError ...
            raise self._load_error(err) from None
        self._tokenizer, self._model = tokenizer, model
        logger.info("loaded %s on %s", type(self).__name__, self.device)

    def save_model(self, path: Path) -> None:
        _ = self.model
        self._model.save_pretrained(path)
        self._tokenizer.save_pretrained(path)

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "pooling": self.pooling,
            "max_length": self.max_length,
            "normalize": self.normalize,
        }

    def _apply(self, payload: dict[str, Any]) -> None:
        super()._apply(payload)
        pooling = payload.get("pooling", "cls")
        if pooling not in ("cls", "mean"):
            raise ValueError(pooling)
        self.pooling = pooling
        self.max_length = int(payload.get("max_length", self.max_length))
        self.normalize = bool(payload.get("normalize", True))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        model = self.model
        prepared = [normalize_term(t) if self.normalize else t for t in texts]
        out = []
        for start in range(0, len(prepared), self.batch_size):
            batch = self._tokenizer(
                prepared[start : start + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with torch.inference_mode():
                hidden = model(**batch).last_hidden_state
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out.append(pooled.float().cpu().numpy())
        width = int(getattr(model.config, "hidden_size", 0))
        return _l2(np.concatenate(out) if out else np.zeros((0, width), np.float32))


class SentenceTransformerEncoder(_NeuralEncoder):
    """Any sentence-transformers model (local directory or hub name); L2-normalised rows."""

    kind = "sentence-transformers"

    def _load(self) -> None:
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(_local_or_hub(self.name_or_path), device=self.device)
        except Exception as err:  # noqa: BLE001
            raise self._load_error(err) from None
        logger.info("loaded %s on %s", type(self).__name__, self.device)

    def save_model(self, path: Path) -> None:
        self.model.save(str(path))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _l2(np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1))


class CharCNNEncoder(_NeuralEncoder):
    """The character CNN of :mod:`.char_model` (a directory written by ``save_char_cnn``)."""

    kind = "char-cnn"

    def _load(self) -> None:
        from .char_model import load_char_cnn

        try:
            model = load_char_cnn(Path(self.name_or_path))
        except LinkingError:
            raise
        except Exception as err:  # noqa: BLE001 - torch load errors
            raise self._load_error(err) from None
        self._model = model.to(self.device)

    def save_model(self, path: Path) -> None:
        from .char_model import save_char_cnn

        save_char_cnn(self.model, path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        model = self.model
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                out.append(model(list(texts[start : start + self.batch_size])).float().cpu().numpy())
        width = int(model.config["output_dim"])
        return _l2(np.concatenate(out) if out else np.zeros((0, width), np.float32))


def _l2(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def encoder_from_bytes(data: bytes) -> Encoder:
    """Rebuild any encoder of this module from its ``to_bytes`` output."""
    try:
        kind = json.loads(data.decode("utf-8")).get("kind", "tfidf")
    except (ValueError, AttributeError):
        raise LinkingError("Encoder data is not a saved encoder.") from None
    classes: dict[str, Any] = {
        TransformerEncoder.kind: TransformerEncoder,
        SentenceTransformerEncoder.kind: SentenceTransformerEncoder,
        CharCNNEncoder.kind: CharCNNEncoder,
    }
    if kind in classes:
        return classes[kind](name_or_path="").from_bytes(data)
    return TfidfCharEncoder().from_bytes(data)


def load_dense_encoder(path: str | Path, *, batch_size: int = 256, device: str = "cpu") -> _NeuralEncoder:
    """The encoder a fine-tuning run saved in ``path``: a character CNN or a transformer (mean pooling)."""
    from .char_model import is_char_cnn_dir

    folder = Path(path)
    if not folder.is_dir():
        raise LinkingError(f"Encoder directory {folder} not found: run finetune-linker first or give its --output.")
    if is_char_cnn_dir(folder):
        return CharCNNEncoder(str(folder), batch_size=batch_size, device=device)
    return TransformerEncoder(str(folder), pooling="mean", max_length=25, batch_size=batch_size, device=device)
