"""The arguments of `repro bench` (repro/bench/command.py), apart so that building the `repro` parser
imports no torch, pandas or matplotlib (`repro --help` and `repro list` stay fast)."""

from __future__ import annotations

import argparse
from pathlib import Path

BASELINE_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `bench` subcommands; the chosen one is args.bench_command (repro.bench.command.COMMANDS)."""
    sub = parser.add_subparsers(dest="bench_command", required=True)
    amp = sub.add_parser("amp", help="throughput, memory and MFU of fp32 vs mixed precision")
    _measure_args(amp)
    _out_args(amp)
    save = sub.add_parser("save-baseline", help="measure (or take --from) and store the baseline")
    save.add_argument("--from", dest="from_record", type=Path, help="a record written by `repro bench amp`")
    _measure_args(save)
    _out_args(save)
    cmp = sub.add_parser("compare", help="re-measure and fail when a speedup regressed beyond the noise")
    cmp.add_argument("--baseline", type=Path, help="default: benchmarks/baselines/<fingerprint id>.json")
    cmp.add_argument("--record", type=Path, help="compare this record instead of measuring again")
    cmp.add_argument("--k", type=float, default=3.0, help="noise multiplier of the threshold (default 3)")
    cmp.add_argument("--floor", type=float, default=0.05, help="smallest allowed drop (default 0.05 = 5%%)")
    cmp.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    _out_args(cmp)


def _measure_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default="cifar_resnet56,resnet50,transformer",
                   help="comma-separated: cifar_resnet56, resnet50, transformer, tiny")
    p.add_argument("--quick", action="store_true", help="small batches, few steps and rounds (CPU: ~1 min)")
    p.add_argument("--compile", action="store_true", help="torch.compile every model")
    p.add_argument("--no-channels-last", action="store_true", help="skip the channels_last variants")
    p.add_argument("--steps", type=int, help="training steps per timed repeat")
    p.add_argument("--repeats", type=int, help="interleaved rounds")
    p.add_argument("--warmup", type=int, help="warm-up steps per variant")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")


def _out_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out-dir", type=Path, default=Path("results/bench"),
                   help="records, markdown summary and plot (default: results/bench)")
    p.add_argument("--baselines-dir", type=Path, default=BASELINE_DIR, help=argparse.SUPPRESS)
