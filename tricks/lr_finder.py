"""LR range test (Smith 2017, arXiv 1506.01186, Sec. 3.3; the fastai lr_find variant).

Train for a few hundred steps while the lr rises from start_lr to end_lr,
exponentially lr_i = start (end/start)^(i/(n-1)) or linearly lr_i = start + (end - start) i/(n-1);
record the loss, smooth it by a debiased EMA s_i = m_i / (1 - beta^(i+1)), m_i = beta m_{i-1} + (1-beta) l_i,
stop once s_i > diverge_factor * min_j s_j (or the loss is not finite). Suggestions: the lr where the smoothed
loss falls fastest against log lr, and the lr of the minimum divided by 10. The model and the optimizer are
restored exactly afterwards.

Each step is the training loop's: the hook order and the step body of tricks.hooks.HookSequence (autocast,
the wrapped loss, observe_loss, backward, after_backward, the optimizer step with the run's GradScaler),
on inputs in the run's memory format.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from tricks.hooks import HookSequence, LossFn
from tricks.loop import LoopConfig, to_memory_format


def lr_at(i: int, num_steps: int, start_lr: float, end_lr: float, mode: str = "exp") -> float:
    """The lr of step i of the ramp (exp: geometric, linear: arithmetic), start at i = 0, end at n - 1."""
    frac = i / max(num_steps - 1, 1)
    if mode == "exp":
        return start_lr * (end_lr / start_lr) ** frac
    if mode == "linear":
        return start_lr + (end_lr - start_lr) * frac
    raise ValueError(f"lr range test mode {mode!r}: use 'exp' or 'linear'")


def smooth_losses(losses: list[float], beta: float = 0.98) -> list[float]:
    """Debiased EMA: m_i = beta m_{i-1} + (1 - beta) l_i, s_i = m_i / (1 - beta^(i+1))."""
    m, out = 0.0, []
    for i, loss in enumerate(losses):
        m = beta * m + (1 - beta) * loss
        out.append(m / (1 - beta ** (i + 1)))
    return out


def suggest_steepest(lrs: list[float], smoothed: list[float]) -> float:
    """The lr where d(smoothed loss)/d(log lr) is most negative."""
    return float(lrs[int(np.argmin(np.gradient(np.asarray(smoothed), np.log(lrs))))])


def suggest_min_over_10(lrs: list[float], smoothed: list[float]) -> float:
    """A tenth of the lr at the minimum smoothed loss."""
    return float(lrs[int(np.argmin(smoothed))]) / 10


@dataclass
class RangeTestResult:
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    diverged: bool = False
    steepest: float = float("nan")
    min_over_10: float = float("nan")


def lr_range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    batches: Iterable[tuple[Tensor, Tensor]],
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exp",
    beta: float = 0.98,
    diverge_factor: float = 4.0,
    hooks: HookSequence | None = None,
    run: LoopConfig | None = None,
) -> RangeTestResult:
    """Run the range test over `batches` (at most num_steps of them); model and optimizer restored after.

    Each step runs in the loop's hook order (`hooks`, already prepared: HookSequence.run_step) with the
    ramp's lr as the base lr: group lr = ramp(i) * lr_scale, then the tricks' lr, batch, after_backward and
    after_step hooks, and the loop's step body (HookSequence.update). `run` gives the run's precision and
    memory format (default fp32, contiguous); with channels_last the model is converted, as the loop does.
    """
    hooks, run = hooks or HookSequence(), run or LoopConfig(epochs=1, steps_per_epoch=num_steps)
    if run.channels_last:
        model.to(memory_format=torch.channels_last)

    def update(x, y) -> Tensor:
        return hooks.update(model, optimizer, loss_fn, run.precision, x, y)

    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    was_training, res = model.training, RangeTestResult()
    model.train()
    try:
        for i, (x, y) in zip(range(num_steps), batches, strict=False):
            lr = lr_at(i, num_steps, start_lr, end_lr, mode)
            loss = hooks.run_step(i, optimizer, lr, to_memory_format(x, run.channels_last), y, update)
            res.lrs.append(lr)
            res.losses.append(loss.item())
            res.smoothed = smooth_losses(res.losses, beta)
            if not math.isfinite(res.losses[-1]) or res.smoothed[-1] > diverge_factor * min(res.smoothed):
                res.diverged = True
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_opt)
        model.train(was_training)
    finite = [(lr, s) for lr, s in zip(res.lrs, res.smoothed, strict=True) if math.isfinite(s)]
    if len(finite) >= 2:
        lrs, sm = map(list, zip(*finite, strict=True))
        res.steepest, res.min_over_10 = suggest_steepest(lrs, sm), suggest_min_over_10(lrs, sm)
    return res


def plot_range_test(result: RangeTestResult, ax=None):
    """Smoothed loss against lr (log axis), with both suggestions marked; returns the matplotlib Figure."""
    if ax is None:   # a plain Figure, not pyplot: no global figure state, no GUI backend
        ax = Figure(figsize=(5, 3.5)).subplots()
    ax.plot(result.lrs, result.losses, alpha=0.3, label="loss")
    ax.plot(result.lrs, result.smoothed, label="smoothed")
    for lr, name, style in ((result.steepest, "steepest", "--"), (result.min_over_10, "min / 10", ":")):
        if math.isfinite(lr):
            ax.axvline(lr, linestyle=style, color="k", label=f"{name}: {lr:.2g}")
    ax.set(
        xscale="log" if result.lrs and min(result.lrs) > 0 else "linear",
        xlabel="learning rate",
        ylabel="loss",
    )
    ax.legend()
    return ax.figure
