"""The `repro` command: list specs, run their jobs, write the report.

Bad input (a malformed spec, an unknown arm, a missing dataset) prints one line and exits with 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from repro.bench import args as bench_args
from repro.errors import Interrupted, UserError
from repro.hardware_class import home_class
from repro.report import schedule_plot
from repro.report.minutes import minutes_by_class
from repro.spec import SPEC_DIR, load_spec, spec_paths
from repro.spec.paths import selected_specs

# Imports of torch and what pulls it in (the tasks, torchmetrics, transformers, pandas, Ray) are inside the
# commands that need them, the one place this project imports in functions: `repro --help` and
# `repro list` must answer in well under 2 s (tests/repro/test_cli_fast.py checks no torch is imported).
EXECUTORS = ("local", "ray")   # repro.execute.dispatch.EXECUTORS (a test keeps the two equal)

__all__ = ["SPEC_DIR", "Interrupted", "build_parser", "main", "parse_seeds", "spec_paths"]   # + plan, on use


def __getattr__(name: str):
    """`repro.cli.plan` (kept for callers) is imported on first use."""
    if name == "plan":
        from repro.jobs.plan import plan
        return plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_seeds(text: str | None) -> list[int] | None:
    """'0,1,2' or '0-4' -> list of seeds (UserError for anything else, an empty or a falling range)."""
    if text is None:
        return None
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.partition("-")
            seeds.extend(range(int(lo), int(hi) + 1) if dash else [int(lo)])
            if dash and int(hi) < int(lo):
                raise UserError(f"--seeds {text!r}: the range {part} runs downwards; write it low-high, e.g. "
                                f"{hi}-{lo}")
    except ValueError:
        raise UserError(f"--seeds {text!r}: use a list like 0,1,2 or a range like 0-4") from None
    return seeds


def _checked_paths(args) -> list[Path]:
    """Everything about `repro run`'s arguments that can be checked without torch (specs, profile, arms,
    seeds, counts), so that a mistake is one line within a second; returns the spec files."""
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: run at least 1 job at a time")
    if args.address and args.executor != "ray":
        raise UserError("--address is for --executor ray")
    if args.until_decided and args.seeds:
        raise UserError("--until-decided chooses the seeds (looks up to --max-seeds): drop --seeds")
    parse_seeds(args.seeds)
    return selected_specs(args.specs, args.all, args.profile, _split(args.arms))


def cmd_list(args) -> None:
    """Specs as written, without the model/data/trick argument checks (those import torch; `repro run`
    and `repro run --dry-run` make them before anything trains)."""
    home = home_class(args.results_dir)
    totals: dict[tuple[str, str], float] = {}
    for path in spec_paths([], True):
        spec = load_spec(path, check_registries=False)
        by_class = minutes_by_class(args.results_dir, spec.id, home)
        print(f"{path.stem}  ({spec.id}: {spec.paper.title}, arXiv {spec.paper.arxiv})")
        print(f"  arms:     {', '.join(spec.arms)}")
        print(f"  profiles: {', '.join(_profile_line(spec, p, by_class) for p in spec.profiles)}")
        for cls, minutes in by_class.items():
            for profile, m in minutes.items():
                totals[cls, profile] = totals.get((cls, profile), 0.0) + m
        for claim in spec.claims:
            print(f"  claim {claim.id}: {claim.text}")
    for (cls, profile), m in sorted(totals.items()):
        print(f"total measured at {profile} on {cls}: {m:.0f} job-min ({m / 2:.0f} min of wall time at "
              "--jobs 2)")


def _profile_line(spec, profile: str, by_class: dict[str, dict[str, float]]) -> str:
    runs = [f"{m[profile]:.1f} job-min on {cls}" for cls, m in by_class.items() if profile in m]
    seeds = spec.seeds(profile)
    return f"{profile} ({seeds} seed{'s' if seeds != 1 else ''}, {'; '.join(runs) or 'not run'})"


def cmd_run(args) -> None:
    from repro.jobs.preflight import check_run  # torch-free, like the checks of the arguments

    paths = _checked_paths(args)             # before the imports below, which take seconds
    checked = check_run(paths, args.profile, _split(args.arms), args.set, args.data_root, args.dry_run)
    from repro.execute import torchrun

    if torchrun.is_distributed():   # under torchrun: every job data-parallel on all ranks
        if args.jobs != 1:
            raise UserError("--jobs runs separate jobs side by side; under torchrun each job already "
                            "uses every rank: drop --jobs")
        if args.executor == "ray":
            raise UserError("--executor ray starts its own workers: run it without torchrun")
        args.device = str(torchrun.init(args.device))
    try:
        _run(args, paths, checked)
    finally:
        torchrun.shutdown()


def _run(args, paths: list[Path], checked) -> None:
    from repro.execute.ray_cluster import import_ray
    from repro.execute.session import RunSession
    from repro.execute.until_decided import run_until_decided
    from repro.execute.until_decided import summary as until_decided_summary
    from repro.hardware import pick_device
    from repro.jobs.plan import plan
    from repro.jobs.run import is_rank0
    from repro.report import machines

    if args.executor == "ray":
        import_ray()                       # a missing Ray fails now, not after the LR range tests
    specs, jobs = plan(paths, args.profile, _split(args.arms), parse_seeds(args.seeds), args.set)
    if args.dry_run:
        return _dry_run(specs, jobs, args)
    device = pick_device(args.device)
    machines.use_class_folder(args, device)
    _refuse_replacing_records(args.results_dir, specs, jobs)
    reference = machines.judge_reference(args, _all_specs(specs))
    session = RunSession(args, specs, device, checked)
    if not args.arms:                 # a run of every arm checks its regime first, on its own seeds
        session.regime_checks(paths, parse_seeds(args.seeds) or None)
    if args.until_decided:
        logs = run_until_decided(paths, args.profile, _split(args.arms), args.set, args.max_seeds,
                                 args.results_dir, session.execute, session.todo, session.on_look,
                                 hardware=session.hardware_class)
        print(until_decided_summary(logs))
    else:
        todo = session.todo(jobs)
        skipped = len(todo) - len(checked.keep(todo))          # recorded as not run, not trained
        print(f"{len(jobs)} jobs at profile {args.profile!r}: {len(jobs) - len(todo)} already finished, "
              f"{len(todo) - skipped} to run" + (f", {skipped} not runnable here" if skipped else ""))
        if todo:
            session.show_plan([("jobs", todo)])
            session.execute(todo)
    if not args.no_report and is_rank0():
        _report(args.results_dir, args.profile, specs, hardware=session.hardware_class)
        flips = machines.compare_with_reference(reference, args, list(specs))
        _check_fail_on(args, specs, flips)
    failed = session.failed
    if failed:
        raise UserError(f"{len(failed)} job(s) failed, e.g. {failed[0]['spec']}/{failed[0]['arm']}/"
                        f"seed{failed[0]['seed']}: {failed[0]['reason']}")


def _refuse_replacing_records(results_dir: Path, specs: dict, jobs: list) -> None:
    from repro.jobs.plan import records_overrides_would_replace

    replaced = records_overrides_would_replace(results_dir, specs, jobs)
    if replaced:
        raise UserError(f"--set would write over {len(replaced)} finished record(s) of the spec's own config "
                        f"(e.g. {replaced[0]}); run the experiment into another folder: --results-dir DIR")


def _dry_run(specs: dict, jobs: list, args) -> None:
    from repro.hardware import pick_device
    from repro.jobs.dry_run import dry_run, plan_markdown

    device = pick_device(args.device)
    seeds = {sid: len({j.seed for j in jobs if j.spec_id == sid}) for sid in specs}
    rows = dry_run(jobs, seeds, device, args.data_root)
    print(plan_markdown(rows, device, seeds))
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        raise UserError(f"{len(bad)} arm(s) would not run, e.g. {bad[0]['spec']}/{bad[0]['arm']}: "
                        f"{bad[0]['status']}")


def _all_specs(ran: dict | None = None) -> dict:
    """Every spec in repro/specs, plus the specs just run (which may be files elsewhere)."""
    return {**{s.id: s for s in (load_spec(p) for p in spec_paths([], True))}, **(ran or {})}


def _report(results_dir: Path, profile: str, ran: dict | None = None, force: bool = False,
            hardware: str | None = None) -> None:
    from repro.report.publish import TOP_OUTPUTS
    from repro.report.render import write_report

    path = write_report(results_dir, profile, _all_specs(ran), force=force, hardware=hardware)
    out = path.parent
    print(f"report: {path}")
    for name in TOP_OUTPUTS:
        if name != path.name and (out / name).exists():
            print(f"  also: {out / name}")
    rest = sum(1 for f in out.rglob("*") if f.is_file() and f.name not in TOP_OUTPUTS)
    print(f"  and {rest} per-spec tables, figures and caches under {out}/")


def _check_report_args(results_dir: Path, profile: str) -> None:
    """A profile no spec has, or no records of it: one line within a second, before the report's imports."""
    known = {p for path in spec_paths([], True) for p in load_spec(path, check_registries=False).profiles}
    if profile not in known:
        raise UserError(f"unknown profile {profile!r}: the specs' profiles are {', '.join(sorted(known))}; "
                        "nothing written")
    found = (next(Path(results_dir).glob(f"{where}/*/{profile}/*/seed*.json"), None)
             for where in ("runs", "hardware/*/runs"))
    if not any(found):
        raise UserError(f"no run records for profile {profile!r} under {Path(results_dir) / 'runs'} (nor "
                        f"{Path(results_dir) / 'hardware'}/<id>/runs); nothing written")


