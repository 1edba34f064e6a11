"""Task plugins: each owns its data, models, loss (with its ignore mask), metrics and report blocks.

base.py           TaskSetup (what a task hands the jobs layer), classification metrics
registry.py       task name -> plugin, from the task catalog (repro/spec/task_catalog.py)
report_blocks.py  task name -> the plugin's report blocks, from the same catalog
image/ text/ translation/ lm/  the plugins
"""
