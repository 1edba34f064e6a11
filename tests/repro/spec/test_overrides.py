"""`--set KEY=VALUE`: applied after the merge, typed and validated like spec fields, hashed, recorded."""

import json
from pathlib import Path

import pytest
import torch
from tiny_spec import write_tiny_spec

from repro.cli import SPEC_DIR, main
from repro.execute.session import hardware_class_id, worker_threads
from repro.hardware_class import REFERENCE_FILE
from repro.jobs.plan import plan, records_overrides_would_replace
from repro.spec import config_hash, load_spec, resolve
from repro.spec.overrides import (
    OverrideError,
    parse_override,
    parse_overrides,
    resolve_overridden,
    seeds_count,
)

LABEL_SMOOTHING = SPEC_DIR / "label_smoothing.yaml"


def _resolve(*texts, profile="cpu"):
    return resolve_overridden(load_spec(LABEL_SMOOTHING), profile, parse_overrides(list(texts)))


def test_a_dotted_path_changes_that_field_of_every_arm_and_nothing_else():
    plain, changed = _resolve(), _resolve("epochs=1", "optimizer.lr=0.05")
    for arm in plain:
        assert changed[arm].epochs == 1 and changed[arm].optimizer.lr == 0.05
        assert changed[arm].optimizer.momentum == plain[arm].optimizer.momentum
        rest = {k: v for k, v in plain[arm].model_dump().items() if k not in ("epochs", "optimizer")}
        kept = {k: v for k, v in changed[arm].model_dump().items() if k not in ("epochs", "optimizer")}
        assert rest == kept
        assert config_hash(changed[arm]) != config_hash(plain[arm])


def test_values_are_yaml_typed_like_spec_fields():
    cfg = _resolve("optimizer.weight_decay=5e-4", "channels_last=false")["hard"]
    assert cfg.optimizer.weight_decay == 0.0005 and cfg.channels_last is False


def test_a_mapping_replaces_the_node_instead_of_merging():
    plain = _resolve()["hard"]
    assert plain.model.model_dump() == {"name": "cifar_resnet", "depth": 8, "width": 8}   # the cpu model
    cfg = _resolve("model={name: plain_convnet}")["hard"]
    assert cfg.model.model_dump() == {"name": "plain_convnet"}                 # depth, width did not survive


def test_arms_name_targets_one_arm_and_list_indices_walk_into_lists():
    cfgs = _resolve("arms.smoothed.tricks.0.eps=0.2", "arms.hard.epochs=3")
    assert cfgs["smoothed"].tricks[0].model_dump() == {"name": "label_smoothing", "eps": 0.2}
    assert cfgs["hard"].epochs == 3 and cfgs["smoothed"].epochs == _resolve()["smoothed"].epochs


def test_seeds_sets_the_number_of_seeds():
    assert seeds_count(parse_overrides(["seeds=10", "epochs=1"])) == 10
    assert seeds_count(parse_overrides(["epochs=1"])) is None


@pytest.mark.parametrize("text, words", [
    ("epochs=0", ["epochs", ">= 1"]),
    ("epochs=1.5", ["epochs", "integer"]),
    ("epoch=1", ["epoch", "allowed", "epochs"]),
    ("optimizer.lr=fast", ["optimizer.lr", "number"]),
    ("optimizer.name=lamb", ["optimizer.name", "sgd"]),
    ("model={name: nope}", ["model.name", "plain_convnet"]),
    ("arms.nope.epochs=1", ["nope", "hard, smoothed"]),
    ("seeds=0", ["seeds", ">= 1"]),
    ("task=translation", ["task"]),
    ("epochs", ["KEY=VALUE"]),
    ("epochs=", ["value"]),
    ("optimizer.lr=[1", ["YAML"]),
])
def test_a_bad_override_is_one_line_naming_the_key_and_what_is_allowed(text, words):
    with pytest.raises(OverrideError) as err:
        _resolve(text)
    message = str(err.value)
    assert message.startswith(f"--set {text}") and "\n" not in message
    for word in words:
        assert word.replace(">= 1", "greater than or equal to 1") in message or word in message, word


