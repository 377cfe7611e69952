"""End to end: synthetic digits -> `i2i train ugatit` (tiny) -> resume -> `i2i translate`, and DDP on CPU."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from i2icli.cli.main import app
from i2icli.engine import checkpoint as ckpt
from i2icli.prepare.synthetic import DigitsRequest, prepare_digits
from i2icli.registry import RECIPES_DIR, get
from i2icli.runs import saved_config

runner = CliRunner()
TINY = str(RECIPES_DIR / "ugatit" / "tiny.toml")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "digits.h5"
    prepare_digits(DigitsRequest(out=out, count=40, test_count=8, seed=1))
    return out


def test_train_resume_translate(digits, tmp_path):
    run = tmp_path / "run"
    args = ["train", "ugatit", "--recipe", TINY, "--data", str(digits), "--out", str(run),
            "--set", "train.iterations=12", "--set", "train.log_every=4", "--set", "train.checkpoint_every=6",
            "--set", "train.sample_every=12"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [4, 8, 12]
    for r in records:
        assert all(math.isfinite(v) for k, v in r.items() if isinstance(v, float)), r
    assert (run / "samples" / "step_00000012.png").is_file()

    # weights moved away from the seeded initialisation
    cfg = saved_config(run)
    torch.manual_seed(cfg.train.seed)
    init = ckpt.network_state(get("ugatit").build(cfg).networks)
    trained = ckpt.network_state(_networks(run))
    changed = [k for k in init if not torch.equal(init[k], trained[k])]
    assert any(k.startswith("gen_ab.") for k in changed) and any(k.startswith("disc_local_b.") for k in changed)

    args = ["train", "ugatit", "--out", str(run), "--resume", "auto", "--set", "train.iterations=14"]
    res = runner.invoke(app, args)  # linear_half: a longer run changes the lr schedule, refused unless asked
    assert res.exit_code == 2 and "train.iterations 12 -> 14" in res.output and "--allow-config-change" in res.output
    res = runner.invoke(app, [*args, "--allow-config-change"])
    assert res.exit_code == 0, res.output
    assert ckpt.latest_checkpoint(run).name == "step_00000014"

    from i2icli.data.store import open_store
    from i2icli.images import save_png

    inputs = tmp_path / "inputs"
    store = open_store(digits)
    for n, i in enumerate(store.indices("test", "a")[:3]):
        save_png(inputs / f"{n}.png", store.image("test", int(i)))
    out = tmp_path / "out"
    res = runner.invoke(app, ["translate", str(inputs), "--checkpoint", str(run), "--out", str(out), "--save-attention",
                              "--direction", "b2a"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "0_attention.png", "1.png", "1_attention.png", "2.png",
                                                     "2_attention.png"]


def _networks(run):
    from i2icli.translate import load_run

    return load_run(run, device="cpu").family.networks


def test_two_process_gloo_ddp_ugatit(digits, tmp_path):
    run = tmp_path / "ddp"
    res = runner.invoke(app, ["train", "ugatit", "--recipe", TINY, "--data", str(digits), "--out", str(run),
                              "--nproc", "2", "--set", "train.iterations=3", "--set", "train.checkpoint_every=3"])
    assert res.exit_code == 0, res.output
    assert "effective 2" in res.output
    table = json.loads((run / "ddp_check.json").read_text())
    assert len(table) == 6
    for name, sums in table.items():
        assert sums[0] == pytest.approx(sums[1], rel=1e-9), name


def test_torchrun_two_processes(digits, tmp_path):
    """The same `i2i train` under torchrun (env://, gloo on CPU): one run directory, rank 0 talks."""
    import os
    import subprocess
    import sys

    run = tmp_path / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "i2icli.cli.main", "train",
           "ugatit", "--recipe", TINY, "--data", str(digits), "--out", str(run), "--set", "train.iterations=2",
           "--set", "train.checkpoint_every=2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("done:") == 1
    meta = json.loads((run / "meta.json").read_text())
    assert meta["world_size"] == 2 and meta["backend"] == "gloo"
    table = json.loads((run / "ddp_check.json").read_text())
    assert all(v[0] == pytest.approx(v[1], rel=1e-9) for v in table.values())
