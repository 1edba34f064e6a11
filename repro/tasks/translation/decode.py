"""Greedy and beam-search decoding, batched, through any predictor of the model.

A decoder only needs `score(rows, prefix) -> log p(next token | src[rows], prefix)` [B, V] for one batch
of sources. `next_token_scorer` builds it from a predictor (the model, its EMA copy, averaged
checkpoints, ...) by calling it with `Seq2SeqInput(src, prefix, last_only=True, memo, rows)`: the model
encodes `src` once per batch (kept in `memo`). Greedy decoding extends every active row's prefix by one
token per call, which the model serves from its key/value cache (one position per step); beam search
repeats and reorders rows, so the model reruns the decoder over its whole prefix (correct for any call).

Beam search follows fairseq's rules (Ott et al. 2019, arXiv 1904.01038): each step takes the best 2K
of the K x V extensions; an extension ending in </s> among the best K is finished, with score
log p(Y) / lp(Y), lp(Y) = ((5 + |Y|) / 6)^alpha (GNMT, Wu et al. 2016, arXiv 1609.08144, Eq. 14; |Y| counts
the tokens generated, </s> included); the best K extensions without </s> go on. A sentence is done when K
hypotheses have finished; the answer is the finished one with the best score. With K = 1 this is exactly
greedy decoding. At `max_len` every hypothesis is ended with </s>. Vaswani et al. (arXiv 1706.03762,
Sec. 6.1): K = 4, alpha = 0.6.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from repro.tasks.translation.model import Seq2SeqInput
from repro.tasks.translation.tokenize import BOS, EOS, PAD

Scorer = Callable[[Tensor, Tensor], Tensor]   # (rows [B], prefix [B, t]) -> log-probs [B, V]
NEG_INF = float("-inf")


def length_penalty(length: int | Tensor, alpha: float) -> float | Tensor:
    """lp(Y) = ((5 + |Y|) / 6)^alpha (GNMT, arXiv 1609.08144, Eq. 14)."""
    return ((5 + length) / 6) ** alpha


def next_token_scorer(predictor: Callable, src: Tensor) -> Scorer:
    """Log-probabilities of the next token for sources `src` [N, S], from a predictor that maps
    Seq2SeqInput -> logits or log-probs [B, T, V]."""
    memo: dict = {}

    def score(rows: Tensor, prefix: Tensor) -> Tensor:
        return predictor(Seq2SeqInput(src, prefix, True, memo, rows))[:, -1].float().log_softmax(-1)
    return score


def _allowed(logp: Tensor, last_step: bool) -> Tensor:
    """Never generate <pad> or <s>; at the last step only </s>."""
    logp = logp.clone()
    if last_step:
        keep = logp[:, EOS].clone()
        logp.fill_(NEG_INF)
        logp[:, EOS] = keep
    logp[:, [PAD, BOS]] = NEG_INF
    return logp


def greedy_decode(score: Scorer, n: int, max_len: int, device=None) -> Tensor:
    """[n, max_len] tokens for n sources: argmax at every step until </s> (kept), PAD after it."""
    out = torch.full((n, max_len), PAD, dtype=torch.long, device=device)
    prefix = torch.full((n, 1), BOS, dtype=torch.long, device=device)
    active = torch.arange(n, device=device)
    for t in range(max_len):
        tok = _allowed(score(active, prefix[active]), t == max_len - 1).argmax(-1)
        out[active, t] = tok
        prefix = torch.cat([prefix, out[:, t:t + 1]], 1)
        active = active[tok != EOS]
        if len(active) == 0:
            break
    return out


class _Finished:
    """Per sentence: how many hypotheses finished, and the best K of them (score, tokens)."""

    def __init__(self, n: int, k: int, max_len: int, device):
        self.count = torch.zeros(n, dtype=torch.long, device=device)
        self.score = torch.full((n, k), NEG_INF, device=device)
        self.seq = torch.full((n, k, max_len), PAD, dtype=torch.long, device=device)

    def add(self, rows: Tensor, scores: Tensor, seqs: Tensor, is_eos: Tensor, length: int, alpha: float):
        """Finish the </s> extensions among the best K (in score order) until a sentence has K."""
        k = self.score.shape[1]
        room = self.count[rows, None] + is_eos.long().cumsum(1) <= k
        take = is_eos & room
        self.count[rows] += take.sum(1)
        new = torch.where(take, scores / length_penalty(length, alpha), NEG_INF)
        padded = torch.full((len(rows), k, self.seq.shape[2]), PAD, dtype=torch.long, device=seqs.device)
        padded[:, :, : seqs.shape[2]] = seqs
        pool_score = torch.cat([self.score[rows], new], 1)
        pool_seq = torch.cat([self.seq[rows], padded], 1)
        best = pool_score.topk(k, dim=1).indices
        self.score[rows] = pool_score.gather(1, best)
        self.seq[rows] = pool_seq[torch.arange(len(rows), device=rows.device)[:, None], best]


def beam_search(score: Scorer, n: int, max_len: int, beam: int = 4, alpha: float = 0.6, device=None
                ) -> Tensor:
    """[n, max_len] tokens of the best finished hypothesis for each of n sources (</s> kept, PAD after)."""
    k = beam
    alive = torch.full((n, k, 1), BOS, dtype=torch.long, device=device)
    alive_logp = torch.full((n, k), NEG_INF, device=device)
    alive_logp[:, 0] = 0.0                      # one live hypothesis at the start
    done = _Finished(n, k, max_len, device)
    active = torch.arange(n, device=device)
    for t in range(max_len):
        a = len(active)
        logp = _allowed(score(active.repeat_interleave(k), alive[active].flatten(0, 1)), t == max_len - 1)
        cand = (alive_logp[active, :, None] + logp.view(a, k, -1)).flatten(1)      # [a, K*V]
        top, idx = cand.topk(2 * k, dim=1)
        origin, tok = idx // logp.shape[-1], idx % logp.shape[-1]
        rows = torch.arange(a, device=device)[:, None]
        seqs = torch.cat([alive[active][rows, origin], tok[..., None]], 2)          # [a, 2K, t + 2]
        is_eos = (tok[:, :k] == EOS) & (top[:, :k] > NEG_INF)
        done.add(active, top[:, :k], seqs[:, :k, 1:], is_eos, t + 1, alpha)
        going = torch.where(tok == EOS, NEG_INF, top).topk(k, dim=1)
        alive = torch.cat([alive, torch.full((n, k, 1), PAD, dtype=torch.long, device=device)], 2)
        alive[active] = seqs[rows, going.indices]
        alive_logp[active] = going.values
        active = active[done.count[active] < k]
        if len(active) == 0:
            break
    return done.seq[torch.arange(n, device=device), done.score.argmax(1)]
