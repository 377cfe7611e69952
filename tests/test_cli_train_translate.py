"""CLI: `i2i train` and `i2i translate` end to end on the toy model, including bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import toy_family  # noqa: F401  (registers toy-gan before the CLI is imported)
from i2icli.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    recipe = root / "toy.toml"
    recipe.write_text('[model]\nname = "toy-gan"\n[data]\nimage_size = 8\nnum_workers = 0\n'
                      '[train]\niterations = 4\nbatch_size = 2\nlog_every = 2\nsample_every = 4\n'
                      'checkpoint_every = 2\n')
    run = root / "run"
    res = runner.invoke(app, ["train", "toy-gan", "--recipe", str(recipe), "--data", "synthetic", "--out", str(run)])
    assert res.exit_code == 0, res.output
    return root, recipe, run


def test_train_prints_plan_and_writes_run(toy_run):
    root, recipe, run = toy_run
    assert (run / "checkpoints" / "step_00000004" / "weights.safetensors").is_file()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    meta = json.loads((run / "meta.json").read_text())
    assert meta["command"][:3] == ["i2i", "train", "toy-gan"] or meta["command"][0] == "i2i"


def test_train_resume_extends_a_finished_run(toy_run):
    root, recipe, run = toy_run
    res = runner.invoke(app, ["train", "toy-gan", "--out", str(run), "--resume", "auto", "--set", "train.iterations=6"])
    assert res.exit_code == 0, res.output
    assert (run / "checkpoints" / "step_00000006").is_dir()
    assert "4 -> 6" in res.output
    odd = 'moved\\to "new" place'
    res = runner.invoke(app, ["train", "toy-gan", "--out", str(run), "--resume", "auto", "--data", odd,
                              "--set", "train.iterations=7"])
    assert res.exit_code == 0, res.output
    from i2icli.runs import saved_config

    assert saved_config(run).data.path == odd  # --data on resume replaces the saved path, quoting intact



def test_resume_refuses_a_config_change_that_alters_training(tmp_path):
    """A resumed run continues the same optimisation: a changed length under a length-dependent lr schedule
    (or any maths field) is refused naming old -> new; --allow-config-change continues and records it."""
    recipe = tmp_path / "toy.toml"
    recipe.write_text('[model]\nname = "toy-gan"\n[data]\nimage_size = 8\nnum_workers = 0\n'
                      '[train]\niterations = 4\nbatch_size = 2\nlr_schedule = "linear_half"\ncheckpoint_every = 2\n'
                      'sample_every = 100\n')
    run = tmp_path / "run"
    res = runner.invoke(app, ["train", "toy-gan", "--recipe", str(recipe), "--data", "synthetic", "--out", str(run)])
    assert res.exit_code == 0, res.output
    before = (run / "config.toml").read_text()
    resume = ["train", "toy-gan", "--out", str(run), "--resume", "auto"]
    res = runner.invoke(app, resume + ["--set", "train.iterations=6", "--set", "train.lr=0.5"])
    assert res.exit_code == 2, res.output
    line = " ".join(res.output.split())  # rich may wrap the one-line error
    assert "train.iterations 4 -> 6" in line and "train.lr 0.0001 -> 0.5" in line and "--allow-config-change" in line
    assert "Traceback" not in res.output
    assert (run / "config.toml").read_text() == before  # refused before touching the run
    assert not (run / "checkpoints" / "step_00000006").exists()
    # cadence fields never change an update: free, but named in the plan
    res = runner.invoke(app, resume + ["--set", "train.log_every=1", "--set", "train.checkpoint_every=1"])
    assert res.exit_code == 0, res.output
    assert "train.log_every 10 -> 1" in " ".join(res.output.split())
    res = runner.invoke(app, resume + ["--set", "train.iterations=6", "--allow-config-change"])
    assert res.exit_code == 0, res.output
    assert "train.iterations 4 -> 6" in " ".join(res.output.split())
    assert (run / "checkpoints" / "step_00000006").is_dir()
    meta = json.loads((run / "meta-resume-00000004.json").read_text())
    assert {"field": "train.iterations", "old": 4, "new": 6, "changes_maths": True} in meta["config_changes"]


def test_resume_keeps_the_runs_thread_count(tmp_path):
    """Checkpoints record the CPU thread count; a resume reuses it unless --threads says otherwise (then a note)."""
    import torch

    recipe = tmp_path / "toy.toml"
    recipe.write_text('[model]\nname = "toy-gan"\n[data]\nimage_size = 8\nnum_workers = 0\n'
                      '[train]\niterations = 2\nbatch_size = 2\ncheckpoint_every = 1\nsample_every = 100\n')
    run = tmp_path / "run"
    before = torch.get_num_threads()
    try:
        res = runner.invoke(app, ["train", "toy-gan", "--recipe", str(recipe), "--data", "synthetic", "--out",
                                  str(run), "--threads", "2"])
        assert res.exit_code == 0, res.output
        assert torch.load(run / "checkpoints" / "step_00000002" / "state.pt", weights_only=True)["threads"] == 2
        torch.set_num_threads(1)
        resume = ["train", "toy-gan", "--out", str(run), "--resume", "auto"]
        res = runner.invoke(app, resume + ["--set", "train.iterations=3"])
        assert res.exit_code == 0, res.output
        assert "as the run was trained with" in " ".join(res.output.split())
        assert json.loads((run / "meta-resume-00000002.json").read_text())["threads"] == 2
        res = runner.invoke(app, resume + ["--set", "train.iterations=4", "--threads", "1"])
        assert res.exit_code == 0, res.output
        assert "will not be bit-identical" in " ".join(res.output.split())
    finally:
        torch.set_num_threads(before)

@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "train.lr_rate=1"], "unknown key 'lr_rate'"),
        (["--set", "train.iterations=abc"], "expected an integer"),
        (["--gpus", "0,1"], "--nproc"),
        (["--gpus", "zero"], "comma-separated GPU ids"),
        (["--recipe", "missing.toml"], "recipe not found"),
    ],
)
def test_train_bad_input_is_one_line_error(toy_run, tmp_path, args, message):
    root, recipe, run = toy_run
    base = ["train", "toy-gan", "--data", "synthetic", "--out", str(tmp_path / "x")]
    if "--recipe" not in args:
        base += ["--recipe", str(recipe)]
    res = runner.invoke(app, base + args)
    if message == "--nproc" and "CUDA" not in res.output and res.exit_code == 0:
        pytest.skip("machine has GPUs")
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_train_refuses_to_overwrite_a_run(toy_run):
    root, recipe, run = toy_run
    res = runner.invoke(app, ["train", "toy-gan", "--recipe", str(recipe), "--data", "x", "--out", str(run)])
    assert res.exit_code == 2 and "--resume auto" in res.output


def _odd_images(folder):
    folder.mkdir()
    rgb = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "wide rgb ü.png")
    Image.fromarray(rgb[..., 0]).save(folder / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full((20, 30), 128, np.uint8)])).save(folder / "rgba.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(folder / "sixteen.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees
    Image.fromarray(rgb).save(folder / "rotated.jpg", exif=exif)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "empty.jpg").write_bytes(b"")
    return folder


def test_translate_folder_with_odd_and_broken_files(toy_run, tmp_path):
    root, recipe, run = toy_run
    src = _odd_images(tmp_path / "in")
    out = tmp_path / "out"
    res = runner.invoke(app, ["translate", str(src), "--checkpoint", str(run), "--out", str(out), "--save-attention",
                              "--device", "cpu"])
    assert res.exit_code == 1, res.output  # some inputs failed
    assert "broken.png" in res.output and "empty.jpg" in res.output
    written = sorted(p.name for p in out.iterdir())
    for stem in ("wide rgb ü", "gray", "rgba", "sixteen", "rotated"):
        assert f"{stem}.png" in written and f"{stem}_attention.png" in written
        assert Image.open(out / f"{stem}.png").size == (8, 8)


def test_translate_names_folder_entries_it_leaves_out(toy_run, tmp_path):
    """A folder named like an image, a broken symlink and a symlink loop are listed as skipped (exit 1);
    a text file is named as ignored; the real images are still written."""
    import os

    root, recipe, run = toy_run
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(src / "ok.png")
    (src / "dir.png").mkdir()
    os.symlink(src / "missing.png", src / "dangling.png")
    os.symlink("loop.jpg", src / "loop.jpg")
    (src / "notes.txt").write_text("x")
    out = tmp_path / "out"
    res = runner.invoke(app, ["translate", str(src), "--checkpoint", str(run), "--out", str(out), "--device", "cpu"])
    text = " ".join(res.output.split())
    assert res.exit_code == 1, res.output
    assert "dir.png: a folder named like an image" in text
    assert "dangling.png: broken symlink" in text and "loop.jpg: symlink loop" in text
    assert "notes.txt: no image file extension" in text and "3 input(s) failed" in text
    assert sorted(p.name for p in out.iterdir()) == ["ok.png"]

def test_translate_single_image_to_file_and_latest_run(toy_run, tmp_path, monkeypatch):
    root, recipe, run = toy_run
    img = tmp_path / "one.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    res = runner.invoke(app, ["translate", str(img), "--checkpoint", str(run), "--out", str(tmp_path / "y.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "y.png").is_file()
    monkeypatch.chdir(root)  # runs/ does not exist here
    res = runner.invoke(app, ["translate", str(img)])
    assert res.exit_code == 2 and "no trained runs" in res.output


def test_translate_rejects_exemplar_for_direction_models(toy_run, tmp_path):
    root, recipe, run = toy_run
    img = tmp_path / "one.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    res = runner.invoke(app, ["translate", str(img), "--checkpoint", str(run), "--exemplar", str(img)])
    assert res.exit_code == 2 and "does not take --exemplar; it takes --direction" in res.output
    res = runner.invoke(app, ["translate", str(tmp_path / "nope.png"), "--checkpoint", str(run)])
    assert res.exit_code == 2 and "no such file" in res.output


def test_help_lists_groups_and_models():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for group in ("train", "translate"):
        assert group in res.output
    res = runner.invoke(app, ["train", "--help"])
    assert "toy-gan" in res.output


def test_resume_without_a_value_means_auto(toy_run):
    from i2icli.cli.train import resume_defaults_to_auto

    assert resume_defaults_to_auto(["--out", "r", "--resume"]) == ["--out", "r", "--resume", "auto"]
    assert resume_defaults_to_auto(["--resume", "--out", "r"]) == ["--resume", "auto", "--out", "r"]
    assert resume_defaults_to_auto(["--resume", "runs/x"]) == ["--resume", "runs/x"]
    assert resume_defaults_to_auto(["--", "--resume"]) == ["--", "--resume"]
    root, recipe, run = toy_run
    for args in (["--out", str(run), "--resume"], ["--resume", "--out", str(run)]):
        n = 8 if args[0] == "--out" else 9
        res = runner.invoke(app, ["train", "toy-gan", *args, "--set", f"train.iterations={n}"])
        assert res.exit_code == 0, res.output
        assert f"-> {n}" in res.output and "resuming" in res.output
    res = runner.invoke(app, ["train", "toy-gan", "--resume"])
    assert res.exit_code == 2 and "--resume auto needs --out" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--attr", "Smiling=1"], "toy-gan does not take --attr; it takes --direction"),
        (["--outputs", "3"], "does not take --outputs"),
        (["--domain", "cat"], "does not take --domain"),
        (["--seed", "1"], "does not take --seed"),
        (["--mix", "0.5"], "does not take --mix"),
        (["--direction", "sideways"], "--direction 'sideways': expected a2b or b2a"),
    ],
)
def test_translate_refuses_guidance_the_model_does_not_take(toy_run, tmp_path, args, message):
    root, recipe, run = toy_run
    img = tmp_path / "one.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    out = tmp_path / "out"
    res = runner.invoke(app, ["translate", str(img), "--checkpoint", str(run), "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not out.exists()  # refused before any image is read or written
