"""Several machines' results side by side (the layout: repro/hardware_class.py).

- `repro run` trains into its hardware class's folder: the results folder itself for the class it holds
  (REFERENCE.json), results/hardware/<id>/ for any other; before it trains it judges the folder's own
  records (the reference) with this code, and ends with `repro compare` of its report against them
  (compare-<profile>.md beside the report).
- `repro report` rebuilds the report of every class with records (the folder's own first), or of the one
  `--hardware` names, and says so when this machine's class has none yet.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from repro.errors import UserError
from repro.execute.session import hardware_class_id, worker_threads
from repro.hardware import fingerprint, pick_device
from repro.hardware_class import CLASSES_DIR, class_root, class_roots, home_class, of_fingerprint
from repro.report.compare import compare_markdown, compare_run, reference_side
from repro.report.render import judge_all

MAIN = "repro run --all --profile cpu --until-decided --jobs 2"
THREADS = re.compile(r"-\d+t(?=(-x\d+)?$)")


def machine_part(class_id: str) -> str:
    """A class id without its thread count: 'cpu-avx2-1t' -> 'cpu-avx2' (the machine, run any way)."""
    return THREADS.sub("", class_id)


def use_class_folder(args, device: torch.device) -> None:
    """Point args.results_dir at this run's class folder (args.reference_dir: the top folder)."""
    top = Path(args.results_dir)
    cls = hardware_class_id(device, worker_threads(device, args.jobs, args.executor))
    home = home_class(top)
    args.reference_dir, args.hardware_class = top, cls
    args.results_dir = class_root(top, cls, home)
    if args.results_dir != top:
        print(f"hardware class {cls}: this machine's records and report go to {args.results_dir}/; the "
              f"records of {top}/runs/ (class {home}) are the reference it is compared with at the end",
              flush=True)


def judge_reference(args, specs: dict) -> dict | None:
    """The reference verdicts for the comparison the run ends with (the top folder's own records of `specs`,
    judged now; None without any). `specs` are those of the class's report, every spec and not only the
    run's, so that the comparison keeps them all."""
    top = Path(args.reference_dir)
    home = home_class(top)
    if home is None:                          # a new folder: nothing to compare with
        return None
    print(f"judging the reference (the records of {top}/runs, class {home}) to compare this run with at the "
          f"end", flush=True)
    return reference_side(top, args.profile, judge_all, specs)


def compare_with_reference(reference: dict | None, args, spec_ids: list[str]) -> int:
    """Write the class's verdicts against the reference's beside its report, every claim of both; print the
    rows of the specs just run (`spec_ids`) and return their flips."""
    if reference is None:
        return 0
    top, root = Path(args.reference_dir), Path(args.results_dir)
    when = "before this run" if root == top else "now"
    ref_name = (f"the records of {shown(top / 'runs', top)} (class {home_class(top)}, judged {when}; the "
                f"records of an earlier config of a spec are left out as stale, so a spec re-sized since the "
                f"reference ran it reads 'only in B' until the reference class re-runs it)")
    names = (ref_name, f"{shown(root / args.profile / 'verdicts.json', top)} (class {args.hardware_class}, "
                       f"this run)")
    out = root / f"compare-{args.profile}.md"
    rebuild = (f"Rebuilt at the end of `repro run`; the same table from the records: `repro compare "
               f"{shown(top, top)} {shown(root, top)} --profile {args.profile}`.")
    rows = compare_run(reference, root, args.profile, names, out, rebuild)[0]
    ran = [r for r in rows if r["claim"].split("/", 1)[0] in set(spec_ids)]
    print(f"\ncompared with the reference (the specs of this run; every claim of both: {out}):\n"
          f"{compare_markdown(ran, *names)}", end="", flush=True)
    return sum(r["flip"] for r in ran)


def shown(path: Path, top: Path) -> str:
    """`path` as a reader of the results folder `top` finds it: from the folder's own name ('results/...'),
    never this machine's absolute path."""
    path, top = Path(path), Path(top)
    try:
        return str(Path(top.resolve().name) / path.resolve().relative_to(top.resolve()))
    except ValueError:
        return str(path)


def report_roots(results_dir: Path, profile: str, hardware: str | None) -> dict[str, Path]:
    """Class id -> folder of the reports `repro report` rebuilds: every class with `profile` records, or
    the one `hardware` names (UserError, with the classes there are, when it has none)."""
    roots = {cid: root for cid, root in class_roots(results_dir).items() if _has_records(root, profile)}
    if hardware is None:
        return roots
    root = class_root(results_dir, hardware)
    if not _has_records(root, profile):
        there = ", ".join(f"{c} ({r})" for c, r in roots.items()) or "none"
        raise UserError(f"no {profile} records of hardware class {hardware} under {root / 'runs'}; "
                        f"classes with records: {there}; nothing written")
    return {hardware: root}


def _has_records(root: Path, profile: str) -> bool:
    return next(Path(root, "runs").glob(f"*/{profile}/*/seed*.json"), None) is not None


def this_machine_note(results_dir: Path, roots: dict[str, Path], profile: str) -> str | None:
    """A line when no report rebuilt is of this machine's class (any thread count), None when one is."""
    mine = of_fingerprint(fingerprint(pick_device("auto"))).id
    if any(machine_part(c) == machine_part(mine) for c in roots):
        return None
    built = ", ".join(f"{c} ({Path(r) / profile / 'report.md'})" for c, r in roots.items())
    return (f"no records of this machine's hardware class ({machine_part(mine)}, e.g. {mine}) yet: the "
            f"reports rebuilt are those of the committed records, {built}. To measure this machine: {MAIN} "
            f"(its records and report go to {Path(results_dir) / CLASSES_DIR}/<id>/, compared with the "
            f"reference at the end)")
