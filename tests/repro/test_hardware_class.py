"""The hardware class of a record and its id (repro/hardware_class.py), against ids written out by hand;
the committed records' class through results/REFERENCE.json; the layout of several classes in one folder."""

import json
from pathlib import Path

import pytest

from repro.errors import UserError
from repro.hardware_class import (
    REFERENCE_FILE,
    REPO_RESULTS,
    class_root,
    class_roots,
    home_class,
    legacy_facts,
    nearest,
    of_fingerprint,
    of_record,
    read_reference,
)

AVX2 = {"device": "cpu", "device_name": "AMD EPYC", "threads": 1, "torch": "2.4.1", "cpu_capability": "AVX2",
        "amx_bf16": False, "avx512_bf16": False, "id": "amd-epyc-1t-00000000"}
SAPPHIRE = {**AVX2, "device_name": "Intel(R) Xeon(R)", "threads": 2, "cpu_capability": "AVX512",
            "amx_bf16": True, "avx512_bf16": True}
H200 = {"device": "cuda:0", "device_name": "NVIDIA H200", "gpu_name": "NVIDIA H200",
        "compute_capability": "9.0", "threads": 16, "torch": "2.4.1", "cuda": "12.4",
        "cpu_capability": "AVX512", "amx_bf16": True, "avx512_bf16": True}


@pytest.mark.parametrize("hardware, world, expected", [
    (AVX2, 1, "cpu-avx2-1t"),
    ({**AVX2, "cpu_capability": "AVX512"}, 1, "cpu-avx512-1t"),                 # AVX-512 without bf16
    ({**AVX2, "cpu_capability": "AVX512", "avx512_bf16": True, "threads": 2}, 1, "cpu-avx512bf16-2t"),
    (SAPPHIRE, 1, "cpu-amx-2t"),
    ({**AVX2, "cpu_capability": "DEFAULT", "threads": 4}, 2, "cpu-default-4t-x2"),  # gloo, 2 ranks
    (H200, 1, "cuda-h200-sm90"),                                       # threads do not count on a GPU
    (H200, 8, "cuda-h200-sm90-x8"),
    ({**H200, "gpu_name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}, 1,
     "cuda-geforce-rtx-4090-sm89"),
])
def test_class_ids_name_the_instruction_set_or_gpu_the_threads_and_the_ranks(hardware, world, expected):
    assert of_fingerprint(hardware, world).id == expected


def test_an_old_fingerprint_takes_its_cpu_facts_from_the_legacy_table_else_reads_unknown():
    old = {k: v for k, v in AVX2.items() if k not in ("cpu_capability", "amx_bf16", "avx512_bf16")}
    assert of_fingerprint(old).id == "cpu-unknown-1t"
    table = {old["id"]: {"cpu_capability": "AVX2", "amx_bf16": False, "avx512_bf16": False, "why": "..."}}
    assert of_fingerprint(old, legacy=table).id == "cpu-avx2-1t"
    own = {**old, "cpu_capability": "AVX512"}                            # its own facts win
    assert of_fingerprint(own, legacy=table).id == "cpu-avx512-1t"


def test_a_records_class_carries_its_resolved_precision_memory_format_and_versions():
    facts = {"precision": "bf16", "memory_format": "channels_last", "device": "cpu", "threads": 2}
    record = {"hardware": SAPPHIRE, "world_size": 1, "config": {"precision": "auto", "channels_last": True},
              "execution": facts}
    cls = of_record(record)
    assert (cls.id, cls.precision, cls.memory_format) == ("cpu-amx-2t", "bf16", "channels_last")
    assert cls.torch == "2.4.1"
    old = {"hardware": AVX2, "config": {"precision": "fp32", "channels_last": False}}   # no execution facts
    assert (of_record(old).precision, of_record(old).memory_format) == ("fp32", "contiguous")
    assert "AMX-BF16" in cls.line() and "no AMX-BF16" in of_record(old).line()


def test_every_committed_record_is_of_the_reference_class_named_once_in_results_reference_json():
    reference = read_reference(REPO_RESULTS)
    assert reference["class"] == "cpu-avx2-1t"
    records = [json.loads(p.read_text()) for p in sorted((REPO_RESULTS / "runs").glob("*/*/*/seed*.json"))]
    assert len(records) > 600
    assert all("cpu_capability" not in r["hardware"] for r in records)   # the class comes from the table
    assert {of_record(r, legacy_facts()).id for r in records} == {"cpu-avx2-1t"}
    assert {of_record(r).id for r in records} == {"cpu-unknown-1t"}       # without the table: not known
    assert home_class(REPO_RESULTS) == "cpu-avx2-1t"


def _record(root: Path, hardware: dict, seed: int = 0) -> None:
    path = root / "runs" / "s" / "cpu" / "a" / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"spec": "s", "profile": "cpu", "arm": "a", "seed": seed,
                                "hardware": hardware}))


