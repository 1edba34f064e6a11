"""Every task a spec may name (`task:`), declared once: the one place a new task is added.

Torch-free data: the spec layer validates against it, and the task layer builds from it. Code is named
by "module:attribute" strings and imported only when needed (`resolve`), so reading the catalog loads
no torch and no task plugin; the spec layer may not import repro.tasks (tests/repro/test_layers.py).

Derived from the catalog: the `Task` literal of the schema, the model / dataset / augmentation checks,
the refusal of target-changing tricks a task's loss cannot take (repro/spec/checks.py), the tasks that can
hold out a validation split (repro/spec/tuning.py), the task builders (repro/tasks/registry.py) and the
tasks' own report blocks (repro/tasks/report_blocks.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from repro.spec import needs as N
from repro.spec.needs import Need

# Tricks that change the training targets (mixup, CutMix: soft targets) or the loss (label smoothing):
# each task says which of them its loss takes; any other pair is refused when the spec is validated.
TARGET_CHANGING_TRICKS = ("label_smoothing", "mixup", "cutmix")


@dataclass(frozen=True)
class Registry:
    """A dict `name -> callable` at `ref` ("module:ATTRIBUTE"); the callable's keyword arguments are what a
    spec may write beside the name, minus `runner_args`, which the runner passes itself."""

    ref: str
    runner_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExternalNames:
    """Names from outside a registry ("timm/resnet18", "hf/cifar10"). `resolver` ("module:function") maps a
    name to its entry's callable, returns None when the name is not of its `forms`, and raises LookupError
    (a one-line reason) when it is of them but names nothing."""

    resolver: str
    forms: tuple[str, ...]


@dataclass(frozen=True)
class TaskDescriptor:
    name: str
    builder: str          # "module:function": (cfg, seed, device, data_root, data_generator) -> TaskSetup
    models: Registry
    datasets: Registry
    external_models: ExternalNames | None = None
    external_datasets: ExternalNames | None = None
    augmentations: str | None = None          # "module:ATTRIBUTE", a tuple of names; None: the task has none
    target_tricks: tuple[str, ...] = ()       # of TARGET_CHANGING_TRICKS, those the task's loss takes
    holdout: bool = False                     # can hold out a validation split (RunConfig.holdout, tuning)
    report_blocks: tuple[str, ...] = ()       # "module:function"s: (ok records, arms) -> report blocks
    # "data.<name>" / "model.<name>" -> what it needs here beyond the core install (repro/spec/needs.py),
    # checked by the preflight of `repro run` before anything trains
    needs: Mapping[str, tuple[Need, ...]] = field(default_factory=dict, compare=False)

    def registry(self, kind: str) -> Registry:
        return {"model": self.models, "dataset": self.datasets}[kind]

    def external(self, kind: str) -> ExternalNames | None:
        return {"model": self.external_models, "dataset": self.external_datasets}[kind]


_DATA_ARGS = ("data_root", "device", "subset")

TASK_CATALOG: dict[str, TaskDescriptor] = {task.name: task for task in (
    TaskDescriptor(
        name="image-classification",
        builder="repro.tasks.image.task:image_classification",
        models=Registry("repro.tasks.image.models:MODELS", ("num_classes", "in_channels")),
        datasets=Registry("repro.tasks.image.data:DATASETS", _DATA_ARGS),
        external_models=ExternalNames("repro.tasks.image.external:external_model",
                                      ("timm/<name>", "torchvision/<name>")),
        external_datasets=ExternalNames("repro.tasks.image.data:hf_dataset", ("hf/<dataset>",)),
        augmentations="repro.tasks.image.data:AUGMENTATIONS",
        target_tricks=("label_smoothing", "mixup", "cutmix"),
        holdout=True,
        needs={"data.fashion_mnist": (N.FASHION_MNIST,)},
    ),
    TaskDescriptor(
        name="translation",
        builder="repro.tasks.translation.task:translation_task",
        models=Registry("repro.tasks.translation:TRANSLATION_MODELS", ("vocab_size", "pad_id")),
        datasets=Registry("repro.tasks.translation:TRANSLATION_DATASETS", _DATA_ARGS),
        # mixing token ids (inputs) has no meaning; smoothing keeps the padding mask (seq2seq_loss)
        target_tricks=("label_smoothing",),
        report_blocks=("repro.tasks.translation.report_blocks:example_blocks",),
        needs={"data.bible_en_es": (N.BIBLE,)},
    ),
    TaskDescriptor(
        name="text-classification",
        builder="repro.tasks.text.task:text_classification_task",
        models=Registry("repro.tasks.text:TEXT_MODELS", ("train_texts",)),
        datasets=Registry("repro.tasks.text:TEXT_DATASETS", _DATA_ARGS),
        external_datasets=ExternalNames("repro.tasks.text.hf:hf_dataset", ("hf/<dataset>",)),
        target_tricks=("label_smoothing",),
        holdout=True,
        needs={"data.wordnet_supersense": (N.WORDNET,), "data.amazon_fine_food": (N.AMAZON_REVIEWS, N.RDATA),
               "model.minilm_l6": (N.MINILM,)},
    ),
    TaskDescriptor(
        name="language-model",
        builder="repro.tasks.lm.task:language_model_task",
        models=Registry("repro.tasks.lm:LM_MODELS", ("vocab_size", "context")),
        datasets=Registry("repro.tasks.lm:LM_DATASETS", _DATA_ARGS),
        target_tricks=("label_smoothing",),
        holdout=True,
        needs={"data.bible_en": (N.BIBLE,)},
    ),
)}

TASK_NAMES = tuple(TASK_CATALOG)


def resolve_ref(ref: str):
    """The object a "module:attribute" string names, importing its module."""
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)
