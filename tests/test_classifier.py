"""The attribute classifier family: builds from its recipes, trains through the engine and the
`i2i train classifier` CLI, reports held-out accuracy, and `i2i eval ca` scores attribute transfer."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from i2icli.config import read_recipe, resolve
from i2icli.data.store import StoreWriter
from i2icli.errors import ConfigError
from i2icli.guidance import Guidance
from i2icli.models.base import Nets
from i2icli.registry import RECIPES_DIR, config_cls_for, get

runner = CliRunner()


def app():
    """The CLI, imported lazily: the train command group is built from the registry at import time, and other
    test modules register their toy models before importing it (collection imports every test module first)."""
    from i2icli.cli.main import app as root

    return root
ATTRS = ("bright", "red")


def _image(bright: int, red: int, rng) -> np.ndarray:
    """Two easy attributes: overall brightness, and red vs. blue dominance."""
    base = 150 if bright else 60
    img = rng.normal(base, 12, (32, 32, 3))
    img[..., 0 if red else 2] += 60
    return np.clip(img, 0, 255).astype(np.uint8)


def make_store(path, n_train=48, n_test=24, seed=0):
    rng = np.random.default_rng(seed)
    with StoreWriter(path, image_size=(32, 32), attributes=ATTRS, producer="test") as w:
        for split, n in (("train", n_train), ("test", n_test)):
            for i in range(n):
                lab = np.array([i % 2, (i // 2) % 2], np.uint8)
                w.add(split, _image(*lab, rng), name=f"{split}/{i}.png", labels=lab)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("clf") / "attrs.h5")


def cfg_for(recipe, store, *extra):
    path = RECIPES_DIR / "classifier" / recipe
    return resolve(read_recipe(path), config_cls_for, str(path), overrides=[f'data.path="{store}"', *extra],
                   model="classifier")


@pytest.mark.parametrize("recipe", ["default.toml", "inception.toml", "tiny.toml"])
def test_builds_from_each_recipe_and_steps(recipe, store):
    cfg = cfg_for(recipe, store, "data.image_size=32")
    fam = get("classifier").build(cfg)
    assert fam.attributes == ATTRS and [p.name for p in fam.phases] == ["classifier"]
    assert not fam.imagenet_init and "from scratch" in fam.init_note  # no ImageNet files on this machine
    fam.networks.train()
    batch = {"image": torch.rand(2, 3, 32, 32) * 2 - 1, "labels": torch.tensor([[1.0, 0.0], [0.0, 1.0]])}
    params = list(fam.networks["net"].parameters())
    opt = fam.make_optimizer("classifier", [{"params": params, "lr": fam.cfg.train.lr}])
    before = [p.detach().clone() for p in params[-2:]]
    loss, logs = fam.step("classifier", Nets(fam.networks), batch, 1)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and set(logs) == {"bce", "accuracy", "imagenet_init"}
    assert logs["imagenet_init"].item() == 0.0
    assert any(not torch.equal(a, b) for a, b in zip(before, params[-2:], strict=True))
    fam.networks.eval()
    p = fam.predict(batch["image"][:1])
    assert p.shape == (1, 2) and ((0 <= p) & (p <= 1)).all()
    with pytest.raises(ConfigError, match="eval ca"):
        fam.translate(batch["image"], Guidance())


def test_imagenet_init_when_file_present(tmp_path, store, monkeypatch):
    import torchvision

    torch.manual_seed(1)
    state = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(state, tmp_path / "resnet18-f37072fd.pth")
    monkeypatch.setenv("I2I_WEIGHTS", str(tmp_path))
    fam = get("classifier").build(cfg_for("default.toml", store))
    assert fam.imagenet_init and "ImageNet-initialised from resnet18-f37072fd.pth" in fam.init_note
    torch.testing.assert_close(fam.networks["net"].net.conv1.weight, state["conv1.weight"])
    fam2 = get("classifier").build(cfg_for("default.toml", store, "model.imagenet_init=false"))
    assert not fam2.imagenet_init


def test_unknown_attribute_and_backbone(store):
    with pytest.raises(ConfigError):
        cfg_for("tiny.toml", store, 'model.backbone="vgg"')
    from i2icli.errors import DataError

    with pytest.raises(DataError, match="no attribute 'smile'"):
        get("classifier").dataset(cfg_for("tiny.toml", store, 'data.attributes=["smile"]'), "train")


def train_cli(store, out, iterations):
    r = runner.invoke(app(), ["train", "classifier", "--recipe", str(RECIPES_DIR / "classifier" / "tiny.toml"),
                            "--data", str(store), "--out", str(out), "--device", "cpu",
                            "--set", f"train.iterations={iterations}", "--set", f"train.checkpoint_every={iterations}",
                            "--set", f"train.sample_every={iterations}", "--set", "train.log_every=1"])
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    """Two engine steps: a real run directory and checkpoint (accuracy itself is tested in the slow test)."""
    return train_cli(store, tmp_path_factory.mktemp("runs") / "clf", 2)


@functools.lru_cache(maxsize=2)
def _loaded(run):
    from i2icli.translate import load_run

    return load_run(run, device="cpu")


def _direct(run, images):
    """Independent computation: the classifier's probabilities on (H,W,3) uint8 images at its image size."""
    from i2icli.data.transforms import resize
    from i2icli.images import to_tensor

    loaded = _loaded(run)
    x = torch.stack([to_tensor(resize(a, loaded.cfg.data.image_size)) for a in images])
    return loaded.family.predict(x).numpy()


