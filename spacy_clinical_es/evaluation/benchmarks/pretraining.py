"""Side by side of issue 17: each pipeline trained without and with the floret vectors (or the pretrained tok2vec).

Every number comes from a metrics file a real run wrote (``evaluate`` for the NER pipelines, ``benchmark
nested``, ``benchmark discontinuous``, ``benchmark negation``), one file per pipeline and setting; this module only reads them, puts
their dev scores and words/s in one table and checks the issue's goals for each setting against the pipeline's
``none`` run (same steps and seed; words/s of separate runs, so expect a few percent of machine noise).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import srsly

from ...errors import ConfigError
from ..report import table, write_json, write_text

logger = logging.getLogger(__name__)

#: The setting every other one of a pipeline is compared with.
BASELINE = "none"
#: No pipeline may fall under this share of its baseline's words/s (the issue's speed goal).
MIN_SPEED_RATIO = 0.7


def _ner(scores: Mapping[str, Any]) -> dict[str, float]:
    per_type = scores["strict"].get("per_type", {})
    row = {"strict_f": scores["strict"]["f"]}
    row.update({f"{label}_f": per_type[label]["f"] for label in ("ENFERMEDAD", "PROCEDIMIENTO") if label in per_type})
    row["words_per_second"] = scores["speed"]["words_per_second"]
    return row


def _deid(scores: Mapping[str, Any]) -> dict[str, float]:
    """Strict F1 and the PHI token recall of the detector's entities (the randomizer replaces more: phi_recall)."""
    return {"strict_f": scores["strict"]["f"], "phi_token_r": scores["deid_token"]["r"],
            "words_per_second": scores["speed"]["words_per_second"]}


def _nested(scores: Mapping[str, Any]) -> dict[str, float]:
    nested = scores["nested"]
    return {
        "nested_exact_f": nested["nested_exact"]["f"],
        "hidden_from_flat_r": nested["hidden_from_flat"]["r"],
        "words_per_second": nested["words_per_second"],
    }


def _discontinuous(scores: Mapping[str, Any]) -> dict[str, float]:
    dev = scores["splits"]["dev"]["config"]
    return {
        "all_f": dev["all"]["f"],
        "continuous_f": dev["continuous"]["f"],
        "discontinuous_f": dev["discontinuous"]["f"],
        "words_per_second": dev["words_per_second"],
    }


def _negation(scores: Mapping[str, Any]) -> dict[str, float]:
    goals = scores["goals"]["trained"]
    row = {name: goal["value"] for name, goal in goals.items()}
    row["words_per_second"] = scores["systems"]["trained"]["speed"]["words_per_second"]
    return row


#: pipeline -> (what its metrics file is, how to read it, absolute goals: score -> minimum)
PIPELINES: dict[str, tuple[str, Callable[[Mapping[str, Any]], dict[str, float]], dict[str, float]]] = {
    "imaging": ("evaluate on corpus/imaging/dev.spacy", _ner,
                {"strict_f": 0.72, "ENFERMEDAD_f": 0.66, "PROCEDIMIENTO_f": 0.71}),
    "concepts": ("evaluate on corpus/concepts/dev.spacy", _ner, {}),
    "deid": ("evaluate on corpus/deid/dev.spacy --gold-span-key meddocan", _deid, {"strict_f": 0.970}),
    "nested": ("benchmark nested (span group imaging, dev)", _nested, {}),
    "discontinuous": ("benchmark discontinuous (dev, config thresholds)", _discontinuous, {}),
    "negation": ("benchmark negation on corpus/nubes/dev.spacy (trained implementation)", _negation, {}),
}
#: relative goals: score -> minimum multiple of the baseline's (discontinuous-only F1 at least doubled)
RELATIVE_GOALS: dict[str, dict[str, float]] = {"discontinuous": {"discontinuous_f": 2.0}}


@dataclass(frozen=True)
class Run:
    """One training run's metrics file: which pipeline, which representation setting.

    ``pipeline`` is a key of :data:`PIPELINES`, optionally with ``@variant`` (``imaging@3000``: another step budget),
    so that several comparisons of one kind each get their own ``none`` baseline.
    """

    pipeline: str
    setting: str
    path: Path

    @property
    def kind(self) -> str:
        """The key of :data:`PIPELINES` (what the file is and how to read it)."""
        return pipeline_kind(self.pipeline)


def pipeline_kind(pipeline: str) -> str:
    """``imaging@3000`` -> ``imaging``: the :data:`PIPELINES` key of a (possibly variant) pipeline name."""
    return pipeline.split("@", 1)[0]


