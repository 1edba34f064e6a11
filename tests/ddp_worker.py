"""Run under torchrun by tests/test_distributed.py: train one job of a spec, save the final weights.

    torchrun --nproc-per-node N tests/ddp_worker.py SPEC OUT.pt [FAIL_RANK]

Outside torchrun (one process) it trains the same job alone. With FAIL_RANK, that rank raises at step 3.
"""

import sys
from pathlib import Path

import torch

from repro import distributed
from repro.cli import plan
from repro.runner import train_job


def main(spec: str, out: str, fail_rank: int | None = None) -> None:
    torch.set_num_threads(1)
    device = distributed.init("cpu") if distributed.is_distributed() else torch.device("cpu")
    _, jobs = plan([Path(spec)], "smoke", ["plain"], [0])
    rank = distributed.world()[0]

    def on_step(step: int) -> None:
        if rank == fail_rank and step == 3:
            raise RuntimeError(f"rank {rank} failed on purpose at step {step}")

    result, setup, _ = train_job(jobs[0], device, Path(out).parent / "data", on_step=on_step)
    if rank == 0:
        torch.save({"weights": setup.model.state_dict(), "final": result.final,
                    "samples": result.samples}, out)
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
