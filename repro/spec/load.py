"""Specs: one YAML file per paper, validated into typed objects before anything trains.

A spec has `base` (shared by every arm), `arms` (each overrides base), `claims` (comparisons of arms)
and `profiles` (smoke / cpu / paper) that change the scale, never the comparison. The config of an arm
under a profile is the deep merge `merge(base, profile.base, arms[arm], profile.arms[arm])`: mappings
merge recursively, lists and scalars replace. Every arm is resolved and checked under every profile at
load time, so a mistake in the paper profile is caught on a laptop.

Any problem becomes a `SpecError` whose message is one line:
`<file>: <field.path>: <bad value repr>: <what is allowed>`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from repro.spec.checks import MISSING, Problem, check_run_config, validate
from repro.spec.problems import SpecError, format_problem, one_of
from repro.spec.schema import RunConfig, Spec
from repro.spec.tuning import check_tune

REQUIRED_PROFILES = ("smoke", "cpu", "paper")
COMPARISON_KEYS = ("id", "paper", "task", "claims")  # what a profile may never redefine
_SCALE_ONLY = "a profile may change scale, never the comparison"


def load_spec(path: str | Path, check_registries: bool = True) -> Spec:
    """Read, validate and resolve a spec file; any problem raises SpecError (one line, no traceback).

    check_registries=False leaves out the model / dataset / schedule / trick argument checks, which import
    the registries and with them torch: for listing specs only (`repro list`), never before a run."""
    try:
        return _load(Path(path), str(path), check_registries)
    except Problem as p:
        raise SpecError(format_problem(str(path), p)) from None


def resolve(spec: Spec, profile: str) -> dict[str, RunConfig]:
    """arm -> fully merged, validated RunConfig under `profile` (a fresh copy each call); with --set
    overrides, repro.spec.overrides.resolve_overridden."""
    spec.profile(profile)
    return {arm: cfg.model_copy(deep=True) for arm, cfg in spec._configs[profile].items()}


def config_hash(cfg: RunConfig | dict) -> str:
    """sha256 of the canonical JSON of a config (sorted keys, no whitespace): key order never matters."""
    data = cfg.model_dump(mode="json") if isinstance(cfg, BaseModel) else cfg
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def deep_merge(*layers: dict) -> dict:
    """Merge mappings left to right: dicts merge recursively, lists and scalars replace; inputs unchanged."""
    return _merge([((), layer) for layer in layers])[0]


# ---------------------------------------------------------------- loading


def _load(path: Path, name: str, check_registries: bool = True) -> Spec:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise Problem("(top level)", data, f"a spec is a mapping with keys {', '.join(Spec.model_fields)}")
    try:
        _check_plain(data, ())
    except RecursionError:
        raise Problem("(file)", str(path), "nested too deeply (a YAML alias that contains itself?)") from None
    _check_profile_keys(data.get("profiles"))
    spec = validate(Spec, data)
    spec._path = name
    _check_spec(spec)
    for profile in spec.profiles:
        spec._configs[profile] = {arm: _run_config(spec, profile, arm, registries=check_registries)
                                  for arm in spec.arms}
    _check_predictors(spec)
    if spec.id != path.stem:      # one name per spec: CLI, results folders and report anchors use it
        raise Problem("id", spec.id, f"must equal the file name {path.stem!r} (the file name is the id)")
    return spec


class _Loader(yaml.SafeLoader):
    """safe_load, plus: duplicate keys are errors, and 1e-4 / 1.0e4 are floats (YAML 1.2), not strings."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise Problem("(file)", str(path), f"cannot read the spec: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise Problem("(file)", str(path), f"not UTF-8 text ({e.reason})") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        lines = text.splitlines()
        line = lines[mark.line].strip() if mark and mark.line < len(lines) else ""
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        what = "; ".join(str(s) for s in (e.context, e.problem) if s)
        raise Problem(where, line, f"invalid YAML: {what}") from None
    except yaml.YAMLError as e:
        raise Problem("(file)", str(path), f"invalid YAML: {e}") from None


