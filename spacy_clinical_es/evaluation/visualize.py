"""HTML pages to look at results: concepts with displaCy, and the de-identification review page.

Plain data in, one self-contained HTML page out (no network, no external
script or font); only :mod:`spacy.displacy`'s entity renderer is used, with a
template that adds a hover title and ``data-*`` attributes:

* :func:`concepts_page`: per document, the concepts (records of
  :func:`spacy_clinical_es.runtime.annotate.concept_records`) drawn by
  displaCy, coloured by label, with codes and scores on hover; nested
  concepts go to extra displaCy lines (displaCy's entity style cannot
  overlap spans), fragments of a discontinuous concept share their concept
  id and are outlined; negated concepts are struck through and marked ``¬``,
  uncertain ones ``?``. A table below lists every concept.
* :func:`review_page`: the page a data steward checks before release: the
  original and the de-identified text side by side, paragraph by paragraph
  (paragraph starts mapped through the offset map), every replaced span
  marked on both sides with the same pair id (hovering one highlights its
  partner), and a table of all replacements with input and output offsets.

Every drawn span carries ``data-span="START-END"`` (document offsets; output
offsets on the de-identified side), so a test or a reviewer's script can check
that nothing was left out. These pages hold clinical text: keep them where the
notes are kept.
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: displaCy colours per label (concept labels, then PHI categories); others get :data:`DEFAULT_COLOR`.
LABEL_COLORS: dict[str, str] = {
    "ENFERMEDAD": "#f4a6a6",
    "PROCEDIMIENTO": "#9fd3f5",
    "EDAD": "#c8e6a0",
    "SEXO": "#f7d794",
    "NOMBRE_SUJETO_ASISTENCIA": "#f5b3e0",
    "NOMBRE_PERSONAL_SANITARIO": "#e3b3f5",
    "FAMILIARES_SUJETO_ASISTENCIA": "#f5c6b3",
    "FECHAS": "#b3e5f5",
    "EDAD_SUJETO_ASISTENCIA": "#c8e6a0",
    "SEXO_SUJETO_ASISTENCIA": "#f7d794",
    "CALLE": "#d9c3a5",
    "TERRITORIO": "#b5d9a5",
    "PAIS": "#a5d9c8",
    "HOSPITAL": "#a5b8d9",
    "INSTITUCION": "#c3a5d9",
    "CENTRO_SALUD": "#a5c8d9",
    "ID_SUJETO_ASISTENCIA": "#d9d9a5",
    "ID_ASEGURAMIENTO": "#d9c8a5",
    "ID_CONTACTO_ASISTENCIAL": "#d9b5a5",
    "ID_TITULACION_PERSONAL_SANITARIO": "#c8d9a5",
    "NUMERO_TELEFONO": "#a5d9d9",
    "NUMERO_FAX": "#a5d9d9",
    "CORREO_ELECTRONICO": "#d9a5b5",
    "URL_WEB": "#d9a5c8",
    "PROFESION": "#b5a5d9",
    "OTROS_SUJETO_ASISTENCIA": "#cccccc",
}
DEFAULT_COLOR = "#dddddd"

#: displaCy entity template with a hover title, data attributes and a class for negated / uncertain / fragments.
ENT_TEMPLATE = (
    '<mark class="entity {css}" data-span="{span}" data-concept="{concept}" title="{title}" '
    'style="background: {bg}; padding: 0.3em 0.5em; margin: 0 0.2em; line-height: 2.2; border-radius: 0.35em;">'
    "{text}"
    '<span style="font-size: 0.7em; font-weight: bold; line-height: 1; border-radius: 0.35em; '
    'vertical-align: middle; margin-left: 0.4rem">{label}{badge}{kb_link}</span></mark>'
)

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.layer-title { font-size: 0.8em; color: #666; margin: 0.8em 0 0.2em; }
.entities { line-height: 2.2; white-space: normal; }
mark.negated { text-decoration: line-through; text-decoration-thickness: 2px; }
mark.uncertain { border-bottom: 2px dashed #555; }
mark.fragment { outline: 2px dotted #333; }
mark.highlight { outline: 3px solid #d00; }
table { border-collapse: collapse; font-size: 0.85em; margin-top: 0.8em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.5em; vertical-align: top; text-align: left; }
table.review { width: 100%; } table.review td { width: 50%; }
.legend span { display: inline-block; padding: 0.1em 0.5em; margin: 0.1em; border-radius: 0.3em; font-size: 0.8em; }
.note { color: #555; font-size: 0.85em; }
"""

#: Hovering a replaced span highlights its partner on the other side (same data-pair).
REVIEW_SCRIPT = """
document.querySelectorAll('mark[data-pair]').forEach(function (m) {
  var partners = document.querySelectorAll('mark[data-pair="' + m.dataset.pair + '"]');
  m.addEventListener('mouseenter', function () { partners.forEach(function (p) { p.classList.add('highlight'); }); });
  m.addEventListener('mouseleave', function () { partners.forEach(function (p) { p.classList.remove('highlight'); }); });
});
"""


