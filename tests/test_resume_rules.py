"""Which config changes a resume may make (i2icli/engine/resume.py), and which thread count it uses."""

from __future__ import annotations

from dataclasses import replace

import pytest

import toy_family
from i2icli.config import DataConfig, RunConfig, TrainConfig
from i2icli.engine.resume import config_changes, resume_threads


def cfg(data: DataConfig | None = None, **train) -> RunConfig:
    return RunConfig(model="toy-gan", model_cfg=toy_family.ToyConfig(), data=data or DataConfig(path="a.h5"),
                     train=TrainConfig(**train))


@pytest.mark.parametrize("schedule, free", [("none", True), ("step", True), ("linear_half", False),
                                            ("linear_from", False), ("poly", False)])
def test_length_is_free_only_under_a_schedule_that_ignores_it(schedule, free):
    (change,) = config_changes(cfg(iterations=300, lr_schedule=schedule), cfg(iterations=60, lr_schedule=schedule))
    assert (change.field, change.old, change.new, change.maths) == ("train.iterations", 300, 60, not free)
    assert str(change) == "train.iterations 300 -> 60"


def test_cadence_workers_and_path_are_free_maths_fields_are_not():
    old = cfg()
    new = cfg(DataConfig(path="moved/a.h5", num_workers=7), log_every=1, sample_every=3, checkpoint_every=5,
              keep_checkpoints=9, sample_count=2, detect_anomaly=True)
    assert [c.field for c in config_changes(old, new) if c.maths] == []
    assert len(config_changes(old, new)) == 8
    maths = cfg(DataConfig(path="a.h5", flip=False), lr=2e-4, betas=(0.9, 0.99), seed=1)
    assert {c.field for c in config_changes(old, maths) if c.maths} == {"data.flip", "train.lr", "train.betas",
                                                                        "train.seed"}
    model = replace(old, model_cfg=toy_family.ToyConfig(ch=old.model_cfg.ch + 1))
    assert [(c.field, c.maths) for c in config_changes(old, model)] == [("model.ch", True)]


def test_resume_threads():
    assert resume_threads(2, None, 2) == (2, None)
    threads, note = resume_threads(2, None, 1)  # a shell with OMP_NUM_THREADS=1 resuming a 2-thread run
    assert threads == 2 and "as the run was trained with" in note
    threads, note = resume_threads(2, 1, 1)  # an explicit --threads wins, with a warning
    assert threads == 1 and "not be bit-identical" in note
    assert resume_threads(None, None, 3) == (3, None)  # checkpoints from before the count was recorded
