"""examples/github-workflow.yml (the README's CI example) parses, and every `repro` command it runs is one
the CLI's parser accepts (parsed only, nothing runs)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from repro.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github-workflow.yml"


def run_scripts(workflow: dict) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def repro_commands(script: str) -> list[list[str]]:
    """The argv of each `repro ...` line of a shell script (backslash continuations joined)."""
    lines = script.replace("\\\n", " ").splitlines()
    return [argv for argv in map(shlex.split, lines) if argv and argv[0] == "repro"]


def rejected(argv: list[str]) -> bool:
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit as stop:   # argparse exits 2 on an unknown flag or a missing argument
        return stop.code != 0
    return False


def workflow_commands() -> list[list[str]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return [argv for script in run_scripts(workflow) for argv in repro_commands(script)]


def test_the_workflow_is_a_github_workflow():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))   # YAML 1.1 reads the bare key `on` as true
    assert workflow["name"] and triggers and workflow["jobs"]
    for job in workflow["jobs"].values():
        assert job["runs-on"] and all("run" in step or "uses" in step for step in job["steps"])


def test_it_runs_the_smoke_specs_and_the_ci_report():
    commands = [" ".join(argv) for argv in workflow_commands()]
    assert any(c.startswith("repro run --all --profile smoke") for c in commands), commands
    assert any(c.startswith("repro report") and "--junit" in c and "--github-summary" in c
               for c in commands), commands


@pytest.mark.parametrize("argv", workflow_commands(), ids=" ".join)
def test_every_repro_command_is_accepted_by_the_cli(argv):
    assert not rejected(argv), f"the CLI refuses: {' '.join(argv)}"


def test_the_check_refuses_a_command_the_cli_does_not_know(capsys):
    assert rejected(["repro", "report", "--profile", "cpu", "--junit-xml", "junit.xml"])
    assert rejected(["repro", "run", "--all", "--profile"])
    assert not rejected(["repro", "report", "--profile", "cpu", "--junit", "junit.xml"])


def test_it_uploads_the_report_folder_it_builds():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    uploads = [step["with"]["path"] for job in workflow["jobs"].values() for step in job["steps"]
               if step.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and "results/cpu/" in uploads[0] and "junit.xml" in uploads[0]
