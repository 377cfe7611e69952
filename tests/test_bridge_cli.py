"""BridgeGAN through the engine and the CLI: a tiny run on synthetic faces, then `i2i translate` in every mode."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from i2icli.cli.main import app
from i2icli.registry import RECIPES_DIR, config_cls_for
from resume_check import assert_resume_is_exact

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from i2icli.config import read_recipe, resolve
    from i2icli.data.store import open_store
    from i2icli.engine import TrainRequest, train
    from i2icli.images import save_png
    from i2icli.prepare.synthetic import FacesRequest, prepare_faces

    tmp = tmp_path_factory.mktemp("bridge")
    store = tmp / "faces.h5"
    prepare_faces(FacesRequest(out=store, count=24, test_count=4, pairs=0, size=64, seed=0))
    path = RECIPES_DIR / "bridge" / "tiny.toml"
    overrides = [f"data.path={store}", "train.batch_size=4", "train.iterations=6", "train.log_every=1",
                 "train.sample_every=6", "train.checkpoint_every=6", "train.sample_count=2"]
    cfg = resolve(read_recipe(path), config_cls_for, str(path), overrides=overrides, model="bridge")
    result = train(TrainRequest(cfg=cfg, out=tmp / "run", device="cpu"))
    s = open_store(store)
    save_png(tmp / "in.png", s.image("test", 0))
    save_png(tmp / "ref.png", s.image("test", 1))
    return tmp, result


def test_engine_run_logs_every_term_and_samples(tiny_run):
    _, result = tiny_run
    records = [json.loads(line) for line in result.metrics.read_text().splitlines()]
    assert records[-1]["iteration"] == 6
    keys = set().union(*records)
    assert {"d_wasserstein", "d_gp", "d_cls", "g_adv", "g_cls", "g_rec", "g_cyc_rand", "g_cyc_ref", "g_ak", "g_sim",
            "g_ms"} <= keys
    assert all(math.isfinite(v) for r in records for v in r.values() if isinstance(v, float))
    assert result.samples is not None and result.samples.is_file()


def _translate(tmp, result, *args):
    return CliRunner().invoke(app, ["translate", str(tmp / "in.png"), "--checkpoint", str(result.run_dir), *args])


def test_cli_label_based_several_outputs(tiny_run):
    tmp, result = tiny_run
    res = _translate(tmp, result, "--attr", "Blond_Hair=1", "--attr", "Smiling=0", "--outputs", "4", "--seed", "0",
                     "--out", str(tmp / "label"))
    assert res.exit_code == 0, res.output
    assert len(list((tmp / "label").iterdir())) == 4


def test_cli_reference_based_and_mix(tiny_run):
    tmp, result = tiny_run
    res = _translate(tmp, result, "--exemplar", str(tmp / "ref.png"), "--attr", "Blond_Hair",
                     "--out", str(tmp / "ref"))
    assert res.exit_code == 0, res.output
    assert len(list((tmp / "ref").iterdir())) == 1
    res = _translate(tmp, result, "--exemplar", str(tmp / "ref.png"), "--mix", "0.5", "--outputs", "2",
                     "--out", str(tmp / "mix"))
    assert res.exit_code == 0, res.output
    assert len(list((tmp / "mix").iterdir())) == 2


@pytest.mark.parametrize(("args", "message"), [
    (("--attr", "Blonde_Hair=1"), "did you mean Blond_Hair"),
    (("--attr", "Blond_Hair=2"), "must be 0 or 1"),
    (("--attr", "Blond_Hair"), "from the reference"),
    (("--exemplar", "REF", "--outputs", "3"), "deterministic"),
    (("--mix", "0.5", "--attr", "Smiling=1"), "needs --exemplar"),
    ((), "needs --exemplar or --attr"),
])
def test_cli_bad_input_is_one_line(tiny_run, args, message):
    tmp, result = tiny_run
    args = tuple(str(tmp / "ref.png") if a == "REF" else a for a in args)
    res = _translate(tmp, result, *args, "--out", str(tmp / "bad"))
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) <= 2


def test_interrupted_and_resumed_run_matches_uninterrupted(tmp_path):
    """Through the engine: the latent table is checkpointed and every draw is keyed, so a resume changes nothing."""
    from i2icli.config import read_recipe, resolve
    from i2icli.prepare.synthetic import FacesRequest, prepare_faces

    store = tmp_path / "faces.h5"
    prepare_faces(FacesRequest(out=store, count=12, test_count=2, pairs=0, size=64, seed=0))
    path = RECIPES_DIR / "bridge" / "tiny.toml"
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model="bridge",
                  overrides=[f"data.path={store}", "train.batch_size=2", "train.iterations=12", "train.log_every=1",
                             "train.checkpoint_every=100", "train.sample_every=100"])
    weights = assert_resume_is_exact(cfg, tmp_path, stop_at=7)  # resumes at 7; a G step at 10
    assert "latent_table.table" in weights


@pytest.mark.slow
def test_two_process_ddp_training(tmp_path, monkeypatch):
    """Under 2-process gloo DDP: GP, the R step on the unwrapped networks, and the gathered table write."""
    from i2icli.config import read_recipe, resolve
    from i2icli.engine import TrainRequest, train
    from i2icli.prepare.synthetic import FacesRequest, prepare_faces
    from i2icli.translate import load_run

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    store = tmp_path / "faces.h5"
    prepare_faces(FacesRequest(out=store, count=16, test_count=2, pairs=0, size=64, seed=0))
    path = RECIPES_DIR / "bridge" / "tiny.toml"
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model="bridge",
                  overrides=[f"data.path={store}", "train.batch_size=2", "train.iterations=6", "train.log_every=1",
                             "train.checkpoint_every=6", "train.sample_every=100"])
    result = train(TrainRequest(cfg=cfg, out=tmp_path / "ddp", device="cpu", nproc=2))
    assert result.world_size == 2 and result.iterations == 6
    lines = result.metrics.read_text().splitlines()
    assert len(lines) == 6 and "g_sim" in lines[0] and "d_gp" in lines[-1]
    table = load_run(result.run_dir, device="cpu").family.networks["latent_table"].table
    fresh = torch.randn(len(table), table.shape[1], generator=torch.Generator().manual_seed(0))
    changed = (table != fresh).any(1)
    assert int(changed.sum()) > 2 * 2  # rank 0 alone writes at most 2 rows x 2 G steps: the rest came from rank 1


def test_bench_health_reads_a_real_run_and_measures_its_code_heads(tiny_run):
    """benchmarks/bench_bridge.py health on a run the engine wrote: its code-health logs and, per checkpoint,
    the live share of the code heads; a fresh run's codes are alive and nothing was warned about."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import bench_bridge

    tmp, result = tiny_run
    records = [json.loads(line) for line in result.metrics.read_text().splitlines()]
    assert not any("warning" in r for r in records)
    res = bench_bridge.code_health([result.run_dir], every=2, data=tmp / "faces.h5")
    run = res["runs"][result.run_dir.name]
    # the generator (and its code logs) runs at iterations 1 and 6 (n_critic = 5); rows: multiples of 2 and the last
    assert run["dead_at"] is None and [row["iteration"] for row in run["rows"]] == [6]
    (head,) = run["heads"]
    assert head["iteration"] == 6 and 0.2 < head["e_positive"] < 0.9 and 0.2 < head["m_positive"] < 0.9
    assert "| E positive |" in bench_bridge.health_table(res)


