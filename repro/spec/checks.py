"""Checks behind repro.spec: strict pydantic validation turned into `Problem`s, and registry arguments.

`validate` runs pydantic (strict, with JSON semantics) and turns its first error into a Problem:
(location, bad value, what is allowed). The registry checks cover the names and keyword arguments a spec
gives to the models, datasets, schedules and tricks, and whether the task's loss takes the tricks that
change the targets or the loss. What each task has is its entry of repro/spec/task_catalog.py.

Every registry entry is a callable whose signature is the schema: a spec's extra keys under `model:`,
`data:`, `schedule:` or a trick are the keyword arguments, checked with `inspect.signature` for
unknown names, missing required ones and (through pydantic, strict, JSON semantics) their types.
The registry modules are imported by name, when a config is checked, so the spec layer does not load
torch until it must; one that cannot be imported stops the check with an error (nothing is skipped).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import json
import re
import types
from collections.abc import Callable
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from repro.spec.task_catalog import TARGET_CHANGING_TRICKS, TASK_CATALOG, ExternalNames, Registry

MISSING = object()  # the "bad value" of a required key that is absent

Loc = tuple  # a path into a mapping: str keys and int list indices


class Problem(Exception):
    """One thing wrong with a spec: where (loc), the bad value, and what is allowed."""

    def __init__(self, loc: Loc | str, value: Any, allowed: str):
        super().__init__(loc, value, allowed)
        self.loc, self.value, self.allowed = loc, value, allowed


# registries every task shares; a task's models and datasets are its own (repro/spec/task_catalog.py)
SHARED_REGISTRIES = {
    "schedule": Registry("tricks.schedules:SCHEDULES", ("lr", "total_steps", "steps_per_epoch")),
    "trick": Registry("tricks.registry:TRICKS"),
    "optimizer": Registry("tricks.optimizers:OPTIMIZERS",
                          ("groups", "lr", "betas", "eps", "weight_decay", "momentum", "nesterov",
                           "total_steps")),
}


def _resolve(ref: str):
    """The object at "module:attribute", its module imported when a config is checked (the spec layer
    imports no torch at load time; the registries do). A module that cannot be imported is an error,
    never skipped."""
    module, _, attribute = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except ImportError as e:
        raise RuntimeError(f"cannot check specs: the registry module {module} does not import ({e}); "
                           f"fix the installation (pip install -e .)") from e


def _source(kind: str, task: str | None) -> Registry:
    return SHARED_REGISTRIES[kind] if kind in SHARED_REGISTRIES else TASK_CATALOG[task].registry(kind)


def registry(kind: str, task: str | None = None) -> dict[str, Callable]:
    """The registry dict for `kind` (of `task`, for models and datasets)."""
    return _resolve(_source(kind, task).ref)


def _external_names(kind: str, task: str | None) -> ExternalNames | None:
    return None if kind in SHARED_REGISTRIES else TASK_CATALOG[task].external(kind)


def _names(options) -> str:
    return ", ".join(str(o) for o in options) if options else "(none)"


def check_choice(value: Any, options, what: str, loc: Loc) -> None:
    """`value` must be one of `options`; the message suggests the closest one."""
    if value in options:
        return
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise Problem(loc, value, f"unknown {what}{hint}; allowed: {_names(options)}")


@functools.cache
def _params(fn: Callable, skip: tuple[str, ...]) -> tuple[dict[str, inspect.Parameter], bool]:
    """The keyword parameters a spec may set, and whether fn takes **kwargs (then any key is accepted)."""
    try:
        sig = inspect.signature(fn, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        sig = inspect.signature(fn)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = {n: p for n, p in sig.parameters.items() if p.kind in kinds and n not in skip}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    return params, var_kw


@functools.cache
def _adapters(fn: Callable, skip: tuple[str, ...]) -> dict[str, TypeAdapter | None]:
    """A validator per keyword parameter, None where there is no annotation pydantic understands."""
    return {name: _adapter(p.annotation) for name, p in _params(fn, skip)[0].items()}


def _adapter(annotation: Any) -> TypeAdapter | None:
    if annotation is inspect.Parameter.empty or isinstance(annotation, str):
        return None
    try:
        return TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - a type pydantic cannot build a schema for (e.g. a tensor) stays unchecked
        return None


def check_kwargs(fn: Callable, kwargs: dict, skip: tuple[str, ...], what: str, loc: Loc) -> None:
    """kwargs must bind to fn's keyword parameters (minus `skip`): no unknown, none missing, right types."""
    params, var_kw = _params(fn, skip)
    allowed = f"allowed arguments of {what}: {_names(params)}"
    for key in kwargs:
        if key not in params and not var_kw:
            raise Problem(loc + (key,), key, f"unknown argument; {allowed}")
    for name, p in params.items():
        if p.default is p.empty and name not in kwargs:
            raise Problem(loc + (name,), MISSING, f"required argument; {allowed}")
    adapters = _adapters(fn, skip)
    for key, value in kwargs.items():
        try:
            if adapters.get(key) is not None:
                adapters[key].validate_json(json.dumps(value), strict=True)
        except ValidationError as e:
            err = e.errors()[0]
            where = loc + (key, *err["loc"])
            raise Problem(where, err["input"], f"{friendly(err['msg'])} ({allowed})") from None