def cmd_report(args) -> None:
    """`repro report`: the report, then the CI outputs asked for."""
    _check_report_args(args.results_dir, args.profile)
    from repro.report import ci, machines

    roots = machines.report_roots(args.results_dir, args.profile, args.hardware)
    for cls, root in roots.items():
        _report(root, args.profile, force=args.force, hardware=cls)
    note = None if args.hardware else machines.this_machine_note(args.results_dir, roots, args.profile)
    if note:
        print(f"note: {note}")
    out = next(iter(roots.values())) / args.profile
    if args.junit:
        failed = ci.write_junit(out, args.junit, args.expect)
        print(f"junit: {args.junit} ({failed} failed case(s))")
    if args.github_summary:
        print(f"job summary: {ci.github_summary(out)}")


def _check_fail_on(args, specs: dict, flips: int = 0) -> None:
    """`repro run --fail-on contradicted` (or flip): exit 1 with one line (repro.report.ci.fail_on)."""
    if args.fail_on:
        from repro.report import ci

        ci.fail_on(args.results_dir / args.profile, _split(args.fail_on), list(specs), flips)


def cmd_compare(args) -> None:
    """`repro compare A B`: exit 1 when a claim's verdict flipped between the two result sets."""
    from repro.report.compare import compare, compare_markdown, load_side
    from repro.report.render import judge_all

    specs = _all_specs()
    sides = [load_side(p, args.profile, judge_all, specs) for p in (args.a, args.b)]
    rows = compare(*sides)
    print(compare_markdown(rows, str(args.a), str(args.b)), end="")
    if any(r["flip"] for r in rows):
        raise SystemExit(1)


