"""Engine tests on a tiny two-phase model: resume exactness, DDP, NaN guard, checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import toy_family  # noqa: F401  (registers toy-gan)
from i2icli.config import DataConfig, RunConfig, TrainConfig
from i2icli.engine import TrainRequest, lr_factor, plan, train
from i2icli.engine import checkpoint as ckpt
from i2icli.errors import TrainingError


def make_cfg(**train_kw) -> RunConfig:
    t = dict(iterations=12, batch_size=2, log_every=1, sample_every=6, checkpoint_every=4, keep_checkpoints=2,
             sample_count=2)
    t.update(train_kw)
    nan_at = t.pop("nan_at", -1)
    return RunConfig(model="toy-gan", model_cfg=toy_family.ToyConfig(nan_at=nan_at),
                     data=DataConfig(path="synthetic", image_size=8, num_workers=0), train=TrainConfig(**t),
                     recipe="test")


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def strip(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("it_per_s", "elapsed_s")}


def test_train_writes_run_directory(tmp_path):
    result = train(TrainRequest(cfg=make_cfg(), out=tmp_path / "run"))
    run = tmp_path / "run"
    assert result.iterations == 12
    assert (run / "config.toml").is_file() and (run / "meta.json").is_file()
    steps = [p.name for p in ckpt.list_checkpoints(run / "checkpoints")]
    assert steps == ["step_00000008", "step_00000012"]  # keep_checkpoints=2
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_00000006.png", "step_00000012.png"]
    recs = read_metrics(run)
    assert [r["iteration"] for r in recs] == list(range(1, 13))
    assert all(torch.isfinite(torch.tensor(r["g_rec"])) for r in recs)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["effective_batch"] == 2 and meta["world_size"] == 1


def test_interrupted_and_resumed_run_matches_uninterrupted(tmp_path):
    full = tmp_path / "full"
    train(TrainRequest(cfg=make_cfg(), out=full))

    part = tmp_path / "part"

    def interrupt_at_7(description, completed, total=None, **fields):
        if completed == 7:
            raise KeyboardInterrupt

    with pytest.raises(TrainingError, match="interrupted at iteration 7"):
        train(TrainRequest(cfg=make_cfg(), out=part), progress=interrupt_at_7)
    assert ckpt.latest_checkpoint(part).name == "step_00000007"
    train(TrainRequest(cfg=make_cfg(), out=part, resume="auto"))

    a = [strip(r) for r in read_metrics(full)]
    b = [strip(r) for r in read_metrics(part)]
    assert b == a  # identical losses, iteration by iteration, before and after the interruption
    wa = ckpt.network_state(_load(full))
    wb = ckpt.network_state(_load(part))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_interrupt_between_two_phases_saves_no_half_updated_checkpoint(tmp_path, monkeypatch):
    """A second Ctrl-C lands inside an iteration, after the discriminator stepped: saving that state as
    "step 7" would make a resume redo the discriminator update, so the engine refuses and names the last one."""
    real_step = toy_family.ToyGAN.step

    def step(self, phase, nets, batch, iteration):
        if phase == "generator" and iteration == 7:
            raise KeyboardInterrupt
        return real_step(self, phase, nets, batch, iteration)

    monkeypatch.setattr(toy_family.ToyGAN, "step", step)
    with pytest.raises(TrainingError, match=r"interrupted inside iteration 7, .*step_00000004"):
        train(TrainRequest(cfg=make_cfg(), out=tmp_path / "r"))
    assert ckpt.latest_checkpoint(tmp_path / "r").name == "step_00000004"

def _load(run: Path):
    from i2icli.translate import load_run

    return load_run(run, device="cpu").family.networks


def test_existing_run_needs_resume(tmp_path):
    train(TrainRequest(cfg=make_cfg(iterations=2, checkpoint_every=1), out=tmp_path / "r"))
    with pytest.raises(TrainingError, match="--resume auto"):
        plan(TrainRequest(cfg=make_cfg(), out=tmp_path / "r"))


def test_nan_loss_stops_with_named_loss_and_keeps_finite_weights(tmp_path):
    with pytest.raises(TrainingError, match=r"non-finite generator loss .* at iteration 5") as err:
        train(TrainRequest(cfg=make_cfg(nan_at=5), out=tmp_path / "nan"))
    last = ckpt.latest_checkpoint(tmp_path / "nan")
    # The discriminator phase of iteration 5 had already stepped: a checkpoint named step 5 would hold half an
    # iteration (a resume would redo that update), so the error points to the last whole-iteration checkpoint.
    assert last is not None and last.name != "step_00000005" and str(last) in str(err.value)
    weights = ckpt.network_state(_load(tmp_path / "nan"))
    assert all(torch.isfinite(v).all() for v in weights.values())


def test_lr_schedule_linear_half():
    t = TrainConfig(iterations=100, lr_schedule="linear_half")
    assert lr_factor(t, 0) == 1.0 and lr_factor(t, 49) == 1.0
    assert lr_factor(t, 75) == pytest.approx(0.5)
    assert lr_factor(t, 99) == pytest.approx(0.02)


def test_gpus_refused_without_cuda(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("machine has CUDA")
    from i2icli.errors import ConfigError

    with pytest.raises(ConfigError, match="--nproc"):
        plan(TrainRequest(cfg=make_cfg(), out=tmp_path / "g", gpus=(0, 1)))


def test_two_process_gloo_ddp_keeps_replicas_identical(tmp_path):
    run = tmp_path / "ddp"
    result = train(TrainRequest(cfg=make_cfg(iterations=4, checkpoint_every=4), out=run, nproc=2))
    assert result.world_size == 2
    table = json.loads((run / "ddp_check.json").read_text())
    assert set(table) == {"gen", "disc"}
    for sums in table.values():
        assert len(sums) == 2 and sums[0] == pytest.approx(sums[1], rel=1e-9, abs=1e-9)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["effective_batch"] == 4 and meta["backend"] == "gloo"


def test_worker_errors_reach_the_user_as_one_line(tmp_path):
    """A file that breaks inside a DataLoader worker is reported by name, without the worker traceback."""
    from torch.utils.data import DataLoader

    from i2icli.data.keyed import KeyedDataset
    from i2icli.engine.loop import _next_batch
    from i2icli.errors import DataError

    class Broken(KeyedDataset):
        def __len__(self):
            return 4

        def item(self, index, rng):
            raise DataError(f"/data/img_{index}.png: corrupt or truncated image")

    batches = iter(DataLoader(Broken(), batch_size=2, num_workers=1))
    with pytest.raises(DataError) as info:
        _next_batch(batches)
    assert str(info.value).startswith("/data/img_0.png: corrupt") and "Traceback" not in str(info.value)


def test_default_optimizer_is_adam_with_recipe_settings_and_fused_where_available():

    fam = toy_family.ToyGAN(make_cfg(lr=3e-4, betas=(0.0, 0.9), weight_decay=1e-4))
    from i2icli.engine.iteration import build_optimizers

    opt = build_optimizers(fam)["generator"]
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.Adam)
    assert (group["lr"], group["betas"], group["weight_decay"]) == (3e-4, (0.0, 0.9), 1e-4)
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    assert bool(group["fused"]) == ((major, minor) >= (2, 4))


def test_family_diagnose_warnings_are_logged_and_the_first_is_shown(tmp_path, monkeypatch):
    """``Family.diagnose`` sees each averaged record; its warning goes into that metrics.jsonl line, and the first
    one reaches the progress callback as ``"warning"`` (later ones, changed or not, stay in the log)."""
    def diagnose(self, record):
        it = record["iteration"]
        return None if it < 5 else ("codes dead" if it < 9 else "codes dead again")

    monkeypatch.setattr(toy_family.ToyGAN, "diagnose", diagnose)
    calls: list[tuple[str, int, dict]] = []
    train(TrainRequest(cfg=make_cfg(), out=tmp_path / "run"),
          progress=lambda desc, done, total=None, **f: calls.append((desc, done, f)))
    recs = read_metrics(tmp_path / "run")
    assert [r.get("warning") for r in recs] == [None] * 4 + ["codes dead"] * 4 + ["codes dead again"] * 4
    shown = [(done, f["message"]) for desc, done, f in calls if desc == "warning"]
    assert len(shown) == 1 and shown[0][0] == 5 and shown[0][1].startswith("iteration 5: codes dead (later")
    assert all("warning" not in f for desc, _, f in calls if desc == "train")


def test_cli_progress_prints_a_warning_instead_of_drawing_a_bar(capsys):
    from i2icli.cli.common import rich_progress

    with rich_progress() as progress:
        progress("warning", 3, None, message="iteration 3: codes [dead]")
        assert not progress._tasks
    assert "warning: iteration 3: codes [dead]" in capsys.readouterr().err
