"""Subword tokenizer: one joint source+target vocabulary (as Vaswani et al., arXiv 1706.03762, Sec. 5.1: a
shared BPE vocabulary of ~37k tokens for EN-DE), BPE (Sennrich et al., arXiv 1508.07909) or unigram
(Kudo, arXiv 1804.10959), with the Hugging Face `tokenizers` library.

SentencePiece-style pre-tokenization (Metaspace: a space becomes the '▁' prefix of the next piece), so
decoding gives back detokenized text for sacrebleu. Trained on the training split only and cached on disk,
keyed by corpus, kind and vocabulary size.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from repro.errors import UserError
from repro.files import write_atomic

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAD, UNK, BOS, EOS = range(len(SPECIALS))
KINDS = ("bpe", "unigram")
TOKENIZER_VERSION = 1   # bump when the recipe below changes, so stale caches are not reused


def _model_and_trainer(kind: str, vocab_size: int):
    if kind == "bpe":
        return models.BPE(unk_token="<unk>"), trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=list(SPECIALS), show_progress=False)
    if kind == "unigram":
        return models.Unigram(), trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=list(SPECIALS), unk_token="<unk>", show_progress=False)
    raise UserError(f"data.tokenizer: {kind!r}: one of {', '.join(KINDS)}")


def train_tokenizer(texts: Iterable[str], vocab_size: int, kind: str = "bpe") -> Tokenizer:
    """A subword tokenizer learnt from `texts` (NFKC, Metaspace), with ids 0..3 = <pad> <unk> <s> </s>."""
    model, trainer = _model_and_trainer(kind, vocab_size)
    tok = Tokenizer(model)
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(texts, trainer)
    assert [tok.token_to_id(s) for s in SPECIALS] == list(range(len(SPECIALS)))
    return tok


def tokenizer_path(cache_dir: Path, corpus: str, kind: str, vocab_size: int) -> Path:
    return Path(cache_dir) / f"tokenizer-{corpus}-{kind}{vocab_size}-v{TOKENIZER_VERSION}.json"


def cached_tokenizer(cache_dir: Path, corpus: str, pairs: list[tuple[str, str]], vocab_size: int,
                     kind: str = "bpe") -> Tokenizer:
    """The tokenizer of `corpus`: trained once on its training `pairs` (both sides), then read from disk."""
    path = tokenizer_path(cache_dir, corpus, kind, vocab_size)
    if path.exists():
        return Tokenizer.from_file(str(path))
    tok = train_tokenizer((text for pair in pairs for text in pair), vocab_size, kind)
    write_atomic(path, lambda tmp: tok.save(str(tmp)))
    return tok


def encode(tok: Tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids of each text, without <s> or </s>."""
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]


def decode(tok: Tokenizer, ids: list[list[int]]) -> list[str]:
    """Detokenized text of each id sequence, cut at the first </s>, special tokens dropped."""
    cut = [seq[: seq.index(EOS)] if EOS in seq else seq for seq in ids]
    return tok.decode_batch(cut, skip_special_tokens=True)
