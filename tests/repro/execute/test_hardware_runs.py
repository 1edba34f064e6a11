"""A run on another machine measures that machine: with the CPU's facts overridden (repro.hardware's
processor_facts, which every fingerprint reads), a clone re-runs the jobs another class has records of, into
its own folder, and the run ends with the comparison against the reference, which flags a planted flip."""

import json

import pytest
import yaml
from tiny_spec import write_tiny_spec

from repro import hardware
from repro.cli import main
from repro.hardware_class import REFERENCE_FILE
from repro.jobs.job import pending
from repro.jobs.plan import plan
from repro.spec import paths as spec_paths_module

ARMS = {"plain": {}, "fast": {"optimizer": {"lr": 0.1}}}


def machine(isa: str, amx: bool, avx512_bf16: bool):
    """processor_facts of a machine with these CPU facts (nothing else of the fingerprint changes)."""
    facts = {"cpu_capability": isa, "amx_bf16": amx, "avx512_bf16": avx512_bf16, "gpu_name": None,
             "compute_capability": None, "cudnn": None, "onednn": None}
    return lambda device: dict(facts)


def dirs(tmp_path) -> list[str]:
    return ["--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data")]


def test_a_clone_on_another_machine_reruns_the_jobs_instead_of_skipping_them(tmp_path, monkeypatch,
                                                                             one_thread):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", ARMS, "fast", "plain")
    args = ["run", str(spec), "--profile", "smoke", "--no-report", *dirs(tmp_path)]
    results = tmp_path / "results"
    ours = [results / "runs/tiny/smoke" / arm / "seed0.json" for arm in ARMS]
    monkeypatch.setattr(hardware, "processor_facts", machine("AVX2", False, False))
    assert main(args) == 0
    stamps = [p.stat().st_mtime_ns for p in ours]
    jobs = plan([spec], "smoke", None, None, None)[1]
    assert len(pending(jobs, results, "cpu-avx2-1t")[1]) == 2         # finished on its own class only
    assert len(pending(jobs, results, "cpu-amx-1t")[1]) == 0

    monkeypatch.setattr(hardware, "processor_facts", machine("AVX512", True, True))    # the clone, on AMX
    assert main(args) == 0
    theirs = [results / "hardware/cpu-amx-1t/runs/tiny/smoke" / arm / "seed0.json" for arm in ARMS]
    records = [json.loads(p.read_text()) for p in theirs]           # trained there, not skipped
    assert all(r["status"] == "ok" and r["hardware"]["amx_bf16"] is True for r in records)
    assert [p.stat().st_mtime_ns for p in ours] == stamps            # the reference's records untouched
    assert all(json.loads(p.read_text())["hardware"]["cpu_capability"] == "AVX2" for p in ours)

    again = [p.stat().st_mtime_ns for p in theirs]
    assert main(args) == 0                                           # on its own class: finished, skipped
    assert [p.stat().st_mtime_ns for p in theirs] == again
    monkeypatch.setattr(hardware, "processor_facts", machine("AVX2", False, False))
    assert main(args) == 0 and [p.stat().st_mtime_ns for p in ours] == stamps


def plant_reference(results, seeds=range(8), spec_id="tiny") -> None:
    """The reference machine's records (class cpu-avx2-2t, named in REFERENCE.json): fast ~10 points below
    plain on every seed, so that there `<spec_id>/c` is reproduced."""
    results.mkdir(parents=True, exist_ok=True)
    (results / REFERENCE_FILE).write_text(json.dumps({"class": "cpu-avx2-2t"}))
    hw = {"device": "cpu", "threads": 2, "cpu_capability": "AVX2", "amx_bf16": False, "avx512_bf16": False}
    for seed in seeds:
        for arm, err in (("plain", 50.0), ("fast", 40.0 + (seed % 3) / 10)):
            path = results / "runs" / spec_id / "cpu" / arm / f"seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"spec": spec_id, "profile": "cpu", "arm": arm, "seed": seed,
                                        "status": "ok", "hardware": hw, "final": {"test_error": err}}))


def test_the_main_job_ends_with_the_comparison_against_the_reference_and_flags_a_planted_flip(
        tmp_path, monkeypatch, capsys, one_thread):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", ARMS, "fast", "plain")
    data = yaml.safe_load(spec.read_text())
    data["claims"][0]["needs_plateau"] = False          # the flip mechanics, not the regime (test_regime.py)
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    results = tmp_path / "results"
    plant_reference(results)
    before = sorted((p, p.read_bytes()) for p in (results / "runs").rglob("*.json"))
    monkeypatch.setattr(hardware, "processor_facts", machine("AVX2", False, False))
    args = ["run", str(spec), "--profile", "cpu", *dirs(tmp_path)]
    capsys.readouterr()
    assert main(args) == 0                                           # the exit status is unchanged by default
    out = capsys.readouterr().out
    mine = results / "hardware" / "cpu-avx2-1t"
    run = json.loads((mine / "cpu" / "verdicts.json").read_text())["claims"]
    assert [(e["claim"], e["verdict"], e["n"]) for e in run] == [("c", "inconclusive", 1)]   # 1 seed here
    assert "VERDICT FLIP" in out and "1 verdict flip(s)" in out
    written = (mine / "compare-cpu.md").read_text()
    assert "| tiny/c | reproduced | inconclusive |" in written and "VERDICT FLIP" in written
    assert "class cpu-avx2-2t, judged now" in written
    assert str(tmp_path) not in written                  # the paths a reader of the folder finds, not ours
    assert "B: results/hardware/cpu-avx2-1t/cpu/verdicts.json" in written
    assert "`repro compare results results/hardware/cpu-avx2-1t --profile cpu`" in written
    assert sorted((p, p.read_bytes()) for p in (results / "runs").rglob("*.json")) == before   # read only

    with pytest.raises(SystemExit) as failed:                        # CI: --fail-on flip
        main([*args, "--fail-on", "flip"])
    assert failed.value.code == 1
    assert "1 verdict(s) flipped against the reference" in capsys.readouterr().err


def test_a_run_of_one_spec_keeps_the_other_specs_rows_in_the_class_comparison(tmp_path, monkeypatch, capsys,
                                                                              one_thread):
    specs = tmp_path / "specs"                      # the suite's specs, as `repro report` and --all see them
    specs.mkdir()
    for stem in ("tiny", "tiny2"):
        path = write_tiny_spec(specs / f"{stem}.yaml", ARMS, "fast", "plain")
        data = yaml.safe_load(path.read_text())
        data["claims"][0]["needs_plateau"] = False
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setattr(spec_paths_module, "SPEC_DIR", specs)
    results = tmp_path / "results"
    plant_reference(results, spec_id="tiny")
    plant_reference(results, spec_id="tiny2")
    monkeypatch.setattr(hardware, "processor_facts", machine("AVX2", False, False))
    assert main(["run", "tiny2", "--profile", "cpu", *dirs(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["run", "tiny", "--profile", "cpu", *dirs(tmp_path)]) == 0
    printed = capsys.readouterr().out.split("compared with the reference")[1]
    written = (results / "hardware" / "cpu-avx2-1t" / "compare-cpu.md").read_text()
    assert "| tiny/c | reproduced | inconclusive |" in written
    assert "| tiny2/c | reproduced | inconclusive |" in written      # run before, still compared
    assert "| tiny/c |" in printed and "tiny2/c" not in printed      # the run prints its own rows
