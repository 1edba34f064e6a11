"""The linear reference of an image-classification spec (issue #29): a multinomial logistic regression
(scikit-learn, lbfgs, C = 1) fitted on the flattened, normalised pixels of the baseline arm's train subset
at a profile and evaluated on the same test images the training job evaluates. A cpu image baseline that
does not beat it by a clear margin has not reached any paper's regime; the judge reads the result
(repro/judge/linear_reference.py). Written once per (spec, profile) and reused while the data config is
unchanged, so the job is resumable and costs nothing the second time.
"""

from __future__ import annotations

import json
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from repro.files import write_json_atomic
from repro.judge.linear_reference import linear_reference_path
from repro.spec import Spec, resolve
from repro.tasks.image.data import load_dataset

TASK = "image-classification"
C, MAX_ITER = 1.0, 1000
ESTIMATOR = f"sklearn LogisticRegression(C={C}, lbfgs, max_iter={MAX_ITER}) on flattened normalised pixels"


def reference_arm(spec: Spec, arm: str | None = None) -> str:
    """The arm whose data the reference is fitted on: `arm`, else the regime arm, else the first claim's
    baseline arm (the arm the plateau check looks at)."""
    return arm or spec.regime.arm or spec.claims[0].baseline_ref.arm


def fit_linear_reference(spec: Spec, profile: str, results_dir: Path, data_root: Path,
                         arm: str | None = None) -> Path | None:
    """Fit (or reuse) the spec's linear reference at `profile`; its JSON path, None for a non-image spec."""
    if spec.task != TASK:
        return None
    arm = reference_arm(spec, arm)
    cfg = resolve(spec, profile)[arm]
    data_cfg = cfg.data.model_dump()      # the same dict the training job loads (repro/tasks/image/task.py)
    path = linear_reference_path(results_dir, spec.id, profile)
    if _same_data(path, data_cfg):
        return path
    start = time.perf_counter()
    data = load_dataset(data_cfg, Path(data_root), "cpu")
    train_x, train_y = _arrays(data.train_x, data.train_y)
    test_x, test_y = _arrays(data.test_x, data.test_y)
    model, converged = fit_logistic(train_x, train_y)
    import sklearn  # here, as in fit_logistic: importing repro.jobs stays free of scikit-learn

    write_json_atomic(path, {
        "test_error": error_percent(model, test_x, test_y),
        "train_error": error_percent(model, train_x, train_y),
        "train_images": len(train_y), "test_images": len(test_y), "arm": arm, "data": data_cfg,
        "estimator": ESTIMATOR, "sklearn": sklearn.__version__,
        "iterations": int(np.max(model.n_iter_)), "converged": converged,
        "seconds": round(time.perf_counter() - start, 3),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return path


def fit_logistic(x: np.ndarray, y: np.ndarray):
    """The fitted LogisticRegression and whether lbfgs converged within MAX_ITER. BLAS gets as many threads
    as torch (the runner's per-job setting): the reference is no heavier a neighbour than a training job."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    # lbfgs with more than two classes is multinomial (the only behaviour from scikit-learn 1.5 on; the
    # `multi_class` argument is deprecated there and gone later, so it is not passed)
    model = LogisticRegression(C=C, solver="lbfgs", max_iter=MAX_ITER, n_jobs=None)
    with threadpool_limits(limits=torch.get_num_threads()), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, converged


def error_percent(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(100.0 * np.mean(model.predict(x) != y))


def _arrays(x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(N, C*H*W) float32 pixels and int64 labels as numpy arrays."""
    return x.detach().cpu().reshape(len(x), -1).numpy().astype(np.float32, copy=False), y.cpu().numpy()


def _same_data(path: Path, data_cfg: dict) -> bool:
    """Whether `path` holds a reference already fitted on this data config (then it is reused)."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(old, dict) and isinstance(old.get("test_error"), (int, float))
            and json.dumps(old.get("data"), sort_keys=True) == json.dumps(data_cfg, sort_keys=True))
