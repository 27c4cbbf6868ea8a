"""Write evaluation results: JSON, a Markdown table and a per-class F1 bar chart.

Works on the dicts of :func:`.scorer.score_docs` /
:func:`.evaluate.evaluate_pipeline` and on the in-domain vs out-of-domain dict
of :func:`.evaluate.compare_domains`. JSON keys are sorted and floats rounded
to 4 decimals so that metric files diff cleanly between runs. matplotlib is
optional (``dev`` extra): without it the PNG is skipped with a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..deid.categories import is_phi_label

logger = logging.getLogger(__name__)

NDIGITS = 4


def round_floats(value: Any, ndigits: int = NDIGITS) -> Any:
    """Copy of ``value`` with every float (in nested dicts/lists) rounded."""
    if isinstance(value, float):
        return round(value, ndigits)
    if isinstance(value, Mapping):
        return {str(key): round_floats(item, ndigits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(item, ndigits) for item in value]
    return value


def to_json(scores: Mapping[str, Any]) -> str:
    """Stable JSON text: sorted keys, floats rounded to 4 decimals, newline-terminated."""
    return (
        json.dumps(round_floats(scores), indent=2, sort_keys=True, ensure_ascii=False)
        + "\n"
    )


def write_json(scores: Mapping[str, Any], path: str | Path) -> Path:
    """Write :func:`to_json` to ``path`` (parent folders are created)."""
    return write_text(to_json(scores), path)


def _is_comparison(scores: Mapping[str, Any]) -> bool:
    return "in_domain" in scores and "out_of_domain" in scores


def _cell(value: float) -> str:
    return f"{value:.{NDIGITS}f}"


def _escape(label: str) -> str:
    return label.replace("|", "\\|")


def _table(
    header: Sequence[str], align: Sequence[str], rows: Sequence[Sequence[str]]
) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None
) -> str:
    """A Markdown table; ``align`` per column (default: first column left, the others right)."""
    return _table(header, align or [":---"] + ["---:"] * (len(header) - 1), rows)


def prf_cell(row: Mapping[str, Any]) -> str:
    """``P / R / **F1**`` of one P/R/F result, for benchmark tables."""
    return f"{_cell(row['p'])} / {_cell(row['r'])} / **{_cell(row['f'])}**"


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` (e.g. a benchmark's Markdown) to ``path`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf8")
    return path


def _prf_cells(row: Mapping[str, Any] | None) -> list[str]:
    if row is None:
        return ["0", "-", "-", "-"]
    return [
        str(row["tp"] + row["fn"]),
        _cell(row["p"]),
        _cell(row["r"]),
        _cell(row["f"]),
    ]


def _side_by_side_rows(
    strict: Mapping[str, Any],
    iob2: Mapping[str, Any],
    cells: Callable[[Mapping[str, Any] | None], list[str]],
) -> list[list[str]]:
    """One row per label (strict cells, then IOB2 cells) and a final micro row."""
    labels = sorted(set(strict["per_type"]) | set(iob2["per_type"]))
    rows = [
        [_escape(label)] + cells(strict["per_type"].get(label)) + cells(iob2["per_type"].get(label))
        for label in labels
    ]
    rows.append(["**micro**"] + cells(strict) + cells(iob2))
    return rows


def markdown_table(scores: Mapping[str, Any]) -> str:
    """Per-class strict (char-offset span) and IOB2 (token) P/R/F side by side.

    Support columns count gold spans (strict) and gold entity tokens (IOB2);
    the last row is the micro average. A class absent on one side shows ``-``.
    """
    rows = _side_by_side_rows(scores["strict"], scores["iob2"], _prf_cells)
    header = [
        "Label",
        "Gold spans",
        "Strict P",
        "Strict R",
        "Strict F1",
        "Gold tokens",
        "IOB2 P",
        "IOB2 R",
        "IOB2 F1",
    ]
    return _table(header, [":---"] + ["---:"] * 8, rows)


def markdown_gap_table(gap: Mapping[str, Any]) -> str:
    """Δ F1 (in-domain − out-of-domain) per class, strict and IOB2 side by side."""

    def cells(part: Mapping[str, Any] | None) -> list[str]:
        if part is None:
            return ["-", "-", "-"]
        return [f"{part[key]:+.{NDIGITS}f}" for key in ("p", "r", "f")]

    strict = gap["strict"]
    rows = _side_by_side_rows(strict, gap["iob2"], cells)
    header = [
        "Label",
        "Δ strict P",
        "Δ strict R",
        "Δ strict F1",
        "Δ IOB2 P",
        "Δ IOB2 R",
        "Δ IOB2 F1",
    ]
    table = _table(header, [":---"] + ["---:"] * 6, rows)
    only = [
        f"- labels only in domain: {', '.join(strict['labels_only_id'])}"
        if strict["labels_only_id"]
        else "",
        f"- labels only out of domain: {', '.join(strict['labels_only_ood'])}"
        if strict["labels_only_ood"]
        else "",
    ]
    return "\n".join([table, *(line for line in only if line)])


def markdown_summary(scores: Mapping[str, Any]) -> str:
    """:func:`markdown_table` followed by token-coverage (de-identification), exact-match and speed lines."""
    lines = [markdown_table(scores), ""]
    deid, chars = scores["deid_token"], scores["deid_char"]
    # PHI wording (leak rate) only when every label is a kind of PHI; an image-entity model's tokens are not PHI
    labels = set(scores["strict"]["per_type"])
    phi = bool(labels) and all(is_phi_label(label) for label in labels)
    kind, missed = ("PHI", "leak rate") if phi else ("Entity", "missed")
    lines.append(
        f"- {kind} tokens (labels ignored): P {_cell(deid['p'])}, R {_cell(deid['r'])}, "
        f"F1 {_cell(deid['f'])}, {missed} {_cell(deid['leak_rate'])} "
        f"({deid['fn']} of {deid['gold_tokens']} gold tokens)"
    )
    lines.append(
        f"- {kind} characters: R {_cell(chars['r'])}, {missed} {_cell(chars['leak_rate'])}"
    )
    exact = scores["exact"]
    disc = exact["discontinuous"]
    lines.append(
        f"- Exact fragment-set match: F1 {_cell(exact['f'])}; discontinuous only: "
        f"F1 {_cell(disc['f'])} ({disc['tp'] + disc['fn']} gold, {disc['tp'] + disc['fp']} predicted)"
    )
    dropped = (
        scores["iob2"].get("dropped_gold_spans", 0),
        scores["iob2"].get("dropped_pred_spans", 0),
    )
    if any(dropped):
        lines.append(
            f"- IOB2 could not hold {dropped[0]} gold and {dropped[1]} predicted overlapping spans"
        )
    lines.append(
        f"- Documents: {scores['n_docs']} scored, {scores['n_docs_skipped']} skipped"
    )
    speed = scores.get("speed")
    if speed:
        lines.append(
            f"- Speed: {speed['words_per_second']:.0f} words/s "
            f"({speed['words']} words in {speed['seconds']:.2f} s)"
        )
    return "\n".join(lines)


def markdown_report(scores: Mapping[str, Any]) -> str:
    """Markdown for a single evaluation or an in-domain/out-of-domain comparison."""
    if not _is_comparison(scores):
        return markdown_summary(scores) + "\n"
    parts = [
        "## In domain",
        "",
        markdown_summary(scores["in_domain"]),
        "",
        "## Out of domain",
        "",
        markdown_summary(scores["out_of_domain"]),
        "",
        "## Gap (in domain − out of domain)",
        "",
        markdown_gap_table(scores["gap"]),
    ]
    return "\n".join(parts) + "\n"


def write_markdown(scores: Mapping[str, Any], path: str | Path) -> Path:
    """Write :func:`markdown_report` to ``path`` (parent folders are created)."""
    return write_text(markdown_report(scores), path)


def _f1_series(scores: Mapping[str, Any]) -> tuple[list[str], dict[str, list[float]]]:
    """Labels and the F1 series to plot for a single result or a comparison."""
    if _is_comparison(scores):
        named = {
            "strict F1 in domain": scores["in_domain"]["strict"]["per_type"],
            "strict F1 out of domain": scores["out_of_domain"]["strict"]["per_type"],
        }
    else:
        named = {
            "strict F1": scores["strict"]["per_type"],
            "IOB2 F1": scores["iob2"]["per_type"],
        }
    labels = sorted(set().union(*named.values()))
    series = {
        name: [per_type[label]["f"] if label in per_type else 0.0 for label in labels]
        for name, per_type in named.items()
    }
    return labels, series


def plot_per_class_f1(
    scores: Mapping[str, Any], path: str | Path, *, title: str = ""
) -> bool:
    """Write a horizontal bar chart of per-class F1 to ``path`` (PNG).

    Single result: strict and IOB2 F1 per class. Comparison: strict F1 in and
    out of domain. Uses matplotlib's Agg canvas directly (no pyplot, no global
    backend switch). RETURNS: False, with a warning, when matplotlib is missing.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning(
            "matplotlib is not installed (pip install 'spacy-clinical-es[dev]'); skipping %s",
            path,
        )
        return False
    labels, series = _f1_series(scores)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_series = len(series)
    height = 0.8 / n_series
    figure = Figure(figsize=(8, max(2.5, 0.3 * len(labels) * n_series + 1.2)))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    positions = list(range(len(labels)))
    for i, (name, values) in enumerate(series.items()):
        offsets = [p - 0.4 + height * (i + 0.5) for p in positions]
        ax.barh(offsets, values, height=height, label=name)
    ax.set_yticks(positions)
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("F1")
    if title:
        ax.set_title(title)
    if labels:
        ax.legend(loc="best", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    return True


def write_report(
    scores: Mapping[str, Any],
    *,
    json_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
    png_path: str | Path | None = None,
    title: str = "",
) -> dict[str, Path]:
    """Write whichever of the JSON, Markdown and PNG outputs have a path.

    RETURNS: output kind (``json``, ``markdown``, ``png``) -> path written.
    """
    written: dict[str, Path] = {}
    if json_path is not None:
        written["json"] = write_json(scores, json_path)
    if markdown_path is not None:
        written["markdown"] = write_markdown(scores, markdown_path)
    if png_path is not None and plot_per_class_f1(scores, png_path, title=title):
        written["png"] = Path(png_path)
    return written
