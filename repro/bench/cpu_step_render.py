"""The markdown of benchmarks/cpu_step_speed.py (repro/bench/cpu_step_speed.py), the machine facts it opens
with, and what it reads from the results folder: the suite's time to its verdicts on this hardware class
(repro/report/minutes.py) and amp's accuracy-parity verdict there, the claim that licenses bf16."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from repro.bench import lib as bench_lib
from repro.errors import UserError
from repro.hardware import cpu_flag, cpu_model, fingerprint
from repro.hardware_class import class_root, home_class, of_fingerprint
from repro.report.minutes import minutes_by_class
from repro.spec import SPEC_DIR

PROFILES = ("cpu", "cpu_x2")   # cpu_x2: the budget-doubling checks `--until-decided` runs
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
NO_BF16 = "bf16: not tried (no native bf16 on this CPU: emulated, ~10x slower)"


def fraction_of_matmul(flops: float, step_s: float, matmul_flops_per_s: float) -> float:
    """Achieved FLOP/s of a step (its FLOPs over its seconds) as a fraction of the matmul rate."""
    return flops / step_s / matmul_flops_per_s


def machine_facts(device: torch.device) -> dict:
    hw = of_fingerprint(fingerprint(device))
    return {"class": hw.id, "line": hw.line(), "cpu": cpu_model(), "threads": torch.get_num_threads(),
            "capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "flags": {f: cpu_flag(f) for f in FLAGS}}


def verdict_minutes(results_dir: Path, class_id: str) -> dict:
    """{"folder", "specs": spec -> profile -> job-minutes} of this class's run records, or {"error"}."""
    try:
        home = home_class(results_dir)
        folder = class_root(results_dir, class_id, home) / "runs"
    except UserError as e:
        return {"error": str(e)}
    specs = {}
    for spec_id in sorted(p.stem for p in SPEC_DIR.glob("*.yaml")):
        minutes = minutes_by_class(results_dir, spec_id, home or class_id).get(class_id, {})
        if any(p in minutes for p in PROFILES):
            specs[spec_id] = {p: minutes.get(p, 0.0) for p in PROFILES}
    return {"folder": str(folder), "specs": specs}


def amp_verdict(results_dir: Path, class_id: str) -> dict | None:
    """amp/accuracy-parity in this class's cpu verdicts.json (None where there is none)."""
    try:
        path = class_root(results_dir, class_id) / "cpu" / "verdicts.json"
        claims = json.loads(path.read_text())["claims"]
    except (UserError, OSError, ValueError, KeyError, TypeError):
        return None
    for c in claims:
        if c.get("spec") == "amp" and c.get("claim") == "accuracy-parity":
            return {"verdict": c.get("verdict"), "n": c.get("n"), "path": str(path)}
    return None


def _ms(values) -> str:
    return (f"{bench_lib.spread(values)['median'] * 1e3:.1f} "
            f"({min(values) * 1e3:.1f}-{max(values) * 1e3:.1f})")


def _yes(v) -> str:
    return "yes" if v is True else "no" if v is False else "unknown"


def _header(m: dict) -> list[str]:
    f = m["facts"]
    flags = ", ".join(f"{k} {_yes(v)}" for k, v in f["flags"].items())
    return [f"# CPU training step on {f['class']}: speed as a fraction of the machine", "",
            f"Machine: {f['cpu']}; torch CPU capability {f['capability']}; flags: {flags}; {f['threads']} "
            f"thread(s) (the suite runs `--jobs 2`, one thread per job); torch {f['torch']}; load average "
            f"(1 min) {f['load'][0]:.2f} before, {f['load'][1]:.2f} after. Class: {f['line']}.", "",
            "## Matmul rate (the ceiling)", "", "| dtype | n | GFLOP/s | |", "|---|---|---|---|",
            *[f"| {p} | {r['n']} | {r['rate'] / 1e9:.1f} | {r['note']} |" for p, r in m["matmul"].items()],
            ""]


def _fraction_table(m: dict) -> list[str]:
    lines = ["## The chosen configuration as a fraction of the machine", "",
             "One step's FLOPs: torch.utils.flop_counter.FlopCounterMode, forward + backward; achieved "
             "GFLOP/s = FLOPs / median step; fraction = that / the matmul rate in the step's dtype.", "",
             "| workload | precision | memory format | GFLOP/step | ms/step median (min-max) | img/s | "
             "GFLOP/s | matmul GFLOP/s | of matmul |", "|---|---|---|---|---|---|---|---|---|"]
    for label, w in m["rows"]:
        v = w["variants"][0]
        step = bench_lib.spread(w["step_times"]["chosen"])["median"]
        rate = m["matmul"][v.precision]["rate"]
        lines.append(f"| {label} | {v.precision} | {v.memory_format} | {w['flops'] / 1e9:.3f} | "
                     f"{_ms(w['step_times']['chosen'])} | {w['batch'] / step:.0f} | "
                     f"{w['flops'] / step / 1e9:.1f} | {rate / 1e9:.1f} | "
                     f"{fraction_of_matmul(w['flops'], step, rate):.1%} |")
    return [*lines, ""]


