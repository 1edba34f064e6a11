"""Task name (a spec's `task:`) -> the plugin that builds its TaskSetup."""

from __future__ import annotations

from collections.abc import Callable

from repro.tasks.base import TaskSetup
from repro.tasks.image.task import image_classification
from repro.tasks.lm.task import language_model_task
from repro.tasks.text.task import text_classification_task
from repro.tasks.translation.task import translation_task

TASKS: dict[str, Callable[..., TaskSetup]] = {"image-classification": image_classification,
                                               "translation": translation_task,
                                               "text-classification": text_classification_task,
                                               "language-model": language_model_task}
