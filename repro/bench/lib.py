"""Shared machinery of the speed benchmarks: interleaved timing, robust spread, speedup intervals,
records tagged with the hardware fingerprint, and the regression check against a stored baseline.

Protocol. Every variant is warmed up first; then `repeats` rounds run every variant once, the order
rotated each round (A B C, B C A, C A B, ...), so a drift of the machine (clock, thermal, other jobs)
hits all variants alike and round r of A is paired with round r of B.

Speedup of variant V over the reference R: per round r_i = t_R,i / t_V,i (time per step, so > 1 means
V is faster); the estimate is the median of the r_i and the interval a 95% percentile bootstrap of that
median (scipy.stats.bootstrap, fixed seed). Medians and IQRs rather than means: on a shared machine a
single descheduled round can be many times slower than the rest.

Regression rule (`compare_records`). With l_i = log r_i, the noise of one run is the IQR-based sigma
s = IQR(l) / 1.349 (scipy.stats.iqr(scale="normal")), and the standard error of a median of n values
under Gaussian noise is sqrt(pi / 2) * s / sqrt(n). A speedup fails when

    log R_base - log R_now > max(k * sqrt(se_base^2 + se_now^2), -log(1 - floor))

k = 3 is a one-sided false-alarm rate of ~0.1% per check; the floor (5%) covers what the spread inside
one run cannot see: drift between two runs on different days (clock governor, thermal state, a
background job that slows both variants in one run differently than in the other).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import math
import os
import platform
import resource  # POSIX; the benchmarks run on Linux
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import stats as sps

from repro.files import write_text_atomic
from repro.hardware import fingerprint, git_commit

CONFIDENCE = 0.95
K_SIGMA = 3.0
FLOOR = 0.05
_MEDIAN_SE = math.sqrt(math.pi / 2)  # asymptotic SE of a Gaussian sample's median, in units of s / sqrt(n)



def interleaved(runners: Mapping[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Run every runner once per round, rotating the order each round; runner() returns its seconds."""
    names = list(runners)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(float(runners[name]()))
    return times


def spread(values: Sequence[float]) -> dict:
    """Median, quartiles and IQR (numpy's linear percentiles)."""
    q1, med, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1), "n": len(values)}


def median_interval(values: Sequence[float], seed: int = 0) -> tuple[float, float, float]:
    """Median and its 95% percentile-bootstrap interval (degenerate data: the value itself)."""
    x = np.asarray(values, dtype=float)
    med = float(np.median(x))
    if len(x) < 2 or np.ptp(x) == 0:
        return med, med, med
    res = sps.bootstrap((x,), np.median, vectorized=True, confidence_level=CONFIDENCE, method="percentile",
                        rng=np.random.default_rng(seed))
    return med, float(res.confidence_interval.low), float(res.confidence_interval.high)


def speedup(reference_times: Sequence[float], times: Sequence[float], seed: int = 0) -> dict:
    """Per-round speedups t_ref / t of paired rounds, their median with a bootstrap interval, and the
    IQR-based sigma of the log speedups (the noise the regression check uses)."""
    ratios = np.asarray(reference_times, dtype=float) / np.asarray(times, dtype=float)
    med, lo, hi = median_interval(ratios, seed)
    return {"median": med, "lo": lo, "hi": hi, "n": len(ratios),
            "log_sigma": float(sps.iqr(np.log(ratios), scale="normal")), "per_round": ratios.tolist()}


# ----------------------------------------------------------------------------- regression check


@dataclass
class Check:
    """One speedup compared with its baseline."""

    model: str
    variant: str
    baseline: float
    current: float
    threshold: float   # allowed fractional drop below the baseline
    drop: float        # measured fractional drop (negative: faster than the baseline)
    passed: bool
    why: str


