"""Spec loading: every malformed spec is one SpecError line naming file, field path and bad value.

The registries (models, datasets, schedules, tricks) are replaced by small fakes, so these tests do not
depend on the real modules or on torch.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import sys
import types
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro.errors import UserError
from repro.spec import SpecError, config_hash, deep_merge, load_spec, resolve

FIXTURE = Path(__file__).parent / "fixtures" / "specs" / "valid.yaml"
VALID = yaml.safe_load(FIXTURE.read_text())
DELETE = object()


# ---------------------------------------------------------------- fake registries


def cifar_resnet(num_classes: int, in_channels: int, depth: int = 20, width: int = 16):
    return None


def vgg(num_classes, in_channels, dropout: float = 0.5):
    return None


def cifar10(data_root, device, subset: int | None = None, test_subset: int | None = None):
    return None


def fashion_mnist(data_root, device, subset: int | None = None):
    return None


def synthetic_images(data_root, device, subset: int | None = None, image_size: int = 16):
    return None


def make_step(lr, total_steps, steps_per_epoch, milestones: tuple[float, ...] = (0.5, 0.75),
              gamma: float = 0.1):
    return None


def make_snapshot_cosine(lr, total_steps, steps_per_epoch, cycles: int = 5):
    return None


def make_constant(lr, total_steps, steps_per_epoch):
    return None


class SnapshotEnsemble:
    def __init__(self, last: int):
        pass


class EMA:
    def __init__(self, decay: float = 0.999, warmup: bool = False):
        pass


class Anything:
    def __init__(self, **kwargs):
        pass


FAKES = {
    "repro.tasks.image.models": {"MODELS": {"cifar_resnet": cifar_resnet, "vgg": vgg}},
    "repro.tasks.image.data": {
        "DATASETS": {"cifar10": cifar10, "fashion_mnist": fashion_mnist,
                     "synthetic_images": synthetic_images},
        "AUGMENTATIONS": ("pad_crop", "hflip"),
    },
    "tricks.schedules": {
        "SCHEDULES": {"constant": make_constant, "step": make_step, "snapshot_cosine": make_snapshot_cosine}
    },
    "tricks.registry": {"TRICKS": {"snapshot_ensemble": SnapshotEnsemble, "ema": EMA, "anything": Anything}},
}


@pytest.fixture(autouse=True)
def fake_registries(monkeypatch):
    for name, attrs in FAKES.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))


# ---------------------------------------------------------------- helpers


def mutated(*changes) -> dict:
    """A copy of VALID with ("a.b.0.c", value) changes applied; value DELETE removes the key."""
    data = copy.deepcopy(VALID)
    for dotted, value in changes:
        *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        node = data
        for p in parents:
            node = node[p]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list) and last == len(node):
            node.append(value)
        else:
            node[last] = value
    return data


def write(path: Path, data) -> Path:
    if isinstance(data, dict) and data.get("id") == VALID["id"]:
        data = {**data, "id": path.stem}      # the id is the file name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: "), msg
    assert isinstance(info.value, UserError)
    return msg


# ---------------------------------------------------------------- malformed specs

# (changes, field path, bad value repr, words from "what is allowed")
MALFORMED = {
    "unknown top-level key": ([("author", "Huang")], "author", "'author'", "unknown key; allowed: id, paper"),
    "unknown nested key": ([("base.optimizer.momentun", 0.9)], "base.optimizer.momentun", "'momentun'",
                           "allowed: name, lr, momentum"),
    "unknown paper key": ([("paper.year", 2017)], "paper.year", "'year'", "allowed: title, venue, arxiv"),
    "wrong type": ([("base.batch_size", "64")], "base.batch_size", "'64'", "valid integer"),
    "negative batch size": ([("base.batch_size", -1)], "base.batch_size", "-1", "greater than or equal to 1"),
    "fractional epochs": ([("base.epochs", 1.5)], "base.epochs", "1.5", "valid integer"),
    "zero lr in an arm": ([("arms.snapshot.optimizer.lr", 0)], "arms.snapshot.optimizer.lr", "0",
                          "greater than 0"),
    "unknown optimizer": ([("base.optimizer.name", "sdg")], "base.optimizer.name", "'sdg'",
                          "did you mean 'sgd'?); allowed: sgd, adam"),
    "bad precision": ([("base.precision", "fp8")], "base.precision", "'fp8'", "'bf16'"),
    "nesterov without momentum": ([("base.optimizer.momentum", 0)], "base.optimizer.nesterov", "True",
                                  "momentum > 0"),
    "missing lr": ([("base.optimizer.lr", DELETE)], "base.optimizer.lr", "(missing)", "required"),
    "unknown trick": ([("arms.snapshot.tricks.0.name", "snapshott")], "arms.snapshot.tricks[0].name",
                      "'snapshott'", "(did you mean 'snapshot_ensemble'?); allowed: snapshot_ensemble, ema"),
    "unknown trick kwarg": ([("arms.snapshot.tricks.0.lastt", 5)], "arms.snapshot.tricks[0].lastt", "'lastt'",
                            "allowed arguments of trick 'snapshot_ensemble': last"),
    "missing trick kwarg": ([("arms.snapshot.tricks.0.last", DELETE)], "arms.snapshot.tricks[0].last",
                            "(missing)", "required argument"),
    "trick kwarg type": ([("arms.snapshot.tricks.0.last", "five")], "arms.snapshot.tricks[0].last", "'five'",
                         "valid integer"),
    "unknown model": ([("base.model.name", "resnet")], "base.model.name", "'resnet'",
                      "unknown model (did you mean 'cifar_resnet'?); allowed: cifar_resnet, vgg"),
    "unknown model kwarg": ([("base.model.widht", 2)], "base.model.widht", "'widht'", "depth, width"),
    "model kwarg for another model": ([("arms.single.model", {"name": "vgg"})], "base.model.depth", "'depth'",
                                      "model 'vgg': dropout"),
    "unknown dataset": ([("base.data.name", "cifar11")], "base.data.name", "'cifar11'", "unknown dataset"),
    "bad augment": ([("base.data.augment", ["pad_crop", "rotate"])], "base.data.augment[1]", "'rotate'",
                    "allowed: pad_crop, hflip"),
    "unknown schedule": ([("arms.single.schedule.name", "cosinee")], "arms.single.schedule.name", "'cosinee'",
                         "unknown schedule"),
    "unknown schedule kwarg": ([("arms.single.schedule.gama", 0.1)], "arms.single.schedule.gama", "'gama'",
                               "milestones, gamma"),
    "schedule kwarg type": ([("arms.single.schedule.milestones", "half")], "arms.single.schedule.milestones",
                            "'half'", "must be a list"),
    "schedule kwarg item type": ([("arms.single.schedule.milestones", [0.5, "x"])],
                                 "arms.single.schedule.milestones[1]", "'x'", "must be a valid number"),
    "claim names a missing arm": ([("claims.0.baseline", "singel")], "claims[0].baseline", "'singel'",
                                  "with arm: single, snapshot"),
    "claim predictor not a trick": ([("claims.0.treatment", "snapshot/ema")], "claims[0].treatment",
                                    "'snapshot/ema'", "its tricks: snapshot_ensemble"),
    "predictor dropped by a profile": ([("profiles.cpu.arms.snapshot.tricks", [{"name": "ema"}])],
                                       "claims[0].treatment", "'snapshot/snapshot_ensemble'",
                                       "under profile 'cpu'"),
    "treatment equals baseline": ([("claims.0.baseline", "snapshot/snapshot_ensemble")], "claims[0].baseline",
                                  "'snapshot/snapshot_ensemble'", "differ"),
    "noninferiority without margin": ([("claims.0.kind", "noninferiority")], "claims[0].margin", "(missing)",
                                      "needs a margin"),
    "margin on a superiority claim": ([("claims.0.margin", 0.5)], "claims[0].margin", "0.5",
                                      "only a noninferiority claim"),
    "bad better": ([("claims.0.better", "smaller")], "claims[0].better", "'smaller'", "'lower' or 'higher'"),
    "bad metric": ([("claims.0.metric", "test error")], "claims[0].metric", "'test error'", "metric name"),
    "published not a number": ([("claims.0.published.single", "5.52%")], "claims[0].published.single",
                               "'5.52%'", "valid number"),
    "duplicate claim id": ([("claims.1", VALID["claims"][0])], "claims[1].id", "'beats-single'", "duplicate"),
    "no claims": ([("claims", [])], "claims", "[]", "must have at least 1 item"),
    "no arms": ([("arms", {})], "arms", "{}", "at least 1"),
    "bad arm name": ([("arms.Big Arm", {})], "arms.'Big Arm'", "'Big Arm'", "slug"),
    "profile adds an arm": ([("profiles.cpu.arms.extra", {"epochs": 1})], "profiles.cpu.arms.extra",
                            "'extra'", "a profile may change scale, never the comparison"),
    "profile redefines claims": ([("profiles.cpu.claims", [])], "profiles.cpu.claims", "'claims'",
                                 "never the comparison"),
    "missing cpu profile": ([("profiles.cpu", DELETE)], "profiles.cpu", "(missing)", "smoke, cpu, paper"),
    "zero seeds": ([("profiles.smoke.seeds", 0)], "profiles.smoke.seeds", "0", "greater than or equal to 1"),
    "bad value in a profile": ([("profiles.cpu.base.epochs", 0)], "profiles.cpu.base.epochs", "0",
                               "profile 'cpu'"),
    "bad value in a profile arm": ([("profiles.cpu.arms.snapshot.optimizer", {"lr": -0.1})],
                                   "profiles.cpu.arms.snapshot.optimizer.lr", "-0.1", "greater than 0"),
    "task inside base": ([("base.task", "translation")], "base.task", "'translation'", "top level"),
    "unknown task": ([("task", "regression")], "task", "'regression'", "'image-classification'"),
    "id not a slug": ([("id", "Snapshot Ensembles")], "id", "'Snapshot Ensembles'", "slug"),
    "arxiv as a number": ([("paper.arxiv", 1704.00109)], "paper.arxiv", "1704.00109", "quote it"),
    "a date": ([("paper.venue", datetime.date(2017, 4, 24))], "paper.venue", "datetime.date(2017, 4, 24)",
               "quote it"),
    "non-finite number": ([("base.optimizer.lr", float("inf"))], "base.optimizer.lr", "inf", "finite"),
    "arm not a mapping": ([("arms.single", [1, 2])], "arms.single", "[1, 2]", "mapping"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_spec_is_one_line_naming_file_path_and_value(tmp_path, case):
    changes, field, value, allowed = MALFORMED[case]
    msg = error_of(write(tmp_path / "bad.yaml", mutated(*changes)))
    assert f": {field}: {value}: " in msg, msg
    assert allowed in msg, msg


RAW = {
    "bad yaml syntax": ("id: x\npaper: {title: [unclosed\n", "line 3, column 1", "invalid YAML"),
    "tab indentation": ("id: x\npaper:\n\ttitle: y\n", "line 3, column 1", "invalid YAML"),
    "a list, not a mapping": ("- a\n- b\n", "(top level): ['a', 'b']", "a spec is a mapping with keys id"),
    "empty file": ("", "(top level): None", "a spec is a mapping with keys id"),
    "duplicate key": (FIXTURE.read_text().replace("  epochs: 200\n", "  epochs: 200\n  epochs: 100\n"),
                      "line 11, column 3: 'epochs: 100'", "duplicate key 'epochs'"),
    "non-string key": ("1: x\n", "1: 1", "keys must be strings"),
    "recursive alias": ("id: &x [*x]\n", "(file)", "nested too deeply"),
    "python tag": ("id: !!python/object:os.system x\n", "line 1, column 5", "invalid YAML"),
}


@pytest.mark.parametrize("case", list(RAW), ids=list(RAW))
def test_malformed_yaml_is_one_line_with_position(tmp_path, case):
    text, where, allowed = RAW[case]
    msg = error_of(write(tmp_path / "raw.yaml", text))
    assert f": {where}" in msg and allowed in msg, msg


def test_missing_file(tmp_path):
    msg = error_of(tmp_path / "nope.yaml")
    assert "cannot read" in msg


def test_unknown_profile_lists_profiles(tmp_path):
    spec = load_spec(write(tmp_path / "ok.yaml", VALID))
    for call in (lambda: resolve(spec, "gpu"), lambda: spec.seeds("gpu")):
        with pytest.raises(SpecError, match=r"ok\.yaml: profile: 'gpu': unknown profile; allowed: paper"):
            call()


# ---------------------------------------------------------------- valid specs


def test_fixture_resolves_every_arm_under_every_profile():
    spec = load_spec(FIXTURE)
    assert [spec.seeds(p) for p in ("paper", "cpu", "smoke")] == [3, 3, 1]
    for profile in spec.profiles:
        configs = resolve(spec, profile)
        assert set(configs) == {"single", "snapshot"}
        for cfg in configs.values():
            assert json.loads(json.dumps(cfg.model_dump())) == cfg.model_dump(mode="json")


def test_merge_order_base_profile_arm_profile_arm(tmp_path):
    data = mutated(("base.epochs", 10), ("profiles.cpu.base.epochs", 20), ("arms.snapshot.epochs", 30),
                   ("profiles.cpu.arms.snapshot.epochs", 40))
    spec = load_spec(write(tmp_path / "s.yaml", data))
    epochs = {(p, a): c.epochs for p in ("paper", "cpu") for a, c in resolve(spec, p).items()}
    assert epochs == {("paper", "single"): 10, ("paper", "snapshot"): 30,
                      ("cpu", "single"): 20, ("cpu", "snapshot"): 40}


def test_dicts_merge_lists_replace():
    spec = load_spec(FIXTURE)
    cpu, smoke = resolve(spec, "cpu"), resolve(spec, "smoke")
    assert cpu["snapshot"].model.model_dump() == {"name": "cifar_resnet", "depth": 20}
    assert cpu["snapshot"].optimizer.lr == 0.2 and cpu["snapshot"].optimizer.momentum == 0.9
    assert cpu["snapshot"].data.augment == ["pad_crop", "hflip"] and smoke["single"].data.augment == []
    assert [t.model_dump() for t in cpu["snapshot"].tricks] == [{"name": "snapshot_ensemble", "last": 3}]
    assert cpu["snapshot"].schedule.model_dump() == {"name": "snapshot_cosine", "cycles": 3}
    assert cpu["single"].optimizer.weight_decay == 1e-4  # written as 1e-4: a float, not the string "1e-4"


def test_defaults(tmp_path):
    cfg = resolve(load_spec(FIXTURE), "paper")["single"]
    assert (cfg.precision, cfg.channels_last, cfg.eval_every) == ("fp32", None, 1)
    assert (cfg.optimizer.betas, cfg.optimizer.eps) == ((0.9, 0.999), 1e-8)
    data = mutated(("arms.single", {}))
    plain = resolve(load_spec(write(tmp_path / "s.yaml", data)), "paper")["single"]
    assert plain.schedule.model_dump() == {"name": "constant"} and plain.tricks == []


def test_deep_merge_does_not_change_its_inputs():
    a, b = {"x": {"y": 1, "z": [1, 2]}, "k": 1}, {"x": {"z": [3]}, "k": {"n": 2}}
    before = copy.deepcopy((a, b))
    assert deep_merge(a, b) == {"x": {"y": 1, "z": [3]}, "k": {"n": 2}}
    assert (a, b) == before


def test_resolve_returns_copies():
    spec = load_spec(FIXTURE)
    resolve(spec, "cpu")["single"].tricks.append(None)
    assert resolve(spec, "cpu")["single"].tricks == []


def test_kwargs_of_a_var_keyword_trick_are_free(tmp_path):
    data = mutated(("arms.single.tricks", [{"name": "anything", "foo": [1, {"bar": None}]}]))
    assert load_spec(write(tmp_path / "s.yaml", data)).arms["single"]["tricks"][0]["foo"][0] == 1


def test_missing_registry_module_is_an_error_not_skipped(tmp_path, monkeypatch):
    """Issue #13: a registry that cannot be imported used to leave its part of the spec unchecked."""
    monkeypatch.setitem(sys.modules, "repro.tasks.image.models", None)  # import raises ModuleNotFoundError
    with pytest.raises(RuntimeError, match="registry module repro.tasks.image.models"):
        load_spec(write(tmp_path / "s.yaml", mutated(("base.model.name", "not_yet_written"))))


