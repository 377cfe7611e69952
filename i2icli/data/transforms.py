"""Image transforms for training datasets, on (H, W, C) uint8 arrays.

Randomness is always passed in as a NumPy generator (from
:func:`i2icli.data.keyed.keyed_rng`), and several arrays can share one draw so
paired data (sketch, photo) gets the same crop and flip.

Resizing uses PIL's bilinear filter with antialiasing on downscale, the filter
torchvision's ``Resize`` uses by default, which is what the U-GAT-IT, StarGAN
and pix2pix reference loaders apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image


def resize(array: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an (H, W, 3) or (H, W) uint8 array to ``size`` (square int or (H, W))."""
    h, w = (size, size) if isinstance(size, int) else size
    if array.shape[:2] == (h, w):
        return array
    return np.array(Image.fromarray(array).resize((w, h), Image.Resampling.BILINEAR))


def center_crop(array: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` window (the whole image if it is smaller)."""
    h, w = array.shape[:2]
    size_h, size_w = min(size, h), min(size, w)
    top, left = (h - size_h) // 2, (w - size_w) // 2
    return array[top:top + size_h, left:left + size_w]


def square_resize(array: np.ndarray, size: int) -> np.ndarray:
    """Center-crop to a square (the shorter side), then resize to ``size``."""
    return resize(center_crop(array, min(array.shape[:2])), size)


def train_augment(arrays: Sequence[np.ndarray], rng: np.random.Generator, load_size: int, crop_size: int,
                  flip: bool) -> list[np.ndarray]:
    """Resize to ``load_size``, one random ``crop_size`` crop and (p = 0.5) one horizontal flip for all arrays.

    U-GAT-IT App. B.2 (and CycleGAN/pix2pix): resize 286, random crop 256, flip.
    When ``load_size <= crop_size`` the image is resized straight to ``crop_size``.
    Crop and flip are *views* (no copy): :func:`i2icli.data.keyed.image_bytes`
    makes the one copy, into the tensor layout.
    """
    load = max(load_size, crop_size)
    top = int(rng.integers(0, load - crop_size + 1))
    left = int(rng.integers(0, load - crop_size + 1))
    mirror = bool(flip) and bool(rng.random() < 0.5)
    out = []
    for a in arrays:
        a = resize(a, load)[top:top + crop_size, left:left + crop_size]
        out.append(a[:, ::-1] if mirror else a)
    return out


def test_transform(arrays: Sequence[np.ndarray], size: int) -> list[np.ndarray]:
    """Deterministic: resize to ``size``, no augmentation (arrays already that size come back as they are)."""
    return [resize(a, size) for a in arrays]
