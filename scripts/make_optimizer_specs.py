"""Write the optimizer-suite specs (repro/specs/optimizers_*.yaml): one task each, the same arms and claims.

The arms and claims are written once here so the four files cannot drift apart; run it after editing:
    python scripts/make_optimizer_specs.py
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

PAPER = {
    "title": "VeLO: Training Versatile Learned Optimizers by Scaling Up",
    "venue": "arXiv 2022",
    "arxiv": "2211.09760",
}
GRID = [1.0e-4, 3.0e-4, 1.0e-3, 3.0e-3, 1.0e-2, 3.0e-2, 1.0e-1]  # 7 log-spaced values, half a decade apart
FREE = ("schedulefree_adamw", "prodigy", "dadapt_adam", "velo")


def arms() -> dict:
    """The suite's arms. Tuned AdamW's lr is chosen on the claims' own metric, the last epoch's training
    loss (of the grid's 90 % split): VeLO's objective is the training loss, and a baseline tuned for
    held-out loss picks a smaller lr as the budget grows (issue #29: the budget-doubling check then
    compared two learning rates, not two budgets)."""
    return {
        "adamw_tuned": {
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "schedule": {"name": "cosine"},
            "tune": {"param": "optimizer.lr", "grid": GRID, "metric": "train_loss"},
        },
        "adam_default": {"optimizer": {"name": "adam", "lr": 1.0e-3}},
        "schedulefree_adamw": {"optimizer": {"name": "schedulefree_adamw", "lr": 2.5e-3}},
        "prodigy": {"optimizer": {"name": "prodigy", "lr": 1.0}},
        "dadapt_adam": {"optimizer": {"name": "dadapt_adam", "lr": 1.0}},
        "velo": {"optimizer": {"name": "velo", "lr": 1.0}},
    }


def claims(margin: float, unit: str) -> list[dict]:
    out = []
    for opt in FREE:
        common = {"treatment": opt, "baseline": "adamw_tuned", "better": "lower"}
        out += [
            {
                "id": f"{opt}-final-loss",
                "metric": "final_train_loss",
                "kind": "noninferiority",
                "margin": margin,
                "text": f"{opt} without tuning ends no worse than LR-tuned AdamW in training loss "
                f"(margin {margin} {unit})",
                **common,
            },
            {
                "id": f"{opt}-fewer-steps",
                "metric": "steps_to_target",
                "kind": "ratio",
                "threshold": 1.0,
                "text": f"{opt} reaches tuned AdamW's final training loss in fewer steps than AdamW",
                **common,
            },
            {
                "id": f"{opt}-less-compute",
                "metric": "steps_to_result",
                "kind": "ratio",
                "threshold": 1.0,
                "text": f"{opt} reaches that loss with fewer steps than AdamW's tuning grid plus its run",
                **common,
            },
        ]
    out.append(
        {
            "id": "velo-4x",
            "metric": "steps_to_target",
            "kind": "ratio",
            "threshold": 0.25,
            "treatment": "velo",
            "baseline": "adamw_tuned",
            "better": "lower",
            "text": "VeLO needs a quarter of the steps tuned Adam needs (VeLO Fig. 1: ~4x on half the tasks)",
            "published": {
                "source": "VeLO Fig. 1 (VeLOdrome, median task about 4x)",
                "velo": 0.25,
                "adamw_tuned": 1.0,
            },
        }
    )
    return out


# What would bring tuned AdamW's training loss to its plateau at each task's cpu profile where the doubling
# check fails (the regime's `meet:`, issue #29).
MEET = {
    "optimizers_fmnist_mlp": "train more epochs on the same 3,200 images (the cosine and the tuning grid's half "
    "budget scaled with them) until doubling lowers tuned AdamW's final training loss by less than 0.02 nats; "
    "probes of seeds 0-2 (lr tuned on training loss) reached 0.033 nats after 24 epochs, 0.002 after 48 and "
    "0.0002 after 96: the plateau of an MLP on 3,200 images is memorisation",
    "optimizers_fmnist_cnn": "train more epochs on the same 1,600 images in batches of 32 (the cosine and the "
    "tuning grid's half budget scaled with them) until doubling lowers tuned AdamW's final training loss by "
    "less than 0.02 nats; at 32 epochs (grid on training loss, seeds 0-2) it ended at 0.154 nats and at 64 at "
    "0.012",
    "optimizers_bible_lm": "train more epochs on the same 250 verses (the cosine and the tuning grid's half "
    "budget scaled with them) until doubling lowers tuned AdamW's final training loss by less than 0.02 nats; "
    "probes of seeds 0-2 (grid 0.001-0.01 on training loss, lr 0.01 chosen each time) ended at 0.34 nats after "
    "40 epochs on 1,000 verses, and on 250 verses at 0.027 after 80 epochs and 0.021 after 160",
    "optimizers_textcls": "train more epochs on the same 1,000 glosses (the cosine and the tuning grid's half "
    "budget scaled with them) until doubling lowers tuned AdamW's final training loss by less than 0.02 nats; "
    "probes of seeds 0-2 (grid on training loss, lr 0.003 chosen each time) ended at 0.48 nats after 12 "
    "epochs, 0.089 after 24 and 0.021 after 48",
}


def doubled(cpu: dict) -> dict:
    """The cpu profile with twice the training budget (issue #29's budget-doubling check): the epochs and the
    tuning grid's epochs x 2 (the grid keeps training half the budget; the cosine spans the run), 3 seeds."""
    out = {"seeds": 3, "base": copy.deepcopy(cpu["base"]), "arms": copy.deepcopy(cpu["arms"])}
    out["base"]["epochs"] *= 2
    for layer in out["arms"].values():
        layer["tune"]["epochs"] *= 2
    return out


def spec(
    name: str, task: str, base: dict, margin: float, unit: str, profiles: dict
) -> dict:
    cpu = profiles["cpu"]
    profiles = {**profiles, "cpu_x2": doubled(cpu)}
    profiles = {k: profiles[k] for k in ("paper", "cpu", "cpu_x2", "smoke")}
    return {
        "id": name,
        "paper": PAPER,
        "task": task,
        "base": base,
        "arms": arms(),
        # the plateau check (issue #29, repro/judge/regime.py): tuned AdamW at the cpu profile and at twice
        # its budget (cpu_x2), 3 seeds: at plateau when doubling lowers its epoch-mean training loss by less
        # than 0.02 nats
        "regime": {
            "arm": "adamw_tuned",
            "metric": "train_loss",
            "threshold": 0.02,
            "doubling": {"cpu": "cpu_x2"},
            "seeds": 3,
            "meet": MEET[name],
        },
        "claims": claims(margin, unit),
        "profiles": profiles,
    }


def image(name: str, model: dict, cpu_model: dict, smoke_model: dict, subset: int, epochs: int,
          batch: int) -> dict:
    """An image task; its cpu profile trains `epochs` in batches of `batch` on a class-balanced `subset` (the
    grid: half the epochs)."""
    base = {
        "model": model,
        "data": {"name": "fashion_mnist"},
        "optimizer": {"name": "adamw", "lr": 1.0e-3},
        "batch_size": 128,
        "epochs": 20,
        "channels_last": False,
    }
    smoke_data = {
        "name": "synthetic_images",
        "train_size": 256,
        "test_size": 64,
        "image_size": 8,
        "channels": 1,
    }
    profiles = {
        "paper": {"seeds": 6, "base": {"data": {"name": "fashion_mnist", "subset": 60000}, "epochs": 20}},
        "cpu": {
            "seeds": 8,
            "base": {
                "model": cpu_model,
                "batch_size": batch,
                "epochs": epochs,
                "data": {"name": "fashion_mnist", "subset": subset, "test_subset": 2000},
            },
            "arms": {"adamw_tuned": {"tune": {"epochs": epochs // 2}}},
        },
        "smoke": {
            "seeds": 1,
            "base": {"model": smoke_model, "data": smoke_data, "batch_size": 32, "epochs": 4},
            "arms": {"adamw_tuned": {"tune": {"epochs": 1}}},
        },
    }
    return spec(name, "image-classification", base, 0.05, "nats per example", profiles)


SPECS = {
    "optimizers_fmnist_mlp": image(
        "optimizers_fmnist_mlp",
        {"name": "mlp", "hidden": [256, 256]},
        {"name": "mlp", "hidden": [256, 256]},
        {"name": "mlp", "hidden": [32], "pool": 8},
        3200,
        48,
        128,
    ),
    "optimizers_fmnist_cnn": image(
        "optimizers_fmnist_cnn",
        {"name": "plain_convnet", "width": 32},
        {"name": "plain_convnet", "width": 16},
        {"name": "plain_convnet", "width": 4, "stages": 2},
        1600,
        64,
        32,  # 50 steps an epoch: the plateau in half the epochs that batches of 128 need (probes, issue #29)
    ),
    "optimizers_bible_lm": spec(
        "optimizers_bible_lm",
        "language-model",
        {
            "model": {"name": "causal_transformer", "d_model": 256, "heads": 4, "layers": 4, "ff": 1024},
            "data": {"name": "bible_en", "vocab_size": 8000, "context": 128},
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "batch_size": 32,
            "epochs": 20,
        },
        0.05,
        "nats per token",
        {
            "paper": {"seeds": 6},
            "cpu": {
                "seeds": 8,
                "base": {
                    "model": {"d_model": 64, "heads": 4, "layers": 2, "ff": 256},
                    # 250 verses trained 80 epochs: at plateau where 1,000 verses x 40 epochs were not (probes)
                    "data": {"subset": 250, "vocab_size": 2000, "context": 32, "valid_subset": 400},
                    "epochs": 80,
                },
                "arms": {"adamw_tuned": {"tune": {"epochs": 40}}},
            },
            "smoke": {
                "seeds": 1,
                "base": {
                    "model": {"d_model": 16, "heads": 2, "layers": 1, "ff": 32},
                    "data": {"name": "synthetic_lm", "vocab_size": 100, "context": 16},
                    "batch_size": 16,
                    "epochs": 3,
                },
                "arms": {"adamw_tuned": {"tune": {"epochs": 1}}},
            },
        },
    ),
    "optimizers_textcls": spec(
        "optimizers_textcls",
        "text-classification",
        {
            "model": {"name": "tiny_bert", "vocab_size": 2000, "hidden": 64, "layers": 2},
            "data": {"name": "wordnet_supersense", "max_len": 48},
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "batch_size": 32,
            "epochs": 20,
        },
        0.05,
        "nats per example",
        {
            "paper": {"seeds": 6},
            "cpu": {
                "seeds": 8,
                "base": {"data": {"subset": 1000, "test_subset": 1000}, "epochs": 48},
                "arms": {"adamw_tuned": {"tune": {"epochs": 24}}},
            },
            "smoke": {
                "seeds": 1,
                "base": {
                    "model": {"vocab_size": 200, "hidden": 16, "layers": 1},
                    "data": {"name": "synthetic_text", "subset": 128, "test_subset": 32, "max_len": 16},
                    "batch_size": 16,
                    "epochs": 3,
                },
                "arms": {"adamw_tuned": {"tune": {"epochs": 1}}},
            },
        },
    ),
}

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "repro" / "specs"
    for name, body in SPECS.items():
        head = (f"# generated by scripts/make_optimizer_specs.py (shared arms and claims); "
                f"see optimizers.md and {name}.md\n")
        text = yaml.safe_dump(body, sort_keys=False, width=110)
        text = text.replace("\n  cpu_x2:\n", (
            "\n  # the budget-doubling check of the cpu baseline (issue #29; run by `repro run "
            f"{name} --profile cpu --until-decided`, or `--profile cpu_x2 --arms adamw_tuned --seeds 0-2`)"
            "\n  cpu_x2:\n"), 1)
        (out / f"{name}.yaml").write_text(head + text)
