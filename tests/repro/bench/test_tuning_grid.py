"""benchmarks/tuning_grid.py on a tiny spec whose baseline arm tunes its lr over 3 points: both sides train
both doubling-check grids (cpu and cpu_x2) to the same choices, the table has both sides and the ratio;
a spec without a grid gets one line and exit 2. No speed target: a timed test on a shared machine flakes."""

import pytest
from tiny_spec import tiny_mlp_spec_text

from repro.bench.tuning_grid import grid_jobs, main

REGIME = ("regime: {arm: tuned, metric: test_error, threshold: 0.5, doubling: {cpu: cpu_x2}, seeds: 2, "
          "meet: train longer}\n")


def _spec(tmp_path):
    text = tiny_mlp_spec_text(
        "tuned", "{name: adamw, lr: 0.001}",
        "  tuned: {tune: {param: optimizer.lr, grid: [0.0001, 0.003, 0.1], metric: test_nll, epochs: 1}}\n"
        "  default: {optimizer: {name: adam}}",
        "{id: c, text: tuned wins, metric: test_error, treatment: tuned, baseline: default, better: lower}",
        extra=REGIME)
    text = text.replace("cpu: {seeds: 1},", "cpu: {seeds: 1}, cpu_x2: {seeds: 1, base: {epochs: 4}},")
    path = tmp_path / "tuned.yaml"
    path.write_text(text)
    return path


def test_both_sides_train_both_grids_to_the_same_choice_and_the_table_says_so(tmp_path, one_thread):
    spec = _spec(tmp_path)
    jobs = grid_jobs(str(spec), "cpu")[1]
    assert [(j.profile, j.config.epochs) for j in jobs] == [("cpu", 2), ("cpu_x2", 4)]
    out = tmp_path / "grid.md"
    text = main(["--spec", str(spec), "--jobs", "2", "--data-root", str(tmp_path / "data"),
                 "--out", str(out)])
    assert out.read_text() == text
    assert "2 grid(s), 6 points" in text and "| in order (the driver alone) |" in text
    assert "| 2 at once (worker processes) |" in text and "both sides chose the same values" in text


def test_a_spec_without_a_grid_is_one_line_and_exit_2(tmp_path, capsys):
    spec = _spec(tmp_path)
    spec.write_text(spec.read_text().replace("arm: tuned,", "arm: default,"))
    with pytest.raises(SystemExit) as stop:
        main(["--spec", str(spec), "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "x.md")])
    assert stop.value.code == 2 and not (tmp_path / "x.md").exists()
    err = capsys.readouterr().err.strip()
    assert "no `tune:` grid" in err and "\n" not in err
