"""`ensemble: {members: M}` (repro/jobs/ensemble.py) and `ensemble_metrics` (tricks/ensembles.py): one member
is the plain run; M members are M plain runs with their own seeds, predicted by their mean softmax; an
interrupted ensemble resumes at its member; the last-m ensembles match a direct computation."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tiny_spec import write_tiny_spec
from torch import nn

import repro.jobs.ensemble as ens
from repro.cli import main
from repro.spec import RunConfig, config_hash
from tricks.ensembles import ensemble_metrics

ARMS = {"plain": {}, "one": {"ensemble": {"members": 1}}, "three": {"ensemble": {"members": 3}}}



pytestmark = pytest.mark.usefixtures("one_thread")


def run(tmp_path: Path, out: str, *args: str) -> int:
    spec = tmp_path / "tiny.yaml"
    write_tiny_spec(spec, ARMS, "three", "plain", smoke_seeds=2)
    return main(["run", str(spec), "--profile", "smoke", "--no-report", "--results-dir", str(tmp_path / out),
                 "--cache-dir", str(tmp_path / f"cache-{out}"), "--data-root", str(tmp_path / "data"), *args])


def record(tmp_path: Path, out: str, arm: str, seed: int = 0) -> dict:
    return json.loads((tmp_path / out / "runs" / "tiny" / "smoke" / arm / f"seed{seed}.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ensembles")
    assert run(tmp, "results") == 0
    return tmp


def test_one_member_is_the_plain_run(runs):
    plain, one = record(runs, "results", "plain"), record(runs, "results", "one")
    assert one["final"]["test_error"] == plain["final"]["test_error"]
    assert one["final"]["test_nll"] == pytest.approx(plain["final"]["test_nll"], abs=1e-5)
    assert one["curves"]["test_error"] == plain["curves"]["test_error"]
    assert one["steps"] == plain["steps"] and one["extra"]["ensemble/forward_passes"] == 1


def test_members_are_plain_runs_with_their_own_seeds(runs):
    three, plain = record(runs, "results", "three", seed=1), record(runs, "results", "plain", seed=1)
    extra = three["extra"]
    assert extra["ensemble/member1/test_error"] == plain["final"]["test_error"]   # member 0 keeps the seed
    errors = [extra[f"ensemble/member{k}/test_error"] for k in (1, 2, 3)]
    assert extra["ensemble/mean_weight_distance"] > 0 and extra["ensemble/forward_passes"] == 3
    assert three["final"] == {k: extra[f"ensemble/last3/{k}"] for k in ("test_error", "test_nll", "test_ece")}
    assert extra["ensemble/last1/test_error"] == errors[-1]
    assert three["steps"] == 3 * plain["steps"]
    assert three["curves"]["epoch"] == [1, 2, 3, 4, 5, 6] and three["curves"]["member"] == [1, 1, 2, 2, 3, 3]
    assert ens.member_seed(1, 0) == 1 and len({ens.member_seed(1, k) for k in range(3)}) == 3


class Killed(BaseException):
    """Stands for a kill: like KeyboardInterrupt, no job catches it."""


def test_interrupted_ensemble_resumes_at_its_member(runs, monkeypatch):
    calls, real = [], ens.train_job

    def interrupt_second_member(job, *args):
        calls.append(job.seed)
        if calls == [ens.member_seed(0, 0), ens.member_seed(0, 1)]:   # the first attempt at member 1
            raise Killed
        return real(job, *args)

    monkeypatch.setattr(ens, "train_job", interrupt_second_member)
    with pytest.raises(Killed):
        run(runs, "resumed", "--arms", "three", "--seeds", "0")
    assert list((runs / "cache-resumed").rglob("*-member0-done.pt"))
    calls.clear()
    assert run(runs, "resumed", "--arms", "three", "--seeds", "0") == 0
    assert calls == [ens.member_seed(0, 1), ens.member_seed(0, 2)]                   # member 0 was kept
    straight, resumed = record(runs, "results", "three"), record(runs, "resumed", "three")
    assert resumed["final"] == straight["final"] and resumed["extra"] == straight["extra"]
    assert not list((runs / "cache-resumed").rglob("*.pt"))


def test_configs_without_ensemble_keep_their_hash():
    base = {"task": "image-classification", "model": {"name": "cifar_resnet"}, "data": {"name": "x"},
            "optimizer": {"name": "sgd", "lr": 0.1}, "batch_size": 8, "epochs": 1}
    plain = RunConfig.model_validate(base)
    assert "ensemble" not in plain.model_dump(mode="json")
    with_members = RunConfig.model_validate({**base, "ensemble": {"members": 2}})
    assert with_members.model_dump(mode="json")["ensemble"] == {"members": 2}
    assert config_hash(plain) != config_hash(with_members)


def test_ensemble_metrics_against_direct_softmax_means():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 4, generator=g), torch.randint(0, 3, (50,), generator=g)
    members = [nn.Linear(4, 3) for _ in range(3)]
    for i, m in enumerate(members):
        torch.nn.init.normal_(m.weight, generator=torch.Generator().manual_seed(i))
    calls = [0] * 3
    for i, m in enumerate(members):
        m.register_forward_hook(lambda mod, a, out, i=i: calls.__setitem__(i, calls[i] + 1))

    def evaluate(fn):      # batches of 20, 20, 10, in order, like repro.tasks.classification_metrics
        logp = torch.cat([F.log_softmax(fn(x[i:i + 20]), -1) for i in range(0, 50, 20)])
        return {"test_error": (logp.argmax(-1) != y).float().mean().item() * 100,
                "test_nll": F.nll_loss(logp, y).item()}

    with torch.no_grad():
        out = ensemble_metrics(members, [m.state_dict() for m in members], evaluate, "e")
        assert calls == [3, 3, 3]                   # one pass over the test set per member
        probs = [torch.softmax(m(x), -1) for m in members]
    for m in (1, 2, 3):
        mean = torch.stack(probs[-m:]).mean(0)
        assert out[f"e/last{m}/test_nll"] == pytest.approx(F.nll_loss(mean.log(), y).item(), rel=1e-5)
        assert out[f"e/last{m}/test_error"] == (mean.argmax(-1) != y).float().mean().item() * 100
    pair = (probs[0].argmax(-1) != probs[2].argmax(-1)).float().mean().item()
    assert out["e/pair1-3/disagreement"] == pytest.approx(pair)
    assert out["e/member2/test_nll"] == pytest.approx(F.nll_loss(probs[1].log(), y).item(), rel=1e-5)
