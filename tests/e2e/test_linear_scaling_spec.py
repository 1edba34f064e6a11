"""The linear-scaling spec (Goyal et al. 2017): the lr each arm trained with, read from its records,
equals Goyal's rule computed by hand, and the smoke profile ends in verdicts for every claim."""

import pytest

from repro.cli import SPEC_DIR, main
from repro.judge.records import MetricKey, load_records, metric_value
from repro.spec import Ref, load_spec, resolve

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]


def test_cpu_profile_is_k8_on_fashion_mnist_with_the_paper_profile_s_lr_rule():
    paper = resolve(load_spec(SPEC_DIR / "linear_scaling.yaml"), "paper")["small"]
    for profile in ("cpu", "cpu_x2"):
        cfgs = resolve(load_spec(SPEC_DIR / "linear_scaling.yaml"), profile)
        assert cfgs["small"].batch_size * 8 == cfgs["large_warmup"].batch_size == 256
        assert {c.data.name for c in cfgs.values()} == {"fashion_mnist"}
        # the paper profile's 0.1 per 128 images (He et al.'s CIFAR recipe), for the batch of 32
        assert cfgs["small"].optimizer.lr == pytest.approx(paper.optimizer.lr * 32 / paper.batch_size)
        assert cfgs["small"].optimizer.lr == pytest.approx(0.025)


def test_smoke_runs_each_arm_at_the_lr_of_goyals_rule(tmp_path):
    args = ["run", "linear_scaling", "--profile", "smoke", "--results-dir", str(tmp_path / "r"),
            "--cache-dir", str(tmp_path / "c"), "--data-root", str(tmp_path / "d")]
    assert main(args) == 0
    rec = load_records(tmp_path / "r", "smoke")
    rec = rec[rec["seed"] == 0].set_index("arm")
    assert set(rec["status"]) == {"ok"}

    def lr(arm: str, step: int) -> float:
        trace = rec.loc[arm, "lr_trace"]
        return trace["lr"][trace["step"].index(step)]

    # smoke: 256 images, n = 8 at lr 0.1, k n = 64: 4 steps per epoch, warm-up 1 epoch, lr / 10 at epoch 1
    eta = 0.1
    assert lr("small", 0) == pytest.approx(eta) and lr("small", 32) == pytest.approx(eta / 10)
    assert lr("large_no_warmup", 0) == pytest.approx(8 * eta)
    assert lr("large_no_scaling", 0) == pytest.approx(eta)
    assert lr("large_warmup", 0) == pytest.approx(eta)                       # starts at eta ...
    assert lr("large_warmup", 2) == pytest.approx(eta + (8 * eta - eta) * 2 / 4)
    assert lr("large_warmup", 4) == pytest.approx(8 * eta / 10)              # ... k eta at 4, then / 10
    assert rec.loc["small", "steps"] == 8 * rec.loc["large_warmup", "steps"]
    early = metric_value(rec.loc["large_warmup"], MetricKey.of(Ref("large_warmup"), "test_error@1"))
    assert early == rec.loc["large_warmup", "curves"]["test_error"][0]
    report = (tmp_path / "r/smoke/report.md").read_text()
    for claim in load_spec(SPEC_DIR / "linear_scaling.yaml").claims:
        assert f"### Claim {claim.id}:" in report
