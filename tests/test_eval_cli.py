"""`i2i eval` commands end to end (CliRunner), with the tiny registered extractor and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision
from typer.testing import CliRunner

from i2i_eval_testing import TINY, random_images, register_tiny, write_folder
from i2icli.metrics import report

runner = CliRunner()


def app():
    """The CLI, imported lazily: the train command group is built from the registry at import time, and other
    test modules register their toy models before importing it (collection imports every test module first)."""
    from i2icli.cli.main import app as root

    return root


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    register_tiny()
    root = tmp_path_factory.mktemp("eval")
    gt = random_images(12, seed=1)
    gen = [np.clip(a.astype(int) + 25, 0, 255).astype(np.uint8) for a in gt]
    write_folder(root / "gen", gen)
    write_folder(root / "gt", gt)
    write_folder(root / "few", gt[:5])
    (root / "empty").mkdir()
    write_folder(root / "big", random_images(12, size=48, seed=3))
    return root


@pytest.fixture(scope="module")
def alexnet_dir(tmp_path_factory):
    """A weights dir holding a random AlexNet under the real name, kept tiny on disk.

    Each tensor is a broadcast view of one small random vector (torch.save stores
    only that storage); load_state_dict copies it out to the full shape.  The
    LPIPS values are meaningless, the plumbing is real; numerical equality with
    the lpips package is tested in test_metrics_ssim_lpips.py.
    """
    folder = tmp_path_factory.mktemp("weights")
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v.shape[-1], generator=g).mul(0.1).expand(v.shape)
             for k, v in torchvision.models.alexnet(weights=None).state_dict().items()}
    torch.save(state, folder / "alexnet-owt-7be5be79.pth")
    assert (folder / "alexnet-owt-7be5be79.pth").stat().st_size < 1_000_000
    return folder


@pytest.fixture
def weights_with_alexnet(alexnet_dir, monkeypatch):
    monkeypatch.setenv("I2I_WEIGHTS", str(alexnet_dir))
    return alexnet_dir


def invoke(*args):
    return runner.invoke(app(), ["eval", *map(str, args)])


def test_kid_fid_is_json_and_log(sets, tmp_path):
    log = tmp_path / "eval.jsonl"
    common = ["--extractor", TINY, "--device", "cpu", "--cache-dir", tmp_path / "cache", "--log", log]
    r = invoke("kid", "-g", sets / "gen", "-r", sets / "gt", *common, "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)["records"][0]
    # default protocol: the U-GAT-IT authors' disjoint blocks of <= 10 -> 12 images give 2 blocks of 6
    assert rec["metric"] == "kid" and rec["result"]["protocol"] == "ugatit"
    assert rec["result"]["subset_size"] == 6 and rec["result"]["subsets"] == 2
    assert rec["result"]["kid_x100_mean"] == pytest.approx(100 * rec["result"]["kid_mean"])
    assert rec["real_features_cached"] is False
    for key in ("extractor", "weights_file", "seed", "resize_policy", "versions", "generated", "real", "feature_layer"):
        assert key in rec
    assert rec["generated"]["file_format"] == "png" and rec["generated"]["image_size"] == [32, 32]
    assert rec["versions"]["torch-fidelity"] != "not installed"
    r2 = invoke("kid", "-g", sets / "gen", "-r", sets / "gt", *common, "--json", "--batch-size", "5")
    rec2 = json.loads(r2.stdout)["records"][0]
    assert rec2["real_features_cached"] is True
    assert rec2["result"]["kid_mean"] == pytest.approx(rec["result"]["kid_mean"], abs=1e-5)
    r = invoke("fid", "-g", sets / "gen", "-r", sets / "gt", *common)
    assert r.exit_code == 0, r.output
    assert "FID" in r.stdout and "appended to" in r.stdout
    r = invoke("is", "-g", sets / "gen", "--extractor", TINY, "--device", "cpu", "--log", log, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["records"][0]["result"]["splits"] == 10
    assert [x["metric"] for x in report.read_records(log)] == ["kid", "kid", "fid", "is"]


def test_kid_table_output(sets, tmp_path):
    r = invoke("kid", "-g", sets / "gen", "-r", sets / "gt", "--extractor", TINY, "--device", "cpu", "--no-cache",
               "--no-log", "--protocol", "subsets", "--subset-size", "6", "--subsets", "10")
    assert r.exit_code == 0, r.output
    words = r.stdout.split()  # the table wraps cells at the terminal width
    assert "KID" in words and "(x100)" in words and "subsets:" in words and "10" in words


def test_all_paired(sets, tmp_path, weights_with_alexnet):
    r = invoke("all", "-g", sets / "gen", "-r", sets / "gt", "--paired", "--extractor", TINY, "--device", "cpu",
               "--no-cache", "--log", tmp_path / "e.jsonl", "--json")
    assert r.exit_code == 0, r.output
    metrics = [x["metric"] for x in json.loads(r.stdout)["records"]]
    assert metrics == ["kid", "fid", "is", "ssim", "lpips"]
    assert len(report.read_records(tmp_path / "e.jsonl")) == 5


def test_ssim_and_lpips_commands(sets, tmp_path, weights_with_alexnet):
    r = invoke("ssim", "-g", sets / "gen", "-r", sets / "gt", "--no-log", "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["records"][0]["result"]
    assert 0 < res["ssim_mean"] < 1 and res["n_pairs"] == 12 and res["data_range"] == 255
    mask = tmp_path / "mask.png"
    from PIL import Image

    m = np.zeros((32, 32), np.uint8)
    m[8:24, 8:24] = 255
    Image.fromarray(m).save(mask)
    r = invoke("ssim", "-g", sets / "gen", "-r", sets / "gt", "--mask", mask, "--mask-region", "outside", "--no-log")
    assert r.exit_code == 0, r.output
    assert "outside mask" in r.stdout
    r = invoke("lpips", "--mode", "gt", "-g", sets / "gen", "-r", sets / "gt", "--device", "cpu", "--no-log")
    assert r.exit_code == 0, r.output
    assert "LPIPS" in r.stdout and "gt, 12 pairs" in r.stdout
    for i in range(2):
        write_folder(tmp_path / "div" / f"in{i}", random_images(3, seed=20 + i))
    r = invoke("lpips", "--mode", "diversity", "-g", tmp_path / "div", "--device", "cpu", "--no-log", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["records"][0]["result"]["n_pairs"] == 4


@pytest.mark.parametrize("args, message", [
    (["kid", "-g", "{empty}", "-r", "{gt}"], "no images"),
    (["kid", "-g", "{gen}"], "compare --generated with --real"),
    (["kid", "-g", "{gen}", "-r", "{gt}", "--protocol", "subsets", "--subset-size", "20"], "exceeds the smaller set"),
    (["kid", "-g", "{gen}", "-r", "{few}", "--subset-size", "4"], "needs at least 2 per block"),
    (["kid", "-g", "{gen}", "-r", "{gt}", "--protocol", "bootstrap"], "unknown KID protocol"),
    (["ssim", "-g", "{gen}", "-r", "{few}"], "--generated has 12 images but --real has 5"),
    (["ssim", "-g", "{gen}", "-r", "{big}"], "same size"),
    (["lpips", "--mode", "gt", "-g", "{gen}", "-r", "{few}"], "--generated has 12 images but --real has 5"),
    (["lpips", "--mode", "sideways", "-g", "{gen}", "-r", "{gt}"], "unknown LPIPS mode"),
    (["ssim", "-g", "{gen}", "-r", "{gt}", "--mask-region", "around"], "inside' or 'outside"),
    (["kid"], "give --generated"),
])
def test_bad_input_is_one_line_error(sets, args, message, weights_with_alexnet):
    args = [a.format(**{k: sets / k for k in ("gen", "gt", "few", "empty", "big")}) for a in args]
    extra = ["--extractor", TINY, "--no-cache"] if args[0] == "kid" else []
    r = invoke(*args, *extra, "--no-log")
    assert r.exit_code == 2, r.output
    assert "error:" in r.stderr and message in r.stderr
    assert "Traceback" not in r.output


def test_unreadable_file(sets, tmp_path):
    bad = write_folder(tmp_path / "bad", random_images(3))
    (bad / "img001.png").write_bytes(b"\x89PNG broken")
    r = invoke("kid", "-g", bad, "-r", sets / "gt", "--extractor", TINY, "--no-cache", "--no-log")
    assert r.exit_code == 2 and "img001.png" in r.stderr


def test_missing_weights_lists_files_before_reading_images(tmp_path, monkeypatch):
    monkeypatch.setenv("I2I_WEIGHTS", str(tmp_path / "none"))
    # inputs do not even exist: the weights check comes first
    r = invoke("all", "-g", tmp_path / "x", "-r", tmp_path / "y", "--paired", "--no-log")
    assert r.exit_code == 2
    err = " ".join(r.stderr.split())
    assert "weights-inception-2015-12-05-6726825d.pth" in err and "alexnet-owt-7be5be79.pth" in err
    assert "https://github.com/toshas/torch-fidelity/releases" in err and str(tmp_path / "none") in err


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory):
    """A prepared two-domain store and a (tiny, 2-iteration) run trained on it through the engine."""
    import toy_family  # noqa: F401  (registers toy-gan, the engine's test model)
    from i2icli.config import DataConfig, RunConfig, TrainConfig
    from i2icli.data.store import StoreWriter
    from i2icli.engine import TrainRequest, train

    root = tmp_path_factory.mktemp("pairs")
    store = root / "selfie2anime.h5"
    with StoreWriter(store, image_size=(32, 32), domains=("selfie", "anime"), producer="test") as w:
        for split, n in (("train", 2), ("test", 12)):
            for d, shift in ((0, 0), (1, 60)):
                for i, img in enumerate(random_images(n, seed=100 * d + n, shift=shift)):
                    w.add(split, img, name=f"{split}{'AB'[d]}/{i}.png", domain=d)
    cfg = RunConfig(model="toy-gan", model_cfg=toy_family.ToyConfig(),
                    data=DataConfig(path=str(store), image_size=16, num_workers=0),
                    train=TrainConfig(iterations=2, batch_size=2, log_every=1, sample_every=2, checkpoint_every=2,
                                      sample_count=2), recipe="test")
    train(TrainRequest(cfg=cfg, out=root / "runs" / "toy-run", device="cpu"))
    return root


def test_pairs_translate_cache_and_compare(pair_run):
    register_tiny()
    args = ["kid", "--pairs", "selfie2anime", "--runs-root", pair_run / "runs", "--extractor", TINY,
            "--device", "cpu", "--no-cache", "--json", "--subsets", "10"]
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    run = pair_run / "runs" / "toy-run"
    assert f"run: {run}" in r.stderr and "translated 12 test images of selfie" in r.stderr
    rec = json.loads(r.stdout)["records"][0]
    assert rec["pairs"] == "selfie2anime" and rec["run"] == str(run)
    assert rec["checkpoint"] == "step_00000002" and rec["direction"] == "a2b"
    assert rec["real"]["source"].endswith("selfie2anime.h5:test/anime") and rec["real"]["count"] == 12
    assert rec["generated"]["count"] == 12 and rec["generated"]["image_size"] == [16, 16]
    cache = run / "eval" / "selfie2anime-step_00000002"
    assert (cache / "complete.json").is_file() and len(list(cache.glob("*.png"))) == 12
    assert report.read_records(run / "eval.jsonl")[-1]["metric"] == "kid"
    r2 = invoke(*args, "--run", run)  # explicit run: cached translations reused, same number
    assert r2.exit_code == 0, r2.output
    assert "using cached translations" in r2.stderr and "run: " not in r2.stderr
    assert json.loads(r2.stdout)["records"][0]["result"]["kid_mean"] == rec["result"]["kid_mean"]


def test_unknown_pair_lists_valid_names(pair_run):
    r = invoke("kid", "--pairs", "cat2dog", "--runs-root", pair_run / "runs", "--extractor", TINY, "--no-log")
    assert r.exit_code == 2
    assert "valid pairs: selfie2anime, anime2selfie" in " ".join(r.stderr.split())
    r = invoke("kid", "--pairs", "cat2dog", "--run", pair_run / "runs" / "toy-run", "--extractor", TINY, "--no-log")
    assert r.exit_code == 2 and "valid pairs: selfie2anime, anime2selfie" in " ".join(r.stderr.split())
    r = invoke("kid", "--pairs", "selfie2anime", "--runs-root", pair_run / "nothing", "--extractor", TINY, "--no-log")
    assert r.exit_code == 2 and "no trained run" in r.stderr


def test_store_selection_as_input(pair_run):
    register_tiny()
    spec = f"{pair_run / 'selfie2anime.h5'}:test/anime"
    r = invoke("fid", "-g", f"{pair_run / 'selfie2anime.h5'}:test/selfie", "-r", spec, "--extractor", TINY,
               "--device", "cpu", "--no-cache", "--no-log", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)["records"][0]
    assert rec["generated"]["file_format"] == "hdf5-uint8" and rec["result"]["n_real"] == 12
    r = invoke("fid", "-g", f"{pair_run / 'selfie2anime.h5'}:test/horse", "-r", spec, "--extractor", TINY, "--no-log")
    assert r.exit_code == 2 and "horse" in r.stderr


def test_pairs_on_a_cyclegan_folder_tree(tmp_path):
    """Runs trained on testA/testB folders: domains named by the folder (horse2zebra -> horse, zebra)."""
    import toy_family  # noqa: F401
    from i2icli.config import DataConfig, RunConfig, TrainConfig
    from i2icli.engine import TrainRequest, train

    register_tiny()
    data = tmp_path / "horse2zebra"
    for sub, shift in (("trainA", 0), ("trainB", 50), ("testA", 0), ("testB", 50)):
        write_folder(data / sub, random_images(11 if sub.startswith("test") else 2, seed=len(sub), shift=shift))
    cfg = RunConfig(model="toy-gan", model_cfg=toy_family.ToyConfig(),
                    data=DataConfig(path=str(data), image_size=16, num_workers=0),
                    train=TrainConfig(iterations=2, batch_size=2, log_every=1, sample_every=2, checkpoint_every=2,
                                      sample_count=2), recipe="test")
    run = tmp_path / "runs" / "toy"
    train(TrainRequest(cfg=cfg, out=run, device="cpu"))
    r = invoke("fid", "--pairs", "zebra2horse", "--run", run, "--extractor", TINY, "--device", "cpu", "--no-cache",
               "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)["records"][0]
    assert rec["direction"] == "b2a" and rec["real"]["source"] == str(data / "testA")
    assert rec["result"]["n_generated"] == 11 and (run / "eval" / "zebra2horse-step_00000002").is_dir()
    r = invoke("fid", "--pairs", "horse2cat", "--runs-root", tmp_path / "runs", "--extractor", TINY, "--no-log")
    assert r.exit_code == 2 and "valid pairs: horse2zebra, zebra2horse" in " ".join(r.stderr.split())
