"""The typed spec: pydantic models of a spec file and of one arm's resolved run config (RunConfig).

Loading, merging and the cross-field checks are repro/spec/load.py; registry arguments repro/spec/checks.py.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_serializer

from repro.spec.checks import Problem
from repro.spec.problems import SpecError, format_problem
from repro.spec.task_catalog import TASK_NAMES


def _matching(pattern: str, what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


Slug = Annotated[str, _matching(r"[a-z0-9][a-z0-9_-]*", "a slug: lowercase letters, digits, '-' and '_'")]
# `test_error@1`: the metric's value after epoch 1 (from the run's curves) instead of at the end
Metric = Annotated[str, _matching(r"[a-z_][a-z0-9_]*(@[1-9][0-9]*)?",
                                  "a metric name like test_error, bleu, throughput or test_error@1")]
Task = Literal[TASK_NAMES]   # the names of repro/spec/task_catalog.py, in its order
Fraction = Annotated[float, Field(ge=0, lt=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class _Named(BaseModel):
    """A `{name: ..., **kwargs}` section; the kwargs are checked against the named registry entry."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    name: str


class ModelConfig(_Named):
    pass


class DataConfig(_Named):
    subset: Annotated[int, Field(ge=1)] | None = None
    augment: list[str] = Field(default_factory=list)


class ScheduleConfig(_Named):
    name: str = "constant"


class TrickConfig(_Named):
    pass


class OptimizerConfig(_Named):
    """`optimizer: {name, lr, ...}`: the name is an entry of tricks.optimizers.OPTIMIZERS; the fields below
    are common to all (each entry uses those it needs), further keys are the entry's own options, checked
    against its signature (repro/spec/checks.py). Options left out stay out of the dump (config hashes)."""

    name: str
    lr: float = Field(gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[Fraction, Fraction] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)


class EnsembleConfig(_Strict):
    """`ensemble: {members: M}`: the job trains M independent copies of the run (member k with seed
    repro.jobs.ensemble.member_seed(seed, k); member 0 is the plain run) and predicts with the mean of their
    softmax outputs (Lakshminarayanan et al. 2017, arXiv 1612.01474). `epochs` is per member."""

    members: int = Field(ge=1)


class TuneConfig(_Strict):
    """`tune:` (an arm's): before the arm's seeds run, train one run per grid value of `param` (a dotted
    path into the run config, e.g. optimizer.lr) with a validation split of `holdout` of the training set
    held out (the task evaluates on it), and run the arm at the best value (repro/jobs/tune.py). `metric`
    is a metric of the task's evaluation (on the held-out split) or `train_loss` (the mean training loss
    of the last epoch); `epochs` a shorter budget for the grid (default: the arm's). The choice, every
    grid point and the grid's cost go to results/runs/<spec>/<profile>/<arm>/tune.json and the records."""

    param: Annotated[str, _matching(r"[a-z_]+(\.[a-z_0-9]+)+", "a dotted path like optimizer.lr")]
    grid: list[float] = Field(min_length=2)
    metric: Metric = "train_loss"
    better: Literal["lower", "higher"] = "lower"
    epochs: int | None = Field(None, ge=1)
    holdout: float = Field(0.1, gt=0, lt=1)
    seed: int = Field(0, ge=0)


class RunConfig(_Strict):
    """Everything one (arm, profile) run needs, after merging; `task` comes from the spec's top level."""

    task: Task
    model: ModelConfig
    data: DataConfig
    optimizer: OptimizerConfig
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    tricks: list[TrickConfig] = Field(default_factory=list)
    batch_size: int = Field(ge=1)
    epochs: int = Field(ge=1)
    precision: Literal["fp32", "bf16", "fp16", "auto"] = "fp32"
    channels_last: bool | None = None  # None = auto: on for convnets
    eval_every: int = Field(1, ge=1)  # epochs between evaluations
    ensemble: EnsembleConfig | None = None
    sync_batchnorm: bool = False      # data-parallel runs: BatchNorm statistics over all ranks (CUDA)
    tune: TuneConfig | None = None    # tune one hyperparameter on a validation split first (TuneConfig)
    holdout: float | None = Field(None, gt=0, lt=1)  # set by the tuner: train on the rest, evaluate on this

    @model_serializer(mode="wrap")
    def _omit_unset_options(self, handler):
        """Leave options at their default out of dumps, so configs written before them keep their hash."""
        data = handler(self)
        if isinstance(data, dict):
            for key, default in (("ensemble", None), ("sync_batchnorm", False), ("tune", None),
                                 ("holdout", None)):
                if key in data and data[key] == default:
                    data.pop(key)
        return data


