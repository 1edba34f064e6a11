"""Where specs are found: a path, or a name of a file in repro/specs (with or without .yaml)."""

from __future__ import annotations

from pathlib import Path

from repro.errors import UserError
from repro.spec.legacy_ids import renamed

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
