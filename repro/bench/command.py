"""`repro bench`: mixed-precision speed benchmarks with per-hardware baselines.

    repro bench amp [--models cifar_resnet56,resnet50,transformer] [--quick] [--compile] [--device auto]
        measure; write the record (JSON), a markdown summary and a throughput plot to --out-dir
    repro bench save-baseline [--from RECORD] [measure options]
        store a record as benchmarks/baselines/<hardware class id>.json (repro/hardware_class.py)
    repro bench compare [--baseline FILE] [--record FILE] [--k 3] [--floor 0.05]
        re-measure with the baseline's configuration (or read --record) and exit 1 when a speedup
        over fp32 fell below the baseline by more than the measured noise (repro/bench/lib.py); the
        baseline is the committed one nearest this machine's class (same device kind; then the same
        instruction set or GPU, compute capability, thread count, torch), named with what differs

The benchmark code is this package (repro/bench/); benchmarks/ keeps the baselines and thin scripts.
REPRO_BENCH_SLOWDOWN="bf16=0.05" sleeps
0.05 s per training step in every bf16 variant: the injected regression the tests use.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from repro.bench import amp_throughput as amp
from repro.bench import lib
from repro.bench.args import add_arguments
from repro.bench.lib import checks_table
from repro.errors import UserError
from repro.files import write_json_atomic
from repro.hardware import fingerprint, pick_device
from repro.hardware_class import HardwareClass, legacy_facts, nearest, of_fingerprint

SLOWDOWN_ENV = "REPRO_BENCH_SLOWDOWN"


def run(args: argparse.Namespace) -> None:
    """Entry point from repro.cli: the subcommand repro/bench/args.py parsed."""
    COMMANDS[args.bench_command](args)


def main(argv: list[str] | None = None) -> int:
    """`repro bench ...` without the rest of the CLI: the entry of benchmarks/amp_throughput.py."""
    parser = argparse.ArgumentParser(prog="repro bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


# ----------------------------------------------------------------------------- commands


def slowdown_from_env() -> dict[str, float]:
    """REPRO_BENCH_SLOWDOWN="bf16=0.05,fp16=0.01" -> {"bf16": 0.05, "fp16": 0.01} (seconds per step)."""
    text = os.environ.get(SLOWDOWN_ENV, "").strip()
    try:
        pairs = [part.split("=") for part in text.split(",") if part]
        return {k.strip(): float(v) for k, v in pairs}
    except ValueError:
        raise UserError(f"{SLOWDOWN_ENV}={text!r}: use precision=seconds pairs, e.g. bf16=0.05") from None


def measure(args: argparse.Namespace, config: dict | None = None) -> dict:
    """Run the AMP benchmark with the command line's options, or with a record's `config`."""
    device = pick_device(args.device)
    if config is None:
        models = [m for m in args.models.split(",") if m]
        config = {"models": models, "quick": args.quick, "compile": args.compile,
                  "channels_last": not args.no_channels_last, "steps": args.steps,
                  "repeats": args.repeats, "warmup": args.warmup}
    unknown = sorted(set(config["models"]) - set(amp.WORKLOADS))
    if unknown:
        raise UserError(f"--models {','.join(unknown)}: unknown; one of {', '.join(amp.WORKLOADS)}")
    slowdown = slowdown_from_env()
    if slowdown:
        print(f"{SLOWDOWN_ENV}: injecting {slowdown} seconds per step")
    return amp.run(config["models"], device, config["quick"], config["steps"], config["repeats"],
                   config["warmup"], config["compile"], config["channels_last"], slowdown)


def cmd_amp(args: argparse.Namespace) -> dict:
    record = measure(args)
    write_outputs(record, args.out_dir)
    return record


def bench_class(record: dict) -> HardwareClass:
    """The hardware class of a benchmark record (its fingerprint; old ones through REFERENCE.json's table)."""
    return of_fingerprint(record["hardware"], legacy=legacy_facts())


def cmd_save_baseline(args: argparse.Namespace) -> None:
    record = read_record(args.from_record) if args.from_record else cmd_amp(args)
    path = args.baselines_dir / f"{bench_class(record).id}.json"
    write_json_atomic(path, record)
    print(f"baseline: {path}")


def cmd_compare(args: argparse.Namespace) -> None:
    here = of_fingerprint(fingerprint(pick_device(args.device)))
    baseline = read_record(args.baseline or nearest_baseline(args.baselines_dir, here))
    current = read_record(args.record) if args.record else measure(args, baseline["config"])
    if not args.record:
        write_outputs(current, args.out_dir)
    was, now = bench_class(baseline).id, bench_class(current).id
    if was != now:
        print(f"warning: baseline measured on {was}, this run on {now}: speedups may differ for reasons "
              f"other than a regression")
    checks = lib.compare_records(baseline, current, args.k, args.floor)
    text = compare_markdown(checks, args.k, args.floor, baseline)
    print(text)
    print(f"summary: {lib.write_summary(text, args.out_dir / 'compare_summary.md')}")
    failed = [c for c in checks if not c.passed]
    if failed:
        print(f"REGRESSION: {len(failed)} of {len(checks)} speedups fell below the baseline beyond the noise")
        raise SystemExit(1)
    print(f"ok: {len(checks)} speedups within the noise of the baseline")


COMMANDS = {"amp": cmd_amp, "save-baseline": cmd_save_baseline, "compare": cmd_compare}

def nearest_baseline(directory: Path, here: HardwareClass) -> Path:
    """The committed baseline whose hardware class is nearest `here` (repro.hardware_class.nearest)."""
    stored = {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            stored[path] = bench_class(read_record(path))
        except (UserError, KeyError, TypeError):
            continue
    best = nearest(here, stored)
    if best is None:
        known = ", ".join(f"{p.stem} ({c.id})" for p, c in stored.items()) or "(none)"
        raise UserError(f"no baseline for a {here.device} device ({here.id}) in {directory}; stored: "
                        f"{known}; make one with `repro bench save-baseline` or pass --baseline FILE")
    print(f"baseline: {best} (class {stored[best].id}; this machine: {here.id})")
    return best


def read_record(path: Path) -> dict:
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: not a readable benchmark record ({e})") from None
    if record.get("kind") != "amp-throughput":
        raise UserError(f"{path}: not an amp-throughput record (kind {record.get('kind')!r})")
    return record


# ----------------------------------------------------------------------------- output


def write_outputs(record: dict, out_dir: Path) -> None:
    """Record JSON, markdown summary (also to $GITHUB_STEP_SUMMARY), PNG plot; prints the summary."""
    stamp = record["created"].replace(":", "").replace("+0000", "Z")
    path = out_dir / f"amp-{record['hardware']['id']}-{stamp}.json"
    write_json_atomic(path, record)
    plot = plot_throughput(record, out_dir / "amp_throughput.png")
    text = amp_markdown(record) + f"\n![throughput per precision]({plot.name})\n"
    print(text)
    print(f"record: {path}\nsummary: {lib.write_summary(text, out_dir / 'amp_summary.md')}\nplot: {plot}")


def _tflops(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e12:.3g}"


def _peaks(table: dict) -> str:
    return ", ".join(f"{k} {_tflops(v)} TFLOP/s" for k, v in table.items())


def amp_markdown(record: dict) -> str:
    """The CI summary: hardware, protocol, peaks, one table per model."""
    lines = [f"## AMP training throughput: {record['hardware']['device_name']} ({record['hardware']['id']})",
             "", _protocol(record)]
    for name, m in record["models"].items():
        mem = next(iter(m["variants"].values()))["memory"]["source"]
        lines += ["", f"### {name}: {m['describe']}", "",
                  f"{m['flops_per_step'] / 1e9:.3g} GFLOP per training step. {m['matmul_n']}^2 matmul in the "
                  f"same rounds: {_peaks(m['matmul_peaks'])}. Memory: rise of the {mem} during warm-up "
                  "over what was in use before the variant was built.", "",
                  pd.DataFrame([_row(v, s, m) for v, s in m["variants"].items()]).to_markdown(index=False)]
    return "\n".join(lines) + "\n"


def _protocol(record: dict) -> str:
    hw, cfg, peak = record["hardware"], record["config"], record["peaks"]
    text = (f"torch {record['versions']['torch']}, {hw['threads']} threads, "
            f"commit {record['git_commit'][:12]}; "
            f"{cfg['repeats']} interleaved rounds of {cfg['steps']} steps after {cfg['warmup']} warm-up "
            f"steps{' (--quick)' if cfg['quick'] else ''}{', torch.compile' if cfg['compile'] else ''}. "
            f"MFU is against the {peak['used']} peak of each variant's math type")
    if peak["published"]:
        text += f"; published peaks ({peak['published_key']}): {_peaks(peak['published'])}"
    else:
        text += (" (a 2048^2 matmul: a practical peak, not the datasheet's; the library's convolution "
                 "kernels can beat it, hence MFU above 100%)")
    return text + "."


def _row(variant: str, s: dict, m: dict) -> dict:
    sp = m["speedups"].get(variant)
    ratio = "1 (reference)" if sp is None else f"{sp['median']:.2f} [{sp['lo']:.2f}, {sp['hi']:.2f}]"
    return {"variant": variant, f"{m['unit']}/s": f"{s['median']:.4g}", "IQR": f"{s['iqr']:.3g}",
            "speedup vs fp32 [95% CI]": ratio, "memory MiB": f"{s['memory']['step_mb']:.0f}",
            "TFLOP/s": _tflops(s["flops_per_s"]), "MFU": "-" if s["mfu"] is None else f"{s['mfu']:.1%}"}


def compare_markdown(checks: list, k: float, floor: float, baseline: dict) -> str:
    rule = (f"A speedup fails when it is below the baseline by more than max({k:g} x combined standard "
            f"error of the two median log speedups, {floor:.0%}); the standard error comes from the IQR of "
            "the per-round speedups of each run, the floor covers drift between runs that neither run's "
            "spread sees.")
    head = (f"## Speedup regression check against {baseline['hardware']['id']} "
            f"(baseline from {baseline['created']}, commit {baseline['git_commit'][:12]})")
    table = pd.DataFrame(checks_table(checks)).to_markdown(index=False)
    return "\n".join([head, "", rule, "", table]) + "\n"


def plot_throughput(record: dict, path: Path) -> Path:
    """One panel per model: median throughput per variant with IQR whiskers, speedup over fp32 on top."""
    models = record["models"]
    fig = Figure(figsize=(4.2 * len(models), 3.4), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, (name, m) in zip(axes, models.items(), strict=True):
        names = list(m["variants"])
        stats = [m["variants"][v] for v in names]
        med = [s["median"] for s in stats]
        err = [[s["median"] - s["q1"] for s in stats], [s["q3"] - s["median"] for s in stats]]
        labels = [f"{v}\n{m['speedups'][v]['median']:.2f}x" if v in m["speedups"] else f"{v}\n(ref)"
                  for v in names]
        ax.bar(labels, med, yerr=err, capsize=3, color=[f"C{i}" for i in range(len(names))])
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(f"{m['unit']}/s (median, IQR)")
        ax.tick_params(axis="x", labelsize=8)
        top = max(s["q3"] for s in stats)
        ax.set_ylim(0, top * 1.1 if math.isfinite(top) and top > 0 else 1)
    fig.suptitle(f"Training throughput per precision: {record['hardware']['device_name']}", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
