"""One name per spec: the file name is the id; the old hyphenated names still work for one release."""

import json
import shutil

import pytest

from repro.cli import SPEC_DIR, main
from repro.judge.records import load_records
from repro.spec import SpecError, load_spec
from repro.spec.legacy_ids import LEGACY_IDS


def test_every_shipped_spec_id_is_its_file_name():
    for path in sorted(SPEC_DIR.glob("*.yaml")):
        assert load_spec(path).id == path.stem


def test_a_spec_whose_id_differs_from_its_file_name_is_refused_in_one_line(tmp_path):
    copy = shutil.copy(SPEC_DIR / "mixup.yaml", tmp_path / "my_mixup.yaml")
    with pytest.raises(SpecError) as err:
        load_spec(copy)
    message = str(err.value)
    assert "\n" not in message and "id: 'mixup'" in message and "'my_mixup'" in message


def test_old_names_resolve_to_the_new_files_with_a_one_line_note(tmp_path, capsys):
    assert set(LEGACY_IDS.values()) <= {p.stem for p in SPEC_DIR.glob("*.yaml")}
    dirs = ["--results-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")]
    # an unknown arm stops after the spec was found: the old name found the new file
    assert main(["run", "label-smoothing", "--arms", "nope", *dirs]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("note: spec name 'label-smoothing' is deprecated")
    assert "'label_smoothing'" in err[0]
    assert "label_smoothing.yaml" in err[1] and "no such arm" in err[1] and len(err) == 2


def test_records_written_under_an_old_id_are_read_under_the_new_one(tmp_path):
    def write(spec_dir, seed, error):
        path = tmp_path / "runs" / spec_dir / "cpu" / "hard" / f"seed{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"spec": spec_dir, "profile": "cpu", "arm": "hard", "seed": seed,
                                    "status": "ok", "final": {"test_error": error}}))
    write("label-smoothing", 0, 30.0)
    write("label-smoothing", 1, 31.0)
    write("label_smoothing", 1, 29.0)            # rerun under the new id: it replaces the old record
    records = load_records(tmp_path, "cpu")
    assert set(records["spec"]) == {"label_smoothing"}
    by_seed = {r.seed: r.final["test_error"] for r in records.itertuples()}
    assert by_seed == {0: 30.0, 1: 29.0}