def test_bench_score_scores_every_checkpoint_of_a_real_run(tiny_run):
    """benchmarks/bench_bridge.py score end to end: a tiny judge trained on the same store, every checkpoint of
    the run scored (label-based flips in [0, 1], finite PSNR outside the masks), the judge's held-out accuracy
    beside it, and the table names the run and the iteration."""
    import sys
    from pathlib import Path

    from i2icli.config import read_recipe, resolve
    from i2icli.engine import TrainRequest, train

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import bench_bridge

    tmp, result = tiny_run
    path = RECIPES_DIR / "classifier" / "synthetic.toml"
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model="classifier",
                  overrides=[f"data.path={tmp / 'faces.h5'}", "data.image_size=32", "data.load_size=32",
                             "train.iterations=2", "train.batch_size=4", "train.checkpoint_every=2",
                             "train.sample_every=1000", "train.log_every=1"])
    judge = train(TrainRequest(cfg=cfg, out=tmp / "judge", device="cpu")).run_dir
    res = bench_bridge.score_runs([result.run_dir], judge, tmp / "faces.h5", max_images=4, device="cpu")
    scores = res["runs"][result.run_dir.name]
    assert list(scores) == [6]
    s = scores[6]
    assert 0.0 <= s["label_acc_flipped@1.5"] <= 1.0 and 0.0 <= s["flip@1.5:Black_Hair"] <= 1.0
    assert math.isfinite(s["label_psnr_outside@1.5"]) and s["label_diversity_l1"] >= 0.0
    names = resolve(read_recipe(result.run_dir / "config.toml"), config_cls_for, "run", model="bridge").data.attributes
    assert set(res["judge"]) == {"mean", *names}
    assert f"| {result.run_dir.name} | 6 |" in bench_bridge.score_table(res)
