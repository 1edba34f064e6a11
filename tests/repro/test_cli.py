import argparse
import re

import pytest

from repro.cli import build_parser, main, parse_seeds
from repro.errors import UserError
from tricks.schedules import opennmt_noam


def test_every_command_has_help(capsys):
    for command in ("list", "run", "report", "plot-schedule"):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([command, "--help"])
        assert exit_.value.code == 0
        assert "usage: repro" in capsys.readouterr().out


def test_seed_lists_and_ranges():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("3-5,9") == [3, 4, 5, 9]
    assert parse_seeds("4-4") == [4]
    assert parse_seeds(None) is None
    for bad in ("x", "5-2", "1,7-3", "-1", "2-", ""):
        with pytest.raises(UserError, match="--seeds"):
            parse_seeds(bad)


def test_a_falling_seed_range_is_one_line_and_exit_2(capsys):
    assert main(["run", "label_smoothing", "--seeds", "5-2"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --seeds '5-2': the range 5-2 runs downwards; write it low-high, e.g. 2-5\n"


def _options(parser, path=("repro",)):
    """(command path, option strings, help) of every argument of every (sub)command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction) and action.help != argparse.SUPPRESS:
            yield path, action.option_strings or [action.dest], action.help


def test_every_option_of_every_command_has_help():
    options = list(_options(build_parser()))
    assert len(options) > 40 and any(p == ("repro", "compare") and o == ["--profile"] for p, o, _ in options)
    missing = [f"{' '.join(p)} {'/'.join(o)}" for p, o, h in options if not (h or "").strip()]
    assert missing == []


def test_report_prints_every_file_it_wrote(tmp_path, capsys, monkeypatch):
    from fake_results import SPECS, build_records

    build_records(tmp_path)
    monkeypatch.setattr("repro.cli._all_specs", lambda ran=None: SPECS)
    assert main(["report", "--profile", "cpu", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("report.md", "report.html", "verdicts.json", "runs.csv"):
        assert str(tmp_path / "cpu" / name) in out, name
    written = sum(1 for f in (tmp_path / "cpu").rglob("*") if f.is_file()) - 4
    assert f"and {written} per-spec tables, figures and caches under {tmp_path / 'cpu'}/" in out


def test_unknown_spec_names_the_known_ones(tmp_path, capsys):
    assert main(["run", "no_such_spec", "--results-dir", str(tmp_path)]) == 2
    assert "label_smoothing" in capsys.readouterr().err


def test_plot_schedule_draws_the_opennmt_curves(tmp_path):
    out = tmp_path / "noam.png"
    assert main(["plot-schedule", "opennmt", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the wrapped curve peaks at step_start + step_duration * warmup with scale * d^-0.5 * w^-0.5
    peak = 2.0 * 768**-0.5 * 8000**-0.5
    assert opennmt_noam(10_000 + 2 * 8000 - 2, 768, 8000, scale=2.0, step_start=10_000,
                        step_duration=2) == pytest.approx(peak, rel=1e-12)


def test_dry_run_checks_a_paper_profile_offline_and_writes_nothing(tmp_path, capsys, one_thread, monkeypatch):
    monkeypatch.setattr("repro.jobs.dry_run.WARMUP_STEPS", 1)    # ResNet-56 steps take seconds here
    monkeypatch.setattr("repro.jobs.dry_run.TIMED_STEPS", 2)
    dirs = ["--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data")]
    assert main(["run", "label_smoothing", "--profile", "paper", "--dry-run", "--device", "cpu",
                 "--seeds", "0-2", *dirs]) == 0
    out = capsys.readouterr().out
    # CIFAR-100 is not here: synthetic images of its shape; He et al.'s 164 epochs x 390 steps
    rows = [line for line in out.splitlines() if line.startswith("| label_smoothing")]
    assert len(rows) == 2
    assert all("synthetic 3x32x32" in r and re.search(r"\|\s+63960\s+\|", r) and re.search(r"\|\s+ok\s+\|", r)
               for r in rows)
    assert "Estimated training cost on cpu" in out
    assert not (tmp_path / "res").exists() and not (tmp_path / "cache").exists()


def test_dry_run_times_steady_steps_after_the_warm_up():
    from repro.jobs.dry_run import WARMUP_STEPS, step_times

    # slow first steps (allocation, autotuning), then steady 0.5 s steps with one 0.9 s outlier
    steps = [4.0, 2.0][:WARMUP_STEPS] + [0.5, 0.5, 0.9, 0.5, 0.5]
    stamps = [0.0]
    for s in steps:
        stamps.append(stamps[-1] + s)
    times = step_times(stamps)
    assert times["s/step"] == pytest.approx(0.5)
    assert times["spread"] == "0.5..0.9" and times["warm-up s"] == pytest.approx(sum(steps[:WARMUP_STEPS]))
