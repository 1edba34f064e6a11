"""A fake results tree for the report tests: spec "ls" (2 arms x 10 seeds, one diverged seed) with claims
of every kind, and a spec with no records. With 9 paired seeds the decisive verdicts are decisive under
the protocol (>= 6 pairs, t and sign-flip agreeing, Holm within the spec)."""

from __future__ import annotations

import json
from pathlib import Path

from repro.spec import Claim, Spec

SEEDS = range(10)
JITTER = (0.0, 0.4, 0.2, -0.1, 0.3, -0.2, 0.1, 0.25, -0.05, 0.15)   # noise shared by both arms


def record(spec, profile, arm, seed, err, ece, status="ok", threads=2, **extra):
    epochs = [1, 2, 3]
    return {
        "spec": spec, "profile": profile, "arm": arm, "seed": seed, "status": status,
        "reason": None if status == "ok" else "loss is nan at step 17",
        "config": {"data": {"name": "fashion_mnist", "subset": 1000},
                   "model": {"name": "cifar_resnet", "depth": 8}, "epochs": 3},
        "config_hash": "abc", "git_commit": "deadbeef",
        "hardware": {"device": "cpu", "device_name": "Fake CPU", "threads": threads,
                     "id": f"fake-cpu-{threads}t-0000"},
        "curves": {"epoch": epochs, "step": [10, 20, 30], "train_loss": [2.0, 1.0, 0.5],
                   "test_error": [err + 4, err + 2, err], "test_nll": [1.0, 0.6, 0.4],
                   "test_ece": [0.1, 0.08, ece]},
        "lr_trace": {"step": [0, 10, 20, 29], "lr": [0.1, 0.1, 0.01, 0.01]},
        "final": {"test_error": err,
                  "test_nll": (0.4 if arm == "base" else 0.5 + seed % 3 / 100) + JITTER[seed % 10] / 100,
                  "test_ece": ece, **extra},
        "extra": {}, "wall_time_s": 10.0 + seed, "train_time_s": 9.0, "steps": 30,
        "throughput": (100.0 if arm == "base" else 95.0) + seed,
    }


def write(root: Path, rec: dict, name: str | None = None) -> Path:
    path = root / "runs" / rec["spec"] / rec["profile"] / rec["arm"] / (name or f"seed{rec['seed']}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))
    return path


def claim(id, metric, treatment, baseline, kind="superiority", better="lower", **kw) -> Claim:
    """A real spec Claim (the judge takes the spec's types); `kw`: margin, threshold, published, ..."""
    return Claim.model_validate({"id": id, "text": f"{treatment} vs {baseline} on {metric}", "metric": metric,
                                 "treatment": treatment, "baseline": baseline, "better": better,
                                 "kind": kind, **kw})


def spec(id, claims, arms=("base", "ls01"), paper=None, **fields) -> Spec:
    """A real Spec with the given claims and arms, profiles cpu/smoke/paper (no file behind it)."""
    paper = paper or {"title": f"Paper of {id}", "venue": "NeurIPS", "arxiv": "0000.00000"}
    fields.setdefault("regime", REGIME)
    return Spec.model_validate({"id": id, "paper": paper, "task": "image-classification", "base": {},
                                "arms": {a: {} for a in arms}, "claims": list(claims),
                                "profiles": {p: {"seeds": 3} for p in PROFILES}, **fields})


PROFILES = ("cpu", "cpu_x2", "smoke", "paper")
# the budget-doubling check of cpu: build_records' base arm at cpu_x2 improves by 0.1 < 0.5 (at plateau)
REGIME = {"doubling": {"cpu": "cpu_x2"}, "metric": "test_error", "threshold": 0.5}
LINEAR_ERROR = 20.0     # the logistic regression of build_records: the base arm (~8%) beats it by ~12 points
INCEPTION = {"title": "Rethinking the Inception Architecture", "venue": "CVPR 2016", "arxiv": "1512.00567"}
SPEC = spec(
    "ls", paper=INCEPTION,
    claims=[
        claim("lower-ece", "test_ece", "ls01", "base",
              published={"base": 0.061, "ls01": 0.024, "source": "Müller 2019, Table 3"}),
        claim("no-loss", "test_error", "ls01", "base", kind="noninferiority", margin=1.0),
        claim("lower-nll", "test_nll", "ls01", "base"),
        claim("ema-helps", "test_error", "ls01/ema", "ls01"),
        claim("throughput", "throughput", "ls01", "base", kind="ratio", better="higher", threshold=0.5),
        claim("mixup-helps", "test_error", "mixup", "base"),
    ],
)
EMPTY_SPEC = spec("nothing", paper={"title": "Never run", "venue": "NeurIPS", "arxiv": "0000.00001"},
                  arms=("a", "b"), claims=[claim("c", "test_error", "a", "b")])
SPECS = {"ls": SPEC, "nothing": EMPTY_SPEC}


def build_records(root: Path, profile: str = "cpu", diverged: bool = True, shift: float = 0.0) -> None:
    """Records of spec "ls": base and ls01 (with an EMA predictor) over 10 seeds; ls01 seed 7 diverged.
    `shift` moves ls01's ECE up (a positive shift large enough flips lower-ece to contradicted)."""
    for seed in SEEDS:
        j = JITTER[seed]
        write(root, record("ls", profile, "base", seed, 8.0 + j, 0.055 + j / 100))
        if diverged and seed == 7:
            write(root, record("ls", profile, "ls01", seed, float("nan"), float("nan"), status="diverged"))
            continue
        err, ece = 8.1 + j + (seed % 2) / 10, 0.022 + j / 100 + (seed % 3) / 1000 + shift
        ema = 7.6 + j
        rec = record("ls", profile, "ls01", seed, err, ece, **{"ema/test_error": ema, "ema/test_ece": 0.03})
        rec["curves"]["ema/test_error"] = [ema + 3, ema + 1, ema]
        write(root, rec)
    if profile == "cpu":
        write_regime_checks(root, "ls")


def write_regime_checks(root: Path, spec_id: str, arm: str = "base", gain: float = 0.1,
                        linear: float | None = LINEAR_ERROR) -> None:
    """The doubling-check records of `arm` (seeds 0-2 at cpu_x2, `gain` points better than at cpu) and
    the linear reference (absent when `linear` is None)."""
    for seed in range(3):
        write(root, record(spec_id, "cpu_x2", arm, seed, 8.0 + JITTER[seed] - gain, 0.05))
    if linear is not None:
        path = root / "runs" / spec_id / "cpu" / "linear_reference.json"
        path.write_text(json.dumps({"test_error": linear, "train_images": 1000, "test_images": 500,
                                    "arm": arm, "estimator": "fake"}))