@dataclass(frozen=True)
class DrawnSpan:
    """One span to draw: offsets in its text, label, hover title, concept/pair id and marks."""

    start: int
    end: int
    label: str
    title: str = ""
    concept: str = ""
    negated: bool = False
    uncertain: bool = False
    fragment: bool = False
    badge: str = ""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def layers(spans: Sequence[DrawnSpan]) -> list[list[DrawnSpan]]:
    """Split spans into non-overlapping layers (outermost first), as displaCy's entity style needs."""
    out: list[list[DrawnSpan]] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        for layer in out:
            if all(span.end <= other.start or other.end <= span.start for other in layer):
                layer.append(span)
                break
        else:
            out.append([span])
    return [sorted(layer, key=lambda s: s.start) for layer in out]


def render_spans(text: str, spans: Sequence[DrawnSpan], *, pair_attr: bool = False, offset: int = 0) -> str:
    """displaCy markup of ``text`` with non-overlapping ``spans`` (offsets relative to ``text``).

    ``offset`` is added to the ``data-span`` offsets (a paragraph drawn alone keeps document offsets).
    """
    from spacy.displacy.render import EntityRenderer

    template = ENT_TEMPLATE.replace('data-concept="{concept}"', 'data-pair="{concept}"') if pair_attr else ENT_TEMPLATE
    renderer = EntityRenderer({"colors": LABEL_COLORS, "template": template})
    ents = []
    for span in spans:
        css = " ".join(name for name, on in (("negated", span.negated), ("uncertain", span.uncertain),
                                             ("fragment", span.fragment)) if on)
        ents.append(
            {
                "start": span.start,
                "end": span.end,
                "label": _esc(span.label),
                "params": {
                    "css": css,
                    "span": f"{span.start + offset}-{span.end + offset}",
                    "concept": _esc(span.concept),
                    "title": _esc(span.title),
                    "badge": _esc(span.badge),
                },
            }
        )
    return renderer.render_ents(text, ents, None)


def _legend(labels: Iterable[str]) -> str:
    items = "".join(
        f'<span style="background: {LABEL_COLORS.get(label, DEFAULT_COLOR)}">{_esc(label)}</span>'
        for label in sorted(set(labels))
    )
    return f'<div class="legend">{items}</div>'


def _page(title: str, body: str, *, script: str = "") -> str:
    tail = f"<script>{script}</script>" if script else ""
    return (
        f'<!DOCTYPE html>\n<html lang="es"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>{body}{tail}</body></html>\n"
    )


def _codes_title(record: Mapping[str, Any]) -> str:
    parts = [f"{record['concept_id']} {record['label']}"]
    for system, code in (record.get("codes") or {}).items():
        score = code.get("score")
        shown = code.get("code") or "sin código"
        parts.append(f"{system}: {shown}" + (f" ({score:.2f})" if isinstance(score, (int, float)) else ""))
    if len(record["fragments"]) > 1:
        parts.append("discontinuo: " + "; ".join(f"{s}-{e}" for s, e in record["fragments"]))
    if record.get("nested_in"):
        parts.append(f"anidado en {record['nested_in']}")
    if record.get("negated"):
        parts.append("NEGADO")
    if record.get("uncertain"):
        parts.append("INCIERTO")
    return " | ".join(parts)


def concept_spans(records: Sequence[Mapping[str, Any]]) -> list[DrawnSpan]:
    """The spans to draw for concept records: one per fragment, with its concept's hover title."""
    spans = []
    for record in records:
        title = _codes_title(record)
        badge = ("¬" if record.get("negated") else "") + ("?" if record.get("uncertain") else "")
        for start, end in record["fragments"]:
            spans.append(
                DrawnSpan(
                    start, end, record["label"], title, record["concept_id"], bool(record.get("negated")),
                    bool(record.get("uncertain")), len(record["fragments"]) > 1, (" " + badge) if badge else "",
                )
            )
    return spans


