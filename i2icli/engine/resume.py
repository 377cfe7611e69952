"""What may change when a run is resumed: its config and its CPU thread count.

A resumed run is meant to continue the *same* optimisation, so that stopping
and resuming gives the weights an uninterrupted run would have.  Two things
can silently break that, and both are checked here before any work:

1. **A changed config.**  ``--resume auto --set train.iterations=60`` on a
   300-iteration ``linear_half`` run moves the start of the lr decay from
   iteration 150 to 30: a different optimisation.  :func:`config_changes`
   compares the run's saved ``config.toml`` with the new config field by
   field.  Fields that cannot change the maths (:data:`FREE_FIELDS`: logging,
   sampling and checkpoint cadence, loader workers -- the data pipeline is
   keyed, so the batches do not depend on them) may change freely; so may
   ``train.iterations`` under a schedule that does not depend on the length
   (``none``, ``step``): extending such a run only appends iterations.
   ``data.path`` may change too (moving a store is the usual reason to pass
   ``--data`` on resume); it is named in the plan.  Every other change is
   refused in one line listing ``field old -> new`` unless the caller allows
   it (``i2i train --allow-config-change``); then the changes are printed and
   recorded in the run's ``meta-resume-*.json``.

2. **A different CPU thread count.**  On CPU, MKL/oneDNN/ATen split their
   reductions by thread, so the same update computed with 1 and with 2 intra-op
   threads differs in the last bits (measured on U-GAT-IT tiny: resuming a
   2-thread run with ``OMP_NUM_THREADS=1`` changes 140 of 146 tensors within
   10 iterations), and the difference grows.  The engine records the thread
   count in every checkpoint (``state["threads"]``); :func:`resume_threads`
   makes a resume use the recorded count unless ``--threads`` asks otherwise,
   in which case the plan says that the result will not be bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2icli.config import RunConfig, read_recipe, resolve, to_dict
from i2icli.errors import ConfigError, DataError
from i2icli.registry import config_cls_for

FREE_FIELDS = frozenset({
    "data.num_workers",
    "train.log_every",
    "train.sample_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "train.sample_count",
    "train.detect_anomaly",  # checks the backward pass, computes the same values
})
"""``section.key`` fields a resume may change without changing any update."""

NOTED_FIELDS = frozenset({"data.path"})
"""Fields that may change (a moved store) but are named in the plan and the run's meta."""

LENGTH_FREE_SCHEDULES = frozenset({"none", "step"})
"""lr schedules whose factor at an iteration does not depend on ``train.iterations``."""


@dataclass(frozen=True)
class Change:
    """One config field that differs between a run's saved config and the resumed one."""

    field: str  # "section.key"
    old: Any
    new: Any
    maths: bool  # True: the change alters the optimisation (refused unless allowed)

    def __str__(self) -> str:
        return f"{self.field} {self.old!r} -> {self.new!r}"

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new, "changes_maths": self.maths}


def _flat(cfg: RunConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"model.name": cfg.model}
    for section, obj in (("model", cfg.model_cfg), ("data", cfg.data), ("train", cfg.train)):
        for k, v in to_dict(obj).items():
            out[f"{section}.{k}"] = v
    return out


def config_changes(old: RunConfig, new: RunConfig) -> list[Change]:
    """Every field that differs between ``old`` (the run's) and ``new``, in config order."""
    a, b = _flat(old), _flat(new)
    schedule_free = old.train.lr_schedule == new.train.lr_schedule and new.train.lr_schedule in LENGTH_FREE_SCHEDULES
    changes = []
    for key in list(a) + [k for k in b if k not in a]:
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        free = key in FREE_FIELDS or key in NOTED_FIELDS or (key == "train.iterations" and schedule_free)
        changes.append(Change(key, va, vb, maths=not free))
    return changes


def run_config_of(checkpoint: Path) -> tuple[Path, RunConfig] | None:
    """``(config.toml, config)`` of the run that wrote ``checkpoint`` (``RUN/checkpoints/step_*``), if it has one."""
    path = Path(checkpoint).parent.parent / "config.toml"
    if not path.is_file():
        return None
    try:
        return path, resolve(read_recipe(path), config_cls_for, str(path))
    except ConfigError as exc:
        raise DataError(f"{path}: cannot read the run's saved config ({exc}); resume with --recipe") from None


def check_config_change(checkpoint: Path, new: RunConfig, allow: bool) -> list[Change]:
    """The changes a resume from ``checkpoint`` makes; raise ConfigError for maths changes unless ``allow``."""
    found = run_config_of(checkpoint)
    if found is None:
        return []
    path, old = found
    changes = config_changes(old, new)
    refused = [c for c in changes if c.maths]
    if refused and not allow:
        raise ConfigError(f"{path}: resuming with a changed config ({'; '.join(map(str, refused))}) would continue a "
                          "different optimisation; drop those --set/--recipe changes, or pass --allow-config-change "
                          "to continue with them (recorded in the run's meta)")
    return changes


def resume_threads(saved: int | None, requested: int | None, default: int) -> tuple[int, str | None]:
    """CPU intra-op threads for a resumed run, and a note for the plan (None: nothing to say).

    ``saved``: the count in the checkpoint (None for checkpoints written
    before it was recorded); ``requested``: ``--threads``; ``default``: what
    this process would use otherwise.
    """
    if saved is None or saved < 1:
        return requested or default, None
    if requested is None:
        if saved != default:
            return saved, (f"CPU threads {saved}, as the run was trained with (this process would use {default}); "
                           "the same count keeps the resume bit-identical")
        return saved, None
    if requested != saved:
        return requested, (f"--threads {requested} differs from the {saved} thread(s) the run was trained with: the "
                           "resumed run will not be bit-identical to an uninterrupted one (CPU reductions are split "
                           "by thread)")
    return requested, None
