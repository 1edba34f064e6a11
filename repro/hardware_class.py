"""The hardware class of a record, its short id, and where each class's records live.

A record's class is what its numbers depend on beyond the config: the CPU's instruction-set capability and
bf16 flags (AMX, AVX-512-BF16) or the GPU's name and compute capability, the threads and ranks, the resolved
precision and memory format, the torch / CUDA / cuDNN / oneDNN versions. Its id names the machine part:

    cpu-avx2-1t          torch's CPU capability (AVX2, AVX512, DEFAULT, ...), lower case, and the threads
    cpu-avx512bf16-2t    a CPU with AVX-512-BF16 (bf16 matmuls in hardware), 2 threads
    cpu-amx-8t           a CPU with AMX-BF16
    cuda-h200-sm90       the GPU's name without "NVIDIA" and its compute capability (threads do not count)
    ...-x8               a data-parallel job on 8 ranks

A job is finished only on its own class (repro/jobs/job.py), and a report judges the records of one class.

Layout: a results folder R holds the records of one class, its home class, under R/runs/ and its reports
under R/<profile>/; R/REFERENCE.json names that class (the committed results/REFERENCE.json: the reference
machine). Every other class has its own folder of the same shape, R/hardware/<id>/. A folder without
REFERENCE.json is the home of the class of the records already in it, or of the first machine to run there.

Records written before the hardware facts existed (schema versions 1 and 2) lack the CPU's capability; the
`legacy` table of a REFERENCE.json supplies it per fingerprint id, with the evidence, once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from repro.errors import UserError
from repro.record import UNKNOWN, execution_of

REFERENCE_FILE = "REFERENCE.json"
CLASSES_DIR = "hardware"
REPO_RESULTS = Path(__file__).resolve().parent.parent / "results"   # the committed reference
CPU_FACTS = ("cpu_capability", "amx_bf16", "avx512_bf16")
NVIDIA = re.compile(r"^nvidia\s+", re.IGNORECASE)


@dataclass(frozen=True)
class HardwareClass:
    """What a record ran on and how (repro.record's hardware and execution facts, legacy facts filled in)."""

    device: str                          # cpu | cuda | ...
    isa: str = UNKNOWN                   # torch's CPU capability (of the host on CUDA)
    amx_bf16: bool | str | None = UNKNOWN
    avx512_bf16: bool | str | None = UNKNOWN
    gpu: str | None = None
    compute_capability: str | None = None
    threads: int | str = UNKNOWN
    world_size: int = 1
    precision: str = UNKNOWN
    memory_format: str = UNKNOWN
    torch: str = UNKNOWN
    cuda: str | None = None
    cudnn: int | str | None = None
    onednn: str | None = None

    @property
    def id(self) -> str:
        if self.device == "cuda":
            cc = str(self.compute_capability or UNKNOWN).replace(".", "")
            base = f"cuda-{slug(NVIDIA.sub('', str(self.gpu or UNKNOWN)))}-sm{cc}"
        elif self.device == "cpu":
            base = f"cpu-{self.processor}-{self.threads}t"
        else:
            base = f"{slug(self.device)}-{slug(str(self.gpu or UNKNOWN))}"
        return base + (f"-x{self.world_size}" if self.world_size > 1 else "")

    @property
    def processor(self) -> str:
        """What runs the kernels: the GPU's name on CUDA, else the CPU's isa_tag."""
        return str(self.gpu) if self.device == "cuda" else isa_tag(self.isa, self.amx_bf16, self.avx512_bf16)

    def line(self) -> str:
        """'cpu-avx2-1t: AVX2, no AMX-BF16, no AVX-512-BF16, 1 thread(s); torch 2.4.1, oneDNN 3.4'"""
        if self.device == "cuda":
            what = f"{self.gpu}, compute capability {self.compute_capability}, cuDNN {self.cudnn}"
        else:
            flags = f"{_flag('AMX-BF16', self.amx_bf16)}, {_flag('AVX-512-BF16', self.avx512_bf16)}"
            what = f"{self.isa}, {flags}, {self.threads} thread(s)"
        versions = f"torch {self.torch}" + (f", CUDA {self.cuda}" if self.cuda else "") + \
            f", oneDNN {self.onednn or UNKNOWN}"
        return f"{self.id}: {what}; {versions}"


def _flag(name: str, value) -> str:
    return name if value is True else f"no {name}" if value is False else f"{name} {UNKNOWN}"


def slug(text: str) -> str:
    return re.sub(r"-+", "-", "".join(c if c.isalnum() else "-" for c in text.lower())).strip("-")


def isa_tag(isa: str, amx_bf16, avx512_bf16) -> str:
    """amx > avx512bf16 > torch's capability in lower case (avx2, avx512, default; unknown if not known)."""
    if amx_bf16 is True:
        return "amx"
    if avx512_bf16 is True:
        return "avx512bf16"
    return slug(str(isa or UNKNOWN)) or UNKNOWN


def of_fingerprint(hardware: Mapping, world_size: int = 1, execution: Mapping | None = None,
                   legacy: Mapping[str, Mapping] | None = None) -> HardwareClass:
    """The class of a repro.hardware.fingerprint dict; a fingerprint without the CPU facts (schema < 3) takes
    them from `legacy` (REFERENCE.json's table, by fingerprint id), else they read "unknown"."""
    hw = dict(hardware)
    if "cpu_capability" not in hw:
        hw.update({k: v for k, v in (legacy or {}).get(str(hw.get("id")), {}).items() if k in CPU_FACTS})
    device = str(hw.get("device") or UNKNOWN).split(":")[0]
    gpu = hw.get("gpu_name") or (hw.get("device_name") if device == "cuda" else None)
    ex = execution or {}
    return HardwareClass(
        device=device, isa=hw.get("cpu_capability", UNKNOWN), amx_bf16=hw.get("amx_bf16", UNKNOWN),
        avx512_bf16=hw.get("avx512_bf16", UNKNOWN), gpu=gpu, compute_capability=hw.get("compute_capability"),
        threads=hw.get("threads", UNKNOWN), world_size=int(world_size or 1),
        precision=ex.get("precision", UNKNOWN), memory_format=ex.get("memory_format", UNKNOWN),
        torch=hw.get("torch", UNKNOWN), cuda=hw.get("cuda"), cudnn=hw.get("cudnn"), onednn=hw.get("onednn"))


def of_record(record: Mapping, legacy: Mapping[str, Mapping] | None = None) -> HardwareClass:
    """A record's class: its fingerprint, ranks and resolved RunFacts (for a record older than the facts, the
    config's precision when it named one, and its channels_last flag)."""
    facts = execution_of(record)
    config = record.get("config") or {}
    precision = facts.precision
    if precision == UNKNOWN and config.get("precision") not in (None, "auto"):
        precision = config["precision"]
    memory = facts.memory_format
    if memory == UNKNOWN and isinstance(config.get("channels_last"), bool):
        memory = "channels_last" if config["channels_last"] else "contiguous"
    return of_fingerprint(record.get("hardware") or {}, record.get("world_size") or 1,
                          {"precision": precision, "memory_format": memory}, legacy)


def distance(a: HardwareClass, b: HardwareClass) -> tuple | None:
    """How far class b is from a, for picking the nearest baseline: (instruction set or GPU differs, compute
    capability differs, |log2 of the thread ratio|, torch differs); None across device kinds."""
    if a.device != b.device:
        return None
    threads = [c.threads if isinstance(c.threads, int) and c.threads > 0 else 1 for c in (a, b)]
    return (a.processor != b.processor, a.compute_capability != b.compute_capability,
            abs(math.log2(threads[0] / threads[1])), a.torch != b.torch)


def nearest(target: HardwareClass, candidates: Mapping[str, HardwareClass]) -> str | None:
    """The name of the candidate class nearest `target` (same device kind only; None when there is none)."""
    scored = [(d, name) for name, c in candidates.items() if (d := distance(target, c)) is not None]
    return min(scored)[1] if scored else None


# ----------------------------------------------------------------------------- the layout


def read_reference(results_dir: Path) -> dict | None:
    """R/REFERENCE.json (None where there is none; UserError where it is not one)."""
    path = Path(results_dir) / REFERENCE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: not readable JSON ({e}); it names {path.parent}/runs' class") from None
    if not isinstance(data, dict) or not isinstance(data.get("class"), str):
        raise UserError(f"{path}: no \"class\" (the hardware class id of {path.parent}/runs/'s records)")
    return data


def legacy_facts(results_dir: Path | None = None) -> dict[str, dict]:
    """Fingerprint id -> the CPU facts its old records lack: the folder's REFERENCE.json table over the
    committed one's (a copy of results/ brings its own)."""
    table: dict[str, dict] = {}
    for folder in dict.fromkeys([REPO_RESULTS, *([Path(results_dir)] if results_dir else [])]):
        try:
            table.update((read_reference(folder) or {}).get("legacy") or {})
        except UserError:
            continue
    return table


def record_classes(results_dir: Path) -> dict[str, int]:
    """Class id -> how many records (every profile) R/runs holds of it."""
    legacy, counts = legacy_facts(results_dir), {}
    for path in sorted(Path(results_dir, "runs").glob("*/*/*/seed*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        cid = of_record(record, legacy).id
        counts[cid] = counts.get(cid, 0) + 1
    return counts


def home_class(results_dir: Path) -> str | None:
    """The class whose records R/runs holds: REFERENCE.json's, else that of the records there (None when
    there are none). UserError for a folder without REFERENCE.json whose records mix classes."""
    reference = read_reference(results_dir)
    if reference is not None:
        return reference["class"]
    counts = record_classes(results_dir)
    if len(counts) > 1:
        mix = ", ".join(f"{cid} ({n} records)" for cid, n in sorted(counts.items()))
        raise UserError(f"{Path(results_dir) / 'runs'} mixes hardware classes ({mix}) and has no "
                        f"{REFERENCE_FILE}: write {{\"class\": \"<id>\"}} there naming the class its records "
                        f"belong to, and move the others to {Path(results_dir) / CLASSES_DIR}/<id>/runs/")
    return next(iter(counts), None)


def class_root(results_dir: Path, class_id: str, home: str | None = None) -> Path:
    """The folder holding class `class_id`'s records and reports: R for R's home class (or a folder no class
    has yet), R/hardware/<id>/ for any other."""
    home = home_class(results_dir) if home is None else home
    return Path(results_dir) if home in (None, class_id) else Path(results_dir) / CLASSES_DIR / class_id


def class_roots(results_dir: Path) -> dict[str, Path]:
    """Class id -> folder, for R's home class (when it has one) and every R/hardware/<id>/ with records."""
    roots = {}
    home = home_class(results_dir)
    if home is not None:
        roots[home] = Path(results_dir)
    for folder in sorted(Path(results_dir, CLASSES_DIR).glob("*/runs")):
        roots.setdefault(folder.parent.name, folder.parent)
    return roots
