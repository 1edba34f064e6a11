"""Which records are of the spec as it is now: a record whose resolved config differs from the arm's config
at its profile (the spec was re-sized since it ran) is stale and is judged by no claim, no plateau check.

The comparison is on the record's `config` against the spec's resolved RunConfig (with the record's own
--set overrides applied), leaving out the values a run sets itself: optimizer.lr where the spec's LR range
test sets it, and the tuned parameter of an arm with `tune:`.
"""

from __future__ import annotations

import copy

import pandas as pd

from repro.spec import Spec, resolve
from repro.spec.overrides import OverrideError, parse_override, resolve_overridden


def current_records(records: pd.DataFrame, spec: Spec, profile: str) -> tuple[pd.DataFrame, int]:
    """(the records of `spec` at `profile` whose config is the spec's current one, how many were stale)."""
    if records.empty or profile not in spec._configs:   # a spec built in memory has no resolved configs
        return records, 0
    cache: dict[tuple[str, ...], dict] = {}
    keep = [_is_current(row, spec, profile, cache) for _, row in records.iterrows()]
    return records[keep], keep.count(False)


def _is_current(row, spec: Spec, profile: str, cache: dict) -> bool:
    config, arm = row["config"], row["arm"]
    if not config or arm not in spec.arms:
        return not config          # a record without its config (a hand-made test row) is not judged stale
    texts = tuple(row["overrides"] or ())
    if texts not in cache:
        cache[texts] = _configs(spec, profile, texts)
    expected = cache[texts].get(arm)
    return expected is not None and _comparable(spec, arm, expected) == _comparable(spec, arm, config)


def _configs(spec: Spec, profile: str, texts: tuple[str, ...]) -> dict:
    try:
        configs = resolve_overridden(spec, profile, [parse_override(t) for t in texts]) if texts \
            else resolve(spec, profile)
    except (OverrideError, ValueError):
        return {}
    return {arm: cfg.model_dump(mode="json") for arm, cfg in configs.items()}


def _comparable(spec: Spec, arm: str, config: dict) -> dict:
    """The config without the values the run chose itself (the range test's lr, a tuned parameter)."""
    out = copy.deepcopy(config)
    if spec.lr_finder is not None and spec.lr_finder.sets_lr_of(arm):
        out.get("optimizer", {}).pop("lr", None)
    tune = out.get("tune")
    if isinstance(tune, dict) and tune.get("param"):
        *parents, leaf = str(tune["param"]).split(".")
        node = out
        for key in parents:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return out
