"""`repro run ... --set KEY=VALUE`: change the resolved config of every job without editing the spec.

An override is applied after base, profile and arm are merged, then the config is validated again by the
same models and registry checks as a spec field, so its type and range are those of the spec:

    epochs=1                        every arm trains one epoch
    optimizer.lr=0.05               a dotted path into the run config
    tricks.0.eps=0.2                an integer walks into a list
    model={name: plain_convnet}     a YAML mapping (or list) replaces that node as a whole
    arms.smoothed.tricks=[]         arms.NAME. targets one arm
    seeds=10                        the number of seeds of the profile (seeds 0..9)

The value is YAML (with 1e-4 read as a float, as in spec files). Any problem is an OverrideError: one line
naming the override, the field and what is allowed. No torch import here.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import yaml

from repro.errors import UserError
from repro.spec.checks import Problem, validate
from repro.spec.load import _check_plain, _Loader, _run_config
from repro.spec.problems import field_path as _path
from repro.spec.problems import show as _show
from repro.spec.schema import Profile, Spec

SEEDS = "seeds"
_MARK = "--set"          # first element of an origin that came from an override (see repro.spec._locate)
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


class OverrideError(UserError):
    """A bad --set: str(e) is one line '--set KEY=VALUE: <what is wrong and what is allowed>'."""


@dataclass(frozen=True)
class Override:
    text: str                    # as the user wrote it: "optimizer.lr=0.05"
    path: tuple[str, ...]        # into the run config (or ("seeds",))
    value: Any
    arm: str | None = None       # arms.NAME.…: only that arm


def parse_override(text: str) -> Override:
    """'a.b=VALUE' -> Override; the value is parsed as YAML."""
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise OverrideError(f"--set {text}: write KEY=VALUE, e.g. epochs=1 or optimizer.lr=0.05")
    path = tuple(key.split("."))
    bad = [p for p in path if not _KEY.fullmatch(p)]
    if bad:
        raise OverrideError(f"--set {text}: {key!r}: a dotted path of names like optimizer.lr or "
                            f"arms.NAME.epochs ({bad[0]!r} is not a name)")
    if raw.strip() == "":
        raise OverrideError(f"--set {text}: give a value after '=' (YAML: 1, 0.05, true, [a, b], {{k: v}})")
    try:
        value = yaml.load(raw, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
        _check_plain(value, path)
    except yaml.YAMLError as err:
        raise OverrideError(f"--set {text}: the value is not valid YAML "
                            f"({' '.join(str(err).split())})") from None
    except Problem as p:
        raise OverrideError(f"--set {text}: {_path(p.loc)}: {_show(p.value)}: {p.allowed}") from None
    arm = None
    if path[0] == "arms":
        if len(path) < 3:
            raise OverrideError(f"--set {text}: arms.NAME.KEY=VALUE targets one arm, e.g. arms.NAME.epochs=1")
        arm, path = path[1], path[2:]
    if path[0] == "task":
        raise OverrideError(f"--set {text}: the task is part of the comparison and cannot be overridden")
    if path[0] == SEEDS:
        if arm is not None or len(path) > 1:
            raise OverrideError(f"--set {text}: seeds is per profile: seeds=N (for every arm)")
        try:
            validate(Profile, {"seeds": value})
        except Problem as p:
            raise OverrideError(f"--set {text}: seeds: {_show(p.value)}: {p.allowed}") from None
    return Override(text, path, value, arm)


def parse_overrides(texts: list[str] | None) -> list[Override]:
    return [parse_override(t) for t in texts or []]


def seeds_count(overrides: list[Override]) -> int | None:
    """The seeds=N of the overrides (the last one wins), or None."""
    counts = [o.value for o in overrides if o.path == (SEEDS,)]
    return counts[-1] if counts else None


def config_overrides(overrides: list[Override]) -> list[Override]:
    """The overrides that change run configs (all but seeds=N)."""
    return [o for o in overrides if o.path != (SEEDS,)]


def apply_overrides(config: dict, overrides: list[Override], arm: str) -> dict[tuple, tuple]:
    """Apply to the merged config dict of `arm` in place; returns path -> origin for error messages."""
    origins = {}
    for o in overrides:
        if o.arm is not None and o.arm != arm:
            continue
        _set(config, o, arm)
        origins[o.path] = (_MARK, o.text) + o.path
    return origins


def _set(config: dict, o: Override, arm: str) -> None:
    node: Any = config
    for i, key in enumerate(o.path):
        last = i == len(o.path) - 1
        where = ".".join(o.path[: i + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                whole = ".".join(o.path[:i])
                raise OverrideError(f"--set {o.text}: {where}: a list of {len(node)} here; use an index "
                                    f"0..{len(node) - 1} or replace the list, e.g. {whole}=[...]")
            key = int(key)
        elif isinstance(node, dict):
            if not last and o.path[i + 1].isdigit() and not isinstance(node.get(key), list):
                raise OverrideError(f"--set {o.text}: {where}: arm {arm!r} has no list here; set it as a "
                                    f"whole ({where}=[...]) or target one arm (arms.NAME.{'.'.join(o.path)})")
            if not last and not isinstance(node.get(key), (dict, list)):
                node[key] = {}      # a missing section (or an unset option): start it
        else:
            raise OverrideError(f"--set {o.text}: {'.'.join(o.path[:i])} is {_show(node)}, not a mapping; "
                                f"set it as a whole, e.g. {'.'.join(o.path[:i])}={{...}}")
        if last:
            node[key] = copy.deepcopy(o.value)
        else:
            node = node[key]


def resolve_overridden(spec: Spec, profile: str, overrides: list[Override]) -> dict:
    """arm -> RunConfig with the overrides applied, validated like spec fields (repro.spec.resolve)."""
    overrides = config_overrides(overrides)
    for o in overrides:
        if o.arm is not None and o.arm not in spec.arms:
            raise OverrideError(f"--set {o.text}: no arm {o.arm!r}; arms are {', '.join(spec.arms)}")
    configs = {}
    for arm in spec.arms:
        def edit(merged: dict, origin: dict, arm=arm) -> None:
            for path, where in apply_overrides(merged, overrides, arm).items():
                for old in [k for k in origin if k[: len(path)] == path]:
                    del origin[old]
                origin[path] = where
        try:
            configs[arm] = _run_config(spec, profile, arm, edit)
        except Problem as p:
            raise OverrideError(_message(p, overrides)) from None
    _check_claim_tricks(spec, configs, overrides)
    return configs


def _message(p: Problem, overrides: list[Override]) -> str:
    loc = p.loc if isinstance(p.loc, tuple) else ()
    if loc[:1] == (_MARK,):
        text, field = loc[1], loc[2:]
    else:                                  # an error elsewhere that the overrides caused together
        text, field = " --set ".join(o.text for o in overrides), loc
    return " ".join(f"--set {text}: {_path(field) if field else p.loc}: {_show(p.value)}: "
                    f"{p.allowed}".split())


def _check_claim_tricks(spec: Spec, configs: dict, overrides: list[Override]) -> None:
    """A claim 'arm/predictor' needs that trick in its arm after the overrides, too."""
    for claim in spec.claims:
        for ref in (claim.treatment, claim.baseline):
            arm, _, predictor = ref.partition("/")
            if predictor and predictor not in [t.name for t in configs[arm].tricks]:
                texts = " --set ".join(o.text for o in overrides)
                raise OverrideError(f"--set {texts}: claim {claim.id!r} compares {ref!r}: arm {arm!r} must "
                                    f"keep the trick {predictor!r}")