def _check_plain(value: Any, loc: tuple) -> None:
    """Only what JSON holds: string keys, str/int/finite float/bool/null, lists, mappings (no dates, sets)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise Problem(loc + (str(key),), key, "keys must be strings (quote it in YAML)")
            _check_plain(item, loc + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_plain(item, loc + (i,))
    elif isinstance(value, float) and not math.isfinite(value):
        raise Problem(loc, value, "must be a finite number")
    elif value is not None and not isinstance(value, (str, bool, int, float)):
        raise Problem(loc, value, f"a {type(value).__name__} is not allowed; quote it to make it a string")


def _check_profile_keys(profiles: Any) -> None:
    for name, body in profiles.items() if isinstance(profiles, dict) else ():
        for key in body if isinstance(body, dict) else ():
            if key in COMPARISON_KEYS:
                raise Problem(("profiles", name, key), key, f"{_SCALE_ONLY}; it sets seeds, base, arms")


def _check_spec(spec: Spec) -> None:
    """Cross-field rules pydantic cannot see: required profiles, profile arms, claim references."""
    for name in REQUIRED_PROFILES:
        if name not in spec.profiles:
            raise Problem(("profiles", name), MISSING, f"required profiles: {', '.join(REQUIRED_PROFILES)}")
    for name, profile in spec.profiles.items():
        for arm in profile.arms:
            if arm not in spec.arms:
                allowed = f"{_SCALE_ONLY}; it may adjust arms {', '.join(spec.arms)}"
                raise Problem(("profiles", name, "arms", arm), arm, allowed)
    if spec.lr_finder is not None:
        for loc, arm in [(("lr_finder", "arm"), spec.lr_finder.arm),
                         *((("lr_finder", "scale", a), a) for a in spec.lr_finder.scale),
                         *((("lr_finder", "arms", i), a) for i, a in enumerate(spec.lr_finder.arms or []))]:
            if arm not in spec.arms:
                raise Problem(loc, arm, f"not an arm; {one_of('arms', spec.arms)}")
        if spec.lr_finder.start_lr >= spec.lr_finder.end_lr:
            raise Problem(("lr_finder", "end_lr"), spec.lr_finder.end_lr, "must be larger than start_lr")
    for arm, base in spec.baselines.items():
        for loc, name in ((("baselines", arm), arm), (("baselines", arm), base)):
            if name not in spec.arms:
                raise Problem(loc, name, f"not an arm; {one_of('arms', spec.arms)}")
    seen: set[str] = set()
    for i, claim in enumerate(spec.claims):
        if claim.id in seen:
            raise Problem(("claims", i, "id"), claim.id, "duplicate claim id; each claim needs its own")
        seen.add(claim.id)
        for field in ("treatment", "baseline"):
            _check_arm_ref(spec, getattr(claim, field), ("claims", i, field))
        if claim.treatment == claim.baseline:
            raise Problem(("claims", i, "baseline"), claim.baseline, "must differ from the treatment")
        if claim.kind == "noninferiority" and claim.margin is None:
            raise Problem(("claims", i, "margin"), MISSING, "a noninferiority claim needs a margin >= 0")
        if claim.kind != "noninferiority" and claim.margin is not None:
            raise Problem(("claims", i, "margin"), claim.margin, "only a noninferiority claim has a margin")
        for j, cond in enumerate(claim.conditions):
            _check_arm_ref(spec, cond.arm, ("claims", i, "conditions", j, "arm"))
            if cond.above is None and cond.below is None:
                raise Problem(("claims", i, "conditions", j), MISSING, "a condition needs above: or below:")
    _check_regime(spec)


def _check_regime(spec: Spec) -> None:
    """The regime arm is an arm; each doubling maps a profile to another profile of the spec."""
    if spec.regime.arm is not None and spec.regime.arm not in spec.arms:
        raise Problem(("regime", "arm"), spec.regime.arm, f"not an arm; {one_of('arms', spec.arms)}")
    for profile, doubled in spec.regime.doubling.items():
        for name in (profile, doubled):
            if name not in spec.profiles:
                raise Problem(("regime", "doubling", profile), name,
                              f"not a profile; {one_of('profiles', spec.profiles)}")
        if profile == doubled:
            raise Problem(("regime", "doubling", profile), doubled,
                          "must be another profile (twice the budget)")


def _check_arm_ref(spec: Spec, ref: str, loc: tuple) -> None:
    arm, slash, predictor = ref.partition("/")
    if arm not in spec.arms or "/" in predictor or (slash and not predictor):
        raise Problem(loc, ref, f"must be 'arm' or 'arm/predictor' with {one_of('arm', spec.arms)}")


def _check_predictors(spec: Spec) -> None:
    """'arm/predictor' names a trick listed in that arm, under every profile."""
    for i, claim in enumerate(spec.claims):
        for field in ("treatment", "baseline"):
            ref = getattr(claim, field)
            arm, _, predictor = ref.partition("/")
            for profile, configs in spec._configs.items():
                tricks = [t.name for t in configs[arm].tricks]
                if predictor and predictor not in tricks:
                    allowed = f"{predictor!r} is not a trick of arm {arm!r} under profile {profile!r}; its "
                    raise Problem(("claims", i, field), ref, allowed + one_of("tricks", tricks))


# ---------------------------------------------------------------- merging and resolving


def _run_config(spec: Spec, profile: str, arm: str, edit=None, registries: bool = True) -> RunConfig:
    layers = [
        (("base",), spec.base),
        (("profiles", profile, "base"), spec.profiles[profile].base),
        (("arms", arm), spec.arms[arm]),
        (("profiles", profile, "arms", arm), spec.profiles[profile].arms.get(arm, {})),
    ]
    merged, origin = _merge(layers)
    if edit is not None:      # --set overrides (repro/spec/overrides.py): edit(merged, origin) in place
        edit(merged, origin)
    try:
        if "task" in merged:
            raise Problem(("task",), merged["task"], "the task is set once, at the top level of the spec")
        merged["task"] = spec.task
        cfg = validate(RunConfig, merged)
        if cfg.optimizer.nesterov and cfg.optimizer.momentum == 0:
            raise Problem(("optimizer", "nesterov"), True, "nesterov needs momentum > 0")
        if registries:
            check_run_config(cfg)
        check_tune(cfg)
    except Problem as p:
        loc = _locate(p.loc, origin) if isinstance(p.loc, tuple) else p.loc
        raise Problem(loc, p.value, f"{p.allowed} (arm {arm!r}, profile {profile!r})") from None
    return cfg


def _merge(layers: list[tuple[tuple, dict]]) -> tuple[dict, dict[tuple, tuple]]:
    """Deep-merge the layers; also return origin: merged loc -> the loc where the user wrote it."""
    merged: dict = {}
    origin: dict[tuple, tuple] = {}
    for prefix, layer in layers:
        _merge_into(merged, layer, (), prefix, origin)
    return merged, origin


def _merge_into(dst: dict, src: dict, loc: tuple, prefix: tuple, origin: dict) -> None:
    for key, value in src.items():
        here = loc + (key,)
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _merge_into(dst[key], value, here, prefix, origin)
            continue
        for old in [k for k in origin if k[: len(here)] == here]:
            del origin[old]
        dst[key] = copy.deepcopy(value)
        origin[here] = prefix + here


def _locate(loc: tuple, origin: dict[tuple, tuple]) -> tuple:
    """Where the user wrote the value at merged `loc` (or would write a missing one)."""
    for i in range(len(loc), 0, -1):
        if loc[:i] in origin:
            return origin[loc[:i]] + loc[i:]
    return ("base",) + loc