def _split(text: str | None) -> list[str] | None:
    return [a for a in text.split(",") if a] if text else None


def package_version() -> str:
    """The installed distribution's version; the package's own __version__ when run from a checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tricks-repro")
    except PackageNotFoundError:
        from repro import __version__
        return __version__


def _examples(*lines: str) -> dict:
    """parser keyword arguments: an 'examples:' epilog kept as written."""
    return {"epilog": "examples:\n" + "\n".join(f"  {line}" for line in lines),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


EXAMPLES = {
    "repro": ("repro list", "repro run label_smoothing --profile smoke",
              "repro run mixup --profile cpu --jobs 2 --set epochs=1",
              "repro report --profile cpu"),
    "list": ("repro list",),
    "run": ("repro run label_smoothing --profile smoke",
            "repro run label_smoothing --arms hard --seeds 0-2 --set epochs=1 --set optimizer.lr=0.05",
            "repro run mixup --set arms.mixup.tricks='[{name: mixup, alpha: 0.2}]' --set seeds=10",
            "repro run label_smoothing --profile cpu --until-decided --max-seeds 20 --jobs 2",
            "repro run --all --profile paper --dry-run --device cuda"),
    "report": ("repro report --profile cpu", "repro report --profile smoke --results-dir /tmp/results",
               "repro report --profile cpu --junit junit.xml --github-summary"),
    "compare": ("repro compare results-laptop results-gpu --profile cpu",
                "repro compare a/cpu/verdicts.json b/cpu/verdicts.json"),
    "plot-schedule": ("repro plot-schedule opennmt --out noam.png",),
    "bench": ("repro bench amp --quick --models tiny", "repro bench save-baseline --device cuda",
              "repro bench compare --device cuda"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repro", description=__doc__.splitlines()[0],
                                     **_examples(*EXAMPLES["repro"]))
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    lst = sub.add_parser("list", help="specs with their arms, claims, profiles and measured job-minutes",
                         **_examples(*EXAMPLES["list"]))
    lst.add_argument("--results-dir", type=Path, default=Path("results"),
                     help="whose run records give the measured minutes (default: ./results)")
    lst.set_defaults(func=cmd_list)

    run = sub.add_parser("run", help="train every (arm, seed) job of the specs, then write the report",
                         **_examples(*EXAMPLES["run"]))
    run.add_argument("specs", nargs="*", help="spec files or names in repro/specs")
    run.add_argument("--all", action="store_true", help="every spec in repro/specs")
    run.add_argument("--profile", default="cpu", help="smoke | cpu | paper (default: cpu)")
    run.add_argument("--arms", help="comma-separated arms to run (default: all)")
    run.add_argument("--seeds", help="seeds to run, e.g. 0,1,2 or 0-4 (default: the profile's count)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="change every job's resolved config (repeatable): epochs=1, optimizer.lr=0.05, "
                          "seeds=10, arms.NAME.epochs=2, 'model={name: plain_convnet}' (a YAML mapping "
                          "replaces the node); validated like the spec, part of the config hash")
    run.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    run.add_argument("--jobs", type=int, default=1, help="jobs at once (one per GPU on GPUs)")
    run.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="local: here, --jobs at once; ray: one Ray task per job (default: local)")
    run.add_argument("--address", help="Ray cluster to use, e.g. auto (default: start a local instance)")
    run.add_argument("--no-report", action="store_true", help="do not write the report afterwards")
    run.add_argument("--until-decided", action="store_true",
                     help="add seeds in looks fixed in advance (8, 12, ... up to --max-seeds), judged after "
                          "each look with a calibrated group-sequential level, only for the arms of claims "
                          "still undecided (docs/statistics.md)")
    run.add_argument("--max-seeds", type=int, default=None,
                     help="the last look of --until-decided (default: the one a spec's records were started "
                          "with, else 20: looks 8, 12, 20)")
    run.add_argument("--dry-run", action="store_true",
                     help="build every arm, train it a few steps (synthetic images when the data is not "
                          "here), print the plan with its cost; writes nothing")
    _dirs(run)
    run.add_argument("--fail-on", metavar="VERDICTS",
                     help="exit 1 when a claim of the run ends with one of these verdicts, e.g. contradicted "
                          "or contradicted,inconclusive; flip: when a verdict flipped against the reference")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="write results/<profile>/report.md from the run records",
                            **_examples(*EXAMPLES["report"]))
    report.add_argument("--profile", default="cpu", help="whose records to judge: smoke | cpu | paper "
                                                          "(default: cpu)")
    _dirs(report)
    report.add_argument("--hardware", metavar="CLASS",
                        help="rebuild only this hardware class's report, e.g. cpu-avx2-1t (default: every "
                             "class with records: the folder's own, then each under hardware/<id>/)")
    _report_outputs(report)
    report.set_defaults(func=cmd_report)
    _compare_parser(sub)

    plot = sub.add_parser("plot-schedule", help="draw learning-rate schedules (e.g. OpenNMT's Noam)",
                          **_examples(*EXAMPLES["plot-schedule"]))
    schedule_plot.add_arguments(plot)
    plot.set_defaults(func=schedule_plot.run)

    bench_parser = sub.add_parser("bench", help="speed: AMP throughput, baselines, regression check",
                                  **_examples(*EXAMPLES["bench"]))
    bench_args.add_arguments(bench_parser)
    bench_parser.set_defaults(func=_bench)
    return parser


def _report_outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace a report built from more records than there are now")
    parser.add_argument("--junit", type=Path, metavar="FILE",
                        help="also write a JUnit XML file: one test case per claim, failed when its verdict "
                             "differs from the expectation file or a speed claim regressed")
    parser.add_argument("--expect", type=Path, metavar="FILE",
                        help="expected verdicts {\"spec/claim\": verdict} for --junit "
                             "(default: results/<profile>/expected.json)")
    parser.add_argument("--github-summary", action="store_true",
                        help="append the verdict summary (Markdown) to $GITHUB_STEP_SUMMARY")


def _compare_parser(sub) -> None:
    parser = sub.add_parser("compare", help="the same claims from two result sets side by side; exit 1 "
                                            "when a verdict flipped", **_examples(*EXAMPLES["compare"]))
    parser.add_argument("a", type=Path, help="results folder or verdicts.json (A)")
    parser.add_argument("b", type=Path, help="results folder or verdicts.json (B)")
    parser.add_argument("--profile", default="cpu",
                        help="the profile whose claims are compared, when A and B are results folders "
                             "(default: cpu)")
    parser.set_defaults(func=cmd_compare)


def _bench(args) -> None:
    from repro.bench import command

    command.run(args)


def _dirs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="where records and reports go (default: ./results)")
    parser.add_argument("--cache-dir", type=Path, default=Path("cache"),
                        help="checkpoints for resuming (default: ./cache)")
    parser.add_argument("--data-root", type=Path, default=Path("data"),
                        help="where downloadable datasets are kept (default: ./data)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:   # one line, no traceback; 130 = 128 + SIGINT, as shells report it
        where = f" after {err.finished} of {err.total} jobs" if isinstance(err, Interrupted) else ""
        print(f"\ninterrupted{where}; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
