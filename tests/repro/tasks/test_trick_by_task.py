"""Every trick that changes the targets or the loss, through every task (issue 24, item 6).

A pair the task catalog accepts (repro/spec/task_catalog.py) trains a few steps on synthetic data through
the runner and ends `ok` with a finite loss; a pair it does not accept is refused when the spec is
validated, with one line naming the trick, the task and the tricks of that kind the task takes.
(Before: label smoothing on a language-model spec was accepted and failed at train time, lm_loss
flattening the SmoothedTargets object.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from repro.cli import main
from repro.spec import SpecError, load_spec
from repro.spec.task_catalog import TARGET_CHANGING_TRICKS, TASK_CATALOG
from tricks.hooks import Trick
from tricks.registry import TRICKS

pytestmark = pytest.mark.usefixtures("one_thread")

ADAM = {"name": "adam", "lr": 0.001}
# per task: a base of a few steps per epoch on synthetic data (seconds, one thread)
TINY_BASES = {
    "image-classification": {
        "model": {"name": "cifar_resnet", "depth": 8},
        "data": {"name": "synthetic_images", "train_size": 64, "test_size": 16, "image_size": 8},
        "optimizer": ADAM, "batch_size": 32, "epochs": 1},
    "translation": {
        "model": {"name": "transformer", "d_model": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1,
                  "d_ff": 32},
        "data": {"name": "synthetic_copy", "subset": 40, "vocab_size": 48, "valid_subset": 4,
                 "test_subset": 4},
        "optimizer": ADAM, "batch_size": 128, "epochs": 1},
    "text-classification": {
        "model": {"name": "tiny_bert", "hidden": 16, "layers": 1},
        "data": {"name": "synthetic_text", "subset": 48, "test_subset": 16, "max_len": 16},
        "optimizer": ADAM, "batch_size": 16, "epochs": 1},
    "language-model": {
        "model": {"name": "causal_transformer", "d_model": 16, "heads": 2, "layers": 1, "ff": 32},
        "data": {"name": "synthetic_lm", "subset": 120, "vocab_size": 100, "context": 16},
        "optimizer": ADAM, "batch_size": 8, "epochs": 1},
}
METRIC = {"image-classification": "test_error", "translation": "bleu", "text-classification": "test_error",
          "language-model": "valid_loss"}

ACCEPTED = [(trick, task) for task, d in TASK_CATALOG.items() for trick in d.target_tricks]
REFUSED = [(trick, task) for task in TASK_CATALOG for trick in TARGET_CHANGING_TRICKS
           if (trick, task) not in ACCEPTED]


def write_spec(path: Path, task: str, trick: str) -> Path:
    """A spec of `task` with a plain arm and an arm with `trick` (its defaults); id = the file stem."""
    spec = {"id": path.stem, "paper": {"title": "Tiny", "venue": "test", "arxiv": "0000.00000"}, "task": task,
            "base": TINY_BASES[task], "arms": {"plain": {}, "treated": {"tricks": [{"name": trick}]}},
            "claims": [{"id": "c", "text": f"{trick} helps", "metric": METRIC[task], "treatment": "treated",
                        "baseline": "plain", "better": "lower"}],
            "profiles": {"paper": {"seeds": 1}, "cpu": {"seeds": 1}, "smoke": {"seeds": 1}}}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_the_pairs_cover_the_known_cases():
    """The parametrised lists below come from the catalog: neither may be empty, and the pair that failed
    at train time is among those that run."""
    assert set(TINY_BASES) == set(TASK_CATALOG), "give every task a tiny base here"
    assert ("label_smoothing", "language-model") in ACCEPTED
    assert ("mixup", "image-classification") in ACCEPTED and ("cutmix", "image-classification") in ACCEPTED
    assert ("mixup", "language-model") in REFUSED and ("cutmix", "text-classification") in REFUSED


def test_every_trick_that_changes_targets_or_the_loss_is_classified():
    """A trick that wraps the loss, or rewrites batches, is one the catalog must rule on per task."""
    assert set(TARGET_CHANGING_TRICKS) <= set(TRICKS)
    loss_wrappers = {name for name, cls in TRICKS.items() if cls.loss is not Trick.loss}
    batch_rewriters = {name for name, cls in TRICKS.items() if cls.batch is not Trick.batch}
    batch_observers = {"freezeout", "swa"}   # read the batch (FLOPs, BatchNorm refresh), return it as is
    assert loss_wrappers | (batch_rewriters - batch_observers) == set(TARGET_CHANGING_TRICKS)


@pytest.mark.parametrize(("trick", "task"), ACCEPTED)
def test_an_accepted_pair_trains_a_few_steps(trick, task, tmp_path):
    spec = write_spec(tmp_path / "pair.yaml", task, trick)
    dirs = ["--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data")]
    main(["run", str(spec), "--profile", "smoke", "--arms", "treated", "--no-report", "--device", "cpu",
          *dirs])
    record = json.loads((tmp_path / "res/runs/pair/smoke/treated/seed0.json").read_text())
    assert record["status"] == "ok", record.get("reason")
    losses = record["curves"]["train_loss"]
    assert losses and all(math.isfinite(v) for v in losses)


@pytest.mark.parametrize(("trick", "task"), REFUSED)
def test_a_refused_pair_stops_at_spec_validation_with_one_line(trick, task, tmp_path):
    path = write_spec(tmp_path / "pair.yaml", task, trick)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    allowed = ", ".join(TASK_CATALOG[task].target_tricks) or "(none)"
    assert "\n" not in message and message.startswith(f"{path}: arms.treated.tricks[0].name: {trick!r}: ")
    assert f"trick {trick!r}" in message and f"the {task} task" in message and allowed in message
