"""Image classifiers from timm and torchvision by name: `model: {name: timm/<name>}` or
`{name: torchvision/<name>}`, the other keys of the section passed to the library's constructor.

Built from scratch (no weights are downloaded) with the data's number of classes and input channels:
timm through `timm.create_model(name, pretrained=False, num_classes=K, in_chans=C)`, torchvision through
`torchvision.models.get_model(name, weights=None, num_classes=K)` with its first convolution replaced
when C is not 3. channels_last and the precision are the loop's, as for the built-in models.
timm is imported when such a model is built or checked, not before: most runs never need it.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable

from torch import nn

from repro.errors import UserError

FORMS = ("timm/<name>", "torchvision/<name>")   # how a spec names them, shown with the built-in names
HOW_TO_FIND = {
    "timm": "python -c \"import timm; print(timm.list_models('*resnet*'))\"",
    "torchvision": "python -c \"import torchvision as tv; print(tv.models.list_models(tv.models))\"",
}


def _timm_names() -> list[str]:
    import timm

    return timm.list_models()


def _torchvision_names() -> list[str]:
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)   # classifiers only


@functools.cache
def external_model(name: object) -> Callable[..., nn.Module] | None:
    """The builder (num_classes, in_channels, **kwargs) -> nn.Module of `timm/<x>` or `torchvision/<x>`;
    None for a name without one of these prefixes; LookupError (one line, saying how to list the names)
    for a name the library does not have."""
    if not isinstance(name, str) or "/" not in name:
        return None
    source, _, model = name.partition("/")
    if source == "timm":
        import timm

        known = timm.is_model(model)
    elif source == "torchvision":
        known = model in _torchvision_names()
    else:
        return None
    if not known:
        names = _timm_names() if source == "timm" else _torchvision_names()
        close = difflib.get_close_matches(model, names, n=1)
        hint = f" (did you mean '{source}/{close[0]}'?)" if close else ""
        raise LookupError(f"unknown {source} model{hint}; list the names with {HOW_TO_FIND[source]}")
    return functools.partial(timm_model if source == "timm" else torchvision_model, model)


def _no_weights(name: str, kwargs: dict) -> None:
    for key in ("pretrained", "weights", "pretrained_cfg", "checkpoint_path"):
        if key in kwargs:
            raise UserError(f"model.{key}: {name}: models are trained from scratch here; drop {key}")


def timm_model(name: str, num_classes: int, in_channels: int, **kwargs) -> nn.Module:
    """timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_channels, **kwargs)."""
    import timm

    _no_weights(f"timm/{name}", kwargs)
    try:
        return timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_channels,
                                 **kwargs)
    except TypeError as e:
        raise UserError(f"model: timm/{name}: {e}") from None


def torchvision_model(name: str, num_classes: int, in_channels: int, **kwargs) -> nn.Module:
    """`torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)`, its first
    Conv2d replaced by one taking `in_channels` (same kernel, stride, padding, bias) when that is not 3."""
    import torchvision

    _no_weights(f"torchvision/{name}", kwargs)
    try:
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)
    except TypeError as e:
        raise UserError(f"model: torchvision/{name}: {e}") from None
    if in_channels != 3:
        replace_first_conv(model, in_channels)
    return model


def replace_first_conv(model: nn.Module, in_channels: int) -> None:
    """Put a freshly initialised Conv2d with `in_channels` inputs in place of the model's first Conv2d."""
    path, old = next(((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)), (None, None))
    if old is None:
        raise UserError(f"model: {type(model).__name__} has no Conv2d to adapt to {in_channels} channels")
    if old.groups != 1:
        raise UserError(f"model: {type(model).__name__}: its first conv is grouped ({old.groups} groups); "
                        f"cannot adapt it to {in_channels} input channels")
    new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, stride=old.stride, padding=old.padding,
                    dilation=old.dilation, bias=old.bias is not None, padding_mode=old.padding_mode)
    parent, _, attr = path.rpartition(".")
    setattr(model.get_submodule(parent), attr, new)