class Paper(_Strict):
    title: str
    venue: str
    arxiv: str


class Published(BaseModel):
    """Published numbers keyed by arm (or any label), plus where they come from."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    source: str | None = None
    __pydantic_extra__: dict[str, float] = Field(init=False)


class Ref(NamedTuple):
    """One side of a claim, parsed once: an arm, or a predictor of an arm ("arm/predictor", e.g. a trick's
    EMA weights "ema/ema"); str() gives the spec's text back."""

    arm: str
    predictor: str | None = None

    @classmethod
    def parse(cls, text: str) -> Ref:
        arm, _, predictor = text.partition("/")
        return cls(arm, predictor or None)

    def __str__(self) -> str:
        return f"{self.arm}/{self.predictor}" if self.predictor else self.arm


SPEED_METRICS = ("throughput", "wall_time_s", "train_time_s")


class Condition(_Strict):
    """A claim's pre-registered condition: the mean over the judged seeds of `arm`'s `metric` (a final
    metric, a record number, or the last value of a curve such as train_loss) is above and/or below a
    level. `why` is the paper's reasoning in one line; `meet` what would meet it at this scale."""

    arm: str                          # "arm" or "arm/predictor"
    metric: str
    above: float | None = None
    below: float | None = None
    why: str = Field(min_length=1)
    meet: str = ""

    @cached_property
    def ref(self) -> Ref:
        return Ref.parse(self.arm)

    def text(self) -> str:
        bounds = [f"> {self.above:g}" if self.above is not None else "",
                  f"< {self.below:g}" if self.below is not None else ""]
        return f"{self.arm} {self.metric} {' and '.join(b for b in bounds if b)}"


class Claim(_Strict):
    id: Slug
    text: str
    metric: Metric
    treatment: str  # "arm" or "arm/predictor", predictor = name of a trick of that arm
    baseline: str
    better: Literal["lower", "higher"]
    kind: Literal["superiority", "noninferiority", "ratio"] = "superiority"
    margin: float | None = Field(None, ge=0)  # noninferiority only, in metric units
    threshold: float = Field(1.0, gt=0)  # ratio claims: the claimed bound on treatment / baseline
    published: Published = Field(default_factory=Published)
    # the effect worth detecting, in metric units (a ratio for ratio claims), when the published numbers
    # do not define one; seed power is also computed at it (repro/judge/power.py)
    effect_of_interest: float | None = None
    # where the paper says the mechanism acts, checked on measured values (repro/judge/regime.py); written
    # before the run, the paper's reasoning in the spec's .md
    conditions: list[Condition] = Field(default_factory=list)
    # whether the claim needs the spec's baseline at its plateau (default: yes, except speed metrics)
    needs_plateau: bool | None = None

    @property
    def plateau_needed(self) -> bool:
        if self.needs_plateau is not None:
            return self.needs_plateau
        return self.metric.split("@")[0] not in SPEED_METRICS

    @cached_property
    def treatment_ref(self) -> Ref:
        return Ref.parse(self.treatment)

    @cached_property
    def baseline_ref(self) -> Ref:
        return Ref.parse(self.baseline)

    @property
    def arms(self) -> tuple[str, str]:
        """(treatment arm, baseline arm): the arms whose records the claim is judged on."""
        return self.treatment_ref.arm, self.baseline_ref.arm


