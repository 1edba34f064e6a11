"""Image classifiers the experiments use, registered by the names specs write.

Every model is a `LayeredNet`: a sequence of layer groups (stem, each residual block / dense layer /
conv layer in forward order, head last), so that tricks working per layer (FreezeOut, discriminative
learning rates) can address them. All are fully convolutional with global average pooling before the
classifier, so they take 28x28 Fashion-MNIST as well as 32x32 CIFAR.
"""

from __future__ import annotations

import inspect
import math
from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from repro.errors import UserError
from repro.tasks.image.external import FORMS, external_model


class LayeredNet(nn.Sequential):
    """A network that is its layer groups run in sequence: forward(x) == groups[-1](...groups[0](x))."""

    def layer_groups(self) -> list[nn.Module]:
        """The groups in forward order, the head (final norm + pooling + classifier) last."""
        return list(self.children())


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def _bn_relu(c: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]


class PointwiseShortcut(nn.Conv2d):
    """The 1x1-conv projection shortcut, conv1x1(x, stride=s), computed as conv1x1(x[..., ::s, ::s]) on CPU.

    Same parameters and the same function; on CPU it keeps off oneDNN's strided 1x1 weight-gradient kernel
    (jit_1x1:avx2, torch 2.14.1 / oneDNN 3.12), which on AVX2-only CPUs writes past its buffers for a
    channels_last fp32 input with 2-7 input channels: glibc "corrupted size vs. prev_size" and an abort
    with one thread, wrong weight gradients or a hang with two (the smoke profiles' width-4 models).
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        s = self.stride[0]
        if x.device.type != "cpu" or s == 1:
            return super().forward(x)
        return F.conv2d(x[..., ::s, ::s], self.weight)


def _head(c: int, num_classes: int, pre: list[nn.Module] | None = None) -> nn.Sequential:
    """Optional pre-activation, global average pooling, the linear classifier."""
    return nn.Sequential(*(pre or []), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))


def _init(model: nn.Module) -> nn.Module:
    """He et al. 2015 (arXiv 1502.01852) normal init of convs, fan_out as the reference implementations;
    BN weight 1 / bias 0, linear biases 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
    return model


def _blocks_per_stage(name: str, depth: int, layers_per_block: int, offset: int) -> int:
    n, rest = divmod(depth - offset, 3 * layers_per_block)
    if rest or n < 1:
        allowed = f"{3 * layers_per_block}n+{offset} with n >= 1"
        raise UserError(f"model.depth: {depth}: {name} needs depth = {allowed}")
    return n


# ----------------------------------------------------------------------------- He et al. CIFAR ResNet


