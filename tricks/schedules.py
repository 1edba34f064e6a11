"""Learning-rate schedules as pure functions of the integer step.

Two layers:
- formula functions (``noam``, ``sgdr``, ...) follow each paper's own step convention, said in the docstring;
- ``SCHEDULES`` factories ``factory(lr, total_steps, steps_per_epoch, **spec_kwargs) -> fn(step0) -> lr``
  translate the loop's 0-based step to that convention. No hidden state: fn(k) is the lr of step k.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Literal

Schedule = Callable[[int], float]


# ---------------------------------------------------------------- formula functions


def constant(step: int, lr: float) -> float:
    """lr(t) = lr."""
    return lr


def step_decay(step: int, lr: float, milestones: list[int], gamma: float = 0.1) -> float:
    """lr(t) = lr gamma^#{m in milestones : t >= m}; milestones in steps (He et al., arXiv 1512.03385)."""
    return lr * gamma ** sum(step >= m for m in milestones)


def cosine(step: int, total_steps: int, lr: float, lr_min: float = 0.0) -> float:
    """lr(t) = lr_min + (lr - lr_min)/2 (1 + cos(pi t / T)), t = 0..T-1 (SGDR, no restarts, 1608.03983)."""
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * step / total_steps))


def noam(step: int, model_dim: int, warmup_steps: int, scale: float = 1.0) -> float:
    """Vaswani et al. 2017 (arXiv 1706.03762), step >= 1:
    lr = scale * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)."""
    return scale * model_dim**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


def opennmt_noam(
    step: int,
    model_dim: int,
    warmup_steps: int,
    scale: float = 1.0,
    step_start: int = 0,
    step_duration: int = 1,
    minimum_learning_rate: float = 0.0,
) -> float:
    """OpenNMT-tf NoamDecay inside its ScheduleWrapper; `step` is OpenNMT's 0-based optimizer step.

    s' = max(step - step_start, 0) // step_duration;  lr = max(noam(s' + 1, ...), minimum_learning_rate)
    (NoamDecay adds 1 to its step; Vaswani et al., arXiv 1706.03762).
    """
    decay_step = max(step - step_start, 0) // step_duration
    return max(noam(decay_step + 1, model_dim, warmup_steps, scale), minimum_learning_rate)


def snapshot_cycle_length(total_steps: int, cycles: int) -> int:
    """ceil(T / M): the iterations per cycle of Huang et al. Eq. 2 (integer arithmetic)."""
    return -(-total_steps // cycles)


def snapshot_cosine(step: int, total_steps: int, cycles: int, lr0: float) -> float:
    """Snapshot Ensembles Eq. 2 (Huang et al. 2017, arXiv 1704.00109), step t = 1..T:

    a(t) = a0/2 * (cos(pi * mod(t-1, ceil(T/M)) / ceil(T/M)) + 1).
    Raises ValueError if ceil(T/M)-long cycles would not give exactly M cycles (e.g. T=10, M=6).
    """
    c = snapshot_cycle_length(total_steps, cycles)
    if -(-total_steps // c) != cycles:
        raise ValueError(
            f"{total_steps} steps in cycles of ceil(T/M)={c} give {-(-total_steps // c)} != {cycles}"
        )
    return lr0 / 2 * (math.cos(math.pi * ((step - 1) % c) / c) + 1)


def _sgdr_position(step: int, t0: int, t_mult: int) -> tuple[int, int]:
    """(T_cur, T_i) at 0-based step: walk the restarts in integers so boundaries are exact."""
    if t_mult == 1:
        return step % t0, t0
    t_cur, t_i = step, t0
    while t_cur >= t_i:
        t_cur, t_i = t_cur - t_i, t_i * t_mult
    return t_cur, t_i


def sgdr(step: int, lr_max: float, lr_min: float, t0: int, t_mult: int = 1) -> float:
    """SGDR (Loshchilov & Hutter 2017, arXiv 1608.03983), step 0-based, T_0 in steps:

    lr = lr_min + (lr_max - lr_min)/2 * (1 + cos(pi T_cur / T_i)),  T_{i+1} = t_mult * T_i.
    """
    t_cur, t_i = _sgdr_position(step, t0, t_mult)
    return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t_cur / t_i))


def cyclic(
    step: int, base_lr: float, max_lr: float, step_size: int, mode: str = "triangular", gamma: float = 1.0
) -> float:
    """Cyclical LR (Smith 2017, arXiv 1506.01186), step 0-based:

    cycle = floor(1 + t / (2 s)); x = |t/s - 2 cycle + 1|; lr = base + (max - base) * max(0, 1 - x) * scale,
    scale = 1 (triangular), 1 / 2^(cycle-1) (triangular2), gamma^t (exp_range).
    """
    cycle = 1 + step // (2 * step_size)
    x = abs(step / step_size - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 0.5 ** (cycle - 1), "exp_range": gamma**step}[mode]
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x) * scale


