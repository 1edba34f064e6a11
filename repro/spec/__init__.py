"""The spec layer: YAML spec files -> typed, validated run configs. Imports no torch.

schema.py  the pydantic models (Spec, RunConfig, ...)
load.py    reading, merging profiles and arms, cross-field checks, config_hash
checks.py  strict validation and the registry-argument checks (the one place configs are checked)
task_catalog.py  every task, declared once: builder, registries, external names, tricks it takes
problems.py  one-line SpecError messages
paths.py   where spec files are found
"""

from repro.spec.load import config_hash, deep_merge, load_spec, resolve
from repro.spec.paths import SPEC_DIR, spec_paths
from repro.spec.problems import SpecError
from repro.spec.schema import (
    Claim,
    Condition,
    DataConfig,
    EnsembleConfig,
    LrFinderConfig,
    ModelConfig,
    OptimizerConfig,
    Paper,
    PaperTable,
    Profile,
    Ref,
    RegimeCheck,
    RunConfig,
    ScheduleConfig,
    Spec,
    TrickConfig,
)

__all__ = ["SPEC_DIR", "Claim", "Condition", "DataConfig", "EnsembleConfig", "LrFinderConfig", "ModelConfig",
           "OptimizerConfig", "Paper", "PaperTable", "Profile", "Ref", "RegimeCheck", "RunConfig",
           "ScheduleConfig", "Spec",
           "SpecError", "TrickConfig", "config_hash", "deep_merge", "load_spec", "resolve", "spec_paths"]
