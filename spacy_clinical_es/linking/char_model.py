"""A character-level term encoder trained from scratch (no pretrained weights needed).

:class:`CharCNN`: characters of the normalized term → embeddings → 1-D
convolutions of several widths → max pooling → a linear projection. It is the
from-scratch alternative to a pretrained sub-word encoder for
:mod:`~spacy_clinical_es.linking.finetune` (SapBERT's self-alignment
objective), small enough to train on a CPU in minutes. Saved as a directory:
``config.json`` (sizes and the character vocabulary) and ``weights.pt``
(the ``state_dict``).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .kb import LinkingError
from .normalize import normalize_term

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
KIND = "char-cnn"
PAD, UNK = 0, 1


def char_vocab(texts: Iterable[str], min_count: int = 2) -> list[str]:
    """Characters of the normalized ``texts`` seen at least ``min_count`` times, most frequent first."""
    counts = Counter(ch for text in texts for ch in f" {normalize_term(text)} ")
    return [ch for ch, n in counts.most_common() if n >= min_count]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise LinkingError(
            "The character encoder needs torch: pip install torch (CPU wheel) or "
            "pip install 'spacy-clinical-es[transformers]'."
        ) from None
    return torch


def build_char_cnn(
    vocab: Sequence[str],
    *,
    embed_dim: int = 64,
    widths: Sequence[int] = (2, 3, 4, 5),
    filters: int = 256,
    output_dim: int = 256,
    max_chars: int = 64,
) -> Any:
    """A new, randomly initialised :class:`CharCNN` module (torch imported here)."""
    torch = _torch()
    nn = torch.nn

    class CharCNN(nn.Module):
        """chars → embeddings → convolutions (max-pooled) → tanh → linear."""

        def __init__(self) -> None:
            super().__init__()
            self.config = {
                "kind": KIND,
                "vocab": list(vocab),
                "embed_dim": int(embed_dim),
                "widths": [int(w) for w in widths],
                "filters": int(filters),
                "output_dim": int(output_dim),
                "max_chars": int(max_chars),
            }
            self.index = {ch: i + 2 for i, ch in enumerate(vocab)}
            self.embed = nn.Embedding(len(vocab) + 2, embed_dim, padding_idx=PAD)
            self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, w, padding=w // 2) for w in widths)
            self.proj = nn.Linear(filters * len(widths), output_dim)

        def ids(self, texts: Sequence[str]) -> Any:
            rows = [
                [self.index.get(ch, UNK) for ch in f" {normalize_term(t)} "][: self.config["max_chars"]]
                for t in texts
            ]
            width = max(max((len(r) for r in rows), default=1), max(self.config["widths"]))
            out = torch.zeros((len(rows), width), dtype=torch.long)
            for i, row in enumerate(rows):
                out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            return out

        def forward(self, texts: Sequence[str]) -> Any:
            ids = self.ids(texts)
            mask = (ids != PAD).unsqueeze(1)
            x = self.embed(ids).transpose(1, 2)
            pooled = []
            for conv in self.convs:
                h = torch.relu(conv(x))[:, :, : ids.shape[1]]
                pooled.append(h.masked_fill(~mask, 0.0).max(dim=2).values)
            return self.proj(torch.tanh(torch.cat(pooled, dim=1)))

    return CharCNN()


def save_char_cnn(model: Any, path: Path) -> None:
    """Write ``config.json`` and ``weights.pt`` of ``model`` under ``path``."""
    torch = _torch()
    path.mkdir(parents=True, exist_ok=True)
    (path / CONFIG_FILE).write_text(json.dumps(model.config, ensure_ascii=False), encoding="utf-8")
    torch.save(model.state_dict(), path / WEIGHTS_FILE)


def is_char_cnn_dir(path: Path) -> bool:
    """Whether ``path`` holds a saved :class:`CharCNN`."""
    config = path / CONFIG_FILE
    if not (config.is_file() and (path / WEIGHTS_FILE).is_file()):
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("kind") == KIND
    except ValueError:
        return False


def load_char_cnn(path: Path) -> Any:
    """The :class:`CharCNN` saved under ``path`` (evaluation mode)."""
    torch = _torch()
    if not is_char_cnn_dir(path):
        raise LinkingError(f"{path} holds no saved character encoder ({CONFIG_FILE} + {WEIGHTS_FILE}).")
    config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    model = build_char_cnn(
        config["vocab"],
        embed_dim=config["embed_dim"],
        widths=config["widths"],
        filters=config["filters"],
        output_dim=config["output_dim"],
        max_chars=config["max_chars"],
    )
    model.load_state_dict(torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    model.eval()
    return model
