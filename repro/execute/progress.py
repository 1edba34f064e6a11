"""What a run prints about its jobs as they finish."""

from __future__ import annotations

from collections.abc import Mapping

from tqdm.auto import tqdm

from repro.jobs.run import is_rank0


def say_status(record: dict) -> None:
    """One line for a job that did not end ok (rank 0 only)."""
    if record["status"] != "ok" and is_rank0():
        tqdm.write(f"{record['spec']}/{record['arm']}/seed{record['seed']}: {record['status']}: "
                   f"{record.get('reason')}")


class JobsBar:
    """One bar over a list of jobs that moves by each finished job's expected seconds
    (repro/jobs/estimate.py), so its ETA weighs the jobs by their cost; it names the jobs running and counts
    the finished ones. With no `costs`, every job counts 1. Jobs run in the order given (the local pool
    takes them first in, first out), so the `parallel` oldest unfinished ones are the running ones."""

    def __init__(self, jobs: list, costs: Mapping[str, float] | None = None, parallel: int = 1,
                 desc: str = "jobs"):
        self.jobs, self.parallel = list(jobs), max(1, parallel)
        self.cost = {j.name: float((costs or {}).get(j.name, 1.0)) for j in self.jobs}
        self.left = [j.name for j in self.jobs]
        self.short = {j.name: f"{j.spec_id}/{j.arm}/seed{j.seed}" for j in self.jobs}
        self.bar = tqdm(total=sum(self.cost.values()), desc=desc, disable=not is_rank0(),
                        bar_format="{desc}: {percentage:3.0f}%|{bar:20}| [{elapsed}<{remaining}]{postfix}")
        self._show()

    def finished(self, name: str) -> None:
        if name in self.left:
            self.left.remove(name)
            self.bar.update(self.cost[name])
        self._show()

    def _show(self) -> None:
        done = len(self.jobs) - len(self.left)
        running = ", ".join(self.short[n] for n in self.left[: self.parallel])
        running = f"running {running}" if running else "all done"
        self.bar.set_postfix_str(f"{done}/{len(self.jobs)} jobs, {running}", refresh=True)

    def close(self) -> None:
        self.bar.close()