def _cos_anneal(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def _one_cycle_phase(step: int, total_steps: int, pct_start: float) -> tuple[int, float]:
    """(phase 0 = warm-up or 1 = anneal, fraction of it done); phase 0 ends at step pct_start*T - 1."""
    warm_end = pct_start * total_steps - 1
    if step <= warm_end:
        return 0, step / warm_end
    return 1, (step - warm_end) / (total_steps - 1 - warm_end)


def one_cycle(
    step: int,
    total_steps: int,
    max_lr: float,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> float:
    """1cycle (Smith & Topin 2018, arXiv 1708.07120), step 0-based, cosine annealing as torch's OneCycleLR:

    max_lr/div -> max_lr over steps 0..pct_start*T-1, then -> max_lr/(div*final_div) at step T-1.
    """
    initial = max_lr / div_factor
    phase, pct = _one_cycle_phase(step, total_steps, pct_start)
    if phase == 0:
        return _cos_anneal(initial, max_lr, pct)
    return _cos_anneal(max_lr, initial / final_div_factor, pct)


def one_cycle_momentum(
    step: int,
    total_steps: int,
    pct_start: float = 0.3,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> float:
    """The momentum of 1cycle (arXiv 1708.07120): max -> base while the lr rises, base -> max as it falls."""
    phase, pct = _one_cycle_phase(step, total_steps, pct_start)
    if phase == 0:
        return _cos_anneal(max_momentum, base_momentum, pct)
    return _cos_anneal(base_momentum, max_momentum, pct)


def stlr(step: int, total_steps: int, lr_max: float, cut_frac: float = 0.1, ratio: float = 32) -> float:
    """Slanted triangular LR, ULMFiT Eq. 3 (Howard & Ruder 2018, arXiv 1801.06146), t = step 0-based:

    cut = floor(T cut_frac); p = t/cut if t < cut else 1 - (t - cut)/(cut (1/cut_frac - 1));
    lr = lr_max (1 + p (ratio - 1)) / ratio.
    """
    cut = math.floor(total_steps * cut_frac)
    p = step / cut if step < cut else 1 - (step - cut) / (cut * (1 / cut_frac - 1))
    return lr_max * (1 + p * (ratio - 1)) / ratio


def linear_scaling_warmup(
    step: int, base_lr: float, batch_size: int, warmup_steps: int, reference_batch: int = 256
) -> float:
    """Goyal et al. 2017 (arXiv 1706.02677), step 0-based: target = base_lr * batch / reference_batch;
    gradual warm-up from base_lr to target, linear in step, reached at step = warmup_steps; then target."""
    target = base_lr * batch_size / reference_batch
    if warmup_steps <= 0 or step >= warmup_steps:
        return target
    return base_lr + (target - base_lr) * step / warmup_steps


# ---------------------------------------------------------------- factories for specs


def _epochs(epochs: float, steps_per_epoch: int) -> int:
    return max(1, round(epochs * steps_per_epoch))


def make_constant(lr: float, total_steps: int, steps_per_epoch: int) -> Schedule:
    """`{name: constant}`."""
    return lambda s: constant(s, lr)


def make_step(
    lr: float,
    total_steps: int,
    steps_per_epoch: int,
    milestones: tuple[float, ...] = (0.5, 0.75),
    gamma: float = 0.1,
) -> Schedule:
    """`{name: step, milestones: [0.5, 0.75], gamma: 0.1}`: milestones as fractions of training."""
    ms = [round(f * total_steps) for f in milestones]
    return lambda s: step_decay(s, lr, ms, gamma)


def make_multistep(
    lr: float,
    total_steps: int,
    steps_per_epoch: int,
    milestones: tuple[float, ...] = (100, 150),
    gamma: float = 0.1,
) -> Schedule:
    """`{name: multistep, milestones: [100, 150], gamma: 0.1}`: milestones in epochs."""
    ms = [round(e * steps_per_epoch) for e in milestones]
    return lambda s: step_decay(s, lr, ms, gamma)


def make_cosine(lr: float, total_steps: int, steps_per_epoch: int, lr_min: float = 0.0) -> Schedule:
    """`{name: cosine, lr_min: 0.0}`: one cosine over the whole run."""
    return lambda s: cosine(s, total_steps, lr, lr_min)


def make_snapshot_cosine(lr: float, total_steps: int, steps_per_epoch: int, cycles: int = 5) -> Schedule:
    """`{name: snapshot_cosine, cycles: M}`: Huang Eq. 2 with a0 = lr; loop step s is t = s + 1."""
    snapshot_cosine(1, total_steps, cycles, lr)  # fail early on a T, M pair without M cycles
    return lambda s: snapshot_cosine(s + 1, total_steps, cycles, lr)


def make_sgdr(
    lr: float,
    total_steps: int,
    steps_per_epoch: int,
    t0_epochs: float = 10,
    t_mult: int = 2,
    lr_min: float = 0.0,
) -> Schedule:
    """`{name: sgdr, t0_epochs: 10, t_mult: 2, lr_min: 0}`: per-step SGDR, T_0 = t0_epochs epochs."""
    t0 = _epochs(t0_epochs, steps_per_epoch)
    return lambda s: sgdr(s, lr, lr_min, t0, t_mult)


def make_cyclic(
    lr: float,
    total_steps: int,
    steps_per_epoch: int,
    base_lr: float = 0.001,
    step_size_epochs: float = 4,
    mode: Literal["triangular", "triangular2", "exp_range"] = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    """`{name: cyclic, base_lr: 0.001, step_size_epochs: 4, mode: triangular}`: CLR between base_lr and lr."""
    if mode not in ("triangular", "triangular2", "exp_range"):
        raise ValueError(f"cyclic mode {mode!r}: use triangular, triangular2 or exp_range")
    size = _epochs(step_size_epochs, steps_per_epoch)
    return lambda s: cyclic(s, base_lr, lr, size, mode, gamma)


def make_one_cycle(
    lr: float,
    total_steps: int,
    steps_per_epoch: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    """`{name: one_cycle, pct_start: 0.3}`: 1cycle with max_lr = lr (momentum: see one_cycle_momentum)."""
    return lambda s: one_cycle(s, total_steps, lr, pct_start, div_factor, final_div_factor)


def make_stlr(
    lr: float, total_steps: int, steps_per_epoch: int, cut_frac: float = 0.1, ratio: float = 32
) -> Schedule:
    """`{name: stlr, cut_frac: 0.1, ratio: 32}`: ULMFiT slanted triangular, lr_max = lr."""
    return lambda s: stlr(s, total_steps, lr, cut_frac, ratio)


def make_noam(
    lr: float, total_steps: int, steps_per_epoch: int, model_dim: int = 512, warmup_steps: int = 4000
) -> Schedule:
    """`{name: noam, model_dim: 512, warmup_steps: 4000}`: Vaswani's schedule with scale = lr (1.0 = paper);
    loop step s is the paper's step s + 1."""
    return lambda s: noam(s + 1, model_dim, warmup_steps, lr)


def make_opennmt_noam(
    lr: float,
    total_steps: int,
    steps_per_epoch: int,
    model_dim: int = 512,
    warmup_steps: int = 4000,
    step_start: int = 0,
    step_duration: int = 1,
    minimum_learning_rate: float = 0.0,
) -> Schedule:
    """`{name: opennmt_noam, model_dim: 512, warmup_steps: 8000}`: OpenNMT-tf's wrapped NoamDecay, where the
    optimizer lr is the scale (OpenNMT-tf's `learning_rate: 2.0`)."""
    return lambda s: opennmt_noam(
        s, model_dim, warmup_steps, lr, step_start, step_duration, minimum_learning_rate
    )


def make_linear_scaling_warmup(
    lr: float,
    total_steps: int,
    steps_per_epoch: int,
    batch_size: int = 256,
    warmup_epochs: float = 5,
    reference_batch: int = 256,
    milestones: tuple[float, ...] = (),
    gamma: float = 0.1,
) -> Schedule:
    """`{name: linear_scaling_warmup, batch_size: 8192, warmup_epochs: 5, milestones: [30, 60, 80]}`:
    Goyal's rule with lr = the reference-batch lr; batch_size is the run's batch size (filled in by
    build_schedule when the spec leaves it out); after warm-up, x gamma at each milestone (epochs)."""
    warm = round(warmup_epochs * steps_per_epoch)
    ms = [round(e * steps_per_epoch) for e in milestones]
    return lambda s: step_decay(s, linear_scaling_warmup(s, lr, batch_size, warm, reference_batch), ms, gamma)


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": make_constant,
    "step": make_step,
    "multistep": make_multistep,
    "cosine": make_cosine,
    "snapshot_cosine": make_snapshot_cosine,
    "sgdr": make_sgdr,
    "cyclic": make_cyclic,
    "one_cycle": make_one_cycle,
    "stlr": make_stlr,
    "noam": make_noam,
    "opennmt_noam": make_opennmt_noam,
    "linear_scaling_warmup": make_linear_scaling_warmup,
}


def schedule_kwargs(name: str) -> list[str]:
    """The keyword names a spec may give a schedule (the factory's parameters after the first three)."""
    return list(inspect.signature(SCHEDULES[name]).parameters)[3:]


def build_schedule(cfg: dict, lr: float, total_steps: int, steps_per_epoch: int,
                   batch_size: int | None = None) -> Schedule:
    """cfg = {"name": ..., **kwargs} -> fn(step0) -> lr. A schedule that depends on the batch size
    (linear scaling) gets the run's `batch_size` unless cfg sets one."""
    kwargs = {k: v for k, v in cfg.items() if k != "name"}
    if cfg["name"] not in SCHEDULES:
        raise ValueError(f"unknown schedule {cfg['name']!r}; known: {', '.join(SCHEDULES)}")
    if batch_size is not None and "batch_size" in schedule_kwargs(cfg["name"]):
        kwargs.setdefault("batch_size", batch_size)
    return SCHEDULES[cfg["name"]](lr, total_steps, steps_per_epoch, **kwargs)
