"""README opens with the two fresh-machine commands, and .ci/run runs the second one verbatim."""
from __future__ import annotations

from pathlib import Path

import srsly

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_readme_opens_with_two_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    main_job, tests = commands
    for command in commands:
        # each sets itself up: venv, torch first, then the package
        assert command.startswith("python3 -m venv .venv && ")
        assert command.index("torch==2.13.0") < command.index('-e ".[dev,transformers,llm]"')
    # the main job ends by building both products and running them on the example notes (issue 21)
    runs = [part.strip() for part in main_job.split("&&") if "spacy project run" in part]
    assert runs == [f".venv/bin/python -m spacy project run {name}" for name in ("all", "package", "demo")]
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_project_all_workflow_commands_exist() -> None:
    from weasel.util import load_project_config

    load_project_config(ROOT)  # spaCy's validation, every ${vars.x} resolved
    project = srsly.read_yaml(ROOT / "project.yml")
    names = {command["name"] for command in project["commands"]}
    for workflow in ("all", "package"):
        assert set(project["workflows"][workflow]) <= names
