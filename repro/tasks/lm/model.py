"""A small causal (decoder-only) Transformer language model from torch.nn layers.

Token embedding (scaled by sqrt(d_model)) plus a learned position embedding, `layers` pre-norm
nn.TransformerEncoderLayer blocks under a causal mask (each position sees itself and the past only), a
final LayerNorm, and the output projection tied to the token embedding (Press & Wolf, arXiv 1608.05859).
Input: token ids [B, T] (T <= context); output: logits [B, T, V].
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class CausalTransformer(nn.Module):
    def __init__(self, vocab_size: int, context: int, d_model: int = 128, heads: int = 4, layers: int = 2,
                 ff: int = 512, dropout: float = 0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(context, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.d_model = d_model

    def reset_parameters(self, generator: torch.Generator) -> None:
        """N(0, 0.02) embeddings and weight matrices (GPT-2's init), zero biases, unit LayerNorm; drawn
        from `generator` so an arm's init depends on its seed only."""
        for name, p in self.named_parameters():
            with torch.no_grad():
                if p.dim() >= 2:
                    p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
                elif "norm" in name and name.endswith("weight"):
                    p.fill_(1.0)
                else:
                    p.zero_()

    def forward(self, ids: Tensor) -> Tensor:
        t = ids.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=ids.device)
        h = self.embed(ids) * math.sqrt(self.d_model) + self.pos(torch.arange(t, device=ids.device))
        h = self.norm(self.blocks(h, mask=mask, is_causal=True))
        return h @ self.embed.weight.T


def causal_transformer(vocab_size: int, context: int, d_model: int = 128, heads: int = 4, layers: int = 2,
                       ff: int = 512, dropout: float = 0.0) -> CausalTransformer:
    """The causal Transformer LM above (vocab_size and context come from the data)."""
    return CausalTransformer(vocab_size, context, d_model, heads, layers, ff, dropout)


LM_MODELS = {"causal_transformer": causal_transformer}
