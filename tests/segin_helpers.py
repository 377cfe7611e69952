"""Tiny paired stores (sketch -> photo) for the matcher, the warp cache and SEGIN tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from i2icli.data.store import StoreWriter
from i2icli.prepare.sketch import xdog


def blob_image(rng: np.random.Generator, size: int) -> np.ndarray:
    """A white background with 2-3 coloured discs: a stand-in for a product photo."""
    yy, xx = np.mgrid[0:size, 0:size]
    img = np.full((size, size, 3), 255, np.uint8)
    for _ in range(int(rng.integers(2, 4))):
        cy, cx = rng.integers(size // 5, 4 * size // 5, size=2)
        rad = rng.integers(size // 8, size // 3)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < rad * rad] = rng.integers(0, 200, size=3)
    return img


def paired_store(path: Path, n_train: int = 6, n_test: int = 3, size: int = 32, seed: int = 0,
                 fg_mask: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    with StoreWriter(path, image_size=(size, size), producer="tests", paired=True,
                     mask_names=("foreground",) if fg_mask else ()) as w:
        for split, n in (("train", n_train), ("test", n_test)):
            for i in range(n):
                img = blob_image(rng, size)
                kw = {}
                if fg_mask:
                    kw["masks"] = (np.where(img.min(axis=2) < 240, 255, 0).astype(np.uint8))[None]
                w.add(split, img, f"{split}{i}.png", source=xdog(img), **kw)
    return path