def test_an_override_cannot_drop_the_trick_a_claim_predicts_with():
    spec = load_spec(SPEC_DIR / "snapshot_ensembles.yaml")    # claims on snap02/snapshot_ensemble
    with pytest.raises(OverrideError, match="must keep the trick 'snapshot_ensemble'"):
        resolve_overridden(spec, "cpu", [parse_override("arms.snap02.tricks=[]")])


def test_cli_exits_2_with_one_line_on_a_bad_override(tmp_path, capsys):
    assert main(["run", "label_smoothing", "--set", "optimizer.lr=-1", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--set optimizer.lr=-1" in err and "greater than 0" in err


@pytest.mark.slow
def test_a_run_with_overrides_trains_that_config_and_records_the_overrides(tmp_path, one_thread):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", {"plain": {}, "other": {"optimizer": {"lr": 0.1}}},
                           "other", "plain")
    dirs = ["--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache")]
    sets = ["--set", "epochs=1", "--set", "seeds=2", "--set", "arms.other.optimizer.lr=0.02"]
    assert main(["run", str(spec), "--profile", "smoke", "--device", "cpu", *sets, *dirs]) == 0
    runs = tmp_path / "res" / "runs" / "tiny" / "smoke"
    assert sorted(p.name for p in (runs / "plain").iterdir()) == ["seed0.json", "seed1.json"]
    rec = json.loads((runs / "other" / "seed1.json").read_text())
    assert rec["overrides"] == ["epochs=1", "seeds=2", "arms.other.optimizer.lr=0.02"]
    assert rec["config"]["epochs"] == 1 and rec["config"]["optimizer"]["lr"] == 0.02
    assert rec["curves"]["epoch"] == [1]
    report = (tmp_path / "res" / "smoke" / "report.md").read_text()
    assert "--set epochs=1" in report and "--set arms.other.optimizer.lr=0.02" in report


def _own_record(res, spec, arm: str, chash: str) -> Path:
    """A finished record of `arm`, seed 0, in a folder that names this machine's class (so a run here writes
    into it, not into res/hardware/<id>/)."""
    res.mkdir(parents=True, exist_ok=True)
    here = hardware_class_id(torch.device("cpu"), worker_threads(torch.device("cpu"), 1, "local"))
    (res / REFERENCE_FILE).write_text(json.dumps({"class": here}))
    path = res / "runs" / "tiny" / "smoke" / arm / "seed0.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"config_hash": chash, "status": "ok", "spec": "tiny", "arm": arm, "seed": 0}))
    return path


def test_an_override_never_writes_over_the_specs_own_records(tmp_path, capsys):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", {"plain": {}, "other": {"optimizer": {"lr": 0.1}}},
                           "other", "plain")
    res = tmp_path / "res"
    own = _own_record(res, spec, "plain", config_hash(resolve(load_spec(spec), "smoke")["plain"]))
    before = own.read_text()
    argv = ["run", str(spec), "--profile", "smoke", "--device", "cpu", "--set", "epochs=1",
            "--results-dir", str(res), "--no-report"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "write over 1 finished record" in err and "--results-dir" in err
    assert own.read_text() == before and not (res / "runs" / "tiny" / "smoke" / "other").exists()


def test_an_override_may_replace_a_record_of_another_experiment(tmp_path):
    spec = write_tiny_spec(tmp_path / "tiny.yaml", {"plain": {}, "other": {}}, "other", "plain")
    res = tmp_path / "res"
    _own_record(res, spec, "plain", "hash-of-an-earlier-experiment")
    specs, jobs = plan([spec], "smoke", None, None, ["epochs=1"])
    assert records_overrides_would_replace(res, specs, jobs) == []
    specs, jobs = plan([spec], "smoke", None, None, None)        # no --set: the spec's own run
    assert records_overrides_would_replace(res, specs, jobs) == []
