"""What a run prints about its jobs as they finish."""

from __future__ import annotations

from tqdm.auto import tqdm

from repro.jobs.run import is_rank0


def say_status(record: dict) -> None:
    """One line for a job that did not end ok (rank 0 only)."""
    if record["status"] != "ok" and is_rank0():
        tqdm.write(f"{record['spec']}/{record['arm']}/seed{record['seed']}: {record['status']}: "
                   f"{record.get('reason')}")
