"""Jobs: plan (jobs, LR finder) -> build (typed TrainingSetup) -> train (single, ensemble) -> run -> record.

job.py       a job (spec, profile, arm, seed + its RunConfig); where its record and checkpoint live
plan.py      spec files -> jobs, seed-major
lr_search.py a spec's lr_finder: the LR range test before the jobs
build.py     a job -> TrainingSetup (task, loop config, schedule, tricks, context)
train.py     one job through the loop; ensemble.py: M members in one job
run.py       train + write the record; record.py: the one Record schema
parallel.py  data-parallel training under torchrun (sharding, DDP)
dry_run.py   `repro run --dry-run`: build every arm, time a few steps
preflight.py what the jobs need (data, extras, weights; declared in repro/spec/needs.py), checked first
estimate.py  each job's expected seconds here, from the records (or a few timed steps)
"""
