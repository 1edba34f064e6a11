"""The `language-model` task: next-token prediction on a token stream, loss in nats per token.

Spec fields for this task:
- `data: {name: bible_en | synthetic_lm, subset, vocab_size, context, valid_subset}`: the English side of
  the offline Bible (World English Bible, read by repro.tasks.translation.corpus, split by the same fixed
  hash of the verse reference) or a synthetic text for tests; a BPE tokenizer trained on the training
  verses (repro.tasks.translation.tokenize); verses joined with </s> into one stream per split and cut
  into non-overlapping blocks of context + 1 tokens. subset: the first n training verses (in a fixed hash
  order); valid_subset: the first n validation verses.
- `model: {name: causal_transformer, d_model, heads, layers, ff, dropout}` (repro.tasks.lm.model).
- `batch_size`: blocks per batch. An epoch is one pass over the training blocks in a random order.
Metrics: valid_loss (mean NLL in nats per predicted token over the validation blocks) and valid_ppl =
exp(valid_loss). With `holdout` (tuning) a fixed share of the training blocks is held out and evaluated
instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from repro.errors import UserError
from repro.tasks.base import TaskSetup, per_token, stable_hash
from repro.tasks.holdout import holdout_indices
from repro.tasks.lm.model import LM_MODELS
from repro.tasks.translation import tokenize as T
from repro.tasks.translation.corpus import SYLLABLES, bible_triples, split_of
from tricks.smoothing import SmoothedTargets, cross_entropy_of

CACHE_SUBDIR = "translation"   # the parsed Bible and tokenizers are shared with the translation task
EVAL_BATCH = 64


@dataclass
class LmData:
    name: str
    vocab_size: int
    context: int
    train: Tensor      # [N, context + 1] blocks
    valid: Tensor      # [M, context + 1]


def _blocks(texts: list[list[int]], context: int) -> Tensor:
    """Token ids of the texts joined with </s>, cut into non-overlapping blocks of context + 1 tokens."""
    stream = torch.tensor([t for ids in texts for t in (*ids, T.EOS)], dtype=torch.long)
    n = (len(stream) - 1) // context
    if n < 1:
        raise UserError(f"data.context: {context}: longer than the text ({len(stream)} tokens)")
    return torch.stack([stream[i * context: i * context + context + 1] for i in range(n)])


def _first(texts: list[str], n: int | None, field: str) -> list[str]:
    if n is not None and not 0 < n <= len(texts):
        raise UserError(f"data.{field}: {n}: must be between 1 and the {len(texts)} texts of the split")
    return texts if n is None else texts[:n]


def lm_data(name: str, train: list[str], valid: list[str], cache: Path, subset: int | None, vocab_size: int,
            context: int, valid_subset: int | None) -> LmData:
    tok = T.cached_tokenizer(cache, name, [(t,) for t in train], vocab_size)
    train = _first(sorted(train, key=stable_hash), subset, "subset")
    valid = _first(valid, valid_subset, "valid_subset")
    return LmData(name, tok.get_vocab_size(), context, _blocks(T.encode(tok, train), context),
                  _blocks(T.encode(tok, valid), context))


def bible_en(data_root: Path, device=None, subset: int | None = None, vocab_size: int = 4000,
             context: int = 64, valid_subset: int | None = None) -> LmData:
    """English side of the offline Bible (World English Bible; 2.5 % of the verses validate)."""
    cache = Path(data_root) / CACHE_SUBDIR
    splits: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for ref, en, _ in bible_triples(cache):
        splits[split_of(ref)].append(en)
    return lm_data("bible_en", splits["train"], splits["valid"], cache, subset, vocab_size, context,
                   valid_subset)


def synthetic_lm(data_root: Path, device=None, subset: int | None = None, vocab_size: int = 200,
                 context: int = 16, valid_subset: int | None = None, sentences: int = 600) -> LmData:
    """Sentences with structure to learn: a two-syllable 'word' followed by its fixed successor, 3-8 words
    long, from a generator with a fixed seed (the same text for every run seed)."""
    g = torch.Generator().manual_seed(0)
    words = [a + b for a in SYLLABLES for b in SYLLABLES[:3]]
    successor = torch.randperm(len(words), generator=g).tolist()

    def sentence() -> str:
        i, out = int(torch.randint(len(words), (1,), generator=g)), []
        for _ in range(int(torch.randint(3, 9, (1,), generator=g))):
            out.append(words[i])
            i = successor[i]
        return " ".join(out)

    texts = [sentence() for _ in range(sentences)]
    held = max(1, sentences // 10)
    cache = Path(data_root) / CACHE_SUBDIR
    return lm_data(f"synthetic_lm{sentences}", texts[held:], texts[:held], cache, subset, vocab_size, context,
                   valid_subset)


LM_DATASETS = {"bible_en": bible_en, "synthetic_lm": synthetic_lm}


def lm_loss(logits: Tensor, target: Tensor | SmoothedTargets) -> Tensor:
    """Mean cross-entropy in nats per predicted token over [B, T, V] logits and [B, T] next tokens, or
    label-smoothed ones (SmoothedTargets, from the label_smoothing trick). The blocks have no padding, so
    no position is ignored."""
    return cross_entropy_of(logits.float().flatten(0, 1), per_token(target))


def evaluate(predict, blocks: Tensor, device) -> dict:
    """valid_loss: NLL in nats per token over all blocks; valid_ppl = exp(valid_loss)."""
    total, count = 0.0, 0
    for i in range(0, len(blocks), EVAL_BATCH):
        b = blocks[i:i + EVAL_BATCH].to(device)
        logits = predict(b[:, :-1]).float()
        total += F.cross_entropy(logits.flatten(0, 1), b[:, 1:].flatten(), reduction="sum").item()
        count += b[:, 1:].numel()
    loss = total / count
    return {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 50.0))}


@lru_cache(maxsize=4)
def _cached_data(data_key: str, data_root: str) -> LmData:
    cfg = json.loads(data_key)
    name = cfg.pop("name")
    if name not in LM_DATASETS:
        raise UserError(f"data.name: {name!r}: not a language-model dataset; one of {', '.join(LM_DATASETS)}")
    if cfg.pop("augment", None):
        raise UserError("data.augment: the language-model task has no augmentations")
    return LM_DATASETS[name](Path(data_root), **cfg)


def language_model_task(cfg, seed: int, device: torch.device, data_root: Path,
                        data_generator: torch.Generator) -> TaskSetup:
    """TaskSetup for a language-model spec: blocks in a new random order each epoch, tokens as throughput."""
    data = _cached_data(json.dumps(cfg.data.model_dump(), sort_keys=True), str(data_root))
    train, valid = data.train, data.valid
    if cfg.holdout:   # tuning: train on the rest of the training blocks, evaluate on the held-out ones
        keep, held = holdout_indices(len(train), cfg.holdout)
        train, valid = train[keep], train[held]
    if len(train) < cfg.batch_size:
        raise UserError(f"batch_size: {cfg.batch_size}: more than the {len(train)} training blocks")
    kwargs = {k: v for k, v in cfg.model.model_dump().items() if k != "name"}
    model = LM_MODELS[cfg.model.name](data.vocab_size, data.context, **kwargs)
    model.reset_parameters(torch.Generator().manual_seed(seed))   # same seed -> same init in every arm
    model.to(device)
    steps = len(train) // cfg.batch_size

    def batches(epoch: int):
        order = torch.randperm(len(train), generator=data_generator)[: steps * cfg.batch_size]
        for idx in order.view(steps, cfg.batch_size):
            b = train[idx].to(device)
            yield b[:, :-1], b[:, 1:]

    return TaskSetup(model, batches, lambda predict: evaluate(predict, valid, device), steps, data.vocab_size,
                     channels_last_default=False, loss_fn=lm_loss, count=lambda x, y: y.numel())
