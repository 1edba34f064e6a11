"""Machine translation: parallel corpora, a subword tokenizer, the Transformer, decoding, the task.

Registries used by specs of task `translation` (named in repro/spec/task_catalog.py, checked by
repro.spec.checks): TRANSLATION_DATASETS (data names) and TRANSLATION_MODELS (model names).
"""

from repro.tasks.translation.model import TRANSLATION_MODELS
from repro.tasks.translation.task import TRANSLATION_DATASETS, translation_task

__all__ = ["TRANSLATION_DATASETS", "TRANSLATION_MODELS", "translation_task"]
