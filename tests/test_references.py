"""Datasets with reference images: N domains, attribute labels with policies, paired data; the samplers behind them."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import test_datasets
from i2icli.data.datasets import attribute_dataset, attribute_reference_dataset, domain_dataset, paired_dataset
from i2icli.data.keyed import dataset_image_keys
from i2icli.data.references import DomainReferences, LabelReferences
from i2icli.data.store import StoreWriter
from i2icli.errors import ConfigError, DataError
from i2icli.models.lomit import LOMITDataset
from test_datasets import blue, cfg, gradient

domain_store = test_datasets.domain_store  # the stores of tests/test_datasets.py, as fixtures here too
attr_store = test_datasets.attr_store
DOMAIN_OF_BLUE = {**{i: 0 for i in range(7)}, **{100 + i: 1 for i in range(3)}, 200: 2}  # domain_store's images


def same_item(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- N domains


def test_domain_dataset_items_and_bookkeeping(domain_store):
    ds = domain_dataset(cfg(domain_store), "train")
    assert ds.domain_names == ("cat", "dog", "wild") and len(ds) == 11
    assert dataset_image_keys(ds) == ("image", "reference")
    for key in range(60):
        it = ds[key]
        assert set(it) == {"image", "domain", "reference", "reference_domain", "index", "reference_index"}
        assert it["image"].shape == it["reference"].shape == (3, 16, 16)
        assert it["domain"].dtype == it["reference_domain"].dtype == it["index"].dtype == torch.int64
        assert int(it["index"]) == key % 11
        assert DOMAIN_OF_BLUE[blue(it["image"])] == int(it["domain"]) == int(ds.domain_ids[key % 11])
        assert DOMAIN_OF_BLUE[blue(it["reference"])] == int(it["reference_domain"])
        assert int(ds.domain_ids[int(it["reference_index"])]) == int(it["reference_domain"])
        assert it["reference_domain"] != it["domain"]  # target "other"
        assert same_item(it, ds[key])  # keyed: the same key, the same item
    assert not same_item(ds[3], ds[3 + 11])  # another epoch: another reference draw or augmentation
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["domain"].shape == (4,) and batch["domain"].dtype == torch.int64


def test_domain_targets_are_uniform_over_domains_not_images(domain_store):
    ds = domain_dataset(cfg(domain_store), "train")
    # item 0 is a cat: dog (3 images) and wild (1 image) are each drawn half the time
    wild = sum(int(ds[11 * e]["reference_domain"]) == 2 for e in range(400))
    assert 160 < wild < 240
    anyds = domain_dataset(cfg(domain_store), "train", target="any")
    seen = Counter(int(anyds[11 * e]["reference_domain"]) for e in range(300))
    assert set(seen) == {0, 1, 2} and all(70 < c < 130 for c in seen.values())
    refs = {int(anyds[11 * e]["reference_index"]) for e in range(300)}
    assert 0 in refs  # "any" may pair an image with itself


def test_balanced_domain_sampling(domain_store):
    ds = domain_dataset(cfg(domain_store), "train", target="any", balanced=True)
    counts = Counter(int(ds[k]["domain"]) for k in range(600))  # 7 cats, 3 dogs, 1 wild: still 1/3 each
    assert set(counts) == {0, 1, 2} and all(150 < c < 250 for c in counts.values())
    for k in range(50):
        it = ds[k]
        assert DOMAIN_OF_BLUE[blue(it["image"])] == int(it["domain"]) == int(ds.domain_ids[int(it["index"])])
        assert same_item(it, ds[k])
    plain = Counter(int(domain_dataset(cfg(domain_store), "train")[k]["domain"]) for k in range(11))
    assert plain == {0: 7, 1: 3, 2: 1}  # unbalanced: one epoch visits every image once


def test_domain_selection_and_order(domain_store):
    ds = domain_dataset(cfg(domain_store, domains=("wild", "a")), "train")  # by name and by letter
    assert ds.domain_names == ("wild", "cat") and len(ds) == 8
    assert blue(ds[0]["image"]) == 200 and int(ds[0]["domain"]) == 0
    assert int(ds[0]["reference_domain"]) == 1 and blue(ds[0]["reference"]) in range(7)
    assert blue(ds[5]["image"]) == 4 and int(ds[5]["domain"]) == 1 and int(ds[5]["reference_domain"]) == 0
    two = domain_dataset(cfg(domain_store, domains=("cat", "dog")), "test")
    assert len(two) == 4 and two[0]["image"].shape == (3, 16, 16)


def test_domain_dataset_errors(domain_store, attr_store, tmp_path):
    with pytest.raises(DataError, match=r"d.h5 \(test split\): domain 'wild' has no images; drop it from data.domains"):
        domain_dataset(cfg(domain_store), "test")
    with pytest.raises(DataError, match=r"has 1 domain\(s\) \(cat\).*at least 2"):
        domain_dataset(cfg(domain_store, domains=("cat",)), "train")
    assert len(domain_dataset(cfg(domain_store, domains=("cat",)), "train", target="any")) == 7
    with pytest.raises(DataError, match="names a domain twice"):
        domain_dataset(cfg(domain_store, domains=("cat", "a")), "train")
    with pytest.raises(DataError, match="a.h5: has no domains"):
        domain_dataset(cfg(attr_store), "train")
    with pytest.raises(DataError, match="no domain 'horse'"):
        domain_dataset(cfg(domain_store, domains=("horse", "cat")), "train")
    with pytest.raises(DataError, match="reads a store, not a folder"):
        domain_dataset(cfg(tmp_path), "train")
    with pytest.raises(ConfigError, match="'others' is not a target-domain policy"):
        domain_dataset(cfg(domain_store), "train", target="others")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- attribute labels


@pytest.fixture
def label_store(tmp_path):
    """Eight train images, image i has blue value i; labels (Smiling, Male, Bald) with Bald always 0."""
    p = tmp_path / "l.h5"
    labels = [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]]
    with StoreWriter(p, image_size=(24, 24), attributes=("Smiling", "Male", "Bald"), producer="t") as w:
        for i, lab in enumerate(labels):
            w.add("train", gradient(i), f"{i}.jpg", labels=lab)
        w.add("test", gradient(9), "t.jpg", labels=[1, 1, 0])
    return p


def test_attribute_references_random_never_the_item(label_store):
    ds = attribute_reference_dataset(cfg(label_store), "train")
    assert len(ds) == 8 and ds.label_names == ("Smiling", "Male", "Bald") and ds.image_keys == ("image", "reference")
    refs: dict[int, set[int]] = {}
    for key in range(400):
        it = ds[key]
        i, j = int(it["index"]), int(it["reference_index"])
        assert i == key % 8 and j != i
        assert blue(it["image"]) == i and blue(it["reference"]) == j
        assert torch.equal(it["labels"], torch.from_numpy(ds.base.labels[i]))
        assert torch.equal(it["reference_labels"], torch.from_numpy(ds.base.labels[j]))
        assert it["labels"].dtype == torch.float32
        refs.setdefault(i, set()).add(j)
        assert same_item(it, ds[key])
    assert all(r == set(range(8)) - {i} for i, r in refs.items())  # every other image is reachable
    anyds = attribute_reference_dataset(cfg(label_store), "train", "any")
    assert any(int(anyds[8 * e]["reference_index"]) == 0 for e in range(100))


def test_attribute_references_differ_and_flip(label_store):
    differ = attribute_reference_dataset(cfg(label_store), "train", "differ")
    counts = Counter()
    for key in range(8 * 150):
        it = differ[key]
        assert not torch.equal(it["labels"], it["reference_labels"])
        if int(it["index"]) == 0:
            counts[int(it["reference_index"])] += 1
    # item 0 has labels (0, 0, 0): the differing images are 5, 6, 7, drawn uniformly (50 each expected)
    assert set(counts) == {5, 6, 7} and all(30 < c < 70 for c in counts.values())
    flip = attribute_reference_dataset(cfg(label_store), "train", "flip:Male")
    for key in range(200):
        it = flip[key]
        assert it["labels"][1] != it["reference_labels"][1]
    assert {int(flip[8 * e + 6]["reference_index"]) for e in range(100)} == {0, 1, 2, 3, 4, 5}


def test_attribute_references_callable_policy(label_store):
    def next_one(index: int, labels: np.ndarray, rng: np.random.Generator) -> int:
        return (index + 1) % len(labels)

    ds = attribute_reference_dataset(cfg(label_store), "train", next_one)
    assert [int(ds[k]["reference_index"]) for k in range(9)] == [1, 2, 3, 4, 5, 6, 7, 0, 1]
    bad = attribute_reference_dataset(cfg(label_store), "train", lambda i, labels, rng: len(labels))
    with pytest.raises(ValueError, match=r"returned 8 for item 0; it must return an int in \[0, 8\)"):
        bad[0]


def test_attribute_reference_errors(label_store):
    message = (r"l.h5 \(test split\): has 1 image\(s\), a reference other than the item "
               r"needs at least two; prepare more images \(or set reference policy = \"any\"\)")
    with pytest.raises(DataError, match=message):
        attribute_reference_dataset(cfg(label_store), "test")
    assert len(attribute_reference_dataset(cfg(label_store), "test", "any")) == 1
    with pytest.raises(DataError, match=r"every image has the same labels \(Bald\), so no reference can differ"):
        attribute_reference_dataset(cfg(label_store, attributes=("Bald",)), "train", "differ")
    with pytest.raises(DataError, match="every image has Bald = 0, so no reference can flip it"):
        attribute_reference_dataset(cfg(label_store), "train", "flip:Bald")
    with pytest.raises(ConfigError, match="'flip:Young': no attribute 'Young'; the labels are Smiling, Male, Bald"):
        attribute_reference_dataset(cfg(label_store), "train", "flip:Young")
    with pytest.raises(ConfigError, match="model.ref = 'same' is not a reference policy; use one of random, any"):
        attribute_reference_dataset(cfg(label_store), "train", "same", option="model.ref")


# LOMIT's original exemplar sampler (models/lomit.py before it moved to data/references.py), item ``key % n``
# drawn with ``default_rng([3, key])``: (exemplar index, the generator's next ``integers(1000)``), so both the
# result and the number of draws consumed are pinned.  "alternate": the 12-image store of tests/lomit_helpers.py
# (labels alternate); "skewed": 200 images of which only 0 and 1 have other labels, so "differ" often reaches its
# fallback.  LOMIT's resume test compares exact values; these must never change.
GOLDEN = {
    ("alternate", "random"): [
        (9, 85), (11, 253), (10, 25), (4, 102), (0, 898), (0, 136), (4, 456), (5, 682), (1, 350), (4, 977), (0, 769),
        (5, 683), (4, 207), (11, 437), (7, 933), (8, 378), (11, 935), (2, 248), (5, 360), (8, 153), (9, 300),
        (8, 802), (7, 186), (3, 295),
    ],
    ("alternate", "differ"): [
        (9, 85), (4, 150), (7, 743), (4, 102), (7, 455), (0, 136), (5, 994), (8, 967), (1, 350), (4, 977), (3, 129),
        (4, 88), (3, 387), (10, 212), (7, 933), (8, 378), (11, 935), (2, 248), (5, 360), (8, 153), (9, 300),
        (8, 802), (7, 186), (10, 32),
    ],
    ("skewed", "random"): [
        (162, 85), (195, 253), (169, 25), (63, 102), (1, 898), (4, 136), (84, 456), (106, 682), (25, 350), (76, 977),
        (14, 769), (94, 683), (69, 207), (189, 437), (123, 933), (131, 378), (194, 935), (41, 248), (94, 360),
        (136, 153), (154, 300), (157, 802), (135, 186), (63, 295),
    ],
    ("skewed", "differ"): [
        (162, 85), (195, 253), (0, 775), (0, 476), (1, 898), (1, 726), (1, 583), (1, 948), (1, 455), (0, 21),
        (0, 841), (0, 491), (0, 668), (1, 567), (1, 440), (0, 909), (0, 832), (0, 803), (0, 8), (1, 594), (0, 563),
        (0, 21), (0, 393), (1, 801),
    ],
}


@pytest.mark.parametrize("store, policy", list(GOLDEN))
def test_label_sampler_keeps_lomits_original_draws(store, policy):
    n = 12 if store == "alternate" else 200
    labels = (np.array([[1 - i % 2, i % 2] for i in range(n)], np.float32) if store == "alternate"
              else np.array([[0, 1]] * 2 + [[1, 0]] * (n - 2), np.float32))
    sampler = LabelReferences(labels, ("Black_Hair", "Blond_Hair"), policy)
    got = []
    for key in range(24):
        rng = np.random.default_rng([3, key])
        got.append((sampler(key % n, rng), int(rng.integers(1000))))
    assert got == GOLDEN[store, policy]


def test_lomit_dataset_is_the_reference_dataset_under_lomits_names(attr_store):
    base = attribute_dataset(cfg(attr_store), "train")
    lomit = LOMITDataset(base, "differ")
    generic = attribute_reference_dataset(cfg(attr_store), "train", "differ")
    for key in range(30):
        a, b = lomit[key], generic[key]
        assert set(a) == {"x", "x_labels", "y", "y_labels"}
        for mine, theirs in (("x", "image"), ("x_labels", "labels"), ("y", "reference"),
                             ("y_labels", "reference_labels")):
            assert torch.equal(a[mine], b[theirs])
    with pytest.raises(DataError, match=r"set model.exemplar = \"random\""):
        LOMITDataset(attribute_dataset(cfg(attr_store, attributes=("Blond_Hair",)), "train"), "differ")


def test_domain_sampler_alone():
    sampler = DomainReferences(np.array([0, 0, 1, 2, 2, 2]), ("a", "b", "c"))
    rng = np.random.default_rng(0)
    draws = [sampler(1, rng) for _ in range(300)]
    assert all(t in (1, 2) and (j == 2 if t == 1 else j in (3, 4, 5)) for j, t in draws)
    with pytest.raises(DataError, match="domain 'b' has no images"):
        DomainReferences(np.array([0, 0, 2]), ("a", "b", "c"), source="s.h5")


# --------------------------------------------------------------------------- paired with a reference


@pytest.fixture
def paired_store(tmp_path):
    p = tmp_path / "p.h5"
    with StoreWriter(p, image_size=(24, 24), paired=True, producer="t") as w:
        for i in range(5):
            w.add("train", gradient(10 * i), f"{i}", source=255 - gradient(10 * i))
        w.add("test", gradient(7), "t", source=255 - gradient(7))
    return p


def test_paired_dataset_with_reference(paired_store):
    plain = paired_dataset(cfg(paired_store), "train")
    assert plain.image_keys == ("source", "target") and set(plain[0]) == {"source", "target", "index"}
    ds = paired_dataset(cfg(paired_store), "train", reference=True)
    assert ds.image_keys == ("source", "target", "reference") and dataset_image_keys(ds) == ds.image_keys
    seen = set()
    for key in range(100):
        it = ds[key]
        i, j = int(it["index"]), int(it["reference_index"])
        assert i == key % 5 and j != i and blue(it["target"]) == 10 * i and blue(it["reference"]) == 10 * j
        assert (it["source"].int() + it["target"].int() - 255).abs().max() <= 2  # the pair keeps one geometry
        assert same_item(it, ds[key])
        seen.add((i, j))
    assert len(seen) == 20  # every ordered pair of distinct images
    message = r"p.h5: has 1 test pair\(s\), a reference from another pair needs at least two"
    with pytest.raises(DataError, match=message):
        paired_dataset(cfg(paired_store), "test", reference=True)
