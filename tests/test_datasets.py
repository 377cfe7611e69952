"""Training datasets over stores and folder trees: shapes, ranges, keyed determinism, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from i2icli.config import DataConfig, RunConfig, TrainConfig
from i2icli.data.datasets import attribute_dataset, paired_dataset, unpaired_dataset
from i2icli.data.keyed import dataset_image_keys, image_bytes, images_to_float
from i2icli.data.store import StoreWriter
from i2icli.errors import DataError
from i2icli.images import to_tensor


def cfg(path, **data) -> RunConfig:
    d = {"image_size": 16, "load_size": 20, "flip": True, **data}
    return RunConfig(model="t", model_cfg=None, data=DataConfig(path=str(path), **d), train=TrainConfig(seed=3))


def gradient(v: int, size: int = 24) -> np.ndarray:
    """An image whose left-right flips and crops are visible."""
    x = np.tile(np.linspace(0, 255, size, dtype=np.uint8)[None, :, None], (size, 1, 3))
    x[..., 2] = v
    return x


@pytest.fixture
def domain_store(tmp_path):
    p = tmp_path / "d.h5"
    with StoreWriter(p, image_size=(24, 24), domains=("cat", "dog", "wild"), producer="t") as w:
        for i in range(7):
            w.add("train", gradient(i), f"c{i}", domain=0)
        for i in range(3):
            w.add("train", gradient(100 + i), f"d{i}", domain=1)
        w.add("train", gradient(200), "w", domain=2)
        for i in range(2):
            w.add("test", gradient(50 + i), f"tc{i}", domain=0)
            w.add("test", gradient(150 + i), f"td{i}", domain=1)
    return p


def blue(t: torch.Tensor) -> int:
    assert t.dtype == torch.uint8  # the batch contract: images leave datasets as bytes
    return int(round(t[2].float().mean().item()))


def test_unpaired_store(domain_store):
    ds = unpaired_dataset(cfg(domain_store), "train")
    assert len(ds) == 7 and ds.domain_names == ("cat", "dog")
    item = ds[4]
    assert set(item) == {"a", "b"} and ds.image_keys == ("a", "b")
    for t in item.values():
        assert t.shape == (3, 16, 16) and t.dtype == torch.uint8
    assert blue(item["a"]) == 4 and blue(item["b"]) in (100, 101, 102)
    # the same key gives the same item; another epoch (key + len) re-draws partner and augmentation
    assert all(torch.equal(ds[4][k], item[k]) for k in item)
    partners = {blue(ds[4 + 7 * e]["b"]) for e in range(20)}
    assert partners == {100, 101, 102}
    firsts = {ds[4 + 7 * e]["a"][0, 0, 0].item() for e in range(20)}
    assert len(firsts) > 2  # random crops / flips differ across epochs


def test_unpaired_domain_choice(domain_store):
    ds = unpaired_dataset(cfg(domain_store, domains=("wild", "cat")), "train")
    assert ds.domain_names == ("wild", "cat") and len(ds) == 7
    assert blue(ds[0]["a"]) == 200 and blue(ds[5]["b"]) == 5


def test_unpaired_test_split_has_no_augmentation(domain_store):
    ds = unpaired_dataset(cfg(domain_store), "test")
    x = ds[1]["a"]
    expected = torch.from_numpy(np.array(Image.fromarray(gradient(51)).resize((16, 16), Image.BILINEAR)))
    assert torch.equal(x.permute(1, 2, 0), expected)
    assert x[0, 0, 0] < x[0, 0, -1]  # not flipped


def test_unpaired_flip_off(domain_store):
    ds = unpaired_dataset(cfg(domain_store, flip=False), "train")
    for k in range(30):
        a = ds[k]["a"]
        assert a[0, 0, 0] < a[0, 0, -1]


def test_unpaired_errors(domain_store, tmp_path):
    with pytest.raises(DataError, match="no domain 'horse'"):
        unpaired_dataset(cfg(domain_store, domains=("horse", "cat")), "train")
    with pytest.raises(DataError, match="does not exist"):
        unpaired_dataset(cfg(tmp_path / "missing.h5"), "train")
    with pytest.raises(DataError, match="data.path is empty"):
        unpaired_dataset(cfg(""), "train")
    with pytest.raises(DataError, match="unknown split"):
        unpaired_dataset(cfg(domain_store), "val")


def test_unpaired_folder_tree(tmp_path):
    for sub, n in (("trainA", 2), ("trainB", 5), ("testA", 1), ("testB", 1)):
        (tmp_path / sub).mkdir()
        for i in range(n):
            Image.fromarray(gradient(10 * i + (100 if "B" in sub else 0), 30)).save(tmp_path / sub / f"im {i}.png")
    ds = unpaired_dataset(cfg(tmp_path), "train")
    assert len(ds) == 5
    assert blue(ds[3]["b"]) == 130 and blue(ds[3]["a"]) in (0, 10)
    (tmp_path / "trainB" / "bad.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "trainB" / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"trainB: 2 unreadable image file\(s\), e.g. bad.jpg: not an image"):
        unpaired_dataset(cfg(tmp_path), "train")
    (tmp_path / "trainB" / "bad.jpg").unlink()
    (tmp_path / "trainB" / "empty.png").unlink()
    good = (tmp_path / "trainB" / "im 0.png").read_bytes()
    (tmp_path / "trainB" / "cut.png").write_bytes(good[: len(good) // 2])  # valid header, truncated data
    ds = unpaired_dataset(cfg(tmp_path), "train")
    with pytest.raises(DataError, match="cut.png"):
        for k in range(len(ds)):
            ds[k]
    with pytest.raises(DataError, match="trainA"):
        (tmp_path / "x").mkdir()
        unpaired_dataset(cfg(tmp_path / "x"), "train")


def test_dataloader_workers_match_main_process(domain_store):
    ds = unpaired_dataset(cfg(domain_store), "train")
    ds.domain_a.store.image("train", 0)  # an open handle in the parent must not leak into workers
    keys = list(range(14))
    main = torch.stack([ds[k]["a"] for k in keys])
    loader = DataLoader(ds, batch_size=7, num_workers=2, sampler=keys, multiprocessing_context="fork")
    got = torch.cat([b["a"] for b in loader])
    assert torch.equal(main, got)


@pytest.fixture
def attr_store(tmp_path):
    p = tmp_path / "a.h5"
    with StoreWriter(p, image_size=(24, 24), attributes=("Smiling", "Male", "Blond_Hair"), producer="t") as w:
        for i in range(6):
            w.add("train", gradient(i), f"{i}.jpg", labels=[i % 2, i // 3, 1])
        w.add("test", gradient(9), "t.jpg", labels=[1, 1, 0])
    return p


def test_attribute_dataset(attr_store):
    ds = attribute_dataset(cfg(attr_store, attributes=("Male", "Smiling")), "train")
    assert ds.label_names == ("Male", "Smiling") and len(ds) == 6
    item = ds[4]
    assert item["image"].shape == (3, 16, 16) and blue(item["image"]) == 4
    assert item["labels"].dtype == torch.float32 and item["labels"].tolist() == [1.0, 0.0]
    assert ds.labels.shape == (6, 2) and ds.raw_image(5).shape == (24, 24, 3)
    assert ds.image_tensor(2).shape == (3, 16, 16)
    flips = {bool(ds[4 + 6 * e]["image"][0, 0, 0] > ds[4 + 6 * e]["image"][0, 0, -1]) for e in range(20)}
    assert flips == {True, False}
    assert attribute_dataset(cfg(attr_store), "test").label_names == ("Smiling", "Male", "Blond_Hair")


def test_attribute_dataset_errors(attr_store, domain_store):
    with pytest.raises(DataError, match="no attribute 'Bald'.*Smiling, Male, Blond_Hair"):
        attribute_dataset(cfg(attr_store, attributes=("Bald",)), "train")
    with pytest.raises(DataError, match="no attribute labels"):
        attribute_dataset(cfg(domain_store), "train")
    with pytest.raises(DataError, match="not a paired store"):
        paired_dataset(cfg(attr_store), "train")
    with pytest.raises(DataError, match="at least 2 domains"):
        unpaired_dataset(cfg(attr_store), "train")


def test_paired_dataset_same_crop_and_flip(tmp_path):
    p = tmp_path / "p.h5"
    with StoreWriter(p, image_size=(24, 24), paired=True, producer="t") as w:
        for i in range(4):
            img = gradient(i)
            w.add("train", img, f"{i}", source=255 - img)
        w.add("test", gradient(7), "t", source=255 - gradient(7))
    ds = paired_dataset(cfg(p), "train")
    assert len(ds) == 4
    for k in range(20):
        item = ds[k]
        # the source is the negative of the target: identical geometry means they sum to 255 (+-2: resize rounding)
        assert (item["source"].int() + item["target"].int() - 255).abs().max() <= 2
    assert paired_dataset(cfg(p), "test")[0]["target"].shape == (3, 16, 16)


def test_images_to_float_matches_to_tensor_and_leaves_labels():
    rng = np.random.default_rng(0)
    arrays = rng.integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    batch = {"image": torch.stack([image_bytes(a) for a in arrays]), "labels": torch.tensor([[0.0, 1.0], [1.0, 0.0]])}
    assert batch["image"].dtype == torch.uint8 and batch["image"].shape == (2, 3, 5, 7)
    out = images_to_float(batch, ("image",))
    assert torch.equal(out["image"], torch.stack([to_tensor(a) for a in arrays]))  # bit-identical
    assert out["image"].min() >= -1 and out["image"].max() <= 1
    assert out["labels"] is batch["labels"] and batch["image"].dtype == torch.uint8  # input untouched
    with pytest.raises(TypeError, match="labels.*not uint8"):
        images_to_float(batch, ("labels",))


def test_engine_converts_declared_images_on_the_device(attr_store):
    from i2icli.engine.loop import to_device

    ds = attribute_dataset(cfg(attr_store), "train")
    assert dataset_image_keys(ds) == ("image",) and dataset_image_keys(list(range(3))) == ()
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert batch["image"].dtype == torch.uint8
    moved = to_device(batch, "cpu", True, dataset_image_keys(ds))
    assert moved["image"].dtype == torch.float32 and moved["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(moved["image"], batch["image"].float() / 127.5 - 1)
    assert torch.equal(moved["labels"], batch["labels"]) and moved["labels"].dtype == torch.float32
    untouched = to_device(batch, "cpu", False)  # a dataset without image_keys: nothing converted
    assert untouched["image"].dtype == torch.uint8
