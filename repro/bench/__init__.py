"""Speed benchmarks, installed with the package (benchmarks/ keeps the per-hardware baselines and thin
script entry points).

lib.py             interleaved timing, robust spread, speedup intervals, the regression rule, records
amp_throughput.py  fp32 vs mixed precision: throughput, memory, MFU
command.py         `repro bench amp | save-baseline | compare` (args.py: its arguments, light to import)
scaling.py         DDP scaling efficiency (1 vs N processes under torchrun)
loop_overhead.py   the training loop against a bare loop
"""