def threshold(base: Mapping, now: Mapping, k: float = K_SIGMA, floor: float = FLOOR) -> tuple[float, str]:
    """Allowed drop of log speedup, and the reason in words (module docstring for the rule)."""
    se = [_MEDIAN_SE * s["log_sigma"] / math.sqrt(max(s["n"], 1)) for s in (base, now)]
    noise = k * math.hypot(*se)
    floor_log = -math.log1p(-floor)
    if noise >= floor_log:
        return noise, (f"noise: {k:g} x combined SE of the median log speedup "
                       f"(sigma {base['log_sigma']:.3f}/{now['log_sigma']:.3f}, n {base['n']}/{now['n']})")
    return floor_log, f"floor {floor:.0%} (the measured noise allows only {-math.expm1(-noise):.1%})"


def compare_records(baseline: Mapping, current: Mapping, k: float = K_SIGMA,
                    floor: float = FLOOR) -> list[Check]:
    """Check every speedup of the baseline against the same (model, variant) in the current record."""
    checks = []
    for model, base_m in baseline["models"].items():
        for variant, base_s in base_m["speedups"].items():
            now_s = current["models"].get(model, {}).get("speedups", {}).get(variant)
            if now_s is None:
                checks.append(Check(model, variant, base_s["median"], math.nan, math.nan, math.nan, False,
                                    "missing from the current run"))
                continue
            allowed, why = threshold(base_s, now_s, k, floor)
            drop_log = math.log(base_s["median"]) - math.log(now_s["median"])
            checks.append(Check(model, variant, base_s["median"], now_s["median"], -math.expm1(-allowed),
                                -math.expm1(-drop_log), drop_log <= allowed, why))
    return checks


def checks_table(checks: Sequence[Check]) -> list[dict]:
    """Rows for a markdown table."""
    return [{"model": c.model, "variant": c.variant, "baseline": f"{c.baseline:.3f}",
             "now": f"{c.current:.3f}", "drop": f"{c.drop:+.1%}", "allowed": f"{c.threshold:.1%}",
             "result": "ok" if c.passed else "REGRESSION", "threshold from": c.why} for c in checks]


# ----------------------------------------------------------------------------- memory


def _proc_status(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    except OSError:
        pass
    return None


def reset_peak_memory(device: torch.device) -> float:
    """Start a peak-memory window; returns the memory in use now (MiB).

    CUDA: torch.cuda peak statistics. CPU: the kernel's resident-set high-water mark VmHWM, reset by
    writing 5 to /proc/self/clear_refs (Linux >= 4.0); glibc's cached free memory is returned first
    (malloc_trim) so one variant's leftovers do not count as the next one's peak."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    _malloc_trim()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _proc_status("VmRSS") or math.nan


def peak_memory(device: torch.device) -> tuple[float, str]:
    """Peak memory (MiB) since reset_peak_memory, and what was measured."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) / 2**20, "torch.cuda.max_memory_allocated"
    hwm = _proc_status("VmHWM")
    if hwm is not None:
        return hwm, "process RSS high-water mark (VmHWM, reset per variant)"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ru_maxrss (process lifetime)"


def _malloc_trim() -> None:
    if platform.system() == "Linux":
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


# ----------------------------------------------------------------------------- records and output


def versions() -> dict:
    """Library versions a speed number depends on."""
    import timm  # here, not at the top: timm is slow to import and only its version is read
    return {"torch": torch.__version__, "timm": timm.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "mkldnn": torch.backends.mkldnn.is_available()}


def make_record(kind: str, device: torch.device, config: dict, results: dict) -> dict:
    """A benchmark record: what ran, where, when, with which code, and the numbers."""
    return {"kind": kind, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "hardware": fingerprint(device), "versions": versions(), "git_commit": git_commit(),
            "config": config, **results}


def write_summary(markdown: str, path: Path) -> Path:
    """Write the markdown summary; also append it to $GITHUB_STEP_SUMMARY when a CI job sets it."""
    write_text_atomic(path, markdown)
    ci = os.environ.get("GITHUB_STEP_SUMMARY")
    if ci:
        with open(ci, "a") as f:
            f.write(markdown + "\n")
    return path


def check_dicts(checks: Sequence[Check]) -> list[dict]:
    """Checks as plain dicts for a JSON record."""
    return [asdict(c) for c in checks]
