"""The `text-classification` task: a corpus tokenized with the model's tokenizer, length-bucketed batches with
dynamic padding, and test error / NLL / ECE.

Spec fields for this task:
- `data: {name, subset, test_subset, max_len, ...}`: TEXT_DATASETS below, or hf/<dataset> with text_column
  and label_column (repro/tasks/text/hf.py); max_len truncates every text to that many tokens (special
  tokens included).
- `model: {name: minilm_l6 | hf_encoder | tiny_bert, ...}`: repro.tasks.text.model.TEXT_MODELS.
The model input x is a TokenBatch (ids, attention mask) padded to its longest text, y the class ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from repro.errors import UserError
from repro.tasks.base import TaskSetup, classification_metrics
from repro.tasks.holdout import holdout_indices
from repro.tasks.text import corpus as C
from repro.tasks.text.hf import hf_dataset
from repro.tasks.text.model import TEXT_MODELS, Recipe, TokenBatch

SORT_CHUNK = 50        # batches per length-sorted chunk (fastai's SortishSampler uses 50 as well)
EVAL_TOKENS = 8192       # padded tokens per evaluation batch


@dataclass
class TextData:
    """A tokenized corpus: token ids per text (truncated to max_len), labels, the recipe of its model."""

    name: str
    classes: list[str]
    train_ids: list[list[int]]
    train_y: Tensor
    test_ids: list[list[int]]
    test_y: Tensor
    recipe: Recipe

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _entry(load):
    """A TEXT_DATASETS entry: the spec's data keys are its keyword arguments (max_len is applied by the
    task, which tokenizes; subset / test_subset take the first n of a fixed hash order)."""
    def entry(data_root: Path, device=None, subset: int | None = None, test_subset: int | None = None,
              max_len: int = 128) -> C.TextCorpus:
        return load(Path(data_root)).first(subset, test_subset)
    entry.__name__ = entry.__qualname__ = load.__name__
    entry.__doc__ = load.__doc__
    return entry


def _hf_entry(name: str):
    def entry(data_root: Path, device=None, subset: int | None = None, test_subset: int | None = None,
              max_len: int = 128, source: str | None = None) -> C.TextCorpus:
        return C.hf_corpus(name, Path(data_root), source).first(subset, test_subset)
    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = C.hf_corpus.__doc__
    return entry


def _synthetic(data_root: Path, device=None, subset: int | None = None, test_subset: int | None = None,
               max_len: int = 128, num_classes: int = 4, seed: int = 0) -> C.TextCorpus:
    """Keyword sentences (repro.tasks.text.corpus.synthetic_text); subset / test_subset: the split sizes."""
    return C.synthetic_text(num_classes, subset or 512, test_subset or 128, seed)


TEXT_DATASETS = {
    "amazon_fine_food": _entry(C.amazon_fine_food),
    "wordnet_supersense": _entry(C.wordnet_supersense),
    **{name: _hf_entry(name) for name in C.HF_CORPORA},
    "synthetic_text": _synthetic,
}


# ----------------------------------------------------------------------------- batches


def tokenize(tokenizer, texts: list[str], max_len: int) -> list[list[int]]:
    """Token ids with the model's special tokens, truncated to max_len."""
    return tokenizer(texts, truncation=True, max_length=max_len)["input_ids"]


def collate(tokenizer, ids: list[list[int]]) -> TokenBatch:
    """Dynamic padding: pad to the longest text of this batch (tokenizer.pad), with the attention mask."""
    padded = tokenizer.pad({"input_ids": ids}, padding="longest", return_tensors="pt")
    return TokenBatch(padded["input_ids"], padded["attention_mask"])


