"""The report layer: run records and their verdicts (repro/judge) -> tables, plots, Markdown and HTML.

format.py   numbers, labels, Markdown / HTML from one list of blocks
plots.py    the one plotting style (matplotlib Figure, never pyplot)
render.py   the report document
views/      one file per report view
schedule_plot.py  `repro plot-schedule`
"""