def concepts_page(documents: Sequence[tuple[str, str, Sequence[Mapping[str, Any]]]], *, title: str = "Conceptos") -> str:
    """The concepts report: ``(doc_id, text, records)`` per document."""
    body = [
        (
            '<p class="note">Pase el ratón sobre un concepto para ver sus códigos y puntuaciones. '
            "Tachado ¬: negado; ?: incierto; borde punteado: fragmento de un concepto discontinuo.</p>"
        ),
        _legend(r["label"] for _, _, records in documents for r in records),
    ]
    for doc_id, text, records in documents:
        body.append(f'<h2 data-doc="{_esc(doc_id)}">{_esc(doc_id)}</h2>')
        for n, layer in enumerate(layers(concept_spans(records))):
            caption = "conceptos" if n == 0 else f"conceptos anidados (nivel {n + 1})"
            body.append(f'<div class="layer-title">{caption}</div>{render_spans(text, layer)}')
        if not records:
            body.append(f'<div class="layer-title">sin conceptos</div>{render_spans(text, [])}')
        rows = "".join(
            f"<tr><td>{_esc(r['concept_id'])}</td><td>{_esc(r['label'])}</td>"
            f"<td>{_esc('; '.join(text[s:e] for s, e in r['fragments']))}</td>"
            f"<td>{_esc(_codes_title(r).split(' | ', 1)[1] if ' | ' in _codes_title(r) else '')}</td></tr>"
            for r in records
        )
        if rows:
            body.append(f"<table><tr><th>id</th><th>etiqueta</th><th>texto</th><th>códigos</th></tr>{rows}</table>")
    return _page(title, "".join(body))


@dataclass(frozen=True)
class Replacement:
    """One replaced (or kept) PHI span: input and output offsets, label and what was done."""

    in_start: int
    in_end: int
    out_start: int
    out_end: int
    label: str
    action: str = "surrogate"


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each line of ``text`` (line breaks excluded), empty lines included."""
    out, start = [], 0
    for line in text.split("\n"):
        out.append((start, start + len(line)))
        start += len(line) + 1
    return out


def _clip(spans: Sequence[DrawnSpan], start: int, end: int) -> list[DrawnSpan]:
    """The parts of ``spans`` inside ``[start, end)``, relative to ``start`` (a span across lines is drawn per line)."""
    out = []
    for s in spans:
        lo, hi = max(s.start, start), min(s.end, end)
        if lo < hi:
            out.append(DrawnSpan(lo - start, hi - start, s.label, s.title, s.concept, badge=s.badge))
    return out


def review_page(
    documents: Sequence[tuple[str, str, str, Sequence[Replacement], Any]], *, title: str = "Revisión de la desidentificación"
) -> str:
    """The review page: ``(doc_id, original, deid_text, replacements, offset_map)`` per document.

    ``offset_map`` (a :class:`spacy_clinical_es.deid.OffsetMap`) maps each paragraph start of the original to
    the de-identified text, so the two columns stay aligned paragraph by paragraph.
    """
    body = [
        (
            '<p class="note">Izquierda: texto original; derecha: texto desidentificado. Cada dato sustituido lleva el '
            "mismo número en ambos lados (pase el ratón para resaltar su pareja). Esta página contiene datos "
            "personales: no la publique.</p>"
        ),
        _legend(r.label for *_, reps, _ in documents for r in reps),
    ]
    for d, (doc_id, original, deid_text, replacements, offset_map) in enumerate(documents, start=1):
        # pair ids are unique on the page: D<document>P<replacement>
        left = [
            DrawnSpan(r.in_start, r.in_end, r.label, f"#{n} {r.label} → {r.action}: salida {r.out_start}-{r.out_end}",
                      f"D{d}P{n}", badge=f" #{n}")
            for n, r in enumerate(replacements, start=1)
        ]
        right = [
            DrawnSpan(r.out_start, r.out_end, r.label, f"#{n} {r.label} ← entrada {r.in_start}-{r.in_end}",
                      f"D{d}P{n}", badge=f" #{n}")
            for n, r in enumerate(replacements, start=1)
        ]
        rows = []
        for start, end in _paragraphs(original):
            out_start = offset_map.to_output(start) if offset_map is not None else start
            out_end = offset_map.to_output(end, side="left") if offset_map is not None else end
            if not original[start:end].strip() and not deid_text[out_start:out_end].strip():
                continue
            rows.append(
                "<tr><td>" + render_spans(original[start:end], _clip(left, start, end), pair_attr=True, offset=start)
                + "</td><td>"
                + render_spans(deid_text[out_start:out_end], _clip(right, out_start, out_end), pair_attr=True,
                               offset=out_start)
                + "</td></tr>"
            )
        body.append(f'<h2 data-doc="{_esc(doc_id)}">{_esc(doc_id)}</h2>')
        body.append('<table class="review"><tr><th>original</th><th>desidentificado</th></tr>' + "".join(rows) + "</table>")
        table = "".join(
            f"<tr><td>#{n}</td><td>{_esc(r.label)}</td><td>{_esc(r.action)}</td>"
            f"<td>{_esc(original[r.in_start:r.in_end])}</td><td>{_esc(deid_text[r.out_start:r.out_end])}</td>"
            f"<td>{r.in_start}-{r.in_end}</td><td>{r.out_start}-{r.out_end}</td></tr>"
            for n, r in enumerate(replacements, start=1)
        )
        body.append(
            "<table><tr><th>#</th><th>etiqueta</th><th>acción</th><th>original</th><th>sustituto</th>"
            f"<th>entrada</th><th>salida</th></tr>{table}</table>"
        )
    return _page(title, "".join(body), script=REVIEW_SCRIPT)