def test_config_hash_is_sha256_of_canonical_json():
    assert config_hash({"b": 1, "a": [1.5, "x"]}) == hashlib.sha256(b'{"a":[1.5,"x"],"b":1}').hexdigest()
    assert config_hash({"a": [1.5, "x"], "b": 1}) == config_hash({"b": 1, "a": [1.5, "x"]})


def test_config_hash_stable_and_key_order_independent(tmp_path):
    spec = load_spec(FIXTURE)
    reordered = {k: VALID[k] for k in reversed(list(VALID))}
    reordered["base"] = {k: VALID["base"][k] for k in reversed(list(VALID["base"]))}
    other = load_spec(write(tmp_path / "r.yaml", reordered))
    for profile in spec.profiles:
        mine, theirs = resolve(spec, profile), resolve(other, profile)
        assert {a: config_hash(c) for a, c in mine.items()} == {a: config_hash(c) for a, c in theirs.items()}
        assert config_hash(mine["single"]) != config_hash(mine["snapshot"])
    explicit = load_spec(write(tmp_path / "e.yaml", mutated(("base.precision", "fp32"))))
    assert config_hash(resolve(explicit, "cpu")["single"]) == config_hash(resolve(spec, "cpu")["single"])
    single = resolve(spec, "cpu")["single"]
    assert config_hash(single) == config_hash(single.model_dump())


