"""The tiny image-classification spec the end-to-end tests run (seconds on one thread)."""

from pathlib import Path

import yaml

BASE = {"model": {"name": "cifar_resnet", "depth": 8},
        "data": {"name": "synthetic_images", "train_size": 96, "test_size": 64, "image_size": 8},
        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
        "schedule": {"name": "cosine"}, "batch_size": 32, "epochs": 2}


def write_tiny_spec(path: Path, arms: dict, treatment: str, baseline: str, smoke_seeds: int = 1) -> Path:
    """Write a spec (id = the file stem) with `arms` and one claim: treatment has lower test error."""
    spec = {"id": path.stem, "paper": {"title": "Tiny", "venue": "test", "arxiv": "0000.00000"},
            "task": "image-classification", "base": BASE, "arms": arms,
            "claims": [{"id": "c", "text": f"{treatment} wins", "metric": "test_error",
                        "treatment": treatment, "baseline": baseline, "better": "lower"}],
            "profiles": {"paper": {"seeds": 1}, "cpu": {"seeds": 1}, "smoke": {"seeds": smoke_seeds}}}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


TRANSLATION_BASE = {
    "model": {"name": "transformer", "d_model": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1,
              "d_ff": 32},
    "data": {"name": "synthetic_copy", "subset": 200, "vocab_size": 48, "valid_subset": 8, "test_subset": 8},
    "optimizer": {"name": "adam", "lr": 1.0, "betas": [0.9, 0.98], "eps": 1.0e-9},
    "schedule": {"name": "noam", "model_dim": 16, "warmup_steps": 10}, "batch_size": 256, "epochs": 1}


def write_tiny_translation_spec(path: Path, arms: dict, treatment: str, baseline: str, **base) -> Path:
    """A tiny translation spec (id = the file stem); `base` replaces top-level keys of TRANSLATION_BASE."""
    spec = {"id": path.stem, "paper": {"title": "Tiny MT", "venue": "test", "arxiv": "0000.00000"},
            "task": "translation", "base": {**TRANSLATION_BASE, **base}, "arms": arms,
            "claims": [{"id": "c", "text": f"{treatment} vs {baseline}", "metric": "bleu",
                        "treatment": treatment, "baseline": baseline, "better": "higher"}],
            "profiles": {"paper": {"seeds": 1}, "cpu": {"seeds": 1}, "smoke": {"seeds": 1}}}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def tiny_mlp_spec_text(spec_id: str, optimizer: str, arms: str, claim: str, extra: str = "",
                       smoke_seeds: int = 1) -> str:
    """YAML text of a spec training a 16-unit MLP on 6x6 synthetic images (well under a second per job);
    `arms` and `extra` are YAML lines, `claim` one flow mapping. Text, so a test can edit one line of it."""
    return f"""
id: {spec_id}
paper: {{title: Tiny, venue: test, arxiv: "0000.00000"}}
task: image-classification
base:
  model: {{name: mlp, hidden: [16], pool: 6}}
  data: {{name: synthetic_images, train_size: 128, test_size: 64, image_size: 6, channels: 1}}
  optimizer: {optimizer}
  batch_size: 32
  epochs: 2
arms:
{arms}
claims:
  - {claim}
{extra}profiles: {{paper: {{seeds: 1}}, cpu: {{seeds: 1}}, smoke: {{seeds: {smoke_seeds}}}}}
"""
