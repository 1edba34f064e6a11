"""Language modelling: next-token prediction on a text stream with a small causal Transformer.

Registries used by specs of task `language-model` (named in repro/spec/task_catalog.py, checked by
repro.spec.checks): LM_DATASETS (data names) and LM_MODELS (model names).
"""

from repro.tasks.lm.model import LM_MODELS
from repro.tasks.lm.task import LM_DATASETS, language_model_task

__all__ = ["LM_DATASETS", "LM_MODELS", "language_model_task"]