def test_train_cli_and_held_out_accuracy(trained, store):
    recs = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert recs[-1]["iteration"] == 2 and recs[-1]["imagenet_init"] == 0.0
    r = runner.invoke(app(), ["eval", "ca", "--classifier", str(trained), "--device", "cpu", "--json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)["records"][0]
    res = rec["result"]
    assert rec["mode"] == "held_out" and res["n_images"] == 24 and "from scratch" in rec["classifier_init"]
    from i2icli.data.store import open_store

    with open_store(store) as s:
        images = [s.image("test", i) for i in range(s.count("test"))]
        labels = s.labels("test")
    expected = ((_direct(trained, images) >= 0.5) == (labels == 1)).mean(axis=0)
    assert [res["per_attribute"][a] for a in ATTRS] == pytest.approx(expected.tolist())
    assert res["accuracy_mean"] == pytest.approx(expected.mean())
    assert (trained / "eval.jsonl").is_file()


def test_ca_transfer_with_exemplars_and_labels(trained, store, tmp_path):
    from i2i_eval_testing import write_folder

    rng = np.random.default_rng(5)
    ex_labels = [(i % 2, (i // 2) % 2) for i in range(8)]
    gen = [_image(b, r, rng) for b, r in ex_labels]
    ex = [_image(b, r, rng) for b, r in ex_labels]
    write_folder(tmp_path / "gen", gen)
    write_folder(tmp_path / "ex", ex)
    common = ["--classifier", str(trained), "--device", "cpu", "--no-log", "--json"]
    p_gen, p_ex = _direct(trained, gen), _direct(trained, ex)

    r = runner.invoke(app(), ["eval", "ca", "--generated", str(tmp_path / "gen"), "--exemplars", str(tmp_path / "ex"),
                            *common])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["records"][0]["result"]
    assert "classifier predictions" in res["target_source"]
    expected = ((p_gen >= 0.5) == (p_ex >= 0.5)).mean(axis=0)
    assert [res["per_attribute"][a] for a in ATTRS] == pytest.approx(expected.tolist())

    r = runner.invoke(app(), ["eval", "ca", "--generated", str(tmp_path / "gen"), "--exemplars", str(tmp_path / "ex"),
                            "--attributes", "red", *common])
    assert list(json.loads(r.stdout)["records"][0]["result"]["per_attribute"]) == ["red"]

    csv = tmp_path / "labels.csv"
    csv.write_text("file,red,bright\n" + "".join(f"img{i:03d}.png,{rr},{b}\n" for i, (b, rr) in enumerate(ex_labels)))
    r = runner.invoke(app(), ["eval", "ca", "--generated", str(tmp_path / "gen"), "--labels", str(csv), *common])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["records"][0]["result"]
    expected = ((p_gen >= 0.5) == (np.array(ex_labels) == 1)).mean(axis=0)
    assert [res["per_attribute"][a] for a in ATTRS] == pytest.approx(expected.tolist())

    # exemplars from the store: its stored labels are the targets
    from i2icli.data.store import open_store

    with open_store(store) as s:
        store_imgs, store_labels = [s.image("test", i) for i in range(24)], s.labels("test")
    write_folder(tmp_path / "gen24", store_imgs[::-1])
    r = runner.invoke(app(), ["eval", "ca", "--generated", str(tmp_path / "gen24"), "--exemplars", f"{store}:test",
                            *common])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["records"][0]["result"]
    assert "stored labels" in res["target_source"]
    expected = ((_direct(trained, store_imgs[::-1]) >= 0.5) == (store_labels == 1)).mean(axis=0)
    assert [res["per_attribute"][a] for a in ATTRS] == pytest.approx(expected.tolist())

    for args, message in [
        (["--generated", str(tmp_path / "gen"), "--exemplars", f"{store}:test"],
         "--generated has 8 images but --exemplars has 24"),
        (["--generated", str(tmp_path / "gen"), "--attributes", "smile", "--labels", str(csv)], "no attribute 'smile'"),
        (["--generated", str(tmp_path / "gen")], "--exemplars"),
        (["--generated", str(tmp_path / "gen24"), "--labels", str(csv)], "no row for generated file"),
    ]:
        r = runner.invoke(app(), ["eval", "ca", *args, *common])
        assert r.exit_code == 2 and message in r.stderr, r.output


def test_ca_refuses_non_classifier_run(tmp_path):
    r = runner.invoke(app(), ["eval", "ca", "--classifier", str(tmp_path), "--no-log"])
    assert r.exit_code == 2 and "not a run directory" in r.stderr


def test_classifier_learns_easy_attributes(store, tmp_path):
    """30 ResNet-18 steps (about 10 s single-threaded): held-out accuracy on two easy attributes."""
    run = train_cli(store, tmp_path / "clf30", 30)
    r = runner.invoke(app(), ["eval", "ca", "--classifier", str(run), "--device", "cpu", "--json", "--no-log"])
    assert json.loads(r.stdout)["records"][0]["result"]["accuracy_mean"] >= 0.85


@pytest.mark.slow
def test_classifier_trains_with_two_process_gloo_ddp(store, tmp_path):
    """The classifier goes through the engine's DDP like every model (about 25 s: process start-up)."""
    from i2icli.engine import TrainRequest, train

    cfg = cfg_for("tiny.toml", store, "train.iterations=4", "train.checkpoint_every=4", "train.sample_every=4",
                  "train.log_every=2", "train.batch_size=4")
    result = train(TrainRequest(cfg=cfg, out=tmp_path / "run", device="cpu", nproc=2))
    assert result.world_size == 2 and result.iterations == 4
    recs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in recs] == [2, 4] and all(np.isfinite(r["bce"]) for r in recs)


def test_small_stem_keeps_the_resolution_and_loads_imagenet_weights_but_the_stem():
    import torchvision

    from i2icli.models.classifier import AttributeNet

    state = torchvision.models.resnet18(weights=None).state_dict()
    net = AttributeNet("resnet18", 3, state, stem="small")
    conv1 = net.net.conv1
    assert (conv1.kernel_size, conv1.stride) == ((3, 3), (1, 1)) and isinstance(net.net.maxpool, torch.nn.Identity)
    assert torch.equal(net.net.layer1[0].conv1.weight, state["layer1.0.conv1.weight"])
    x = torch.zeros(2, 3, 32, 32)
    feats = torch.nn.Sequential(*list(net.net.children())[:-2])((x + 1) / 2)
    assert feats.shape[-2:] == (4, 4)  # 32 px -> 4x4 before pooling (the ImageNet stem leaves 1x1)
    assert net(x).shape == (2, 3)
    with pytest.raises(ConfigError, match="model.stem"):
        AttributeNet("inception_v3", 3, None, stem="small")
