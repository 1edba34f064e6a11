"""The sequence-to-sequence Transformer of Vaswani et al. 2017 (arXiv 1706.03762), built from torch's
nn.TransformerEncoderLayer / nn.TransformerDecoderLayer.

- Post-norm by default (the paper: x <- LayerNorm(x + Sublayer(x))); `norm_first=True` gives pre-norm
  (x <- x + Sublayer(LayerNorm(x)), Xiong et al., arXiv 2002.04745) with a final LayerNorm per stack.
- Sinusoidal positions (Sec. 3.5): PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(same).
- Embeddings scaled by sqrt(d_model) (Sec. 3.4); one joint vocabulary, source and target embeddings
  shared or separate, and the output projection tied to the target embedding (Press & Wolf, 1608.05859).

The model's input is a `Seq2SeqInput(src, tgt_in)` (a plain tuple also works) and its output the logits
[B, T, V]. For decoding, `last_only=True` projects only the last position ([B, 1, V]), and a `memo` dict
owned by the decoder lets each module encode the source batch once per decoded batch instead of once per
step (`rows` picks the source row of each hypothesis). Any predictor built on the model (EMA copy,
averaged checkpoints, autocast wrapper, an ensemble) passes the input through unchanged, so decoding
works through any of them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn


class Seq2SeqInput(NamedTuple):
    src: Tensor                 # [N, S] source ids, PAD on the right
    tgt_in: Tensor              # [B, T] <s> followed by the target prefix
    last_only: bool = False     # logits of the last target position only
    memo: dict | None = None    # decoding: each module keeps its encoder output for `src` here
    rows: Tensor | None = None  # decoding: the source row of each prefix (B indices into src)


def sinusoidal_positions(length: int, dim: int, device=None) -> Tensor:
    """[length, dim] table: PE(pos, 2i) = sin(pos / 10000^(2i/dim)), PE(pos, 2i+1) = cos(same angle)."""
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer; the paper's base model by default (N=6, d=512, d_ff=2048, h=8)."""

    def __init__(self, vocab_size: int, pad_id: int = 0, d_model: int = 512, heads: int = 8,
                 encoder_layers: int = 6, decoder_layers: int = 6, d_ff: int = 2048, dropout: float = 0.1,
                 norm_first: bool = False, share_embeddings: bool = True, tie_output: bool = True):
        super().__init__()
        self.pad_id, self.d_model = pad_id, d_model
        self.src_embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.tgt_embed = self.src_embed if share_embeddings else nn.Embedding(vocab_size, d_model,
                                                                               padding_idx=pad_id)
        layer = dict(d_model=d_model, nhead=heads, dim_feedforward=d_ff, dropout=dropout, batch_first=True,
                     norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(**layer), encoder_layers, enable_nested_tensor=False,
            norm=nn.LayerNorm(d_model) if norm_first else None)
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(**layer), decoder_layers,
            norm=nn.LayerNorm(d_model) if norm_first else None)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, vocab_size, bias=False)
        if tie_output:
            self.out.weight = self.tgt_embed.weight

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """Xavier-uniform matrices, zero biases, LayerNorm (1, 0), embeddings N(0, d^-1/2) with a zero
        padding row (fairseq's transformer init); all draws from `generator`."""
        embeddings = {id(m.weight) for m in (self.src_embed, self.tgt_embed)}
        for name, p in self.named_parameters():
            if id(p) in embeddings:
                p.normal_(0.0, self.d_model ** -0.5, generator=generator)
                p[self.pad_id].zero_()
            elif p.dim() > 1:
                nn.init.xavier_uniform_(p, generator=generator)
            elif "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()

    def _embed(self, embedding: nn.Embedding, ids: Tensor) -> Tensor:
        pe = sinusoidal_positions(ids.shape[1], self.d_model, ids.device)
        return self.dropout(embedding(ids) * math.sqrt(self.d_model) + pe)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """Encoder states [B, S, d] and the source padding mask [B, S] (True = PAD)."""
        pad = src == self.pad_id
        return self.encoder(self._embed(self.src_embed, src), src_key_padding_mask=pad), pad

    def decode(self, tgt_in: Tensor, memory: Tensor, src_pad: Tensor, last_only: bool = False) -> Tensor:
        """Logits [B, T, V] (or [B, 1, V]) of the next token after each target prefix."""
        t = tgt_in.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(t, device=tgt_in.device, dtype=memory.dtype)
        h = self.decoder(self._embed(self.tgt_embed, tgt_in), memory, tgt_mask=causal, tgt_is_causal=True,
                         memory_key_padding_mask=src_pad)
        return self.out(h[:, -1:] if last_only else h)

    def forward(self, x) -> Tensor:
        x = Seq2SeqInput(*x)
        if x.memo is None:
            memory, src_pad = self.encode(x.src)
        else:   # keyed by module: the models of an ensemble each keep their own encoding
            if id(self) not in x.memo:
                x.memo[id(self)] = self.encode(x.src)
            memory, src_pad = x.memo[id(self)]
        if x.rows is not None:
            memory, src_pad = memory[x.rows], src_pad[x.rows]
        return self.decode(x.tgt_in, memory, src_pad, x.last_only)


def transformer(vocab_size: int, pad_id: int = 0, d_model: int = 512, heads: int = 8, encoder_layers: int = 6,
                decoder_layers: int = 6, d_ff: int = 2048, dropout: float = 0.1, norm_first: bool = False,
                share_embeddings: bool = True, tie_output: bool = True) -> Seq2SeqTransformer:
    """Spec: `model: {name: transformer, d_model: 512, heads: 8, encoder_layers: 6, decoder_layers: 6,
    d_ff: 2048, dropout: 0.1, norm_first: false, share_embeddings: true, tie_output: true}`."""
    if d_model % heads:
        raise ValueError(f"d_model {d_model} must be a multiple of heads {heads}")
    return Seq2SeqTransformer(vocab_size, pad_id, d_model, heads, encoder_layers, decoder_layers, d_ff,
                              dropout, norm_first, share_embeddings, tie_output)


TRANSLATION_MODELS = {"transformer": transformer}
