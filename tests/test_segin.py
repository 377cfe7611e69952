"""SEGIN: networks, losses and weights, phases and lrs, ablations, the dataset over a warp cache, translate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate
from typer.testing import CliRunner

from family_driver import drive
from i2icli.cli.main import app
from i2icli.config import read_recipe, resolve
from i2icli.data.keyed import images_to_float, keyed_rng
from i2icli.errors import DataError
from i2icli.guidance import Guidance
from i2icli.images import load_rgb, save_png
from i2icli.models.segin import SEGIN, SEGINGenerator, segin_dataset
from i2icli.nn.nonlocal_block import NonLocalBlock
from i2icli.nn.spectral import SpectralNormConv2d
from i2icli.prepare.match import MatchRequest, prepare_match
from i2icli.registry import RECIPES_DIR, config_cls_for, get
from segin_helpers import paired_store

torch.set_num_threads(1)


def _cfg(store: Path, *overrides: str):
    path = RECIPES_DIR / "segin" / "tiny.toml"
    return resolve(read_recipe(path), config_cls_for, str(path), model="segin",
                   overrides=[f"data.path={str(store)!r}", "data.num_workers=0", *overrides])


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return paired_store(tmp_path_factory.mktemp("segin") / "s.h5", n_train=6, n_test=3, fg_mask=True)


@pytest.fixture(scope="module")
def cache(store: Path) -> Path:
    out = store.with_name("s.match.h5")
    prepare_match(MatchRequest(store=store, out=out, features="random", device="cpu", batch=3, topk=2))
    return out


def _batches(ds, n: int, size: int = 2):
    keys = ds.image_keys
    return [images_to_float(default_collate([ds[size * i + k] for k in range(size)]), keys) for i in range(n)]


def test_generator_shapes_and_paper_layout() -> None:
    g = SEGINGenerator(6, ch=8, max_channels=32, n_down=4)
    with torch.no_grad():
        img, seg = g(torch.randn(2, 6, 64, 64))
    assert img.shape == (2, 3, 64, 64) and seg.shape == (2, 1, 64, 64)
    assert float(img.abs().max()) <= 1 and 0 <= float(seg.min()) and float(seg.max()) <= 1
    assert len(g.encoder) == 6  # "6 combined conv blocks"
    assert sum(isinstance(m, NonLocalBlock) for m in g.bottleneck) == 3
    no_nl = SEGINGenerator(6, ch=8, max_channels=32, n_down=4, use_nonlocal=False, multitask=False)
    assert not any(isinstance(m, NonLocalBlock) for m in no_nl.modules()) and no_nl.seg is None
    assert any(isinstance(m, torch.nn.Upsample) for m in g.up.modules())
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules())  # upsample + conv, no deconv


def test_phases_lrs_sn_and_weights(store: Path, cache: Path) -> None:
    cfg = _cfg(store, f"model.warp_cache={str(cache)!r}", "model.input_field='sources'", "model.seg_mask='foreground'")
    fam = SEGIN(cfg)
    lrs = {p.name: p.lr for p in fam.phases}
    assert lrs == {"discriminator": 1.3e-5, "generator": 2e-4}
    assert all(isinstance(m, SpectralNormConv2d) for m in fam.networks["discriminator"].modules()
               if isinstance(m, torch.nn.Conv2d))
    m = fam.m
    assert (m.lambda_recon, m.lambda_feat, m.lambda_gan, m.lambda_seg, m.lambda_seg_att, m.lambda_tv) == \
        (100.0, 5e-6, 1.0, 100.0, 10.0, 10.0)
    assert fam.required_weights() == ()  # tiny: random VGG by name
    full = resolve(read_recipe(RECIPES_DIR / "segin" / "edges2shoes.toml"), config_cls_for, "e2s", model="segin")
    assert SEGIN(full).required_weights() == ("vgg19",)
    # the logged terms recombine into the loss with the paper's weights
    torch.manual_seed(0)
    ds = segin_dataset(cfg, "train")
    hist, _ = drive(fam, _batches(ds, 2))
    assert [p for _, p, _ in hist] == ["discriminator", "generator"] * 2
    logs = [lg for _, p, lg in hist if p == "generator"][-1]
    total = (100 * logs["g_recon"] + 5e-6 * logs["g_feat"] + logs["g_gan"] + 100 * logs["g_seg"]
             + 10 * logs["g_seg_att"] + 10 * logs["g_tv"])
    assert torch.allclose(total, logs["g_loss"], rtol=1e-5)
    assert all(torch.isfinite(v) for _, _, lg in hist for v in lg.values())
    assert float(logs["g_feat"]) > 1.0  # a per-sample sum over relu3_2, not a mean


@pytest.mark.parametrize("ablation", ["model.lambda_gan=0", "model.multitask=false", "model.warp_input=false",
                                      "model.use_nonlocal=false", "model.lambda_feat=0"])
def test_ablations_train(store: Path, cache: Path, ablation: str) -> None:
    cfg = _cfg(store, f"model.warp_cache={str(cache)!r}", "model.input_field='sources'",
               "model.seg_mask='foreground'", ablation)
    fam = SEGIN(cfg)
    if ablation == "model.lambda_gan=0":
        assert [p.name for p in fam.phases] == ["generator"] and "discriminator" not in fam.networks
    if ablation == "model.lambda_feat=0":
        assert fam.frozen_networks() == {}
    hist, _ = drive(fam, _batches(segin_dataset(cfg, "train"), 1))
    assert all(torch.isfinite(v) for _, _, lg in hist for v in lg.values())


def test_dataset_reads_the_cache_with_keyed_perturbations_and_one_flip(store: Path, cache: Path) -> None:
    from i2icli.match.cache import WarpCache
    from i2icli.match.reconstruct import reconstruct

    cfg = _cfg(store, f"model.warp_cache={str(cache)!r}", "model.input_field='sources'",
               "model.seg_mask='foreground'", "model.augment=false", "data.flip=false")
    ds = segin_dataset(cfg, "train")
    item = ds.item(4, keyed_rng(0, 4))
    c = WarpCache(cache)
    y = np.asarray(item["y"].permute(1, 2, 0))
    want = reconstruct(y, c.field(c.row_of_input(4)), 4, "vote", 3)
    assert np.array_equal(np.asarray(item["warp"].permute(1, 2, 0)), want)  # unperturbed: exactly the cache's warp
    cfg_aug = _cfg(store, f"model.warp_cache={str(cache)!r}", "model.input_field='sources'",
                   "model.seg_mask='foreground'")
    ds2 = segin_dataset(cfg_aug, "train")
    a, b = ds2[7], ds2[7]  # key 7 -> index 1; same key, same item
    assert all(torch.equal(a[k], b[k]) for k in a)
    flipped = 0
    for key in range(6, 30):  # when the flip fires it fires for x, y, W and the mask alike
        it = ds2[key]
        base = ds.item(key % 6, keyed_rng(0, key))
        if torch.equal(it["y"], base["y"].flip(-1)):
            flipped += 1
            assert torch.equal(it["x"], base["x"].flip(-1)) and torch.equal(it["seg"], base["seg"].flip(-1))
        else:
            assert torch.equal(it["y"], base["y"])
    assert 0 < flipped < 24


def test_cache_mismatch_and_bad_store(store: Path, cache: Path, tmp_path: Path) -> None:
    cfg = _cfg(store, f"model.warp_cache={str(cache)!r}", "model.input_field='sources'", "model.match_layer='relu2_2'")
    with pytest.raises(DataError, match=r"features\.layer: cache relu3_2, expected relu2_2.*i2i prepare match") as e:
        segin_dataset(cfg, "train")
    assert "--layer relu2_2" in str(e.value)
    other = paired_store(tmp_path / "other.h5", seed=5, fg_mask=True)
    with pytest.raises(DataError, match="store_checksum"):
        segin_dataset(_cfg(other, f"model.warp_cache={str(cache)!r}", "model.input_field='sources'"), "train")
    no_mask = paired_store(tmp_path / "nomask.h5", seed=6)
    with pytest.raises(DataError, match="--fg-mask white"):
        segin_dataset(_cfg(no_mask, "model.input_field='sources'"), "train")


def test_translate_matches_on_the_fly_and_refuses_other_sizes(store: Path) -> None:
    fam = get("segin").build(_cfg(store, "model.input_field='sources'", "model.seg_mask='foreground'"))
    fam.networks.eval()
    x, r = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        out = fam.translate(x, Guidance(exemplar=r))
    assert out["output"].shape == (2, 3, 32, 32) and out["warp"].shape == (2, 3, 32, 32)
    assert out["segmentation"].shape == (2, 1, 32, 32)
    # the warp is made of exemplar pixels (vote mode averages them): its range stays inside the exemplar's
    assert float(out["warp"].min()) >= float(r.min()) - 1e-2 and float(out["warp"].max()) <= float(r.max()) + 1e-2
    with pytest.raises(DataError, match="exemplar is 16x16 but the input is 32x32"):
        fam.warp(x, torch.zeros(2, 3, 16, 16))


def test_cli_train_and_translate_with_save_warp(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run = tmp_path / "run"
    res = runner.invoke(app, ["train", "segin", "--recipe", str(RECIPES_DIR / "segin" / "tiny.toml"), "--data",
                              str(store), "--out", str(run), "--set", "train.iterations=2", "--set",
                              "train.batch_size=2", "--set", "data.num_workers=0", "--set",
                              "model.input_field='sources'", "--set", "model.seg_mask='foreground'"])
    assert res.exit_code == 0, res.output
    from i2icli.data.store import open_store

    s = open_store(store)
    save_png(tmp_path / "sketch.png", s.source("test", 0))
    save_png(tmp_path / "ref.png", s.image("test", 1))
    out = tmp_path / "out.png"
    res = runner.invoke(app, ["translate", str(tmp_path / "sketch.png"), "--exemplar", str(tmp_path / "ref.png"),
                              "--checkpoint", str(run), "--out", str(out), "--save-warp", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert load_rgb(out).shape == (32, 32, 3)
    assert load_rgb(tmp_path / "out_warp.png").shape == (32, 32, 3)
    assert (tmp_path / "out_segmentation.png").is_file()


def test_test_split_items_use_another_exemplar_unperturbed(store: Path) -> None:
    cfg = _cfg(store, "model.input_field='sources'", "model.seg_mask='foreground'")
    ds = segin_dataset(cfg, "test")
    a, b = ds.item(1, keyed_rng(0, 1)), ds.item(1, keyed_rng(0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    from i2icli.data.store import open_store

    s = open_store(store)
    assert torch.equal(a["y"], torch.from_numpy(s.image("test", 1)).permute(2, 0, 1))  # no flip on test
    assert not torch.equal(a["warp"], a["y"])  # matched to another test image, not to its own target
