"""Where specs are found: a path, or a name of a file in repro/specs (with or without .yaml)."""

from __future__ import annotations

from pathlib import Path

from repro.errors import UserError
from repro.spec.legacy_ids import renamed
from repro.spec.load import load_spec

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"


def spec_paths(names: list[str], all_specs: bool) -> list[Path]:
    """Spec arguments are paths or names of files in repro/specs (with or without .yaml)."""
    if all_specs:
        return sorted(SPEC_DIR.glob("*.yaml"))
    paths = []
    for name in names:
        path = Path(name)
        if not path.exists():
            path = SPEC_DIR / (name if name.endswith(".yaml") else f"{name}.yaml")
        if not path.exists() and (new := renamed(name)):
            path = SPEC_DIR / f"{new}.yaml"
        if not path.exists():
            known = ", ".join(p.stem for p in sorted(SPEC_DIR.glob("*.yaml")))
            raise UserError(f"spec {name!r} not found; give a path or one of: {known}")
        paths.append(path)
    if not paths:
        raise UserError("name at least one spec, or pass --all")
    return paths


def selected_specs(names: list[str], all_specs: bool, profile: str, arms: list[str] | None) -> list[Path]:
    """The spec files of a run, checked to have `profile` and every arm of `arms`, without torch (the
    registry checks come when the run plans its jobs): a bad argument is one line within a second."""
    paths = spec_paths(names, all_specs)
    for path in paths:
        spec = load_spec(path, check_registries=False)
        spec.profile(profile)
        unknown = sorted(set(arms or []) - set(spec.arms))
        if unknown:
            raise UserError(f"{path}: --arms {','.join(unknown)}: no such arm; arms are "
                            f"{', '.join(spec.arms)}")
    return paths