def _bf16_line(m: dict) -> str:
    if m["bf16_skipped"]:
        return "bf16: not tried (--skip bf16)"
    if not m["native_bf16"]:
        return NO_BF16
    a, cls = m["amp"], m["facts"]["class"]
    what = (f"on {cls} it is **{a['verdict']}** (n = {a['n']}, {a['path']})" if a else
            f"no verdict on {cls} yet (run `repro run amp --profile cpu` here)")
    licensed = "so bf16 is a licensed choice here" if a and a["verdict"] == "reproduced" else \
        "so the speedup below is not yet licensed"
    return (f"bf16 autocast is tried because this CPU runs bf16 natively; what would license it is the amp "
            f"spec's accuracy-parity claim (bf16 trains to fp32's test error): {what}, {licensed}.")


def _candidates(label: str, w: dict, m: dict) -> list[str]:
    lines = [f"### {label}", "", f"{w['rounds']} interleaved rounds of {w['steps']} steps "
             "(repro/bench/lib.py: the order rotated each round; speedup = median of per-round ratios "
             "t_chosen / t_candidate, 95% bootstrap interval; > 1 is faster).", "",
             "| candidate | precision | memory format | ms/step median (min-max) | "
             "speedup vs chosen [95% CI] | GFLOP/s | of its dtype's matmul |",
             "|---|---|---|---|---|---|---|"]
    for v in w["variants"]:
        t = w["step_times"][v.name]
        step, s = bench_lib.spread(t)["median"], w["speedups"][v.name]
        speed = "reference" if v.name == "chosen" else f"x{s['median']:.2f} [{s['lo']:.2f}, {s['hi']:.2f}]"
        lines.append(f"| {v.name} | {v.precision} | {v.memory_format} | {_ms(t)} | {speed} | "
                     f"{w['flops'] / step / 1e9:.1f} | "
                     f"{fraction_of_matmul(w['flops'], step, m['matmul'][v.precision]['rate']):.1%} |")
    lines += [f"| {name} | | | failed: {why} | | | |" for name, why in w["failed"].items()]
    c = w["compile"]
    if c is not None and "compile_s" in c:
        saved = (bench_lib.spread(w["step_times"]["chosen"])["median"]
                 - bench_lib.spread(w["step_times"]["torch.compile"])["median"])
        pays = (f"pays back after {c['compile_s'] / saved:.0f} steps (a cpu profile job is 1,200-2,400 "
                "steps, each in its own process)") if saved > 0 else "never pays back (no faster per step)"
        cache = "cold: compiled" if c["miss"] else "warm: from the cache" if c["hit"] else "?"
        lines += ["", f"torch.compile: {c['compile_s']:.1f} s to compile (its first step less a steady one; "
                  f"FX graph cache {m['compile_cache']}: {c['hit']} hit(s), {c['miss']} miss(es), {cache}); "
                  f"{pays}."]
    return [*lines, ""]


def _minutes(mins: dict) -> list[str]:
    lines = ["## The suite's time to its verdicts on this class", ""]
    if "error" in mins:
        return [*lines, f"Not read: {mins['error']}", ""]
    specs = mins["specs"]
    lines += [f"wall_time_s of the run records (and tuning grids) under {mins['folder']}/, summed per spec "
              "(repro/report/minutes.py); wall time at `--jobs 2` = job-minutes / 2, both workers busy.", ""]
    if not specs:
        return [*lines, "No cpu records of this class yet.", ""]
    lines += ["| spec | " + " | ".join(f"{p} job-min" for p in PROFILES) + " | wall min at --jobs 2 |",
              "|---|" + "---|" * (len(PROFILES) + 1)]
    rows = [*specs.items(), ("**total**", {p: sum(s[p] for s in specs.values()) for p in PROFILES})]
    for spec, by in rows:
        lines.append(f"| {spec} | " + " | ".join(f"{by[p]:.1f}" for p in PROFILES)
                     + f" | {sum(by.values()) / 2:.1f} |")
    return [*lines, ""]


def markdown(m: dict) -> str:
    lines = [*_header(m), *_fraction_table(m), "## Candidates a user would try", "", _bf16_line(m), ""]
    for label, w in m["rows"]:
        lines += _candidates(label, w, m)
    return "\n".join([*lines, *_minutes(m["minutes"])])
