"""IOB2 / CoNLL text files for BIO consumers.

Format (UTF-8):

* one token per line: ``token<TAB>tag`` with ``tag`` = ``O``, ``B-LABEL`` or
  ``I-LABEL`` (IOB2: every entity starts with ``B-``), taken from
  ``doc.ents`` (non-overlapping by construction);
* a blank line ends each sentence (sentences from
  :func:`~.common.sentence_spans`; a sentence break inside an entity is
  ignored, so an entity never straddles two blocks), and each document;
* whitespace tokens (spaCy's ``"\\n"``, ``"  "``) are not written; a
  whitespace token inside an entity is skipped and the entity goes on with
  ``I-``;
* no ``-DOCSTART-`` lines or comments, so any CoNLL-2003-style reader works;
  the order of documents is the order of the ``.spacy`` file next to it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from spacy.tokens import Doc

from .common import sentence_spans


def doc_to_conll_lines(
    doc: Doc, sentences: Sequence[tuple[int, int]] | None = None
) -> Iterator[str]:
    """Yield the lines of one document, ending with one blank line.

    sentences (Optional[Sequence[Tuple[int, int]]]): Character spans of the
        sentences; ``None`` uses :func:`~.common.sentence_spans` on the text.
    """
    if sentences is None:
        sentences = sentence_spans(doc.text)
    starts = sorted(s for s, _ in sentences)
    k = 0
    wrote_in_block = False
    for token in doc:
        if token.is_space:
            continue
        # Advance to the sentence that contains this token.
        new_sentence = False
        while k < len(starts) and starts[k] <= token.idx:
            k += 1
            new_sentence = True
        if new_sentence and wrote_in_block and token.ent_iob_ != "I":
            yield ""
            wrote_in_block = False
        tag = "O" if token.ent_iob_ in ("O", "") else f"{token.ent_iob_}-{token.ent_type_}"
        text = "".join("_" if c.isspace() else c for c in token.text)
        yield f"{text}\t{tag}"
        wrote_in_block = True
    if wrote_in_block:
        yield ""


def write_conll(docs: Iterable[Doc], path: str | Path) -> tuple[int, int]:
    """Write documents to ``path``; return ``(documents, token lines)``."""
    n_docs = n_tokens = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for doc in docs:
            lines: list[str] = list(doc_to_conll_lines(doc))
            n_tokens += sum(1 for line in lines if line)
            f.write("\n".join(lines))
            if lines:
                f.write("\n")
            n_docs += 1
    return n_docs, n_tokens


def read_conll(path: str | Path) -> list[list[tuple[str, str]]]:
    """Read a file written by :func:`write_conll` into blocks of ``(token, tag)``."""
    blocks: list[list[tuple[str, str]]] = []
    block: list[tuple[str, str]] = []
    for line in Path(path).read_text(encoding="utf-8").split("\n"):
        if not line:
            if block:
                blocks.append(block)
                block = []
            continue
        token, tag = line.rsplit("\t", 1)
        block.append((token, tag))
    if block:
        blocks.append(block)
    return blocks
