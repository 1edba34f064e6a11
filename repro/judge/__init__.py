"""The judging layer: from run records to a verdict per claim. The runner (between the looks of
`--until-decided`) and the report both call it; it imports the spec layer and the record schema only.

verdict.py     the Verdict of one claim, the verdict names, the bound a claim is compared with
rule.py        the one decision rule: paired t and exact sign-flip p values (vectorised), Holm, BH
power.py       seed power at the observed and at the paper's effect
claim.py       one claim and one family (a spec's claims) judged from seed -> value maps
intervals.py   descriptive intervals for tables and plots (not decisions)
sequential.py  the group-sequential design: looks, its level calibrated by simulating rule.py, replay
records.py     the records of a profile as a DataFrame, and the one accessor of a metric in a record
derived.py     metrics computed from two arms' curves (steps to target, ...)
spec.py        a spec's verdicts: its family, its design replayed, the seeds each verdict stands on
regime.py      the plateau check (budget doubling, linear reference), claims' conditions: "out of regime"
current.py     the records of the spec as it is now (a re-sized spec's old records are stale)
linear_reference.py  where the logistic-regression reference of an image spec lives

The protocol and its simulated error rates: docs/statistics.md.
"""
