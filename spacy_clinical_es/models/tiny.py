"""Tiny Hugging Face models built locally, for tests and smoke runs (no model hub needed).

Each builder trains a tokenizer on the given texts, creates a randomly initialised 2-layer model of the requested
family and saves both with ``save_pretrained`` into ``path``, so ``AutoTokenizer`` / ``AutoModel*`` load them from
the directory exactly as they would load a downloaded checkpoint.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

#: Encoder families and the special tokens of their tokenizers.
_ENCODER_SPECIALS = {
    "bert": {"cls": "[CLS]", "sep": "[SEP]", "pad": "[PAD]", "unk": "[UNK]", "mask": "[MASK]"},
    "roberta": {"cls": "<s>", "sep": "</s>", "pad": "<pad>", "unk": "<unk>", "mask": "<mask>"},
    "xlm-roberta": {"cls": "<s>", "sep": "</s>", "pad": "<pad>", "unk": "<unk>", "mask": "<mask>"},
}


def _wordpiece(texts: Sequence[str], specials: dict[str, str], vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(unk_token=specials["unk"]))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(specials.values()))
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def _bpe(texts: Sequence[str], specials: dict[str, str], vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(unk_token=specials["unk"]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def _unigram(texts: Sequence[str], specials: Sequence[str], unk: str, vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=list(specials), unk_token=unk)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def build_tiny_encoder(
    path: str | Path,
    texts: Iterable[str],
    *,
    model_type: str = "bert",
    num_labels: int | None = None,
    labels: Sequence[str] | None = None,
    max_position_embeddings: int = 128,
    vocab_size: int = 300,
    hidden_size: int = 32,
    seed: int = 0,
) -> Path:
    """Save a 2-layer ``model_type`` encoder (a token classifier when ``labels``/``num_labels`` is given)."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification

    if model_type not in _ENCODER_SPECIALS:
        raise ValueError(f"model_type must be one of {sorted(_ENCODER_SPECIALS)}, got {model_type!r}")
    path = Path(path)
    texts = list(texts)
    specials = _ENCODER_SPECIALS[model_type]
    if model_type == "bert":
        tokenizer = _wordpiece(texts, specials, vocab_size)
    elif model_type == "roberta":
        tokenizer = _bpe(texts, specials, vocab_size)
    else:
        tokenizer = _unigram(texts, list(specials.values()), specials["unk"], vocab_size)
    cls_id, sep_id = tokenizer.token_to_id(specials["cls"]), tokenizer.token_to_id(specials["sep"])
    single = f"{specials['cls']} $A {specials['sep']}"
    pair = f"{specials['cls']} $A {specials['sep']} $B {specials['sep']}"
    tokenizer.post_processor = processors.TemplateProcessing(
        single=single, pair=pair, special_tokens=[(specials["cls"], cls_id), (specials["sep"], sep_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        cls_token=specials["cls"],
        sep_token=specials["sep"],
        pad_token=specials["pad"],
        unk_token=specials["unk"],
        mask_token=specials["mask"],
        bos_token=specials["cls"],
        eos_token=specials["sep"],
        model_max_length=max_position_embeddings - (2 if model_type != "bert" else 0),
    )
    # RoBERTa-style position ids start after the padding index.
    offset = 0 if model_type == "bert" else fast.pad_token_id + 1
    config_kwargs = {
        "vocab_size": len(fast),
        "hidden_size": hidden_size,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": hidden_size * 2,
        "max_position_embeddings": max_position_embeddings + offset,
        "pad_token_id": fast.pad_token_id,
        "bos_token_id": cls_id,
        "eos_token_id": sep_id,
    }
    if labels is not None:
        config_kwargs["id2label"] = dict(enumerate(labels))
        config_kwargs["label2id"] = {label: i for i, label in enumerate(labels)}
    elif num_labels is not None:
        config_kwargs["num_labels"] = num_labels
    config = AutoConfig.for_model(model_type, **config_kwargs)
    torch.manual_seed(seed)
    if labels is not None or num_labels is not None:
        model = AutoModelForTokenClassification.from_config(config)
    else:
        model = AutoModel.from_config(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


def build_tiny_t5(path: str | Path, texts: Iterable[str], *, vocab_size: int = 400, seed: int = 0) -> Path:
    """Save a 2-layer T5 (d_model 32) with a Unigram tokenizer trained on ``texts`` (targets included)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    path = Path(path)
    specials = ["<pad>", "</s>", "<unk>"]
    tokenizer = _unigram(list(texts), specials, "<unk>", vocab_size)
    eos_id = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )
    config = T5Config(
        vocab_size=len(fast),
        d_model=32,
        d_ff=64,
        d_kv=16,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        pad_token_id=fast.pad_token_id,
        eos_token_id=eos_id,
        decoder_start_token_id=fast.pad_token_id,
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path
