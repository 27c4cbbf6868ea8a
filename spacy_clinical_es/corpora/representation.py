"""The one Doc representation of a standoff :class:`~.annotations.Document`.

``document_to_doc(document, nlp)`` tokenizes ``document.text`` with
``nlp.make_doc`` (so ``doc.text == document.text``, BOM included) and stores:

* ``doc.spans[span_key]`` (``span_key`` defaults to ``document.corpus``, else
  ``"sc"``): one :class:`~spacy.tokens.Span` per *fragment* of every
  annotation, nested and overlapping ones included, with ``label_`` = the
  label, ``id_`` = the annotation id (the fragments of a discontinuous
  annotation share it) and ``kb_id_`` = the primary code (the first value of
  ``Annotation.codes``, or empty). A fragment whose characters do not fall on
  token boundaries is expanded to the tokens that cover it
  (``alignment_mode="expand"``; counted as adjusted ``misaligned_expanded``);
  one that covers no token at all (only whitespace) gets no span (skipped
  ``unalignable_fragment``) but keeps its record below.
* ``doc.user_data["spacy_clinical_es"]``, kept by
  ``DocBin(store_user_data=True)``::

      {"document": {"id", "corpus", "path", "meta"},
       "span_key": "<span_key>",
       "annotations": {"<annotation id>": {"label", "fragments": [[start, end], …],
                                           "codes", "attributes", "notes", "source"}},
       "relations": [{"id", "type", "arg1", "arg2", "roles": [role1, role2]}, …]}

  Fragments are the exact character offsets (source order), so
  ``doc_to_document`` restores every annotation exactly, whatever the
  tokenization. A ``"text"`` entry is stored only when ``Annotation.text`` is
  not the fragment slices joined by one space.
* ``Span._.codes``, ``Span._.attributes`` and ``Span._.notes`` read that record
  through the span's ``id_`` (empty when the span has no record, e.g. a
  predicted span).
* ``doc.ents`` (when ``set_ents``): the continuous, token-aligned annotations
  that do not overlap, chosen by :func:`choose_ents`: the longest span (in
  characters) wins, then the earliest start, then the label in alphabetical
  order, then the earlier annotation. Left out and counted (skipped
  ``ents_discontinuous``, ``ents_misaligned``, ``ents_overlap``): they stay in
  the span group. All other tokens are set to outside ("O").

``doc_to_document(doc)`` inverts this; for predicted docs without records,
:func:`spans_to_annotations` groups spans by ``id_`` into (discontinuous)
annotations. :func:`predictions_to_document` and :func:`write_brat_predictions`
export predictions to BRAT (ids ``T1``…, discontinuous ones as
``start end;start end``).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span

from ..errors import CorpusFormatError
from ..util import PathLike
from .annotations import Annotation, Document, Fragment, Relation
from .brat import fragment_text, write_brat_document
from .report import ConversionReport

USER_DATA_KEY = "spacy_clinical_es"
DEFAULT_SPAN_KEY = "sc"
#: Terminology name given to ``kb_id_`` codes of predicted spans without records.
PREDICTED_CODE_SYSTEM = "KB"


def _record_of(span: Span) -> dict[str, Any] | None:
    store = span.doc.user_data.get(USER_DATA_KEY)
    if not isinstance(store, dict):
        return None
    annotations = store.get("annotations")
    if not isinstance(annotations, dict):
        return None
    record = annotations.get(span.id_)
    return record if isinstance(record, dict) else None


def _get_codes(span: Span) -> dict[str, str]:
    record = _record_of(span)
    return dict(record.get("codes", {})) if record else {}


def _get_attributes(span: Span) -> dict[str, str]:
    record = _record_of(span)
    return dict(record.get("attributes", {})) if record else {}


def _get_notes(span: Span) -> list[str]:
    record = _record_of(span)
    return list(record.get("notes", [])) if record else []


def register_extensions() -> None:
    """Register ``Span._.codes``, ``Span._.attributes`` and ``Span._.notes`` (idempotent)."""
    for name, getter in (("codes", _get_codes), ("attributes", _get_attributes), ("notes", _get_notes)):
        if not Span.has_extension(name):
            Span.set_extension(name, getter=getter)


register_extensions()


def _record(ann: Annotation, doc_text: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "label": ann.label,
        "fragments": [[int(start), int(end)] for start, end in ann.fragments],
        "codes": dict(ann.codes),
        "attributes": dict(ann.attributes),
        "notes": list(ann.notes),
        "source": ann.source,
    }
    if ann.text != fragment_text(doc_text, ann.fragments):
        record["text"] = ann.text
    return record


def choose_ents(candidates: Sequence[tuple[int, int, str]]) -> list[int]:
    """Indices of non-overlapping ``(start, end, label)`` candidates, by the ents rule.

    Longest (``end - start``) first, then earliest start, then label in
    alphabetical order, then earlier index; a candidate is taken when it does
    not overlap one already taken. Returned in text order.
    """
    def rank(i: int) -> tuple[int, int, str, int]:
        start, end, label = candidates[i]
        return (-(end - start), start, label, i)

    order = sorted(range(len(candidates)), key=rank)
    taken: list[int] = []
    for i in order:
        start, end, _ = candidates[i]
        if all(end <= candidates[j][0] or start >= candidates[j][1] for j in taken):
            taken.append(i)
    return sorted(taken, key=lambda i: (candidates[i][0], candidates[i][1]))


def document_to_doc(
    document: Document,
    nlp: Language,
    *,
    span_key: str | None = None,
    set_ents: bool = True,
    report: ConversionReport | None = None,
) -> Doc:
    """Build the Doc representation of a Document (see the module docstring)."""
    key = span_key or document.corpus or DEFAULT_SPAN_KEY
    counter = document.corpus or key
    report = report if report is not None else ConversionReport()
    doc = nlp.make_doc(document.text)
    if doc.text != document.text:
        raise CorpusFormatError(
            "the tokenizer changed the text; use a tokenizer that keeps every character",
            path=document.path or document.id,
        )
    records: dict[str, dict[str, Any]] = {}
    spans: list[Span] = []
    candidates: list[tuple[int, int, str]] = []
    candidate_spans: list[Span] = []
    candidate_ids: list[str] = []
    for ann in document.annotations:
        if ann.id in records:
            raise CorpusFormatError(
                "duplicate annotation id in one document; ids must be unique",
                path=document.path or document.id,
                annotation_id=ann.id,
            )
        if not ann.fragments:
            raise CorpusFormatError(
                "annotation without fragments", path=document.path or document.id, annotation_id=ann.id
            )
        for start, end in ann.fragments:
            if not 0 <= start < end <= len(document.text):
                raise CorpusFormatError(
                    f"fragment {start}-{end} is empty or outside the text ({len(document.text)} characters)",
                    path=document.path or document.id,
                    annotation_id=ann.id,
                )
        records[ann.id] = _record(ann, document.text)
        kb_id = next(iter(ann.codes.values()), "")
        aligned_spans: list[Span] = []
        for start, end in ann.fragments:
            span = doc.char_span(start, end, label=ann.label, kb_id=kb_id, span_id=ann.id)
            if span is None:
                span = doc.char_span(
                    start, end, label=ann.label, kb_id=kb_id, span_id=ann.id, alignment_mode="expand"
                )
                if span is None or len(span) == 0:
                    report.add_skipped(
                        counter,
                        "unalignable_fragment",
                        path=document.path,
                        annotation_id=ann.id,
                        detail=f"fragment {start}-{end} covers no token",
                    )
                    continue
                report.add_adjusted(
                    counter,
                    "misaligned_expanded",
                    path=document.path,
                    annotation_id=ann.id,
                    detail=f"fragment {start}-{end} expanded to {span.start_char}-{span.end_char}",
                )
            else:
                aligned_spans.append(span)
            spans.append(span)
            report.add_converted(counter, "spans")
        if not set_ents:
            continue
        if ann.is_discontinuous:
            report.add_skipped(counter, "ents_discontinuous", path=document.path, annotation_id=ann.id)
        elif not aligned_spans:
            report.add_skipped(counter, "ents_misaligned", path=document.path, annotation_id=ann.id)
        else:
            candidates.append((ann.fragments[0][0], ann.fragments[0][1], ann.label))
            candidate_spans.append(aligned_spans[0])
            candidate_ids.append(ann.id)
    doc.spans[key] = spans
    doc.user_data[USER_DATA_KEY] = {
        "document": {
            "id": document.id,
            "corpus": document.corpus,
            "path": document.path,
            "meta": dict(document.meta),
        },
        "span_key": key,
        "annotations": records,
        "relations": [
            {"id": rel.id, "type": rel.type, "arg1": rel.arg1, "arg2": rel.arg2, "roles": list(rel.roles)}
            for rel in document.relations
        ],
    }
    if document.relations:
        report.add_converted(counter, "relations", len(document.relations))
    if set_ents:
        chosen = choose_ents(candidates)
        chosen_set = set(chosen)
        for i, ann_id in enumerate(candidate_ids):
            if i not in chosen_set:
                report.add_skipped(
                    counter,
                    "ents_overlap",
                    path=document.path,
                    annotation_id=ann_id,
                    detail=f"{candidates[i][0]}-{candidates[i][1]} overlaps a preferred annotation",
                )
        doc.set_ents([candidate_spans[i] for i in chosen], default="outside")
        report.add_converted(counter, "ents", len(chosen))
    return doc


def spans_to_annotations(
    spans: Iterable[Span],
    *,
    source: str = "",
    code_system: str = PREDICTED_CODE_SYSTEM,
    reserved_ids: Iterable[str] = (),
) -> list[Annotation]:
    """Group spans (e.g. predictions) into annotations.

    Spans sharing a non-empty ``id_`` and label form one (discontinuous)
    annotation with fragments in text order; a span without ``id_`` is its
    own annotation with a new ``T<n>`` id (not in ``reserved_ids``). An
    ``id_`` used with several labels gives one annotation per label, with ids
    ``<id_>-<label>``. ``kb_id_`` becomes ``codes[code_system]``.
    Annotations are returned in text order.
    """
    groups: dict[tuple[str, str], list[Span]] = {}
    loose: list[Span] = []
    for span in spans:
        if span.id_:
            groups.setdefault((span.id_, span.label_), []).append(span)
        else:
            loose.append(span)
    labels_per_id: dict[str, int] = {}
    for span_id, _ in groups:
        labels_per_id[span_id] = labels_per_id.get(span_id, 0) + 1
    used = set(reserved_ids) | set(labels_per_id)
    items: list[tuple[str | None, list[Span]]] = [
        (span_id if labels_per_id[span_id] == 1 else f"{span_id}-{label}", members)
        for (span_id, label), members in groups.items()
    ]
    items += [(None, [span]) for span in loose]
    items.sort(key=lambda item: min((s.start_char, s.end_char) for s in item[1]))
    annotations: list[Annotation] = []
    next_id = 1
    for ann_id, members in items:
        members = sorted(members, key=lambda s: (s.start_char, s.end_char))
        fragments: list[Fragment] = []
        for span in members:
            if (span.start_char, span.end_char) not in fragments:
                fragments.append((span.start_char, span.end_char))
        if ann_id is None:
            while f"T{next_id}" in used:
                next_id += 1
            ann_id = f"T{next_id}"
            used.add(ann_id)
        kb_id = next((s.kb_id_ for s in members if s.kb_id_), "")
        annotations.append(
            Annotation(
                id=ann_id,
                label=members[0].label_,
                fragments=fragments,
                text=fragment_text(members[0].doc.text, fragments),
                codes={code_system: kb_id} if kb_id else {},
                source=source,
            )
        )
    return annotations


def _annotation_from_record(ann_id: str, record: dict[str, Any], text: str) -> Annotation:
    fragments = [(int(start), int(end)) for start, end in record["fragments"]]
    return Annotation(
        id=ann_id,
        label=record["label"],
        fragments=fragments,
        text=record.get("text", fragment_text(text, fragments)),
        codes=dict(record.get("codes", {})),
        attributes=dict(record.get("attributes", {})),
        notes=list(record.get("notes", [])),
        source=record.get("source", ""),
    )


def doc_to_document(doc: Doc, span_key: str | None = None) -> Document:
    """Restore the Document of a Doc made by :func:`document_to_doc`.

    Annotations come from the exact records in ``doc.user_data`` when they
    belong to ``span_key`` (default: the stored key); spans of the group with
    an ``id_`` that has no record (e.g. added predictions) are appended via
    :func:`spans_to_annotations`. Without records, the span group (or
    ``doc.ents`` when there is no such group) is converted.
    """
    store = doc.user_data.get(USER_DATA_KEY)
    store = store if isinstance(store, dict) else {}
    info = store.get("document") or {}
    key = span_key or store.get("span_key") or DEFAULT_SPAN_KEY
    corpus = info.get("corpus") or ""
    records = store.get("annotations") if store.get("span_key") == key else None
    annotations: list[Annotation] = []
    relations: list[Relation] = []
    if isinstance(records, dict):
        relations = [
            Relation(id=r["id"], type=r["type"], arg1=r["arg1"], arg2=r["arg2"], roles=tuple(r["roles"]))
            for r in store.get("relations") or []
        ]
        annotations = [_annotation_from_record(ann_id, rec, doc.text) for ann_id, rec in records.items()]
        extra = [span for span in doc.spans.get(key, []) if span.id_ not in records]
        annotations += spans_to_annotations(extra, source=corpus, reserved_ids=records)
    elif key in doc.spans:
        annotations = spans_to_annotations(doc.spans[key], source=corpus)
    else:
        annotations = spans_to_annotations(doc.ents, source=corpus)
    return Document(
        id=info.get("id") or "",
        text=doc.text,
        annotations=annotations,
        corpus=corpus,
        path=info.get("path"),
        meta=dict(info.get("meta") or {}),
        relations=relations,
    )


def predictions_to_document(
    doc: Doc,
    span_key: str | None = None,
    *,
    doc_id: str | None = None,
    path: str | None = None,
) -> Document:
    """The predictions of one doc as a BRAT-writable :class:`Document`.

    Reads ``doc.spans[span_key]`` (``doc.ents`` when ``span_key`` is None);
    spans sharing ``id_`` and label become one discontinuous annotation
    (:func:`spans_to_annotations`). Ids are renumbered ``T1``, ``T2``… in text
    order, so :func:`~.brat.format_ann` writes ``T1 LABEL start end;start end``.
    Gold records in ``doc.user_data`` are not used (only the document id and
    path, when ``doc_id`` / ``path`` are not given).
    """
    store = doc.user_data.get(USER_DATA_KEY)
    info = store.get("document") if isinstance(store, dict) else None
    info = info if isinstance(info, dict) else {}
    spans = doc.ents if span_key is None else doc.spans.get(span_key, [])
    annotations = spans_to_annotations(spans, source="prediction")
    for k, ann in enumerate(annotations, 1):
        ann.id = f"T{k}"
    return Document(
        id=doc_id if doc_id is not None else info.get("id") or "",
        text=doc.text,
        annotations=annotations,
        corpus="prediction",
        path=path if path is not None else info.get("path"),
    )


def write_brat_predictions(
    docs: Iterable[Doc],
    out_dir: PathLike,
    *,
    span_key: str | None = None,
    names: Iterable[str] | None = None,
) -> list[tuple[Path, Path]]:
    """Write each doc's predictions as ``<name>.txt`` + ``<name>.ann`` (BRAT) into ``out_dir``.

    ``names`` gives the file stems in doc order; by default the document id
    kept in ``doc.user_data`` (the stem of its source path), else
    ``doc<index>``. Discontinuous predictions are written ``start end;start end``.
    Returns the written ``(txt, ann)`` paths.
    """
    written: list[tuple[Path, Path]] = []
    stems = list(names) if names is not None else None
    used: set[str] = set()
    for i, doc in enumerate(docs):
        document = predictions_to_document(doc, span_key)
        if stems is not None:
            stem = stems[i]
        elif document.path:
            stem = Path(document.path).stem
        else:
            stem = document.id or f"doc{i:05d}"
        if stem in used:
            raise CorpusFormatError(
                f"two documents would be written as {stem}.ann; pass distinct names", path=str(out_dir)
            )
        used.add(stem)
        document.path = None
        document.id = stem
        written.append(write_brat_document(document, out_dir))
    return written