# ---------------------------------------------------------------- generated malformed specs

REQUIRED = ["id", "paper", "paper.title", "task", "base", "arms", "claims", "profiles", "profiles.smoke",
            "profiles.paper", "profiles.cpu.seeds", "base.model", "base.model.name", "base.data",
            "base.optimizer", "base.optimizer.name", "base.batch_size", "base.epochs", "claims.0.metric",
            "claims.0.better", "claims.0.treatment", "arms.snapshot.tricks.0.name"]


def _locations(node, loc=()):
    """Every (loc, node) in the document."""
    yield loc, node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from _locations(child, loc + (key,))


SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=8)
VALUES = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c,
                                                                                    max_size=3), max_leaves=6)
LOCATIONS = list(_locations(VALID))
QUICK = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _load_outcome(path: Path, data) -> str | None:
    """None if the spec loads, else the error message; any exception other than SpecError fails the test."""
    try:
        load_spec(write(path, data))
    except SpecError as e:
        msg = str(e)
        assert "\n" not in msg and msg.startswith(f"{path}: ") and len(msg.split(": ")) >= 4, msg
        return msg
    return None


@QUICK
@given(st.sampled_from(REQUIRED))
def test_deleting_a_required_key_names_it(tmp_path, dotted):
    msg = _load_outcome(tmp_path / "g.yaml", mutated((dotted, DELETE)))
    assert msg is not None and "(missing)" in msg, msg


@QUICK
@given(st.sampled_from([loc for loc, node in LOCATIONS if isinstance(node, dict)]),
       st.sampled_from(["zzz", None, [1]]))
def test_unknown_key_anywhere_is_an_error_naming_it(tmp_path, loc, value):
    data = copy.deepcopy(VALID)
    node = data
    for key in loc:
        node = node[key]
    node["zzz_unknown"] = value
    msg = _load_outcome(tmp_path / "g.yaml", data)
    assert msg is not None and "zzz_unknown" in msg, msg


@QUICK
@given(st.sampled_from(LOCATIONS[1:]), VALUES)
def test_replacing_any_value_gives_spec_or_spec_error(tmp_path, target, value):
    data = copy.deepcopy(VALID)
    *parents, last = target[0]
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
    _load_outcome(tmp_path / "g.yaml", data)


@QUICK
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}'\"#&*!|>%@`,. \n\t0123")), max_size=60))
def test_random_text_gives_spec_error(tmp_path, text):
    assert _load_outcome(tmp_path / "g.yaml", text) is not None