def friendly(msg: str) -> str:
    """pydantic's message in spec words: 'must be a mapping', 'must have at least 1 item'."""
    msg = re.sub(r"^(Input|List|Dictionary) should", "must", msg).removeprefix("Value error, ")
    msg = re.sub(r" after validation, not \d+$", "", msg)
    for word in ("a valid array", "a valid list", "a valid tuple"):
        msg = msg.replace(word, "a list")
    return msg.replace("an object", "a mapping").replace("a valid dictionary", "a mapping")


def validate(cls: type[BaseModel], data: Any) -> Any:
    """Strict validation with JSON semantics (lists may fill tuples; no str -> number coercion)."""
    try:
        return cls.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as e:
        raise _problem(e.errors()[0], cls) from None


def _problem(err: dict, cls: type[BaseModel]) -> Problem:
    loc, kind = tuple(err["loc"]), err["type"]
    if loc and loc[-1] == "[key]":  # a bad mapping key: the key itself is the bad value
        return Problem(loc[:-1], err["input"], _describe(err))
    if kind == "missing":
        return Problem(loc, MISSING, "required key")
    if kind == "extra_forbidden":
        return Problem(loc, loc[-1], f"unknown key; allowed: {', '.join(_fields_at(cls, loc[:-1]))}")
    return Problem(loc, err["input"], _describe(err))


def _describe(err: dict) -> str:
    return friendly(err["msg"]) + (" (quote it in YAML)" if err["type"] == "string_type" else "")


def _fields_at(cls: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the pydantic model reached by following `loc` from `cls`."""
    tp: Any = cls
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = tp.model_fields[part].annotation
        else:  # list[X] / dict[str, X]
            tp = get_args(tp)[-1]
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) in (Annotated, Union, types.UnionType):
        tp = next(a for a in get_args(tp) if a is not type(None))
    return tp


def check_entry(kind: str, name: Any, kwargs: dict, loc: Loc, task: str | None = None) -> None:
    """A `{name: ..., **kwargs}` section: the name is in the `kind` registry (of `task`, for models and
    datasets) or one of the task's external names, and kwargs fit its signature."""
    source = _source(kind, task)
    fn = _external(kind, task, name, loc)
    if fn is None:
        reg = registry(kind, task)
        external = _external_names(kind, task)
        check_choice(name, [*reg, *(external.forms if external else ())], kind, loc + ("name",))
        fn = reg[name]
    check_kwargs(fn, kwargs, source.runner_args, f"{kind} {name!r}", loc)


def _external(kind: str, task: str | None, name: Any, loc: Loc) -> Callable | None:
    """The callable of a name from outside the registry (TaskDescriptor.external), or None."""
    external = _external_names(kind, task)
    if external is None or not isinstance(name, str) or "/" not in name:
        return None
    try:
        return _resolve(external.resolver)(name)
    except LookupError as e:
        raise Problem(loc + ("name",), name, str(e)) from None


def check_run_config(cfg) -> None:
    """Registry checks of one merged RunConfig (repro.spec.RunConfig); raises Problem with a merged loc."""
    check_entry("model", cfg.model.name, dict(cfg.model.model_extra or {}), ("model",), cfg.task)
    check_entry("dataset", cfg.data.name, dict(cfg.data.model_extra or {}), ("data",), cfg.task)
    _check_augmentations(cfg.task, cfg.data.augment)
    _check_optimizer(cfg.optimizer)
    check_entry("schedule", cfg.schedule.name, dict(cfg.schedule.model_extra or {}), ("schedule",))
    for i, trick in enumerate(cfg.tricks):
        check_entry("trick", trick.name, dict(trick.model_extra or {}), ("tricks", i))
        _check_target_trick(cfg.task, trick.name, ("tricks", i, "name"))


def _check_augmentations(task: str, augment: list[str]) -> None:
    ref = TASK_CATALOG[task].augmentations
    for i, aug in enumerate(augment):
        if ref is None:
            raise Problem(("data", "augment", i), aug, f"the {task} task has no augmentations")
        check_choice(aug, tuple(_resolve(ref)), "augmentation", ("data", "augment", i))


def _check_target_trick(task: str, trick: str, loc: Loc) -> None:
    """A trick that changes the targets or the loss runs only on a task whose loss takes it."""
    accepted = TASK_CATALOG[task].target_tricks
    if trick in TARGET_CHANGING_TRICKS and trick not in accepted:
        raise Problem(loc, trick, f"trick {trick!r} changes the targets or the loss, and the {task} task "
                                  f"does not take it; target- or loss-changing tricks it takes: "
                                  f"{_names(accepted)}")


def _check_optimizer(opt) -> None:
    """`optimizer:` the name is registered; each extra key is an option of that optimizer (its signature)."""
    reg, skip = registry("optimizer"), SHARED_REGISTRIES["optimizer"].runner_args
    check_choice(opt.name, list(reg), "optimizer", ("optimizer", "name"))
    options = _params(reg[opt.name], skip)[0]
    for key in opt.model_extra or {}:
        if key not in options:
            allowed = ", ".join([*type(opt).model_fields, *options])
            raise Problem(("optimizer", key), key,
                          f"unknown key; allowed: {allowed} (optimizer {opt.name!r})")
    check_kwargs(reg[opt.name], dict(opt.model_extra or {}), skip, f"optimizer {opt.name!r}", ("optimizer",))
