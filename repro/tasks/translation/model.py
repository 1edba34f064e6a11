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
step (`rows` picks the source row of each hypothesis). Through the memo the model also keeps each decoder
layer's input at every position decoded so far (a key/value cache): when a call's prefix extends the
cached one by one token for distinct rows (greedy decoding), only the new position runs through the
decoder, O(1) linear layers per step instead of O(t); any other call (beam search reorders its
hypotheses) recomputes the whole prefix. Any predictor built on the model (EMA copy,
averaged checkpoints, autocast wrapper, an ensemble) passes the input through unchanged, so decoding
works through any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
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


@dataclass
class _Decoding:
    """One module's state while decoding one batch of sources: the encoder output and, per decoder
    layer, its input at positions 0..length-1 of every source row (`tokens`: the prefix they belong to)."""
    memory: Tensor
    src_pad: Tensor
    length: int = 0
    tokens: Tensor | None = None
    layer_inputs: list[Tensor] = field(default_factory=list)

    def start(self, layers: int) -> None:
        n, width = self.memory.shape[0], self.memory.shape[2]
        self.length, self.tokens = 0, torch.zeros(n, 0, dtype=torch.long, device=self.memory.device)
        self.layer_inputs = [self.memory.new_zeros(n, 0, width) for _ in range(layers)]

    def extends(self, rows: Tensor, prefix: Tensor) -> bool:
        """True when `prefix` is the cached prefix of `rows` plus one token, each row once."""
        return (self.length > 0 and prefix.shape[1] == self.length + 1 and len(rows.unique()) == len(rows)
                and bool((self.tokens[rows, :self.length] == prefix[:, :-1]).all()))


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

    def _embed(self, embedding: nn.Embedding, ids: Tensor, start: int = 0) -> Tensor:
        pe = sinusoidal_positions(start + ids.shape[1], self.d_model, ids.device)[start:]
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
            return self.decode(x.tgt_in, *self.encode(x.src), x.last_only)
        if id(self) not in x.memo:   # keyed by module: the models of an ensemble each keep their own
            x.memo[id(self)] = _Decoding(*self.encode(x.src))
        state = x.memo[id(self)]
        rows = torch.arange(len(x.src), device=x.src.device) if x.rows is None else x.rows
        if x.last_only and state.extends(rows, x.tgt_in):
            return self._decode_next(state, rows, x.tgt_in)
        if x.last_only and x.tgt_in.shape[1] == 1 and len(rows.unique()) == len(rows):
            state.start(len(self.decoder.layers))     # the first step of a decode: an empty cache
            return self._decode_next(state, rows, x.tgt_in)
        state.length = 0    # not an extension of the cache: recompute, and cache nothing
        return self.decode(x.tgt_in, state.memory[rows], state.src_pad[rows], x.last_only)

    def _decode_next(self, state: _Decoding, rows: Tensor, prefix: Tensor) -> Tensor:
        """Logits [B, 1, V] of the token after `prefix`, running only its last position through the
        decoder; each layer attends to its cached inputs at the earlier positions (no mask needed: the
        last position may see them all)."""
        t = state.length
        if state.tokens.shape[1] <= t:     # grow the per-row buffers by doubling
            state.tokens = _grow(state.tokens, t)
            state.layer_inputs = [_grow(h, t) for h in state.layer_inputs]
        state.tokens[rows, t] = prefix[:, -1]
        memory, src_pad = state.memory[rows], state.src_pad[rows]
        h = self._embed(self.tgt_embed, prefix[:, -1:], start=t)
        for layer, cached in zip(self.decoder.layers, state.layer_inputs, strict=True):
            cached[rows, t] = h[:, 0]
            h = _decoder_layer_step(layer, h, cached[rows, : t + 1], memory, src_pad)
        state.length = t + 1
        if self.decoder.norm is not None:
            h = self.decoder.norm(h)
        return self.out(h)


def _grow(buffer: Tensor, length: int) -> Tensor:
    extra = buffer.new_zeros(buffer.shape[0], max(length, 8), *buffer.shape[2:])
    return torch.cat([buffer, extra], 1)


def _decoder_layer_step(layer: nn.TransformerDecoderLayer, x: Tensor, seen: Tensor, memory: Tensor,
                        src_pad: Tensor) -> Tensor:
    """nn.TransformerDecoderLayer.forward for one new position x [B, 1, d] whose self-attention keys
    and values are the layer inputs `seen` [B, t + 1, d] (x last): the same sublayers, in eval mode."""
    if layer.norm_first:
        seen = layer.norm1(seen)
        x = x + layer.dropout1(layer.self_attn(layer.norm1(x), seen, seen, need_weights=False)[0])
        x = x + layer._mha_block(layer.norm2(x), memory, None, src_pad)
        return x + layer._ff_block(layer.norm3(x))
    x = layer.norm1(x + layer.dropout1(layer.self_attn(x, seen, seen, need_weights=False)[0]))
    x = layer.norm2(x + layer._mha_block(x, memory, None, src_pad))
    return layer.norm3(x + layer._ff_block(x))


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
