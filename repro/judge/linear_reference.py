"""Where a spec's linear reference lives and how the judge reads it: the test error of a multinomial
logistic regression (scikit-learn) fitted on the same train subset and evaluated on the same test images
as the spec's baseline arm (written by repro/jobs/linear_reference.py). A cpu image baseline that does
not beat it by a clear margin is no paper's regime (issue #29): the plateau check requires it.

File: <results>/runs/<spec>/<profile>/linear_reference.json, a JSON object with at least
{"test_error": percent, "train_images": int, "test_images": int, "arm": str, "estimator": str}.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

FILE = "linear_reference.json"


def linear_reference_path(results_dir: Path, spec_id: str, profile: str) -> Path:
    return Path(results_dir) / "runs" / spec_id / profile / FILE


def read_linear_reference(results_dir: Path, spec_id: str, profile: str) -> dict | None:
    """The reference's JSON object, or None when it was not computed (or is unreadable)."""
    path = linear_reference_path(results_dir, spec_id, profile)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    error = data.get("test_error") if isinstance(data, dict) else None
    if not isinstance(error, (int, float)) or not math.isfinite(error):
        return None
    return data