class LrFinderConfig(_Strict):
    """`lr_finder:` (spec level, repro/jobs/lr_search.py): before a profile's jobs, run the LR range test once
    on arm `arm` (seed 0) and train every arm (or only those of `arms`, when given) with lr = the suggestion
    x scale.get(arm, 1) instead of its optimizer.lr; cached with its plot in
    results/<profile>/<spec>/lr_finder.{json,png}."""

    arm: Slug
    suggestion: Literal["steepest", "min_over_10"] = "steepest"
    start_lr: float = Field(1e-7, gt=0)
    end_lr: float = Field(10.0, gt=0)
    num_steps: int = Field(100, ge=2)
    skip_start: int = Field(10, ge=0)   # points left out of the suggestion at each end (fastai v1: 10, 5)
    skip_end: int = Field(5, ge=0)
    scale: dict[Slug, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    arms: list[Slug] | None = Field(None, min_length=1)

    @model_serializer(mode="wrap")
    def _omit_default_arms(self, handler):
        """Leave `arms` out of dumps when unset, so range tests cached before it keep their key."""
        data = handler(self)
        if isinstance(data, dict) and data.get("arms") is None:
            data.pop("arms", None)
        return data

    def sets_lr_of(self, arm: str) -> bool:
        return self.arms is None or arm in self.arms


class Profile(_Strict):
    seeds: int = Field(ge=1)
    base: dict[str, Any] = Field(default_factory=dict)
    arms: dict[str, dict[str, Any]] = Field(default_factory=dict)


class PaperTable(_Strict):
    """`paper_table:` the paper's table that this spec and its siblings (same arXiv id) reproduce
    together; the report prints it once, every arm x every sibling spec, the published rows beside."""

    title: str
    metric: Metric = "test_error"
    columns: list[str] = Field(min_length=1)            # the paper's datasets
    published: dict[Slug, list[float]] = Field(default_factory=dict)   # arm -> one value per column
    source: str


class RegimeCheck(_Strict):
    """`regime:` the plateau check (repro/judge/regime.py). The budget-doubling check: `arm` trained at
    the profile `doubling[profile]` (twice the budget), >= `seeds` seeds, improves its `metric` by less
    than `threshold` (metric units) over the same seeds at the profile. An image-classification baseline
    must also beat the logistic regression on its train subset by `linear_margin` points of test error.
    Defaults: the first claim's baseline arm and metric, 2% of the final value. `meet`: what would bring
    the baseline to its plateau at this scale, or why this CPU cannot ("not testable at cpu scale: ...")."""

    arm: Slug | None = None
    metric: str | None = None
    threshold: float | None = Field(None, gt=0)
    doubling: dict[Slug, Slug] = Field(default_factory=dict)
    seeds: int = Field(3, ge=2)
    linear_margin: float = Field(1.0, ge=0)
    meet: str = ""


class Spec(_Strict):
    id: Slug
    paper: Paper
    task: Task
    base: dict[str, Any]
    arms: dict[Slug, dict[str, Any]] = Field(min_length=1)
    claims: list[Claim] = Field(min_length=1)
    profiles: dict[Slug, Profile]
    # extra report figures (repro/report/views/speedup.py, time_to_target.py)
    plots: list[Literal["speedup", "time_to_target"]] = Field(default_factory=list)
    lr_finder: LrFinderConfig | None = None
    paper_table: PaperTable | None = None
    regime: RegimeCheck = Field(default_factory=RegimeCheck)
    # arm -> the arm report views compare it with (claims' treatment -> baseline pairs are added)
    baselines: dict[Slug, Slug] = Field(default_factory=dict)
    _path: str = PrivateAttr("")
    _configs: dict[str, dict[str, RunConfig]] = PrivateAttr(default_factory=dict)

    @property
    def path(self) -> str:
        return self._path

    def profile(self, name: str) -> Profile:
        if name not in self.profiles:
            allowed = f"unknown profile; allowed: {', '.join(self.profiles)}"
            raise SpecError(format_problem(self._path, Problem("profile", name, allowed)))
        return self.profiles[name]

    def seeds(self, profile: str) -> int:
        return self.profile(profile).seeds