def parse_run(spec: str) -> Run:
    """``PIPELINE[@VARIANT]:SETTING:PATH`` (the CLI's ``--run``); an unknown pipeline or a missing file is a ConfigError."""
    parts = spec.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ConfigError(f"--run {spec!r}: expected PIPELINE:SETTING:METRICS_FILE, e.g. imaging:vectors:metrics/x.json")
    pipeline, setting, path = parts
    if pipeline_kind(pipeline) not in PIPELINES:
        raise ConfigError(f"--run {spec!r}: unknown pipeline {pipeline!r}; choose from {', '.join(PIPELINES)}")
    if not Path(path).is_file():
        raise ConfigError(f"--run {spec!r}: {path} not found; run the evaluation that writes it first")
    return Run(pipeline, setting, Path(path))


def _goals(row: Mapping[str, float], baseline: Mapping[str, float] | None, kind: str) -> dict[str, Any]:
    goals: dict[str, Any] = {}
    for name, target in PIPELINES[kind][2].items():
        if name in row:
            goals[name] = {"target": target, "value": row[name], "met": row[name] >= target}
    if baseline is not None:
        for name, factor in RELATIVE_GOALS.get(kind, {}).items():
            target = round(factor * baseline[name], 4)
            goals[name] = {"target": target, "value": row[name], "met": row[name] >= target}
        ratio = row["words_per_second"] / baseline["words_per_second"]
        goals["speed_ratio"] = {"target": MIN_SPEED_RATIO, "value": round(ratio, 3), "met": ratio >= MIN_SPEED_RATIO}
    return goals


def summarize(runs: Sequence[Run]) -> dict[str, Any]:
    """Read every run's file and compare each setting of a pipeline with its ``none`` run."""
    entries: dict[str, dict[str, dict[str, Any]]] = {}  # pipeline -> setting -> scores, file, command
    for run in runs:
        scores = srsly.read_json(run.path)
        try:
            row = PIPELINES[run.kind][1](scores)
        except KeyError as err:
            raise ConfigError(
                f"{run.path} is not a {PIPELINES[run.kind][0]} result (no {err}); check the --run pipeline name"
            ) from err
        entries.setdefault(run.pipeline, {})[run.setting] = {
            "scores": row, "file": str(run.path), "command": scores.get("command", ""),
        }
    pipelines: dict[str, Any] = {}
    for pipeline, settings in entries.items():
        kind = pipeline_kind(pipeline)
        baseline = settings[BASELINE]["scores"] if BASELINE in settings else None
        pipelines[pipeline] = {
            "metrics_file_kind": PIPELINES[kind][0],
            "settings": {
                setting: {
                    "scores": entry["scores"],
                    "goals": _goals(entry["scores"], baseline if setting != BASELINE else None, kind),
                    "file": entry["file"],
                    "command": entry["command"],
                }
                for setting, entry in settings.items()
            },
        }
    return {"baseline_setting": BASELINE, "min_speed_ratio": MIN_SPEED_RATIO, "pipelines": pipelines}


def markdown(summary: Mapping[str, Any], command: str = "") -> str:
    """One table per pipeline: settings as rows, scores as columns, unmet goals marked."""
    lines = ["# Pretraining and vectors: each pipeline without and with them (dev)", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    for pipeline, block in summary["pipelines"].items():
        settings = block["settings"]
        names = list(next(iter(settings.values()))["scores"])
        rows = []
        for setting, entry in settings.items():
            cells = []
            for name in names:
                value = entry["scores"].get(name)
                goal = entry["goals"].get(name)
                text = "" if value is None else (f"{value:,.0f}" if name == "words_per_second" else f"{value:.4f}")
                if goal is not None and not goal["met"]:
                    text += f" (< {goal['target']})"
                cells.append(text)
            ratio = entry["goals"].get("speed_ratio")
            cells.append("" if ratio is None else f"{ratio['value']:.2f}" + ("" if ratio["met"] else " (< 0.7)"))
            rows.append([setting, *cells, f"`{entry['file']}`"])
        lines += [f"## {pipeline} ({block['metrics_file_kind']})", "",
                  table(["setting", *names, "speed vs none", "from"], rows,
                        [":---"] + ["---:"] * (len(names) + 1) + [":---"]), ""]
    return "\n".join(lines)


def run_pretraining_summary(
    runs: Sequence[Run], *, output: Path, markdown_path: Path | None = None, command: str = ""
) -> dict[str, Any]:
    """Write the side by side (JSON, optional Markdown) and return it."""
    summary = summarize(runs) | {"command": command}
    write_json(summary, output)
    if markdown_path is not None:
        write_text(markdown(summary, command), markdown_path)
    logger.info("pretraining side by side of %d runs written to %s", len(runs), output)
    return summary
