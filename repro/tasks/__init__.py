"""Task plugins: each owns its data, models, loss (with its ignore mask), metrics and report blocks.

base.py      TaskSetup (what a task hands the jobs layer), classification metrics
registry.py  task name -> plugin
image/ text/ translation/  the plugins
"""
