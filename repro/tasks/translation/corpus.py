"""Parallel corpora as plain text: the Bible (EN-ES, offline from Debian's SWORD packages), WMT14 EN-DE and
IWSLT14 DE-EN (Hugging Face `datasets`), and a synthetic copy task for tests.

Every corpus is a `ParallelCorpus` of (source, target) sentence pairs in fixed train / valid / test splits.
The Bible split is by a fixed hash of the verse reference (never random per run), so it is the same on
every machine and a verse is in exactly one split.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.errors import UserError
from repro.files import write_text_atomic
from repro.tasks.base import stable_hash

Pairs = list[tuple[str, str]]
SPLITS = ("train", "valid", "test")
BIBLE_MODULES = ("engWEB2015eb", "spaRV1909eb")   # World English Bible, Reina-Valera 1909
BIBLE_PACKAGES = "sword-text-web sword-text-sparv libsword-utils"
BIBLE_CACHE_VERSION = 1                            # bump when the parser changes
HELD_OUT_PER_MILLE = 25                            # 2.5 % valid, 2.5 % test
MAX_LENGTH_RATIO = 2.5                             # verses that differ more are versification mismatches


@dataclass
class ParallelCorpus:
    """Sentence pairs (source, target) per split; `name` keys caches derived from it (tokenizers)."""

    name: str
    source: str
    target: str
    train: Pairs
    valid: Pairs
    test: Pairs

    def split(self, name: str) -> Pairs:
        return getattr(self, name)

    def reversed(self) -> ParallelCorpus:
        """The same corpus translated the other way round."""
        def flip(pairs):
            return [(t, s) for s, t in pairs]
        return ParallelCorpus(f"{self.name}-rev", self.target, self.source,
                              flip(self.train), flip(self.valid), flip(self.test))


# ----------------------------------------------------------------------------- SWORD / mod2imp

REF_LINE = re.compile(r"^\$\$\$(?P<book>.+) (?P<chapter>\d+):(?P<verse>\d+)$")
NOTE = re.compile(r"<note\b.*?</note>", re.S)
TAG = re.compile(r"<[^>]*>")
SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]’”»])")


def clean_osis(text: str) -> str:
    """Plain text of one verse: drop <note>...</note>, strip the other tags, unescape entities.

    A note is replaced by a space (it often sits between two <w> words with no space around it); the
    spaces that leaves before punctuation are then removed and runs of white space collapsed.
    """
    text = NOTE.sub(" ", text)
    text = html.unescape(TAG.sub("", text))
    text = " ".join(text.split())
    return SPACE_BEFORE_PUNCT.sub(r"\1", text)


def parse_imp(text: str) -> dict[str, str]:
    """mod2imp output -> {"Book C:V": plain text}; headings, chapter 0, verse 0 and empty verses skipped."""
    verses: dict[str, str] = {}
    ref, lines = None, []

    def flush():
        if ref is not None and (clean := clean_osis(" ".join(lines))):
            verses[ref] = clean

    for line in text.splitlines():
        if line.startswith("$$$"):
            flush()
            m = REF_LINE.match(line.strip())
            keep = m is not None and int(m["chapter"]) > 0 and int(m["verse"]) > 0
            ref, lines = (f"{m['book']} {m['chapter']}:{m['verse']}" if keep else None), []
        else:
            lines.append(line)
    flush()
    return verses


def join_on_reference(source: dict[str, str], target: dict[str, str]) -> list[tuple[str, str, str]]:
    """(reference, source text, target text) for the references both sides have, in source order."""
    return [(ref, text, target[ref]) for ref, text in source.items() if ref in target]


def split_of(key: str) -> str:
    """'train', 'valid' or 'test' from a fixed hash of `key`: 2.5 % test, 2.5 % valid, the rest train."""
    bucket = stable_hash(key) % 1000
    if bucket < HELD_OUT_PER_MILLE:
        return "test"
    return "valid" if bucket < 2 * HELD_OUT_PER_MILLE else "train"


def _mod2imp(module: str) -> str:
    if shutil.which("mod2imp") is None:
        raise UserError(f"bible_en_es needs mod2imp and SWORD modules: apt-get install -y {BIBLE_PACKAGES}")
    out = subprocess.run(["mod2imp", module], capture_output=True, text=True, check=False).stdout
    if "$$$" not in out:
        raise UserError(f"SWORD module {module} not found; apt-get install -y {BIBLE_PACKAGES}")
    return out


def bible_triples(cache_dir: Path) -> list[tuple[str, str, str]]:
    """(reference, English, Spanish) verse pairs, parsed once (~1 s) and cached as a TSV in `cache_dir`."""
    path = Path(cache_dir) / f"bible_en_es-v{BIBLE_CACHE_VERSION}.tsv"
    if path.exists():
        return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()]
    en, es = (parse_imp(_mod2imp(module)) for module in BIBLE_MODULES)
    triples = join_on_reference(en, es)
    write_text_atomic(path, "".join(f"{r}\t{s}\t{t}\n" for r, s, t in triples))
    return triples


def aligned(source: str, target: str, ratio: float = MAX_LENGTH_RATIO) -> bool:
    """Word counts agree: max <= ratio * min + 5 (like Moses' clean-corpus length-ratio filter)."""
    a, b = sorted((len(source.split()), len(target.split())))
    return b <= ratio * a + 5


def bible_en_es(cache_dir: Path) -> ParallelCorpus:
    """World English Bible -> Reina-Valera 1909: 31,077 verse pairs, 14 misaligned ones dropped (e.g. the
    WEB's glossary printed after Revelation 22:21), public domain (docs/data.md)."""
    splits: dict[str, Pairs] = {s: [] for s in SPLITS}
    for ref, en, es in bible_triples(cache_dir):
        if aligned(en, es):
            splits[split_of(ref)].append((en, es))
    return ParallelCorpus("bible_en_es", "en", "es", **splits)


# ----------------------------------------------------------------------------- Hugging Face datasets

HF_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


def hf_corpus(name: str, hf_path: str, hf_config: str, source: str, target: str,
              cache_dir: Path) -> ParallelCorpus:
    """A `translation`-feature dataset ({lang: text}) from a local save_to_disk copy in
    cache_dir/hf/<name> if there is one, else from the Hugging Face hub (cached by `datasets`)."""
    import datasets  # here, not at the top: heavy and optional at start-up (only this path needs it)

    local = Path(cache_dir) / "hf" / name
    if local.exists():
        dd = datasets.load_from_disk(str(local))
    else:
        try:
            dd = datasets.load_dataset(hf_path, hf_config, cache_dir=str(Path(cache_dir) / "hf-cache"))
        except Exception as err:  # noqa: BLE001 - offline, missing or renamed: all end in one clear line
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            raise UserError(f"{name}: cannot load {hf_path} ({hf_config}) from the Hugging Face hub "
                            f"({reason}); run once with internet, or save a DatasetDict with splits "
                            f"train/validation/test to {local}") from None
    splits = {}
    for ours, theirs in HF_SPLITS.items():
        if theirs not in dd:
            raise UserError(f"{name}: the dataset has no '{theirs}' split (it has {', '.join(dd)})")
        splits[ours] = [(t[source], t[target]) for t in dd[theirs]["translation"]]
    return ParallelCorpus(name, source, target, **splits)


def wmt14_en_de(cache_dir: Path) -> ParallelCorpus:
    """WMT14 English -> German, 4.5M pairs; test = newstest2014 (Vaswani et al. Table 2)."""
    return hf_corpus("wmt14_en_de", "wmt/wmt14", "de-en", "en", "de", cache_dir)


def iwslt14_de_en(cache_dir: Path) -> ParallelCorpus:
    """IWSLT14 German -> English TED talks, ~170k pairs (fairseq's transformer_iwslt_de_en setting)."""
    return hf_corpus("iwslt14_de_en", "bbaaaa/iwslt14-de-en", "de-en", "de", "en", cache_dir)


# ----------------------------------------------------------------------------- synthetic

SYLLABLES = ("ka", "lo", "mi", "su", "te", "ra", "no", "vi", "po", "de", "gu", "ze")


def synthetic_copy(cache_dir: Path, train_size: int = 2000, held_out: int = 100, min_words: int = 3,
                   max_words: int = 5) -> ParallelCorpus:
    """Copy task: random 'words' of two syllables, target = source. A model that learns it scores BLEU 100.
    Fixed generator seed: the same corpus for every run seed."""
    g = torch.Generator().manual_seed(0)
    words = [a + b for a in SYLLABLES for b in SYLLABLES[:4]]

    def sentence() -> str:
        n = int(torch.randint(min_words, max_words + 1, (1,), generator=g))
        return " ".join(words[i] for i in torch.randint(len(words), (n,), generator=g).tolist())

    def pairs(n: int) -> Pairs:
        return [(s, s) for s in (sentence() for _ in range(n))]

    return ParallelCorpus("synthetic_copy", "xx", "xx", pairs(train_size), pairs(held_out), pairs(held_out))


CORPORA: dict[str, Callable[[Path], ParallelCorpus]] = {
    "bible_en_es": bible_en_es,
    "wmt14_en_de": wmt14_en_de,
    "iwslt14_de_en": iwslt14_de_en,
    "synthetic_copy": synthetic_copy,
}