def test_a_folder_is_the_home_of_its_records_class_and_every_other_class_gets_hardware_id(tmp_path):
    assert home_class(tmp_path) is None and class_root(tmp_path, "cpu-amx-2t") == tmp_path  # first come
    _record(tmp_path, AVX2)
    assert home_class(tmp_path) == "cpu-avx2-1t"
    assert class_root(tmp_path, "cpu-avx2-1t") == tmp_path
    assert class_root(tmp_path, "cpu-amx-2t") == tmp_path / "hardware" / "cpu-amx-2t"
    _record(tmp_path / "hardware" / "cpu-amx-2t", SAPPHIRE)
    assert class_roots(tmp_path) == {"cpu-avx2-1t": tmp_path,
                                     "cpu-amx-2t": tmp_path / "hardware" / "cpu-amx-2t"}
    (tmp_path / REFERENCE_FILE).write_text(json.dumps({"class": "cpu-default-1t"}))     # the file decides
    assert class_root(tmp_path, "cpu-avx2-1t") == tmp_path / "hardware" / "cpu-avx2-1t"


def test_a_folder_whose_records_mix_classes_without_a_reference_file_is_refused_in_one_line(tmp_path):
    _record(tmp_path, AVX2, seed=0)
    _record(tmp_path, SAPPHIRE, seed=1)
    with pytest.raises(UserError) as err:
        home_class(tmp_path)
    assert "cpu-amx-2t (1 records)" in str(err.value) and "cpu-avx2-1t (1 records)" in str(err.value)
    assert "\n" not in str(err.value)
    (tmp_path / REFERENCE_FILE).write_text("{}")
    with pytest.raises(UserError, match="no \"class\""):
        read_reference(tmp_path)


def test_the_nearest_class_shares_the_device_then_the_instruction_set_then_the_thread_count():
    stored = {"avx2-1t": of_fingerprint(AVX2), "amx-2t": of_fingerprint(SAPPHIRE),
              "amx-8t": of_fingerprint({**SAPPHIRE, "threads": 8}), "h200": of_fingerprint(H200)}
    assert nearest(of_fingerprint({**SAPPHIRE, "threads": 1}), stored) == "amx-2t"
    assert nearest(of_fingerprint({**SAPPHIRE, "threads": 6}), stored) == "amx-8t"
    # no stored AVX-512 (without bf16): every CPU class differs in its processor, so the thread count decides
    assert nearest(of_fingerprint({**AVX2, "threads": 2, "cpu_capability": "AVX512"}), stored) == "amx-2t"
    assert nearest(of_fingerprint({**AVX2, "threads": 1, "cpu_capability": "AVX512"}), stored) == "avx2-1t"
    a100 = of_fingerprint({**H200, "gpu_name": "NVIDIA A100", "compute_capability": "8.0"})
    assert nearest(a100, stored) == "h200"
    assert nearest(of_fingerprint(H200), {"avx2-1t": of_fingerprint(AVX2)}) is None      # no CPU for a GPU
