"""benchmark pretraining: reads the runs' metrics files, compares each setting with its pipeline's `none` run."""
from __future__ import annotations

from pathlib import Path

import pytest
import srsly
from typer.testing import CliRunner

from spacy_clinical_es.cli import app
from spacy_clinical_es.errors import ConfigError
from spacy_clinical_es.evaluation.benchmarks.pretraining import parse_run, summarize


def _ner_file(path: Path, f: float, enf: float, proc: float, wps: float) -> Path:
    per_type = {"ENFERMEDAD": {"f": enf}, "PROCEDIMIENTO": {"f": proc}, "EDAD": {"f": 0.9}}
    srsly.write_json(path, {"strict": {"f": f, "per_type": per_type}, "deid_token": {"r": 0.5},
                            "speed": {"words_per_second": wps}, "command": "evaluate X"})
    return path


def _disc_file(path: Path, disc: float, wps: float) -> Path:
    dev = {"all": {"f": 0.6}, "continuous": {"f": 0.75}, "discontinuous": {"f": disc}, "words_per_second": wps}
    srsly.write_json(path, {"splits": {"dev": {"config": dev}}})
    return path


def test_goals_are_absolute_relative_and_speed(tmp_path: Path) -> None:
    runs = [
        parse_run(f"imaging:none:{_ner_file(tmp_path / 'a.json', 0.67, 0.62, 0.66, 10_000)}"),
        parse_run(f"imaging:vectors:{_ner_file(tmp_path / 'b.json', 0.73, 0.65, 0.72, 6_000)}"),
        parse_run(f"discontinuous:none:{_disc_file(tmp_path / 'c.json', 0.05, 7_000)}"),
        parse_run(f"discontinuous:vectors:{_disc_file(tmp_path / 'd.json', 0.11, 6_900)}"),
    ]
    summary = summarize(runs)
    vectors = summary["pipelines"]["imaging"]["settings"]["vectors"]
    assert vectors["scores"] == {"strict_f": 0.73, "ENFERMEDAD_f": 0.65, "PROCEDIMIENTO_f": 0.72,
                                 "words_per_second": 6_000}
    assert {name: goal["met"] for name, goal in vectors["goals"].items()} == {
        "strict_f": True, "ENFERMEDAD_f": False, "PROCEDIMIENTO_f": True, "speed_ratio": False,
    }
    assert vectors["command"] == "evaluate X"
    assert "speed_ratio" not in summary["pipelines"]["imaging"]["settings"]["none"]["goals"]
    variant = summarize(runs + [parse_run(f"imaging@3000:none:{tmp_path / 'b.json'}"),
                                parse_run(f"imaging@3000:vectors:{tmp_path / 'a.json'}")])["pipelines"]["imaging@3000"]
    assert variant["settings"]["vectors"]["goals"]["speed_ratio"]["value"] == round(10_000 / 6_000, 3)  # its own none
    assert variant["metrics_file_kind"] == summary["pipelines"]["imaging"]["metrics_file_kind"]
    disc = summary["pipelines"]["discontinuous"]["settings"]["vectors"]["goals"]
    assert disc["discontinuous_f"] == {"target": 0.1, "value": 0.11, "met": True}  # at least doubled
    assert disc["speed_ratio"]["met"]


def test_nested_and_negation_files_are_read(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    srsly.write_json(nested, {"nested": {"nested_exact": {"f": 0.69}, "hidden_from_flat": {"r": 0.52},
                                         "words_per_second": 10_000}, "flat": {}})
    negation = tmp_path / "negation.json"
    srsly.write_json(negation, {"goals": {"trained": {"negation_cue_f": {"value": 0.94}}},
                                "systems": {"trained": {"speed": {"words_per_second": 25_000}}}})
    summary = summarize([parse_run(f"nested:none:{nested}"), parse_run(f"negation:vectors:{negation}")])
    assert summary["pipelines"]["nested"]["settings"]["none"]["scores"] == pytest.approx(
        {"nested_exact_f": 0.69, "hidden_from_flat_r": 0.52, "words_per_second": 10_000})
    negation_row = summary["pipelines"]["negation"]["settings"]["vectors"]
    assert negation_row["scores"] == pytest.approx({"negation_cue_f": 0.94, "words_per_second": 25_000})
    assert negation_row["goals"] == {}  # no 'none' run of this pipeline: nothing to compare with


def test_bad_runs_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PIPELINE:SETTING:METRICS_FILE"):
        parse_run("imaging:none")
    with pytest.raises(ConfigError, match="unknown pipeline 'spancat'"):
        parse_run(f"spancat:none:{_ner_file(tmp_path / 'a.json', 0.6, 0.6, 0.6, 1)}")
    with pytest.raises(ConfigError, match="not found"):
        parse_run(f"imaging:none:{tmp_path / 'missing.json'}")
    wrong = parse_run(f"discontinuous:none:{_ner_file(tmp_path / 'b.json', 0.6, 0.6, 0.6, 1)}")
    with pytest.raises(ConfigError, match="is not a benchmark discontinuous"):
        summarize([wrong])


def test_cli_writes_json_and_markdown(tmp_path: Path) -> None:
    a = _ner_file(tmp_path / "a.json", 0.96, 0.0, 0.0, 10_000)
    b = _ner_file(tmp_path / "b.json", 0.971, 0.0, 0.0, 9_000)
    out, md = tmp_path / "pt.json", tmp_path / "pt.md"
    result = CliRunner().invoke(app, ["benchmark", "pretraining", "--run", f"deid:none:{a}", "--run",
                                      f"deid:vectors:{b}", "--output", str(out), "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    goals = srsly.read_json(out)["pipelines"]["deid"]["settings"]["vectors"]["goals"]
    assert goals["strict_f"]["met"] and goals["speed_ratio"]["value"] == 0.9
    text = md.read_text(encoding="utf-8")
    assert "| none | 0.9600 (< 0.97) | 0.5000 | 10,000 |" in text and "| vectors | 0.9710 | 0.5000 | 9,000 | 0.90 |" in text
    result = CliRunner().invoke(app, ["benchmark", "pretraining", "--run", "x:y", "--output", str(out)])
    assert result.exit_code == 1 and "PIPELINE:SETTING:METRICS_FILE" in result.output
