"""The locally built tiny models load through the Auto* classes like downloaded checkpoints."""
from __future__ import annotations

from pathlib import Path

import pytest

from spacy_clinical_es.models.tiny import build_tiny_encoder, build_tiny_t5

TEXTS = [
    "Varón de 38 años con dolor abdominal y fiebre.",
    "Mujer de 72 años; TAC abdominal: masa renal izquierda.",
    "Se realizó biopsia hepática sin complicaciones.",
] * 5


@pytest.mark.parametrize("model_type", ["bert", "roberta", "xlm-roberta"])
def test_tiny_encoder_loads_with_auto_classes(tmp_path: Path, model_type: str) -> None:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    path = build_tiny_encoder(tmp_path / model_type, TEXTS, model_type=model_type, labels=["O", "B-EDAD", "I-EDAD"])
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenClassification.from_pretrained(path)
    batch = tokenizer([TEXTS[0]], return_tensors="pt", return_offsets_mapping=True)
    assert batch["input_ids"][0, 0].item() == tokenizer.cls_token_id
    assert batch["input_ids"][0, -1].item() == tokenizer.sep_token_id
    assert tokenizer.unk_token_id not in batch["input_ids"][0].tolist()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], 3)
    assert model.config.id2label[1] == "B-EDAD"


def test_tiny_t5_generates(tmp_path: Path) -> None:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    path = build_tiny_t5(tmp_path / "t5", TEXTS + ["Varón | SEXO; 38 años | EDAD", "NO ENTITIES"])
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSeq2SeqLM.from_pretrained(path)
    ids = tokenizer(["Extract named entities: " + TEXTS[0]], return_tensors="pt")
    assert ids["input_ids"][0, -1].item() == tokenizer.eos_token_id
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[0] == 1 and out.shape[1] <= 6
    labels = tokenizer(["Varón | SEXO"], return_tensors="pt")["input_ids"]
    loss = model(**ids, labels=labels).loss
    assert loss.item() > 0
