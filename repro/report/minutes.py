"""Measured job-minutes per spec and profile, for `repro list`: the wall_time_s of the run records under
results/runs/<spec>/<profile>/<arm>/seed<k>.json and the grid_seconds of an arm's tuning grid beside them
(tune.json, repro/jobs/tune.py), read as plain JSON (no pandas, no torch)."""

from __future__ import annotations

import json
from pathlib import Path

from repro.spec.legacy_ids import LEGACY_IDS


def measured_minutes(results_dir: Path, spec_id: str) -> dict[str, float]:
    """profile -> minutes summed over the spec's records that say how long they took, and its tuning
    grids; a profile without records is absent. Records kept under an old name of the spec
    (repro/spec/legacy_ids.py) count too, unless the same (arm, seed) was rerun under the new name."""
    runs = Path(results_dir) / "runs"
    folders = [runs / old for old, new in LEGACY_IDS.items() if new == spec_id] + [runs / spec_id]
    seconds: dict[tuple[str, str, str], float] = {}   # (profile, arm, seed file) -> wall time
    for folder in folders:                             # the new name last: its records replace old ones
        for path in sorted([*folder.glob("*/*/seed*.json"), *folder.glob("*/*/tune.json")]):
            wall = _wall_time(path, "grid_seconds" if path.name == "tune.json" else "wall_time_s")
            if wall is not None:
                seconds[path.parts[-3], path.parts[-2], path.name] = wall
    minutes: dict[str, float] = {}
    for (profile, _, _), wall in seconds.items():
        minutes[profile] = minutes.get(profile, 0.0) + wall / 60
    return minutes


def _wall_time(path: Path, key: str) -> float | None:
    try:
        wall = json.loads(path.read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, AttributeError):
        return None   # unreadable, half-written or not a record: not counted
    return float(wall) if isinstance(wall, (int, float)) and not isinstance(wall, bool) else None


def minutes_by_class(results_dir: Path, spec_id: str, home: str | None) -> dict[str, dict[str, float]]:
    """hardware class -> profile -> measured minutes: the folder's own records (class `home`, the
    reference) and each class folder results/hardware/<class>/ (repro/hardware_class.py)."""
    label = home if home and "unknown" not in home else "the folder's class"   # records without CPU facts
    out = {label: measured_minutes(results_dir, spec_id)}
    for folder in sorted(Path(results_dir, "hardware").glob("*/runs")):
        out[folder.parent.name] = measured_minutes(folder.parent, spec_id)
    return {cls: m for cls, m in out.items() if m}
