"""Text classification corpora as plain (text, label) lists, with fixed train / test splits.

- `amazon_fine_food`: binary sentiment of Amazon fine-food reviews (score "great" vs "other"), 4,000 / 1,000,
  from the Debian package r-cran-modeldata, read from R's lazy-load database without R (`read_lazyload`).
- `wordnet_supersense`: WordNet gloss -> lexicographer file (45 classes), from the Debian package
  wordnet-base.
- `imdb`, `trec`, `ag_news`: ULMFiT's own datasets through Hugging Face `datasets` (needs the internet, or a
  local copy given as `source`).
- `synthetic_text`: keyword sentences generated from a fixed seed, for smoke runs and tests.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import struct
import subprocess
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.errors import UserError, missing_extra
from repro.tasks.base import stable_hash

CACHE_SUBDIR = "textcls"             # under the data root
MODELDATA_DEB = "r-cran-modeldata"
MODELDATA_DB = Path("usr/lib/R/site-library/modeldata/data/Rdata")   # + .rdx / .rdb inside the package
WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_POS = ("noun", "verb", "adj", "adv")
WORDNET_TEST_PER_MILLE = 100         # 10 % of the synsets are test, by a fixed hash of "<pos> <offset>"
# lexnames(5WN): the lexicographer file of a synset is field 2 of its data.<pos> line, an index into this list
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()


@dataclass
class TextCorpus:
    """Texts and integer labels (indices into `classes`) of a train and a test split."""

    name: str
    classes: list[str]
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]

    def first(self, subset: int | None, test_subset: int | None) -> TextCorpus:
        """The first `subset` training and `test_subset` test examples of a fixed hash-shuffled order."""
        train = _hash_order(self.train_texts, self.train_labels, subset, "subset")
        test = _hash_order(self.test_texts, self.test_labels, test_subset, "test_subset")
        return TextCorpus(self.name, self.classes, *train, *test)


def _hash_order(texts: list[str], labels: list[int], n: int | None, field: str) -> tuple[list, list]:
    if n is not None and not 0 < n <= len(texts):
        raise UserError(f"data.{field}: {n}: must be between 1 and the {len(texts)} examples of the split")
    order = sorted(range(len(texts)), key=lambda i: (stable_hash(texts[i]), i))[:n]
    return [texts[i] for i in order], [labels[i] for i in order]


# ----------------------------------------------------------------------------- R lazy-load databases


def decode_lazyload_record(record: bytes, compressed: int) -> bytes:
    """One record of an R lazy-load .rdb file -> the R serialization it holds (R's lazyLoadDBfetch).

    Every record starts with the uncompressed length as a 4-byte big-endian integer. compressed = 1: a zlib
    stream follows; compressed = 2 or 3: a type byte follows, then 'Z' raw LZMA2 (xz without a container),
    '2' bzip2, '1' zlib or '0' the bytes themselves.
    """
    (length,) = struct.unpack(">I", record[:4])
    if compressed == 1:
        out = zlib.decompress(record[4:])
    else:
        kind, body = record[4:5], record[5:]
        if kind == b"Z":
            out = lzma.decompress(body, format=lzma.FORMAT_RAW,
                                  filters=[{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}])
        elif kind == b"2":
            out = bz2.decompress(body)
        elif kind == b"1":
            out = zlib.decompress(body)
        elif kind == b"0":
            out = body
        else:
            raise ValueError(f"unknown lazy-load record type {kind!r}")
    if len(out) != length:
        raise ValueError(f"lazy-load record: {len(out)} bytes decoded, the header says {length}")
    return out


def _convert(serialized: bytes):
    try:
        import rdata  # here, not at the top: heavy and optional at start-up (only this path needs it)
    except ImportError:
        raise missing_extra("textcls", "rdata (the reader of R data files)") from None

    with warnings.catch_warnings():   # rdata warns that a bare serialization has no file magic
        warnings.simplefilter("ignore", UserWarning)
        return rdata.conversion.convert(rdata.parser.parse_data(serialized))


def read_lazyload(db: Path, names: list[str]) -> dict:
    """Objects `names` of the R lazy-load database db.rdx / db.rdb, converted by `rdata` (data frames ->
    pandas). The .rdx is a gzip- (saveRDS) or zlib-compressed serialized list(variables = name -> (offset,
    length) in the .rdb, references, compressed)."""
    raw = Path(f"{db}.rdx").read_bytes()
    index = _convert(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else zlib.decompress(raw))
    variables, compressed = index["variables"], int(index["compressed"][0])
    missing = [n for n in names if n not in variables]
    if missing:
        raise UserError(f"{db}.rdx has no object {missing[0]!r}; it has {', '.join(map(str, variables))}")
    out = {}
    with open(f"{db}.rdb", "rb") as rdb:
        for name in names:
            offset, length = (int(v) for v in variables[name])
            rdb.seek(offset)
            out[name] = _convert(decode_lazyload_record(rdb.read(length), compressed))
    return out


def modeldata_db(data_root: Path) -> Path:
    """The modeldata lazy-load database: unpacked under <data_root>/textcls/r-cran-modeldata/, else from the
    system R library, else unpacked (dpkg-deb -x) from a r-cran-modeldata_*.deb in <data_root>/textcls,
    <data_root> or the working directory (`apt-get download r-cran-modeldata` puts it there)."""
    unpacked = Path(data_root) / CACHE_SUBDIR / MODELDATA_DEB
    for root in (unpacked, Path("/")):
        if Path(f"{root / MODELDATA_DB}.rdx").exists():
            return root / MODELDATA_DB
    debs = [d for where in (Path(data_root) / CACHE_SUBDIR, Path(data_root), Path.cwd())
            for d in sorted(where.glob(f"{MODELDATA_DEB}_*.deb"))]
    if not debs:
        raise UserError(f"amazon_fine_food needs the Debian package {MODELDATA_DEB}: run `apt-get download "
                        f"{MODELDATA_DEB}` in {Path(data_root) / CACHE_SUBDIR} (or apt-get install it)")
    if shutil.which("dpkg-deb") is None:
        raise UserError(f"dpkg-deb is needed to unpack {debs[-1]}; or unpack it yourself into {unpacked}")
    tmp = unpacked.with_name(unpacked.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tmp)], check=True, capture_output=True)
    shutil.rmtree(unpacked, ignore_errors=True)
    tmp.replace(unpacked)
    return unpacked / MODELDATA_DB


def amazon_fine_food(data_root: Path) -> TextCorpus:
    """Amazon fine-food reviews (modeldata's training_data / testing_data): review -> 1 if score is "great"
    else 0 ("other"); classes ["other", "great"]. 4,000 train (65 % great), 1,000 test."""
    frames = read_lazyload(modeldata_db(data_root), ["training_data", "testing_data"])
    (tr_x, tr_y), (te_x, te_y) = ((list(map(str, df["review"])), [int(s == "great") for s in df["score"]])
                                  for df in (frames["training_data"], frames["testing_data"]))
    return TextCorpus("amazon_fine_food", ["other", "great"], tr_x, tr_y, te_x, te_y)


# ----------------------------------------------------------------------------- WordNet


def parse_wordnet_data(lines, pos: str) -> list[tuple[str, str, int]]:
    """Lines of a WordNet data.<pos> file -> (key "<pos> <offset>", gloss, lexicographer file number).

    Licence lines start with two spaces; otherwise field 0 is the synset offset, field 1 the lexicographer
    file number, and the gloss follows " | " (wndb(5WN))."""
    out = []
    for line in lines:
        if line.startswith("  ") or not line.strip():
            continue
        head, sep, gloss = line.partition(" | ")
        fields = head.split()
        if sep and gloss.strip():
            out.append((f"{pos} {fields[0]}", gloss.strip(), int(fields[1])))
    return out


def wordnet_supersense(data_root: Path, wordnet_dir: Path = WORDNET_DIR) -> TextCorpus:
    """WordNet 3.0 glosses -> the synset's lexicographer file (45 classes, LEXNAMES); 10 % of synsets are
    test by a fixed hash of "<pos> <offset>". 117,659 glosses in all."""
    rows = []
    for pos in WORDNET_POS:
        path = Path(wordnet_dir) / f"data.{pos}"
        if not path.exists():
            raise UserError(f"wordnet_supersense needs {path}: apt-get install -y wordnet-base")
        with open(path, encoding="utf-8", errors="replace") as f:
            rows += parse_wordnet_data(f, pos)
    test = [stable_hash(key) % 1000 < WORDNET_TEST_PER_MILLE for key, _, _ in rows]
    split = [[r for r, t in zip(rows, test, strict=True) if t == want] for want in (False, True)]
    (tr_x, tr_y), (te_x, te_y) = (([g for _, g, _ in s], [c for _, _, c in s]) for s in split)
    return TextCorpus("wordnet_supersense", list(LEXNAMES), tr_x, tr_y, te_x, te_y)


# ----------------------------------------------------------------------------- Hugging Face datasets

# name -> (hub id, text column, label column, test split)
HF_CORPORA = {
    "imdb": ("stanfordnlp/imdb", "text", "label", "test"),
    "trec": ("CogComp/trec", "text", "coarse_label", "test"),
    "ag_news": ("fancyzhx/ag_news", "text", "label", "test"),
}


def hf_corpus(name: str, data_root: Path, source: str | None = None) -> TextCorpus:
    """One of HF_CORPORA through `datasets.load_dataset(source)`; source defaults to the hub id and may be a
    local folder of train / test data files (csv, json, parquet) with the same columns."""
    import datasets  # here, not at the top: heavy and optional at start-up (only this path needs it)

    hub_id, text_col, label_col, test_split = HF_CORPORA[name]
    source = source or hub_id
    try:
        dd = datasets.load_dataset(source, cache_dir=str(Path(data_root) / CACHE_SUBDIR / "hf-cache"))
    except (ConnectionError, OSError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{name}: cannot load {source!r} through Hugging Face datasets ({reason}); offline, "
                        "use amazon_fine_food or wordnet_supersense, or set data.source to a local copy"
                        ) from None
    missing = [s for s in ("train", test_split) if s not in dd]
    if missing:
        raise UserError(f"{name}: {source!r} has no {missing[0]!r} split (it has {', '.join(dd)})")
    feature = dd["train"].features[label_col]
    classes = list(getattr(feature, "names", None) or map(str, sorted(set(dd["train"][label_col]))))
    tr, te = dd["train"], dd[test_split]
    return TextCorpus(name, classes, list(tr[text_col]), [int(v) for v in tr[label_col]],
                      list(te[text_col]), [int(v) for v in te[label_col]])


# ----------------------------------------------------------------------------- synthetic


def _randint(gen: torch.Generator, high: int, low: int = 0) -> int:
    return int(torch.randint(low, high, (1,), generator=gen))


def synthetic_text(num_classes: int = 4, train: int = 512, test: int = 128, seed: int = 0) -> TextCorpus:
    """Sentences of 4..15 filler words with one or two keywords of their class mixed in; learnable, tiny."""
    gen = torch.Generator().manual_seed(seed)
    keywords = [[f"k{c}x{j}" for j in range(3)] for c in range(num_classes)]

    def sentence(label: int) -> str:
        words = [f"w{_randint(gen, 50)}" for _ in range(_randint(gen, 16, 4))]
        for _ in range(_randint(gen, 3, 1)):
            words.insert(_randint(gen, len(words) + 1), keywords[label][_randint(gen, 3)])
        return " ".join(words)

    def sample(n: int) -> tuple[list[str], list[int]]:
        labels = [_randint(gen, num_classes) for _ in range(n)]
        return [sentence(y) for y in labels], labels

    classes = [f"class{c}" for c in range(num_classes)]
    return TextCorpus("synthetic_text", classes, *sample(train), *sample(test))
