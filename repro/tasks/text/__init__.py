"""Text classification (ULMFiT's setting): corpora, a pretrained `transformers` encoder with a classifier
head, and the `text-classification` task.

Registries used by specs of task `text-classification` (named in repro/spec/task_catalog.py, checked by
repro.spec.checks): TEXT_DATASETS (data names) and TEXT_MODELS (model names).
"""

from repro.tasks.text.model import TEXT_MODELS
from repro.tasks.text.task import TEXT_DATASETS, text_classification_task

__all__ = ["TEXT_DATASETS", "TEXT_MODELS", "text_classification_task"]
