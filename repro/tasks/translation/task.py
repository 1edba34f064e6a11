"""The `translation` task: a corpus, its tokenizer, token-count batches, the loss and BLEU/chrF evaluation.

BLEU and chrF (decoding every test sentence) are measured at the last evaluation only; the evaluations
before it, for the learning curves, measure validation perplexity.

Spec fields for this task:
- `data: {name: bible_en_es, subset, vocab_size, tokenizer, max_len, reverse, valid_subset, test_subset,
  beam, length_penalty}` (see `translation_data`); the test protocol (how many test sentences, beam size,
  length penalty) is part of `data`, like `test_subset` for images.
- `model: {name: transformer, ...}` (repro.tasks.translation.model.transformer).
- `batch_size` is the token budget of a batch: sentences x longest (source or target) side <= batch_size,
  as fairseq's --max-tokens (Vaswani et al. used ~25k source + 25k target tokens per batch).
The model input x is Seq2SeqInput(src, tgt_in) and the target y the next tokens [B, T] (PAD padded).
Derived files (the parsed Bible, tokenizers, saved HF copies) are cached under <data root>/translation:
a task is given the data root, not the runner's cache dir.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import sacrebleu
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch import Tensor

from repro.errors import UserError
from repro.tasks.base import TaskSetup, per_token, stable_hash
from repro.tasks.translation import tokenize as T
from repro.tasks.translation.corpus import CORPORA
from repro.tasks.translation.decode import beam_search, greedy_decode, next_token_scorer
from repro.tasks.translation.model import TRANSLATION_MODELS, Seq2SeqInput
from tricks.smoothing import SmoothedTargets, cross_entropy_of

CACHE_SUBDIR = "translation"       # under the data root: parsed corpora, tokenizers, HF copies
EVAL_TOKENS = 8000                  # token budget of evaluation batches (beam hypotheses included)

Encoded = list[tuple[list[int], list[int]]]


@dataclass
class TranslationData:
    name: str
    tokenizer: Tokenizer
    train: Encoded
    valid: Encoded
    test_src: list[list[int]]
    test_refs: list[str]
    beam: int
    length_penalty: float
    max_len: int

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()


def _first(pairs: list, n: int | None, field: str) -> list:
    if n is not None and not 0 < n <= len(pairs):
        raise UserError(f"data.{field}: {n}: must be between 1 and the {len(pairs)} pairs of the split")
    return pairs if n is None else pairs[:n]


def _encode_pairs(tok: Tokenizer, pairs: list[tuple[str, str]]) -> Encoded:
    return list(zip(T.encode(tok, [s for s, _ in pairs]), T.encode(tok, [t for _, t in pairs]), strict=True))


def translation_data(corpus: str, data_root: Path, subset: int | None = None, vocab_size: int = 8000,
                     tokenizer: Literal["bpe", "unigram"] = "bpe", max_len: int = 128, reverse: bool = False,
                     valid_subset: int | None = None, test_subset: int | None = None, beam: int = 4,
                     length_penalty: float = 0.6) -> TranslationData:
    """Load `corpus`, train or load its tokenizer (on the whole training split), encode the splits.

    subset: n training pairs, the first n in a fixed hash order of the source text (so a smaller subset
    lies inside a larger one); then training pairs with more than max_len tokens on a side are dropped.
    valid_subset / test_subset: the first n pairs of those splits (test sources cut to max_len tokens).
    beam = 1 is greedy decoding; reverse translates target -> source.
    """
    if beam < 1:
        raise UserError(f"data.beam: {beam}: must be 1 (greedy) or more")
    cache = Path(data_root) / CACHE_SUBDIR
    raw = CORPORA[corpus](cache)
    raw = raw.reversed() if reverse else raw
    tok = T.cached_tokenizer(cache, corpus, raw.train, vocab_size, tokenizer)
    train = _first(sorted(raw.train, key=lambda p: stable_hash(p[0])), subset, "subset")
    train = [p for p in _encode_pairs(tok, train) if max(map(len, p)) <= max_len]
    if not train:
        raise UserError(f"data.max_len: {max_len}: no training pair is that short")
    valid = _encode_pairs(tok, _first(raw.valid, valid_subset, "valid_subset"))
    test = _first(raw.test, test_subset, "test_subset")
    test_src = [ids[:max_len] for ids in T.encode(tok, [s for s, _ in test])]
    return TranslationData(corpus, tok, train, valid, test_src, [t for _, t in test], beam, length_penalty,
                           max_len)


def _registry_entry(corpus: str):
    """TRANSLATION_DATASETS[corpus]: its signature is the schema of a spec's `data:` keys."""
    def entry(data_root: Path, device=None, subset: int | None = None, vocab_size: int = 8000,
              tokenizer: Literal["bpe", "unigram"] = "bpe", max_len: int = 128, reverse: bool = False,
              valid_subset: int | None = None, test_subset: int | None = None, beam: int = 4,
              length_penalty: float = 0.6) -> TranslationData:
        return translation_data(corpus, data_root, subset, vocab_size, tokenizer, max_len, reverse,
                                valid_subset, test_subset, beam, length_penalty)
    entry.__name__ = entry.__qualname__ = corpus
    entry.__doc__ = CORPORA[corpus].__doc__
    return entry


