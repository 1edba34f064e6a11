"""`repro plot-schedule`: draw learning-rate schedules as their users look at them.

The OpenNMT preset draws OpenNMT-tf's wrapped Noam decay for model_dim 768 at scale 2 and 6, plain
and with ScheduleWrapper(step_start=10,000, step_duration=2), warmup 8,000 (auto_config):
    lr(step) = max(scale * d^-0.5 * min(s^-0.5, s * w^-1.5), minimum),
    s = max(step - start, 0) // duration + 1
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from repro.files import write_atomic
from tricks.schedules import opennmt_noam

if TYPE_CHECKING:
    from matplotlib.figure import Figure

OPENNMT_CURVES = [
    {"scale": 2.0},
    {"scale": 6.0},
    {"scale": 2.0, "step_start": 10_000, "step_duration": 2},
    {"scale": 6.0, "step_start": 10_000, "step_duration": 2},
]


def opennmt_figure(model_dim: int = 768, warmup_steps: int = 8000, total_steps: int = 100_000) -> Figure:
    from matplotlib.figure import Figure  # not at the top: `repro --help` builds this parser

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    steps = range(0, total_steps, 50)
    for kw in OPENNMT_CURVES:
        label = ", ".join(f"{k}={v:g}" for k, v in kw.items())
        ax.plot(list(steps), [opennmt_noam(s, model_dim, warmup_steps, **kw) for s in steps], label=label)
    ax.set(xlabel="training step", ylabel="learning rate",
           title=f"OpenNMT-tf NoamDecay, model_dim {model_dim}, warmup {warmup_steps}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def add_arguments(parser) -> None:
    parser.add_argument("preset", choices=["opennmt"], help="which family of curves to draw")
    parser.add_argument("--model-dim", type=int, default=768, help="d_model of Noam's d^-0.5 (default: 768)")
    parser.add_argument("--warmup-steps", type=int, default=8000, help="warm-up steps (default: 8000)")
    parser.add_argument("--total-steps", type=int, default=100_000, help="steps drawn (default: 100000)")
    parser.add_argument("--out", type=Path, default=Path("results/schedules/opennmt_noam.png"),
                        help="the PNG to write (default: results/schedules/opennmt_noam.png)")


def run(args) -> None:
    fig = opennmt_figure(args.model_dim, args.warmup_steps, args.total_steps)
    write_atomic(args.out, fig.savefig)
    print(f"plot: {args.out}")