class BasicBlock(nn.Module):
    """out = ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)) (He et al. 2016, arXiv 1512.03385, Fig. 2).

    Shortcut option A (Sec. 4.2): identity, subsampled by the stride, with zero channels appended when
    the width grows; it has no parameters.
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1, self.bn1 = _conv3x3(c_in, c_out, stride), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = _conv3x3(c_out, c_out), nn.BatchNorm2d(c_out)
        self.stride, self.extra_channels = stride, c_out - c_in

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return F.relu(out + shortcut)


def cifar_resnet(num_classes: int, in_channels: int, depth: int = 20, width: int = 16) -> LayeredNet:
    """The CIFAR ResNet of He et al. 2016 (arXiv 1512.03385, Sec. 4.2): depth = 6n+2.

    A 3x3 conv stem, three stages of n basic blocks with widths w, 2w, 4w (w = 16 in the paper; the
    first block of stages 2 and 3 has stride 2), global average pooling and a linear classifier.
    """
    n = _blocks_per_stage("cifar_resnet", depth, 2, 2)
    groups: OrderedDict[str, nn.Module] = OrderedDict(
        stem=nn.Sequential(_conv3x3(in_channels, width), *_bn_relu(width)))
    c = width
    for stage, c_out in enumerate((width, 2 * width, 4 * width), start=1):
        for i in range(n):
            groups[f"stage{stage}_block{i}"] = BasicBlock(c, c_out, 2 if stage > 1 and i == 0 else 1)
            c = c_out
    groups["head"] = _head(c, num_classes)
    return _init(LayeredNet(groups))


# ----------------------------------------------------------------------------- pre-activation ResNet-18


class PreActBlock(nn.Module):
    """out = conv(ReLU(BN(conv(ReLU(BN(x)))))) + shortcut (He et al. 2016b, arXiv 1603.05027, Fig. 4e).

    The projection shortcut (1x1 conv, where shape changes) takes the pre-activated input, as in the
    mixup authors' code (facebookresearch/mixup-cifar10, models/resnet.py).
    """

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), _conv3x3(c_in, c_out, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), _conv3x3(c_out, c_out)
        self.shortcut = PointwiseShortcut(c_in, c_out, stride) if stride != 1 or c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(out)
        return self.conv2(F.relu(self.bn2(self.conv1(out)))) + shortcut


def preact_resnet18(num_classes: int, in_channels: int, width: int = 64) -> LayeredNet:
    """PreAct ResNet-18 as used by mixup (Zhang et al. 2018, arXiv 1710.09412; blocks of arXiv 1603.05027).

    Stem 3x3 conv to w channels, four stages of two pre-activation blocks (w, 2w, 4w, 8w with w = 64;
    stride 2 from stage 2), pooling and a linear classifier. Like the mixup code, there is no BN-ReLU
    between the last block and the pooling: 11.17M parameters for 10 classes. A smaller `width` (e.g. 16,
    1/16 of the FLOPs) is the CPU stand-in.
    """
    groups: OrderedDict[str, nn.Module] = OrderedDict(stem=_conv3x3(in_channels, width))
    c = width
    for stage, c_out in enumerate((width, 2 * width, 4 * width, 8 * width), start=1):
        for i in range(2):
            groups[f"stage{stage}_block{i}"] = PreActBlock(c, c_out, 2 if stage > 1 and i == 0 else 1)
            c = c_out
    groups["head"] = _head(c, num_classes)
    return _init(LayeredNet(groups))


# ----------------------------------------------------------------------------- wide ResNet


class WideBlock(nn.Module):
    """Pre-activation block with dropout between the convs (Zagoruyko & Komodakis 2016, arXiv 1605.07146).

    Where the width changes, the 1x1-conv shortcut takes the pre-activated input, as in the reference
    PyTorch implementation the FreezeOut authors used (xternalz/WideResNet-pytorch).
    """

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), _conv3x3(c_in, c_out, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), _conv3x3(c_out, c_out)
        self.dropout = dropout
        self.shortcut = PointwiseShortcut(c_in, c_out, stride) if c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(out)
        out = F.dropout(F.relu(self.bn2(self.conv1(out))), self.dropout, self.training)
        return self.conv2(out) + shortcut


def wide_resnet(num_classes: int, in_channels: int, depth: int = 28, widen_factor: int = 10,
                dropout: float = 0.0) -> LayeredNet:
    """WRN-d-k (Zagoruyko & Komodakis 2016, arXiv 1605.07146): depth = 6n+4, widths 16, 16k, 32k, 64k.

    A 3x3 conv stem to 16 channels, three stages of n wide blocks (stride 2 from stage 2), then
    BN-ReLU, pooling and a linear classifier. WRN-28-10 has 36.5M parameters (Table 2 of the paper).
    """
    n = _blocks_per_stage("wide_resnet", depth, 2, 4)
    if not 0.0 <= dropout < 1.0:
        raise UserError(f"model.dropout: {dropout}: must be in [0, 1)")
    groups: OrderedDict[str, nn.Module] = OrderedDict(stem=_conv3x3(in_channels, 16))
    c = 16
    for stage, c_out in enumerate((16 * widen_factor, 32 * widen_factor, 64 * widen_factor), start=1):
        for i in range(n):
            groups[f"stage{stage}_block{i}"] = WideBlock(c, c_out, 2 if stage > 1 and i == 0 else 1, dropout)
            c = c_out
    groups["head"] = _head(c, num_classes, _bn_relu(c))
    return _init(LayeredNet(groups))


# ----------------------------------------------------------------------------- DenseNet-BC


class DenseLayer(nn.Module):
    """Bottleneck layer: x -> concat(x, conv3x3(ReLU(BN(conv1x1(ReLU(BN(x))))))) with 4k bottleneck
    channels and k new ones (Huang et al. 2017, arXiv 1608.06993, Sec. 3 "Bottleneck layers")."""

    def __init__(self, c_in: int, growth_rate: int):
        super().__init__()
        self.net = nn.Sequential(*_bn_relu(c_in), nn.Conv2d(c_in, 4 * growth_rate, 1, bias=False),
                                 *_bn_relu(4 * growth_rate), _conv3x3(4 * growth_rate, growth_rate))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.net(x)], dim=1)


def densenet_bc(num_classes: int, in_channels: int, depth: int = 100, growth_rate: int = 12,
                compression: float = 0.5) -> LayeredNet:
    """DenseNet-BC (Huang et al. 2017, arXiv 1608.06993): depth = 6n+4, three dense blocks of n layers.

    Stem 3x3 conv to 2k channels; between blocks a transition BN-ReLU-conv1x1 to floor(theta * c)
    channels and 2x2 average pooling; then BN-ReLU, pooling and a linear classifier. L = 100, k = 12
    has 0.8M parameters (Table 2 of the paper).
    """
    n = _blocks_per_stage("densenet_bc", depth, 2, 4)
    c = 2 * growth_rate
    groups: OrderedDict[str, nn.Module] = OrderedDict(stem=_conv3x3(in_channels, c))
    for block in range(1, 4):
        for i in range(n):
            groups[f"block{block}_layer{i}"] = DenseLayer(c, growth_rate)
            c += growth_rate
        if block < 3:
            c_out = int(math.floor(compression * c))
            groups[f"transition{block}"] = nn.Sequential(*_bn_relu(c), nn.Conv2d(c, c_out, 1, bias=False),
                                                         nn.AvgPool2d(2))
            c = c_out
    groups["head"] = _head(c, num_classes, _bn_relu(c))
    return _init(LayeredNet(groups))


# ----------------------------------------------------------------------------- VGG-16


VGG16_WIDTHS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(num_classes: int, in_channels: int, dropout: float = 0.5, width: int = 64) -> LayeredNet:
    """VGG-16 (Simonyan & Zisserman 2015, arXiv 1409.1556) in the CIFAR variant FreezeOut used
    (Brock et al. 2017, arXiv 1706.04983; ajbrock/FreezeOut vgg.py, after Zagoruyko's cifar.torch).

    Thirteen conv3x3-BN-ReLU layers with 2x2 max pooling after each of the five stages (ceil mode, so
    28x28 inputs work too), then Linear-BN-ReLU-Dropout, Linear-BN-ReLU-BN-Dropout (the repeated BN is
    in the FreezeOut code), Linear. Each conv layer, with its pooling, is one layer group. `width` is the
    first stage's channel count (64 in the paper); every layer, the 512-wide head included, scales by
    width / 64 (e.g. 16: 1/16 of the FLOPs, the CPU stand-in).
    """
    scale = width / 64
    groups: OrderedDict[str, nn.Module] = OrderedDict()
    c = in_channels
    for v in VGG16_WIDTHS:
        if v == "M":
            last = next(reversed(groups))
            groups[last] = nn.Sequential(*groups[last], nn.MaxPool2d(2, ceil_mode=True))
        else:
            name = f"conv{len(groups)}" if groups else "stem"
            groups[name] = nn.Sequential(_conv3x3(c, round(v * scale)), *_bn_relu(round(v * scale)))
            c = round(v * scale)
    h = round(512 * scale)
    groups["head"] = nn.Sequential(
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(c, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True), nn.BatchNorm1d(h),
        nn.Dropout(dropout),
        nn.Linear(h, num_classes))
    return _init(LayeredNet(groups))


def plain_convnet(num_classes: int, in_channels: int, width: int = 16, stages: int = 3) -> LayeredNet:
    """A plain conv net without normalisation: `stages` x (conv3x3-ReLU, 2x2 max pool), width doubling
    per stage, then global average pooling and a linear classifier. Without BatchNorm a batch's gradient
    does not depend on how the batch is split, so data-parallel training on N ranks is exactly one
    process's training (tests/repro/execute/test_distributed.py)."""
    groups: OrderedDict[str, nn.Module] = OrderedDict()
    c = in_channels
    for i in range(stages):
        conv = nn.Conv2d(c, width * 2 ** i, 3, padding=1)
        groups["stem" if i == 0 else f"conv{i}"] = nn.Sequential(conv, nn.ReLU(inplace=True),
                                                                 nn.MaxPool2d(2, ceil_mode=True))
        c = width * 2 ** i
    groups["head"] = _head(c, num_classes)
    return _init(LayeredNet(groups))


def mlp(num_classes: int, in_channels: int, hidden: list[int] = (256, 256), pool: int = 28) -> LayeredNet:
    """A multilayer perceptron: the image average-pooled to pool x pool (identity for 28x28 Fashion-MNIST)
    and flattened, then Linear-ReLU per `hidden` width, then a linear classifier. PyTorch's default
    (Kaiming-uniform) init of nn.Linear, biases zero."""
    groups: OrderedDict[str, nn.Module] = OrderedDict(
        stem=nn.Sequential(nn.AdaptiveAvgPool2d(pool), nn.Flatten()))
    width = in_channels * pool * pool
    for i, h in enumerate(hidden):
        groups[f"dense{i}"] = nn.Sequential(nn.Linear(width, h), nn.ReLU(inplace=True))
        width = h
    groups["head"] = nn.Linear(width, num_classes)
    return _init(LayeredNet(groups))


# ----------------------------------------------------------------------------- registry


MODELS: dict[str, Callable[..., LayeredNet]] = {
    "cifar_resnet": cifar_resnet,
    "preact_resnet18": preact_resnet18,
    "wide_resnet": wide_resnet,
    "densenet_bc": densenet_bc,
    "vgg16": vgg16,
    "plain_convnet": plain_convnet,
    "mlp": mlp,
}


def build_model(cfg: dict, num_classes: int, in_channels: int, seed: int | None = None) -> nn.Module:
    """Build the model a spec's `model:` section names: {"name", **builder kwargs}; a name of MODELS, or
    timm/<name> or torchvision/<name> (repro/tasks/image/external.py).

    With `seed`, the initial weights are drawn from a CPU RNG seeded with it, leaving torch's global RNG
    state as it was.
    """
    cfg = dict(cfg)
    name = cfg.pop("name", None)
    try:
        builder = external_model(name) or MODELS.get(name)
    except LookupError as e:
        raise UserError(f"model.name: {name!r}: {e}") from None
    if builder is None:
        raise UserError(f"model.name: {name!r}: not a model; one of {', '.join([*sorted(MODELS), *FORMS])}")
    try:
        inspect.signature(builder).bind(num_classes, in_channels, **cfg)
    except TypeError as e:
        raise UserError(f"model: {name}: {e}") from None
    if seed is None:
        return builder(num_classes, in_channels, **cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder(num_classes, in_channels, **cfg)