def sortish_batches(lengths: list[int], batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """Index batches of similar lengths in a random order (fastai's SortishSampler, used by ULMFiT):
    shuffle with `generator`, sort each chunk of SORT_CHUNK * batch_size by length (longest first), cut it
    into batches, shuffle the batches. Drops the last len % batch_size examples of the shuffled order, so
    every batch is full (the head's BatchNorm needs more than one example)."""
    if len(lengths) < batch_size:
        raise UserError(f"batch_size: {batch_size}: larger than the {len(lengths)} training texts")
    order = torch.randperm(len(lengths), generator=generator)
    order = order[: len(order) - len(order) % batch_size]
    lens = torch.as_tensor(lengths)[order]
    chunk = SORT_CHUNK * batch_size
    parts = [order[i:i + chunk][torch.argsort(lens[i:i + chunk], descending=True, stable=True)]
             for i in range(0, len(order), chunk)]
    batches = list(torch.cat(parts).split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def length_batches(lengths: list[int], max_tokens: int = EVAL_TOKENS) -> list[list[int]]:
    """Indices sorted by length, cut greedily so that a batch's size x its longest length <= max_tokens."""
    batches, current = [], []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if current and (len(current) + 1) * lengths[i] > max_tokens:
            batches.append(current)
            current = []
        current.append(i)
    return batches + [current] if current else batches


def eval_log_probs(predict, tokenizer, ids: list[list[int]], device) -> Tensor:
    """Log-probabilities [N, K] of every text, computed in length-sorted batches, returned in input order."""
    out = [None] * len(ids)
    for idx in length_batches([len(x) for x in ids]):
        logp = torch.log_softmax(predict(collate(tokenizer, [ids[j] for j in idx]).to(device)).float(), -1)
        for j, row in zip(idx, logp, strict=True):
            out[j] = row
    return torch.stack(out)


def evaluate(predict, data: TextData, device) -> dict:
    """Test error (%), NLL (nats) and ECE (15 bins) through repro.tasks.classification_metrics, fed the
    log-probabilities computed with dynamic padding."""
    logp = eval_log_probs(predict, data.recipe.tokenizer, data.test_ids, device)
    return classification_metrics(lambda rows: rows, logp, data.test_y.to(logp.device), data.num_classes)


# ----------------------------------------------------------------------------- the task


def _split(cfg: dict, keys: tuple[str, ...]) -> tuple[dict, dict]:
    return {k: v for k, v in cfg.items() if k in keys}, {k: v for k, v in cfg.items() if k not in keys}


@lru_cache(maxsize=4)
def _cached_data(data_key: str, model_key: str, data_root: str) -> TextData:
    data_cfg, model_cfg = json.loads(data_key), json.loads(model_key)
    name, model_name = data_cfg.pop("name"), model_cfg.pop("name")
    if data_cfg.pop("augment", None):
        raise UserError("data.augment: the text-classification task has no augmentations")
    try:
        loader = hf_dataset(name) or TEXT_DATASETS.get(name)
    except LookupError as e:
        raise UserError(f"data.name: {name!r}: {e}") from None
    if loader is None:
        known = ", ".join([*TEXT_DATASETS, "hf/<dataset>"])
        raise UserError(f"data.name: {name!r}: not a text dataset; one of {known}")
    if model_name not in TEXT_MODELS:
        raise UserError(f"model.name: {model_name!r}: not a text model; one of {', '.join(TEXT_MODELS)}")
    corpus = loader(Path(data_root), **data_cfg)
    recipe = TEXT_MODELS[model_name](corpus.train_texts, **model_cfg)
    max_len = data_cfg.get("max_len", 128)
    return TextData(name, corpus.classes, tokenize(recipe.tokenizer, corpus.train_texts, max_len),
                    torch.tensor(corpus.train_labels), tokenize(recipe.tokenizer, corpus.test_texts, max_len),
                    torch.tensor(corpus.test_labels), recipe)


def text_classification_task(cfg, seed: int, device: torch.device, data_root: Path,
                             data_generator: torch.Generator):
    """TaskSetup for a text-classification spec: length-bucketed, dynamically padded batches, a new random
    order each epoch from `data_generator`; layer groups embeddings, each encoder layer, head."""
    model_cfg = cfg.model.model_dump()
    from_scratch = model_cfg.pop("from_scratch", False)   # same tokenizer and data either way
    data = _cached_data(json.dumps(cfg.data.model_dump(), sort_keys=True),
                        json.dumps(model_cfg, sort_keys=True), str(data_root))
    recipe = replace(data.recipe, weights=None) if from_scratch else data.recipe
    if cfg.holdout:   # tuning: train on the rest of the training set, evaluate on the held-out split
        keep, held = (i.tolist() for i in holdout_indices(len(data.train_ids), cfg.holdout))
        data = replace(data, train_ids=[data.train_ids[i] for i in keep], train_y=data.train_y[keep],
                       test_ids=[data.train_ids[i] for i in held], test_y=data.train_y[held])
    model = recipe.build(data.num_classes, seed).to(device)
    lengths = [len(ids) for ids in data.train_ids]

    def batches(epoch: int):
        for idx in sortish_batches(lengths, cfg.batch_size, data_generator):
            x = collate(data.recipe.tokenizer, [data.train_ids[i] for i in idx.tolist()])
            yield x.to(device), data.train_y[idx].to(device)

    return TaskSetup(model, batches, lambda predict: evaluate(predict, data, device),
                     len(lengths) // cfg.batch_size, data.num_classes, channels_last_default=False,
                     dropout_seed_per_epoch=True,
                     layer_groups=model.layer_groups())