TRANSLATION_DATASETS = {name: _registry_entry(name) for name in CORPORA}


# ----------------------------------------------------------------------------- batches


def token_batches(lengths: list[int], max_tokens: int, generator: torch.Generator | None = None
                  ) -> list[Tensor]:
    """Index batches with len(batch) * max(lengths in batch) <= max_tokens, bucketed by length.

    Sentences are sorted by length (ties in a random order from `generator`, or in index order) and
    cut greedily into batches; every batch holds sentences of similar length, so little padding.
    """
    if max(lengths) > max_tokens:
        raise UserError(f"batch_size: {max_tokens}: below the longest sentence ({max(lengths)} tokens)")
    n = len(lengths)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    order = order[torch.argsort(torch.as_tensor(lengths)[order], stable=True)].tolist()
    batches, current, longest = [], [], 0
    for i in order:
        if current and (len(current) + 1) * max(longest, lengths[i]) > max_tokens:
            batches.append(torch.tensor(current))
            current, longest = [], 0
        current.append(i)
        longest = max(longest, lengths[i])
    batches.append(torch.tensor(current))
    return batches


def _pad(seqs: list[list[int]]) -> Tensor:
    out = torch.full((len(seqs), max(map(len, seqs))), T.PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def collate(pairs: Encoded) -> tuple[Seq2SeqInput, Tensor]:
    """x = (src + </s>, <s> + tgt), y = tgt + </s>, PAD padded (fairseq also ends the source with </s>)."""
    src = _pad([[*s, T.EOS] for s, _ in pairs])
    tgt_in = _pad([[T.BOS, *t] for _, t in pairs])
    tgt_out = _pad([[*t, T.EOS] for _, t in pairs])
    return Seq2SeqInput(src, tgt_in), tgt_out


def _lengths(pairs: Encoded) -> list[int]:
    return [max(len(s), len(t)) + 1 for s, t in pairs]


def _to(x: Seq2SeqInput, y: Tensor, device) -> tuple[Seq2SeqInput, Tensor]:
    return Seq2SeqInput(x.src.to(device), x.tgt_in.to(device)), y.to(device)


# ----------------------------------------------------------------------------- loss and evaluation


def seq2seq_loss(logits: Tensor, target) -> Tensor:
    """Mean cross-entropy per target token over [B, T, V] logits; the task's ignore mask leaves PAD out.

    target: ids [B, T] (ignore_index = PAD); label-smoothed ids (tricks.smoothing.SmoothedTargets, as the
    label_smoothing trick hands them: Szegedy et al., arXiv 1512.00567), smoothed with PAD positions still
    left out, so eps = 0 gives exactly the plain loss; or soft targets [B, T, V], where a position is
    PAD when its target peaks at PAD.
    """
    logits = logits.float()
    if isinstance(target, SmoothedTargets) or not target.is_floating_point():
        return cross_entropy_of(logits.flatten(0, 1), per_token(target), ignore_index=T.PAD)
    keep = target.argmax(-1) != T.PAD
    return -(target[keep] * logits[keep].log_softmax(-1)).sum(-1).mean()


def target_tokens(x, y: Tensor) -> int:
    """Throughput unit: non-PAD target tokens of a batch (soft targets count their non-PAD rows)."""
    ids = y.argmax(-1) if y.is_floating_point() else y
    return int((ids != T.PAD).sum())


def valid_nll(predictor, pairs: Encoded, device) -> float:
    """Teacher-forced NLL in nats per target token (</s> included), summed over the split."""
    total, count = 0.0, 0
    for idx in token_batches(_lengths(pairs), EVAL_TOKENS):
        x, y = _to(*collate([pairs[i] for i in idx]), device)
        logp = predictor(x).float().log_softmax(-1)
        total += F.nll_loss(logp.flatten(0, 1), y.flatten(), ignore_index=T.PAD, reduction="sum").item()
        count += int((y != T.PAD).sum())
    return total / count


def translate(predictor, data: TranslationData, sources: list[list[int]], device, beam: int | None = None
              ) -> list[str]:
    """Detokenized translations of token-id `sources`, decoded in length-sorted batches."""
    beam = data.beam if beam is None else beam
    out = [""] * len(sources)
    for idx in token_batches([len(s) + 1 for s in sources], EVAL_TOKENS // beam):
        src = _pad([sources[i] + [T.EOS] for i in idx]).to(device)
        score, n = next_token_scorer(predictor, src), len(idx)
        max_len = int(1.5 * src.shape[1]) + 10
        if beam == 1:
            ids = greedy_decode(score, n, max_len, device)
        else:
            ids = beam_search(score, n, max_len, beam, data.length_penalty, device)
        for i, text in zip(idx.tolist(), T.decode(data.tokenizer, ids.tolist()), strict=True):
            out[i] = text
    return out


def evaluate(predictor, data: TranslationData, device) -> dict:
    """BLEU and chrF (sacrebleu, detokenized) on the test sentences; NLL and perplexity on valid."""
    hyps = translate(predictor, data, data.test_src, device)
    return {"bleu": sacrebleu.corpus_bleu(hyps, [data.test_refs]).score,
            "chrf": sacrebleu.corpus_chrf(hyps, [data.test_refs]).score,
            **evaluate_perplexity(predictor, data, device)}


def evaluate_perplexity(predictor, data: TranslationData, device) -> dict:
    """The learning curves' evaluation: valid NLL and perplexity, no decoding (BLEU and chrF are NaN)."""
    nll = valid_nll(predictor, data.valid, device)
    return {"valid_nll": nll, "valid_ppl": math.exp(nll)}


def example_translations(predictor, data: TranslationData, device, n: int = 5) -> list[dict]:
    """The first n test verses (the split is fixed, so every arm and seed shows the same ones)."""
    hyps = translate(predictor, data, data.test_src[:n], device)
    sources = T.decode(data.tokenizer, data.test_src[:n])
    return [{"source": s, "reference": r, "hypothesis": h}
            for s, r, h in zip(sources, data.test_refs[:n], hyps, strict=True)]


# ----------------------------------------------------------------------------- the task


@lru_cache(maxsize=4)
def _cached_data(data_key: str, data_root: str) -> TranslationData:
    cfg = json.loads(data_key)
    name = cfg.pop("name")
    if name not in TRANSLATION_DATASETS:
        raise UserError(f"data.name: {name!r}: not a translation dataset; "
                        f"one of {', '.join(TRANSLATION_DATASETS)}")
    if cfg.pop("augment", None):
        raise UserError("data.augment: the translation task has no augmentations")
    return TRANSLATION_DATASETS[name](Path(data_root), **cfg)


def translation_task(cfg, seed: int, device: torch.device, data_root: Path, data_generator: torch.Generator):
    """TaskSetup for a translation spec: Transformer, token-count batches in a per-epoch random order."""
    data = _cached_data(json.dumps(cfg.data.model_dump(), sort_keys=True), str(data_root))
    model_kwargs = {k: v for k, v in cfg.model.model_dump().items() if k != "name"}
    with torch.random.fork_rng(devices=[]):
        model = TRANSLATION_MODELS[cfg.model.name](data.vocab_size, T.PAD, **model_kwargs)
    model.reset_parameters(torch.Generator().manual_seed(seed))   # same seed -> same init in every arm
    model.to(device)
    batches = token_batches(_lengths(data.train), cfg.batch_size, data_generator)
    padded = [collate([data.train[i] for i in idx]) for idx in batches]

    def epoch_batches(epoch: int):
        for b in torch.randperm(len(padded), generator=data_generator).tolist():
            yield _to(*padded[b], device)

    return TaskSetup(model, epoch_batches, lambda predictor: evaluate(predictor, data, device), len(padded),
                     data.vocab_size, channels_last_default=False, loss_fn=seq2seq_loss, count=target_tokens,
                     examples=lambda predictor: example_translations(predictor, data, device),
                     evaluate_curve=lambda predictor: evaluate_perplexity(predictor, data, device))
