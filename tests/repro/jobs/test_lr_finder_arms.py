"""`lr_finder: {arms: [...]}`: the found lr replaces optimizer.lr of the listed arms only; unset, every arm
(and the range test's cache key of specs written before the option stays the same)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_spec import tiny_mlp_spec_text

from repro.jobs.job import Job
from repro.jobs.lr_search import apply_lr_finder
from repro.spec import SPEC_DIR, load_spec, resolve
from repro.spec.problems import SpecError

SPEC = tiny_mlp_spec_text(
    "finder", "{name: sgd, lr: 0.1}", "  fixed: {}\n  found: {}\n  found_x2: {}",
    "{id: c, text: c, metric: test_error, treatment: found, baseline: fixed, better: lower}",
    extra="lr_finder: {arm: found, arms: [found, found_x2], scale: {found_x2: 2.0}}\n")


def _spec(tmp_path: Path, text: str = SPEC):
    (tmp_path / "finder.yaml").write_text(text)
    return load_spec(tmp_path / "finder.yaml")


def test_the_found_lr_goes_to_the_listed_arms_only(tmp_path, monkeypatch):
    spec = _spec(tmp_path)
    monkeypatch.setattr("repro.jobs.lr_search.found_lr", lambda *a: 0.25)
    jobs = [Job("finder", "smoke", arm, 0, cfg) for arm, cfg in resolve(spec, "smoke").items()]
    lrs = {j.arm: j.config.optimizer.lr for j in apply_lr_finder({"finder": spec}, jobs, tmp_path,
                                                                  torch.device("cpu"), tmp_path)}
    assert lrs == {"fixed": 0.1, "found": 0.25, "found_x2": 0.5}


def test_unset_arms_stay_out_of_the_dump_and_unknown_arms_fail(tmp_path):
    finder = load_spec(SPEC_DIR / "ulmfit_amazon.yaml").lr_finder
    assert finder.arms is None and "arms" not in finder.model_dump(mode="json")
    assert finder.sets_lr_of("anything")
    with pytest.raises(SpecError, match=r"lr_finder\.arms\[1\]: 'nope': not an arm"):
        _spec(tmp_path, SPEC.replace("arms: [found, found_x2]", "arms: [found, nope]"))
