"""Synthetic coloured digits: MNIST-Single and MNIST-Multiple of EGSC-IT (Ma et al., ICLR 2019, Section 4).

Digit shapes
------------
Real handwriting, no download: scikit-learn ships the UCI "optical recognition
of handwritten digits" set inside its wheel (``sklearn.datasets.load_digits``:
1,797 digits written by 43 people, 8x8, 17 grey levels).  Each 8x8 digit is
resampled to the output size with bicubic interpolation through a random
affine warp (rotation +-12 deg, scale 0.85-1.1, shear +-0.15, shift +-8 %) plus a
smooth elastic displacement field (Simard et al. 2003 style, 4x4 control grid),
and turned into a stroke mask with a soft threshold.  So every image is a new
handwritten-looking digit while train and test never share a source shape
(sources with ``index % 5 == 0`` are test-only).  We chose this over rendering
font glyphs because the shapes are genuinely handwritten and need no font files.

MNIST-Single (``layout="single"``)
-----------------------------------
Section 4, "Single-digit translation": domain A (train and test): foreground
and background randomly black or white, different from each other.  Domain B
train: digits 0-4 get foreground and background from {red, green, blue}
(different); digits 5-9 are fixed red on green.  Domain B test: all digits get
random, different colours from {red, green, blue}.

MNIST-Multiple (``layout="multi"``)
------------------------------------
Section 4, "Multi-digit translation": all ten digits placed at random in a 4x4
grid.  Domain A: black/white foreground/background as above.  Domain B:
background randomly black or white, each digit class has its own colour with a
small saturation and lightness perturbation.  The paper does not list the
class colours; we use ten hues evenly spaced on the HLS circle (lightness 0.5,
saturation 0.85) and perturb lightness by U(-0.08, 0.08) and saturation by
U(-0.12, 0.12) per digit instance.

Sizes
-----
The paper does not state its image size.  We default to 32 px for single
digits (MNIST's 28 px rounded up to a size the networks' stride-2 stages
divide) and 64 px for the 4x4 grid (16 px cells); ``--size`` changes both.

Ground truth (Table 2)
----------------------
For test pair k (x_A = A image k, exemplar x_B = B image k) the generator also
returns x_AB (A's digit shapes in B's colours: background colour, and per class
the exemplar's colour of that class) and x_BA (B's shapes in A's colours), so
SSIM against ground truth is computed exactly as in the paper.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

BLACK, WHITE = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
RGB = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))  # red, green, blue


@lru_cache(maxsize=1)
def handwritten_digits() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 10, 10) float32 digits in [0, 1] (8x8 with a 1-pixel blank border) and their classes."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.pad(d.images.astype(np.float32) / 16.0, ((0, 0), (1, 1), (1, 1)))
    return images, d.target.astype(np.int64)


def source_indices(split: str) -> dict[int, np.ndarray]:
    """Per class, the indices of source shapes usable for ``split`` (test: index % 5 == 0)."""
    _, classes = handwritten_digits()
    idx = np.arange(len(classes))
    keep = idx % 5 == 0 if split == "test" else idx % 5 != 0
    return {c: idx[keep & (classes == c)] for c in range(10)}


def warp_masks(sources: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Randomly warped, thresholded stroke masks (B, size, size) float32 in [0, 1] from (B, 10, 10) digits."""
    b = len(sources)
    if b == 0:
        return np.zeros((0, size, size), np.float32)
    angle = rng.uniform(-12, 12, b) * np.pi / 180
    scale = rng.uniform(0.85, 1.1, b)
    shear = rng.uniform(-0.15, 0.15, b)
    shift = rng.uniform(-0.08, 0.08, (b, 2))
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # output coords -> source coords (grid_sample convention: x right, y down in [-1, 1])
    theta = np.zeros((b, 2, 3), np.float32)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = cos, -sin + shear, shift[:, 0]
    theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = sin, cos, shift[:, 1]
    grid = F.affine_grid(torch.from_numpy(theta), [b, 1, size, size], align_corners=False)
    elastic = torch.from_numpy(rng.normal(0, 0.05, (b, 2, 4, 4)).astype(np.float32))
    grid = grid + F.interpolate(elastic, size=(size, size), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    src = torch.from_numpy(np.ascontiguousarray(sources, dtype=np.float32))[:, None]
    v = F.grid_sample(src, grid, mode="bicubic", padding_mode="zeros", align_corners=False)[:, 0]
    # soft threshold (smoothstep between 0.25 and 0.55): pen strokes with anti-aliased edges,
    # exactly 0 on the background and exactly 1 inside strokes
    m = ((v - 0.25) / 0.3).clamp_(0, 1)
    return (m * m * (3 - 2 * m)).numpy()


def make_styles(domain: str, split: str, layout: str, first_class: np.ndarray, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """Colours by the EGSC-IT rule: background (B, 3) and per-class foreground (B, 10, 3), RGB in [0, 1].

    ``first_class`` (B,) is the digit of a single-digit image (it decides the
    fixed red-on-green colours of train digits 5-9 in domain B).
    """
    b = len(first_class)
    bw = np.array([BLACK, WHITE], np.float32)
    rgb = np.array(RGB, np.float32)
    if domain == "a":
        fg_white = rng.random(b) < 0.5  # foreground white on black, or black on white
        return bw[(~fg_white).astype(int)], np.repeat(bw[fg_white.astype(int)][:, None], 10, axis=1)
    if layout == "multi":
        bg = bw[(rng.random(b) < 0.5).astype(int)]
        light = 0.5 + rng.uniform(-0.08, 0.08, (b, 10))
        sat = 0.85 + rng.uniform(-0.12, 0.12, (b, 10))
        fg = np.array([[colorsys.hls_to_rgb(c / 10.0, light[i, c], sat[i, c]) for c in range(10)] for i in range(b)],
                      np.float32)
        return bg, fg
    pairs = np.array([(f, g) for f in range(3) for g in range(3) if f != g])  # (fg, bg), different
    choice = pairs[rng.integers(0, len(pairs), b)]
    if split == "train":
        fixed = np.asarray(first_class) >= 5
        choice[fixed] = (0, 1)  # red on green
    return rgb[choice[:, 1]], np.repeat(rgb[choice[:, 0]][:, None], 10, axis=1)


def render(masks: np.ndarray, classes: np.ndarray, background: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """(B, S, S, 3) uint8 from stroke masks (B, K, S, S), their classes (B, K) and colours.

    Ground truth uses this directly: A's masks with B's colours is x_AB.
    """
    colour = np.take_along_axis(foreground, classes[:, :, None], axis=1)  # (B, K, 3)
    total = np.clip(masks.sum(1), 0, 1)[..., None]  # (B, S, S, 1)
    img = background[:, None, None, :] * (1 - total) + np.einsum("bkhw,bkc->bhwc", masks, colour)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def make_shapes(split: str, layout: str, size: int, count: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` digit geometries: masks (B, K, S, S) float32 and classes (B, K).

    ``single``: K = 1, one centred digit.  ``multi``: K = 10, every class once,
    each in a random cell of a 4x4 grid (cells of ``size // 4`` pixels).
    """
    images, _ = handwritten_digits()
    pools = source_indices(split)

    def pick(classes: np.ndarray) -> np.ndarray:
        out = np.empty(classes.shape, np.int64)
        for c in range(10):
            sel = classes == c
            out[sel] = pools[c][rng.integers(0, len(pools[c]), int(sel.sum()))]
        return out

    if layout == "single":
        classes = rng.integers(0, 10, (count, 1))
        masks = warp_masks(images[pick(classes[:, 0])], size, rng)[:, None]
        return masks, classes
    if layout != "multi":
        raise ValueError(f"unknown layout {layout!r}")
    cell = size // 4
    classes = np.tile(np.arange(10), (count, 1))
    small = warp_masks(images[pick(classes.reshape(-1))], cell, rng).reshape(count, 10, cell, cell)
    masks = np.zeros((count, 10, size, size), np.float32)
    for k in range(count):
        for c, pos in enumerate(rng.permutation(16)[:10]):
            r, col = divmod(int(pos), 4)
            masks[k, c, r * cell:(r + 1) * cell, col * cell:(col + 1) * cell] = small[k, c]
    return masks, classes
