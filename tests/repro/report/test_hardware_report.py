"""A report judges one hardware class (planted: two classes in one runs folder are never pooled), arms not
runnable here are one summary line, and speed verdicts measured under load are flagged
(repro/report/conditions.py)."""

import json
import math
from pathlib import Path

import pytest
from fake_results import SPECS, build_records, record, write

from repro import hardware
from repro.cli import main
from repro.errors import UserError
from repro.hardware_class import REFERENCE_FILE
from repro.judge.records import load_records
from repro.report.conditions import LOAD_MARGIN, job_load
from repro.report.machines import MAIN, this_machine_note
from repro.report.render import write_report

HOME = "cpu-unknown-2t"        # the fake records' fingerprint has no CPU facts
AMX = {"cpu_capability": "AVX512", "amx_bf16": True, "avx512_bf16": True}
OTHER = "cpu-amx-2t"
OTHER_SEEDS = range(10, 16)


def plant_other_machine(root: Path) -> None:
    """Seeds 10-15 of both arms from an AMX machine, ls01 20 points worse there: pooled, they would move
    ls/no-loss (margin 1.0) far over its margin."""
    for seed in OTHER_SEEDS:
        for arm, err in (("base", 8.0), ("ls01", 28.0 + seed / 10)):
            rec = record("ls", "cpu", arm, seed, err, 0.05)
            rec["hardware"].update(AMX)
            write(root, rec)


def claims(root: Path) -> dict[str, dict]:
    data = json.loads((root / "cpu" / "verdicts.json").read_text())
    return {f"{e['spec']}/{e['claim']}": e for e in data["claims"]}


def test_records_of_two_hardware_classes_are_never_pooled_into_one_claim(tmp_path, capsys):
    build_records(tmp_path)
    plant_other_machine(tmp_path)
    with pytest.raises(UserError) as refused:      # no REFERENCE.json: which class? one line naming both
        write_report(tmp_path, "cpu", SPECS)
    text = str(refused.value)
    assert f"{HOME}: 20" in text and f"{OTHER}: 12" in text and f"--hardware {OTHER}" in text
    assert "\n" not in text
    assert not (tmp_path / "cpu").exists()
    assert len(load_records(tmp_path, "cpu", hardware=HOME)) == 20            # the judge's filter
    assert set(load_records(tmp_path, "cpu", hardware=OTHER)["seed"]) == set(OTHER_SEEDS)

    write_report(tmp_path, "cpu", SPECS, hardware=HOME)
    home = claims(tmp_path)["ls/no-loss"]
    # by hand (fake_results): ls01 - base = 0.1 + (seed % 2) / 10 on seeds 0-9 without the diverged seed 7
    diffs = [0.1 + (s % 2) / 10 for s in range(10) if s != 7]
    assert home["n"] == 9 and home["estimate"] == pytest.approx(sum(diffs) / 9)
    assert home["verdict"] == "reproduced" and home["hardware_class"] == [HOME]

    write_report(tmp_path, "cpu", SPECS, hardware=OTHER, force=True)
    other = claims(tmp_path)["ls/no-loss"]
    assert other["n"] == 6 and other["estimate"] == pytest.approx(20 + sum(s / 10 for s in OTHER_SEEDS) / 6)
    assert other["verdict"] != "reproduced" and other["hardware_class"] == [OTHER]   # 6 seeds: not decisive

    (tmp_path / REFERENCE_FILE).write_text(json.dumps({"class": HOME}))       # the folder names its class
    capsys.readouterr()
    write_report(tmp_path, "cpu", SPECS, force=True)
    assert claims(tmp_path)["ls/no-loss"]["n"] == 9
    err = capsys.readouterr().err
    assert f"12 cpu record(s) under {tmp_path / 'runs'} are of hardware class {OTHER}" in err
    report = (tmp_path / "cpu" / "report.md").read_text()
    assert f"Hardware class: {HOME} (" in report


def compact_rows(report: str) -> list[str]:
    """The claims of the compact verdict table ('[ls/claim](#spec-ls) | verdict | ...' rows)."""
    rows = [line.strip("|").split(" | ")[0].strip() for line in report.splitlines()
            if line.startswith("| [ls/")]
    return [r[1:].split("]")[0] for r in rows]


