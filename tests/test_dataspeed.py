"""Training-time data throughput: the fast paths return exactly what the plain ones do.

(Speed itself is measured by benchmarks/bench_data.py, never asserted here.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from i2icli.data.keyed import image_bytes
from i2icli.data.store import StoreWriter, open_store
from i2icli.data.synthetic import faces as FA
from i2icli.data.transforms import train_augment


@pytest.mark.parametrize("compression", [None, "lzf"])
def test_store_reads_match_h5py(tmp_path, compression):
    import h5py

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (9, 12, 10, 3), dtype=np.uint8)
    masks = (rng.random((9, 2, 12, 10)) < 0.5).astype(np.uint8) * 255
    path = tmp_path / "s.h5"
    with StoreWriter(path, image_size=(12, 10), mask_names=("m0", "m1"), producer="t", compression=compression) as w:
        for i in range(9):
            w.add("train", images[i], str(i), masks=masks[i])
    store = open_store(path)
    assert store._dataset("train/images").direct is (compression is None)  # lzf / masks: filtered, ds[i]
    assert not store._dataset("train/masks").direct
    for i in (0, 4, 8, -1):
        image = store.image("train", i)
        assert image.dtype == np.uint8 and image.shape == (12, 10, 3) and image.flags.writeable
        assert np.array_equal(image, images[i]) and np.array_equal(store.masks("train", i), masks[i])
    with h5py.File(path, "r") as f:
        assert np.array_equal(store.image("train", 3), f["train/images"][3])
    with pytest.raises(IndexError):
        store.image("train", 9)


def test_image_bytes_of_views_is_contiguous_chw():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    views = [train_augment([a], np.random.default_rng(k), 20, 16, True)[0] for k in range(40)]
    assert not any(v.flags.owndata for v in views)  # crops and flips are views: image_bytes makes the one copy
    flipped = {v.strides[1] < 0 for v in views}
    assert flipped == {False, True}
    for view in views[:6]:
        t = image_bytes(view)
        assert t.dtype == torch.uint8 and t.shape == (3, 16, 16) and t.is_contiguous()
        assert torch.equal(t, torch.from_numpy(np.array(view)).permute(2, 0, 1))
    ro = a.copy()
    ro.flags.writeable = False  # PIL-decoded arrays are read-only
    assert torch.equal(image_bytes(ro), torch.from_numpy(a).permute(2, 0, 1))


def test_one_pass_masks_equal_rendering_the_potential_face_separately():
    p = FA.sample_params(12, np.random.default_rng(3))
    images, masks = FA.render_with_masks(p, 64)
    seen_images, seen = FA.render(p, 64, influence=True)
    full = dict(p)
    for key in ("goatee", "mustache", "makeup", "lipstick"):
        full[key] = np.ones_like(p[key])
    full["smiling"] = ~p["smiling"]
    _, potential = FA.render(full, 64, influence=True)
    assert np.array_equal(images, seen_images)
    for j, a in enumerate(FA.ATTRIBUTES):
        expected = (np.maximum(seen[a], potential[a]) > 1e-3).astype(np.uint8) * 255
        assert np.array_equal(masks[:, j], expected), a
    assert masks[:, FA.ATTRIBUTES.index("Goatee")].any(axis=(1, 2)).all()  # where a goatee would be, on every face
