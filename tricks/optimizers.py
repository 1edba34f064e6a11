"""Optimizers by the names specs write, each built by its own library (none is re-implemented here).

Every entry is `build(groups, *, lr, betas, eps, weight_decay, momentum, nesterov, total_steps, **options)`:
the common fields come from the spec's `optimizer:` section (repro.spec.schema.OptimizerConfig), the
keyword options after them are the entry's own and are the schema of the extra keys a spec may give
(checked by repro/spec/checks.py against this signature, like models and schedules).

Two small protocols let the one loop (tricks/loop.py) drive optimizers that need more than `step()`:
- `set_mode(optimizer, training)`: Schedule-Free optimizers (Defazio et al. 2024, arXiv 2405.15682) keep
  the gradient point y in the parameters while training and swap in the averaged point x for evaluation;
  their `.train()` / `.eval()` do the swap. The loop calls set_mode(True) before training steps and
  set_mode(False) before evaluation and checkpointing; optimizers without the methods are unaffected.
- `observe_loss(optimizer, loss)`: learned optimizers read the loss (VeLO's LSTM takes loss features);
  the loop hands it over before each step to optimizers that define `observe_loss`.

Third-party libraries are imported when an optimizer is built, so the spec layer can read the signatures
without them. `velo` needs PyLO (not on PyPI) and its weights from the Hugging Face hub; where either is
missing it raises MissingDependency with one line saying what to install.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

COMMON = ("groups", "lr", "betas", "eps", "weight_decay", "momentum", "nesterov", "total_steps")
PYLO_INSTALL = "pip install git+https://github.com/Belilovsky-Lab/pylo"


class MissingDependency(RuntimeError):
    """An optional optimizer whose package (or its downloaded weights) is not available on this machine.

    `package` is the module whose absence caused it (None when the package is there but its weights are not),
    so a runner can skip the job until that module becomes importable."""

    def __init__(self, message: str, package: str | None = None):
        super().__init__(message)
        self.package = package


def set_mode(optimizer, training: bool) -> None:
    """optimizer.train() / optimizer.eval() where the optimizer defines them (Schedule-Free), else nothing."""
    method = getattr(optimizer, "train" if training else "eval", None)
    if callable(method):
        method()


def observe_loss(optimizer, loss: torch.Tensor) -> None:
    """Hand the step's loss to an optimizer that reads it (optimizer.observe_loss), else nothing."""
    method = getattr(optimizer, "observe_loss", None)
    if callable(method):
        method(loss.detach())


def _fused(groups: list[dict]) -> bool:
    params = [p for g in groups for p in g["params"]]
    return all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


def sgd(groups, *, lr, betas, eps, weight_decay, momentum, nesterov, total_steps) -> torch.optim.Optimizer:
    """torch.optim.SGD (momentum, nesterov, weight_decay from the spec)."""
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


def adam(groups, *, lr, betas, eps, weight_decay, momentum, nesterov, total_steps) -> torch.optim.Optimizer:
    """torch.optim.Adam; the fused kernel: same update, ~5x faster than the per-tensor loop on CPU."""
    return torch.optim.Adam(groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                            fused=_fused(groups))


def adamw(groups, *, lr, betas, eps, weight_decay, momentum, nesterov, total_steps) -> torch.optim.Optimizer:
    """torch.optim.AdamW (decoupled weight decay, Loshchilov & Hutter, arXiv 1711.05101), fused."""
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                             fused=_fused(groups))


def schedulefree_adamw(groups, *, lr, betas, eps, weight_decay, momentum, nesterov, total_steps,
                       warmup_steps: int = 0, r: float = 0.0, weight_lr_power: float = 2.0):
    """schedulefree.AdamWScheduleFree (arXiv 2405.15682); the loop switches its train/eval mode. Use a
    constant schedule: the method replaces the schedule (its own warmup is `warmup_steps`)."""
    import schedulefree

    return schedulefree.AdamWScheduleFree(groups, lr=lr, betas=tuple(betas), eps=eps,
                                          weight_decay=weight_decay, warmup_steps=warmup_steps, r=r,
                                          weight_lr_power=weight_lr_power)


def prodigy(groups, *, lr, betas, eps, weight_decay, momentum, nesterov, total_steps,
            beta3: float | None = None, decouple: bool = True, use_bias_correction: bool = False,
            safeguard_warmup: bool = False, d0: float = 1e-6, d_coef: float = 1.0):
    """prodigyopt.Prodigy (Mishchenko & Defazio, arXiv 2306.06101); its authors say leave lr = 1."""
    import prodigyopt

    return prodigyopt.Prodigy(groups, lr=lr, betas=tuple(betas), beta3=beta3, eps=eps,
                              weight_decay=weight_decay, decouple=decouple,
                              use_bias_correction=use_bias_correction, safeguard_warmup=safeguard_warmup,
                              d0=d0, d_coef=d_coef)


def dadapt_adam(groups, *, lr, betas, eps, weight_decay, momentum, nesterov, total_steps,
                decouple: bool = False, use_bias_correction: bool = False, d0: float = 1e-6):
    """dadaptation.DAdaptAdam (Defazio & Mishchenko, arXiv 2301.07733); lr = 1 is its default."""
    import dadaptation

    return dadaptation.DAdaptAdam(groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                  decouple=decouple, use_bias_correction=use_bias_correction, d0=d0)


def velo(groups, *, lr, betas, eps, weight_decay, momentum, nesterov, total_steps):
    """VeLO (Metz et al. 2022, arXiv 2211.09760) through PyLO (arXiv 2506.10315): its step budget
    `num_steps` is the run's total steps; it reads the loss of every step (observe_loss). The spec's lr is
    not passed on: VeLO has no learning rate to tune (specs write lr: 1.0)."""
    where = f"velo (step budget {total_steps})"
    try:
        from pylo.optim import VeLO
    except ImportError:
        raise MissingDependency(f"{where}: PyLO is not installed: {PYLO_INSTALL} (its VeLO weights then "
                                f"download from the Hugging Face hub on first use)", package="pylo") from None

    class LossFedVeLO(VeLO):
        """PyLO's VeLO steps with the loss (step(loss)); the loop hands it over via observe_loss."""

        def observe_loss(self, loss: torch.Tensor) -> None:
            self._loss = loss

        def step(self, closure=None):
            return super().step(self._loss)

    try:
        return LossFedVeLO([g["params"] for g in groups][0] if len(groups) == 1 else groups,
                           num_steps=total_steps, weight_decay=weight_decay)
    except (OSError, ValueError, RuntimeError) as err:   # the hub download failed (offline, no access)
        reason = " ".join(str(err).split())[:160]
        raise MissingDependency(f"{where}: PyLO could not load the VeLO weights from the Hugging Face hub "
                                f"({reason}); run once with internet or set HF_HOME to a copy") from None


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": sgd, "adam": adam, "adamw": adamw, "schedulefree_adamw": schedulefree_adamw,
    "prodigy": prodigy, "dadapt_adam": dadapt_adam, "velo": velo,
}
# the step budget each optimizer takes as an input (recorded with the run), by name
TAKES_STEP_BUDGET = ("velo",)