def test_an_arm_that_cannot_run_here_is_one_summary_line_and_its_claims_no_data_with_that_reason(tmp_path):
    build_records(tmp_path)
    why = "Foo is not installed: pip install foo (its weights then download on first use)"
    for seed in range(10):
        rec = record("ls", "cpu", "mixup", seed, math.nan, math.nan, status="failed")
        rec.update(reason=f"mixup (step budget 30): {why}", missing_dependency=True, missing_package="foo",
                   final=None, curves=None)
        write(tmp_path, rec)
    report = write_report(tmp_path, "cpu", SPECS).read_text()
    entry = claims(tmp_path)["ls/mixup-helps"]
    assert entry["verdict"] == "no data" and entry["reason"] == f"mixup: not runnable here: {why}"
    lines = [line for line in report.splitlines() if line.startswith("mixup: not runnable here:")]
    assert lines == [f"mixup: not runnable here: {why}. Its 1 claims in 1 specs have no data and are left "
                     f"out of the verdict table."]
    rows = compact_rows(report)
    assert "ls/mixup-helps" not in rows and {"ls/no-loss", "ls/throughput", "ls/lower-ece"} <= set(rows)


def test_a_claim_whose_arm_simply_has_no_records_keeps_its_row(tmp_path):
    build_records(tmp_path)
    report = write_report(tmp_path, "cpu", SPECS).read_text()
    assert "ls/mixup-helps" in compact_rows(report) and "not runnable here" not in report


def test_the_mean_load_over_a_job_follows_from_the_5_minute_averages_at_its_two_ends():
    a = math.exp(-600 / 300)                         # the kernel's exponential average over 600 s
    start, mean = 0.5, 3.0
    end = a * start + (1 - a) * mean                 # a constant load of 3.0 during the job
    assert job_load({"start": [9.0, start, 0.0], "end": [3.0, end, 0.0]}, 600) == pytest.approx(mean)
    assert job_load({"start": [0.2, 0.2, 0.2], "end": [1.7, 0.5, 0.3]}, 30) == 1.7   # short: the 1-min end
    assert job_load(None, 600) is None and job_load({"start": None, "end": [1, 1, 1]}, 600) is None


@pytest.mark.parametrize("load, flagged", [(4.0, True), (2.0, False)])
def test_speed_verdicts_measured_above_the_cores_are_flagged(tmp_path, load, flagged):
    build_records(tmp_path)
    for path in (tmp_path / "runs").rglob("seed*.json"):
        rec = json.loads(path.read_text())
        rec["hardware"]["cpu_count"] = 2                        # 2 cores: above 2.5 is loaded
        rec["load"] = {"start": [load] * 3, "end": [load] * 3}   # jobs of 10-19 s: the 1-minute figure
        path.write_text(json.dumps(rec))
    report = write_report(tmp_path, "cpu", SPECS).read_text()
    entries = claims(tmp_path)
    note = "19 of 19 records ran at a mean load above 1.25 x the 2 cores (up to 4.0)"   # 10 base + 9 ok ls01
    assert (note in entries["ls/throughput"]["note"]) is flagged and (load > 2 * LOAD_MARGIN) is flagged
    assert "mean load above" not in entries["ls/no-loss"]["note"]        # not a speed claim
    assert ("Speed measured under load (mean load over the job above 1.25 x the cores): ls/throughput;"
            in report) is flagged


def test_report_for_a_class_without_records_is_one_line_naming_the_classes_there_are(tmp_path, capsys):
    build_records(tmp_path)
    assert main(["report", "--profile", "cpu", "--results-dir", str(tmp_path), "--hardware", OTHER]) == 2
    err = capsys.readouterr().err.strip()
    where = tmp_path / "hardware" / OTHER / "runs"
    assert err == (f"error: no cpu records of hardware class {OTHER} under {where}; classes with records: "
                   f"{HOME} ({tmp_path}); nothing written")
    assert not (tmp_path / "cpu").exists()


def test_a_machine_without_records_of_its_class_is_told_so_and_pointed_at_the_committed_ones(tmp_path,
                                                                                              monkeypatch):
    facts = {"cpu_capability": "AVX2", "amx_bf16": False, "avx512_bf16": False, "gpu_name": None,
             "compute_capability": None, "cudnn": None, "onednn": None}
    monkeypatch.setattr(hardware, "processor_facts", lambda device: dict(facts))
    roots = {"cpu-avx2-4t": tmp_path}
    assert this_machine_note(tmp_path, roots, "cpu") is None          # same machine, another thread count
    monkeypatch.setattr(hardware, "processor_facts", lambda device: {**facts, "amx_bf16": True})
    note = this_machine_note(tmp_path, roots, "cpu")
    assert note.startswith("no records of this machine's hardware class (cpu-amx, e.g. cpu-amx-")
    assert f"cpu-avx2-4t ({tmp_path / 'cpu' / 'report.md'})" in note and MAIN in note
