"""How long each job of a run will take here, before it starts, for the plan `repro run` prints and the ETA
of its progress bar.

A job's expected seconds come from the run records already there (results/runs/<spec>/<profile>/<arm>/
seed<k>.json, read as plain JSON; ok or diverged ones, whose wall_time_s is a whole job), best first:
1. "here": the median wall time of records of the same spec, arm and config made on this hardware id
   (repro.hardware.fingerprint_id: device, threads, torch and CUDA versions);
2. "other hardware": the same, made on another hardware id (the plan names which);
3. "other arms": the spec's other records at this profile of the same model, data, batch size and precision
   (its `family`), scaled by the job's epochs (x ensemble members) over theirs; this hardware's first;
4. "probe": a short measured step cost (`probe(job)`: seconds per step x the job's steps; the dry run's
   probe, repro/jobs/dry_run.py), once per spec and family with no record of that family;
5. "other configs": the spec's records of other families (an earlier config, another model), scaled the
   same way; this hardware's first. Only when there is no probe: a stale config or a slower machine's
   record can be several times off (an AVX2 machine's emulated bf16 ran 8x slower than this one's);
6. "unknown": none of these; the plan counts such a job at the mean of the others.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from repro.jobs.job import FINISHED, Job
from repro.spec import config_hash

SOURCES = ("here", "other hardware", "other arms", "probe", "other configs", "unknown")
FAMILY_KEYS = ("model", "data", "batch_size", "precision")   # what sets a step's cost


@dataclass(frozen=True)
class Timed:
    """One finished record: what ran, where, and how long it took."""

    spec: str
    arm: str
    config_hash: str
    hardware: str
    seconds: float
    work: float          # epochs x ensemble members: what "other arms" scales by
    family: str          # family(config): records of one family cost the same per epoch


@dataclass(frozen=True)
class Estimate:
    seconds: float       # NaN when unknown
    source: str          # one of SOURCES
    hardware: str = ""   # whose records ("here", "other hardware")


def work(config: dict) -> float:
    members = (config.get("ensemble") or {}).get("members") or 1
    return float(config.get("epochs") or 1) * members


def family(config: dict) -> str:
    """A short hash of the parts of a config that set the cost of an epoch (FAMILY_KEYS)."""
    text = json.dumps({k: config.get(k) for k in FAMILY_KEYS}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_timed(results_dir: Path, profile: str) -> list[Timed]:
    """Every finished record of `profile` that says how long it took (unreadable files are skipped)."""
    out = []
    for path in sorted((Path(results_dir) / "runs").glob(f"*/{profile}/*/seed*.json")):
        try:
            r = json.loads(path.read_text(encoding="utf-8"))
            wall = float(r["wall_time_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if r.get("status") in FINISHED and math.isfinite(wall):
            out.append(Timed(str(r["spec"]), str(r["arm"]), str(r.get("config_hash")),
                             str((r.get("hardware") or {}).get("id")), wall, work(r.get("config") or {}),
                             family(r.get("config") or {})))
    return out


class Estimator:
    """Expected seconds per job from the records `timed`, on hardware id `hardware`; `probe(job)` (optional)
    measures a job's seconds when its spec has no record."""

    def __init__(self, timed: list[Timed], hardware: str, probe: Callable[[Job], float | None] | None = None):
        self.timed, self.hardware, self.probe = timed, hardware, probe
        self._probed: dict[str, tuple[float, float]] = {}     # spec -> (seconds, work) of the probed job

    def __call__(self, job: Job) -> Estimate:
        chash = config_hash(job.config)
        same = [t for t in self.timed if (t.spec, t.arm, t.config_hash) == (job.spec_id, job.arm, chash)]
        here = [t.seconds for t in same if t.hardware == self.hardware]
        if here:
            return Estimate(statistics.median(here), "here", self.hardware)
        if same:
            hardware = Counter(t.hardware for t in same).most_common(1)[0][0]
            return Estimate(statistics.median(t.seconds for t in same if t.hardware == hardware),
                            "other hardware", hardware)
        return self._scaled(job)

    def _scaled(self, job: Job) -> Estimate:
        config = job.config.model_dump(mode="json")
        mine, fam = work(config), family(config)
        spec = [t for t in self.timed if t.spec == job.spec_id]
        kin = self._per_work([t for t in spec if t.family == fam])
        if kin is not None:
            return Estimate(kin * mine, "other arms")
        probed = self._probe(job, fam, mine)
        if probed is not None:
            return Estimate(probed * mine, "probe")
        other = self._per_work(spec)
        if other is not None:
            return Estimate(other * mine, "other configs")
        return Estimate(math.nan, "unknown")

    def _per_work(self, timed: list[Timed]) -> float | None:
        """Median seconds per unit of work, of this hardware's records if any, else of all of them."""
        pool = [t for t in timed if t.hardware == self.hardware] or timed
        return statistics.median(t.seconds / t.work for t in pool) if pool else None

    def _probe(self, job: Job, fam: str, mine: float) -> float | None:
        """Seconds per unit of work of one probed job of this spec and family (probed once), or None."""
        if self.probe is None:
            return None
        key = f"{job.spec_id}:{fam}"
        if key not in self._probed:
            seconds = self.probe(job)
            self._probed[key] = (seconds if seconds is not None else math.nan, mine)
        seconds, probed_work = self._probed[key]
        return seconds / probed_work if math.isfinite(seconds) else None


def costs(jobs: list[Job], estimate: Callable[[Job], Estimate]) -> dict[str, Estimate]:
    """job name -> its estimate; unknown ones at the mean of the known (or 60 s when none is known)."""
    out = {j.name: estimate(j) for j in jobs}
    known = [e.seconds for e in out.values() if math.isfinite(e.seconds)]
    fill = statistics.fmean(known) if known else 60.0
    return {name: e if math.isfinite(e.seconds) else Estimate(fill, "unknown") for name, e in out.items()}


def sources_text(estimates: dict[str, Estimate]) -> str:
    """'231 jobs from records made on this hardware (amd-epyc-1t-c7322546), 12 from the spec's other arms'."""
    words = {"here": "from records made on this hardware ({hw})",
             "other hardware": "from records made on {hw}",
             "other arms": "from the same spec's other arms (scaled by epochs)",
             "probe": "from a few timed steps (no evaluation)",
             "other configs": "from the spec's records of other configs (scaled by epochs: may be far off)",
             "unknown": "unknown (counted at the mean)"}
    counts = Counter((e.source, e.hardware) for e in estimates.values())
    parts = [f"{n} job(s) {words[source].format(hw=hw)}" for (source, hw), n in
             sorted(counts.items(), key=lambda kv: SOURCES.index(kv[0][0]))]
    return ", ".join(parts) or "no jobs"
