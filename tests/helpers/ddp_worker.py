"""Run under torchrun by tests/repro/execute/test_distributed.py: train one job of a spec, save the
final weights.

    torchrun --nproc-per-node N tests/helpers/ddp_worker.py SPEC OUT.pt \
        [--fail-rank R --fail-step S] [--checkpoint C]

Outside torchrun (one process) it trains the same job alone. With --fail-rank, that rank raises at step S;
with --checkpoint, the job keeps its epoch checkpoint there (rank 0 writes, every rank resumes from it).
"""

import argparse
from pathlib import Path

import torch

from repro.execute import torchrun as distributed
from repro.jobs.plan import plan
from repro.jobs.run import is_rank0
from repro.jobs.train import train_job
from tricks.loop import Checkpointer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("out")
    parser.add_argument("--fail-rank", type=int)
    parser.add_argument("--fail-step", type=int, default=3)
    parser.add_argument("--checkpoint")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = distributed.init("cpu") if distributed.is_distributed() else torch.device("cpu")
    _, jobs = plan([Path(args.spec)], "smoke", ["plain"], [0])
    rank = distributed.world()[0]

    def on_step(step: int) -> None:
        if rank == args.fail_rank and step == args.fail_step:
            raise RuntimeError(f"rank {rank} failed on purpose at step {step}")

    ckpt = Checkpointer(args.checkpoint, writer=is_rank0()) if args.checkpoint else None
    result, built = train_job(jobs[0], device, Path(args.out).parent / "data", ckpt, on_step=on_step)
    if rank == 0:
        torch.save({"weights": built.task.model.state_dict(), "final": result.final,
                    "samples": result.samples}, args.out)
    distributed.shutdown()


if __name__ == "__main__":
    main()
