"""Fine-tuning tricks of ULMFiT (Howard & Ruder 2018, arXiv 1801.06146): discriminative learning rates,
gradual unfreezing, chain-thaw and training the last layers only, over a model's layer groups (forward
order, head last)."""

from __future__ import annotations

from torch import nn

from tricks.hooks import LoopContext, Trick


def layer_groups(model: nn.Module) -> list[nn.Module]:
    """The model's own layer_groups() (forward order, head last), else its top-level children in order."""
    return model.layer_groups() if hasattr(model, "layer_groups") else list(model.children())


def split_by_layer_group(groups: list[dict], layer_groups: list[nn.Module]) -> list[dict]:
    """One param group per (incoming group, layer group), tagged with 'layer_index' (0 = lowest).
    Parameters outside every layer group stay in their incoming group (untagged); tagged groups pass."""
    owner = {id(p): i for i, lg in enumerate(layer_groups) for p in lg.parameters()}
    out = []
    for g in groups:
        if "layer_index" in g:
            out.append(g)
            continue
        for i in range(len(layer_groups)):
            params = [p for p in g["params"] if owner.get(id(p)) == i]
            if params:
                out.append({**g, "params": params, "layer_index": i, "name": f"{g['name']}/group{i}"})
        rest = [p for p in g["params"] if id(p) not in owner]
        if rest:
            out.append({**g, "params": rest})
    return out


def discriminative_lrs(num_groups: int, lr_top: float, factor: float = 2.6) -> list[float]:
    """eta^(l-1) = eta^l / factor (ULMFiT Eq. 2 and Sec. 3.2), lowest group first: lr_top / factor^(L-1-l)."""
    return [lr_top / factor ** (num_groups - 1 - i) for i in range(num_groups)]


def unfrozen_from(epoch: int, num_groups: int) -> int:
    """Gradual unfreezing: in epoch e (0-based) the top e + 1 groups train, i.e. groups >= L - 1 - e."""
    return max(num_groups - 1 - epoch, 0)


def chain_thaw_stage(epoch: int, num_groups: int) -> list[int]:
    """Chain-thaw (Felbo et al. 2017, arXiv 1708.00524): epoch 0 trains the head (new layers); epochs
    1..L train one group each from the lowest up; then every group trains together."""
    if epoch == 0:
        return [num_groups - 1]
    if epoch <= num_groups:
        return [epoch - 1]
    return list(range(num_groups))


def set_trainable(layer_groups: list[nn.Module], trainable: set[int]) -> None:
    """requires_grad on for the groups in `trainable`, off (grad dropped) for the others."""
    for i, g in enumerate(layer_groups):
        for p in g.parameters():
            p.requires_grad_(i in trainable)
            if i not in trainable:
                p.grad = None


class _LayerGroupTrick(Trick):
    """Shared: per-layer-group param groups (ctx.layer_groups must be set by the model)."""

    def setup(self, ctx: LoopContext) -> None:
        super().setup(ctx)
        if not ctx.layer_groups:
            raise ValueError(f"{self.name} needs a model with layer_groups()")
        self.groups = ctx.layer_groups

    def param_groups(self, groups: list[dict]) -> list[dict]:
        return split_by_layer_group(groups, self.groups)


class DiscriminativeLR(_LayerGroupTrick):
    """Spec: `{name: discriminative_lr, factor: 2.6}`: group l (0 = lowest) gets lr_scale x 1/factor^(L-1-l)
    of the schedule's lr, the head the full lr."""

    name = "discriminative_lr"

    def __init__(self, factor: float = 2.6):
        self.factor = factor

    def param_groups(self, groups: list[dict]) -> list[dict]:
        scales = discriminative_lrs(len(self.groups), 1.0, self.factor)
        out = super().param_groups(groups)
        return [
            {**g, "lr_scale": g["lr_scale"] * scales[g["layer_index"]]} if "layer_index" in g else g
            for g in out
        ]


class _EpochwiseThaw(_LayerGroupTrick):
    """Re-derives which groups train from the epoch of the next step, so a resumed run agrees exactly."""

    freezes_layers = True

    def trainable(self, epoch: int) -> set[int]:
        raise NotImplementedError

    def setup(self, ctx: LoopContext) -> None:
        super().setup(ctx)
        self._apply(0)

    def _apply(self, next_step: int) -> None:
        self.next_step = next_step
        set_trainable(self.groups, self.trainable(next_step // self.ctx.steps_per_epoch))

    def after_step(self, step: int) -> None:
        self._apply(step + 1)

    def state_dict(self) -> dict:
        return {"next_step": self.next_step}

    def load_state_dict(self, state: dict) -> None:
        self._apply(state["next_step"])


class GradualUnfreezing(_EpochwiseThaw):
    """Spec: `{name: gradual_unfreezing}`: epoch 0 trains only the head, each later epoch unfreezes the next
    lower group (ULMFiT Sec. 3.3), until all groups train."""

    name = "gradual_unfreezing"

    def trainable(self, epoch: int) -> set[int]:
        return set(range(unfrozen_from(epoch, len(self.groups)), len(self.groups)))


class ChainThaw(_EpochwiseThaw):
    """Spec: `{name: chain_thaw, lr_ratio: 1.0}`: one group at a time for one epoch each (head first, then
    lowest up), then all groups (ULMFiT's Table 7 baseline). Every group but the head trains at lr_ratio x
    the head's lr (Felbo et al. 2017 and ULMFiT use 1e-4 vs 1e-3: lr_ratio 0.1)."""

    name = "chain_thaw"

    def __init__(self, lr_ratio: float = 1.0):
        self.lr_ratio = lr_ratio

    def param_groups(self, groups: list[dict]) -> list[dict]:
        top = len(self.groups) - 1
        return [{**g, "lr_scale": g["lr_scale"] * self.lr_ratio}
                if g.get("layer_index", top) != top else g for g in super().param_groups(groups)]

    def trainable(self, epoch: int) -> set[int]:
        return set(chain_thaw_stage(epoch, len(self.groups)))


class LastLayers(_EpochwiseThaw):
    """Spec: `{name: last_layers, groups: 1}`: only the top `groups` layer groups ever train (ULMFiT Table 7
    'Last': the classifier head alone on the frozen pretrained model)."""

    name = "last_layers"

    def __init__(self, groups: int = 1):
        self.top = groups

    def trainable(self, epoch: int) -> set[int]:
        return set(range(max(len(self.groups) - self.top, 0), len(self.groups)))
