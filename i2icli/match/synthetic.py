"""Image pairs with known correspondences, for the matcher's correspondence benchmark (no ImageNet weights needed).

Semantic quality needs ImageNet VGG and real data, which this machine lacks, so the matcher is judged where
the right answer is known: an exemplar r = T(x) made from x by a transform whose cell correspondence xi* is
known (``shared/specs/segin.md`` Section 5.3).  Content is a patchwork of unique local patches: a Voronoi
diagram of ~40 seeds, each cell a random colour with random-angle stripes of period 6-20 px, plus noise of
3/255, so no two 40-px windows look alike.

Transforms: ``roll`` (T1, shifts by multiples of the 4-px cell), ``jigsaw`` (T2, 64-px tiles permuted),
``small_shift`` (T3, 1-3 px), ``affine`` (T4, rotation +-15 deg and scale 0.8-1.25 about the centre),
``colour`` (T5, T1 plus gamma, hue and noise) and ``sketch`` (T6, x = XDoG(img), r = T1(img)).

A cell is *valid* when the pixels its k x k feature patch depends on (``window``: offsets ``lo..hi`` around
``cell * 4``) lie inside both images and inside one piece of the transform (no roll seam, no tile edge).
On valid cells of T1/T2 any translation-equivariant feature (VGG away from its zero padding, space-to-depth)
gives identical patches, so an exact matcher must score 100 % there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELL = 4
TRANSFORMS = ("roll", "jigsaw", "small_shift", "affine", "colour", "sketch")


def vgg_relu3_2_window(patch: int = 3) -> tuple[int, int]:
    """Pixel offsets (lo, hi) around ``4c`` that a k x k patch of relu3_2 cells reads: one unit sees
    ``[4c - 14, 4c + 17]`` (3x3 convs with padding 1, two 2x2 pools), a patch ``4 * (k // 2)`` more each side."""
    h = patch // 2
    return -14 - CELL * h, 17 + CELL * h


def space_to_depth_window(patch: int = 3) -> tuple[int, int]:
    h = patch // 2
    return -CELL * h, CELL - 1 + CELL * h


def patchwork(size: int, rng: np.random.Generator, seeds: int = 40) -> np.ndarray:
    """The deterministic (given ``rng``) Voronoi patchwork of stripes, (size, size, 3) uint8."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    pts = rng.uniform(0, size, (seeds, 2)).astype(np.float32)
    d = (yy[None] - pts[:, 0, None, None]) ** 2 + (xx[None] - pts[:, 1, None, None]) ** 2
    label = d.argmin(0)
    img = np.zeros((size, size, 3), np.float32)
    for s in range(seeds):
        m = label == s
        base, other = rng.uniform(0.1, 0.9, 3), rng.uniform(0.1, 0.9, 3)
        ang, period = rng.uniform(0, np.pi), rng.uniform(6, 20)
        phase = (np.cos(ang) * xx[m] + np.sin(ang) * yy[m]) * 2 * np.pi / period
        t = (0.5 + 0.5 * np.sin(phase))[:, None]
        img[m] = base * t + other * (1 - t)
    img += rng.normal(0, 3 / 255, img.shape).astype(np.float32)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Pair:
    """x, r = T(x), the true cell field ``truth`` (h, w) flat into r's grid, and ``valid`` (h, w)."""

    x: np.ndarray
    r: np.ndarray
    truth: np.ndarray
    valid: np.ndarray
    name: str


def _inside(c: np.ndarray, n_px: int, window: tuple[int, int], lo_px: int = 0) -> np.ndarray:
    """Cells whose window lies in [lo_px, lo_px + n_px)."""
    lo, hi = window
    return (CELL * c + lo >= lo_px) & (CELL * c + hi <= lo_px + n_px - 1)


def _roll(x: np.ndarray, dy: int, dx: int, window: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """r = x shifted by (dy, dx) px (circular); truth for multiples of the cell (rounded otherwise)."""
    s = x.shape[0]
    g = s // CELL
    r = np.roll(x, (dy, dx), axis=(0, 1))
    iy, ix = np.mgrid[0:g, 0:g]
    ty, tx = iy + round(dy / CELL), ix + round(dx / CELL)
    ok = (ty >= 0) & (ty < g) & (tx >= 0) & (tx < g)
    lo, hi = window
    # the x window shifted by (dy, dx) must not wrap, and both windows must avoid the image border
    ok &= _inside(iy, s, window) & _inside(ix, s, window)
    ok &= (CELL * iy + lo + dy >= 0) & (CELL * iy + hi + dy <= s - 1)
    ok &= (CELL * ix + lo + dx >= 0) & (CELL * ix + hi + dx <= s - 1)
    truth = np.clip(ty, 0, g - 1) * g + np.clip(tx, 0, g - 1)
    return r, truth, ok


def make_pair(kind: str, size: int, rng: np.random.Generator, window: tuple[int, int]) -> Pair:
    """One pair of transform ``kind`` (see :data:`TRANSFORMS`)."""
    from i2icli.prepare.sketch import xdog

    img = patchwork(size, rng)
    g = size // CELL
    if kind in ("roll", "colour", "sketch"):
        a, b = rng.integers(-g // 4, g // 4 + 1, size=2)
        r, truth, ok = _roll(img, CELL * int(a), CELL * int(b), window)
        x = img
        if kind == "colour":
            r = _colour(r, rng)
        if kind == "sketch":
            x = xdog(img)
        return Pair(x, r, truth, ok, kind)
    if kind == "small_shift":
        dy, dx = (rng.integers(1, 4, size=2) * rng.choice([-1, 1], size=2)).tolist()
        r, truth, ok = _roll(img, int(dy), int(dx), window)
        return Pair(img, r, truth, ok, kind)
    if kind == "jigsaw":
        tile = 64 if size >= 128 else size // 2
        n = size // tile
        perm = rng.permutation(n * n)
        r = np.empty_like(img)
        tc = tile // CELL
        truth = np.zeros((g, g), np.int64)
        for t in range(n * n):
            ty, tx = divmod(t, n)
            py, px = divmod(int(perm[t]), n)
            r[py * tile:(py + 1) * tile, px * tile:(px + 1) * tile] = img[ty * tile:(ty + 1) * tile,
                                                                          tx * tile:(tx + 1) * tile]
            oy, ox = np.mgrid[0:tc, 0:tc]
            truth[ty * tc:(ty + 1) * tc, tx * tc:(tx + 1) * tc] = (py * tc + oy) * g + px * tc + ox
        o = np.arange(g) % tc
        ok1 = _inside(o, tile, window)
        return Pair(img, r, truth, ok1[:, None] & ok1[None, :], kind)
    if kind == "affine":
        from scipy.ndimage import map_coordinates

        ang = np.deg2rad(rng.uniform(-15, 15))
        sc = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
        a = sc * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        c = (size - 1) / 2
        qy, qx = np.mgrid[0:size, 0:size].astype(np.float64)
        inv = np.linalg.inv(a)
        py = inv[0, 0] * (qy - c) + inv[0, 1] * (qx - c) + c
        px = inv[1, 0] * (qy - c) + inv[1, 1] * (qx - c) + c
        r = np.stack([map_coordinates(img[..., k].astype(np.float32), [py, px], order=1, mode="constant", cval=255)
                      for k in range(3)], -1)
        r = np.clip(np.rint(r), 0, 255).astype(np.uint8)
        iy, ix = np.mgrid[0:g, 0:g]
        cy, cx = CELL * iy + 1.5, CELL * ix + 1.5
        my = a[0, 0] * (cy - c) + a[0, 1] * (cx - c) + c
        mx = a[1, 0] * (cy - c) + a[1, 1] * (cx - c) + c
        ty, tx = np.rint((my - 1.5) / CELL).astype(int), np.rint((mx - 1.5) / CELL).astype(int)
        lo, hi = window
        ok = _inside(iy, size, window) & _inside(ix, size, window)
        for oy in (lo, hi):  # the mapped window's corners must land inside r
            for ox in (lo, hi):
                yy = a[0, 0] * (CELL * iy + oy - c) + a[0, 1] * (CELL * ix + ox - c) + c
                xx = a[1, 0] * (CELL * iy + oy - c) + a[1, 1] * (CELL * ix + ox - c) + c
                ok &= (yy >= 0) & (yy <= size - 1) & (xx >= 0) & (xx <= size - 1)
        ok &= (ty >= 0) & (ty < g) & (tx >= 0) & (tx < g)
        truth = np.clip(ty, 0, g - 1) * g + np.clip(tx, 0, g - 1)
        return Pair(img, r, truth, ok, kind)
    raise ValueError(f"unknown transform {kind!r}; valid: {', '.join(TRANSFORMS)}")


def _colour(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from skimage.color import hsv2rgb, rgb2hsv

    x = img.astype(np.float32) / 255
    x = x ** rng.uniform(0.7, 1.4)
    hsv = rgb2hsv(x)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-20, 20) / 360) % 1.0
    x = hsv2rgb(hsv) + rng.normal(0, 3 / 255, x.shape)
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def lab_space_to_depth(images: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) uint8 -> (B, 48, H/4, W/4) float32: CIE Lab of each 4 x 4 cell stacked as channels, shifted to
    be non-negative (L in [0, 100], a and b + 128) - a translation-equivariant, weight-free feature."""
    from skimage.color import rgb2lab

    out = []
    for im in images:
        lab = rgb2lab(im).astype(np.float32) + np.array([0, 128, 128], np.float32)
        h, w = lab.shape[0] // CELL, lab.shape[1] // CELL
        t = lab[:h * CELL, :w * CELL].reshape(h, CELL, w, CELL, 3).transpose(1, 3, 4, 0, 2).reshape(48, h, w)
        out.append(t)
    return np.stack(out)


def correspondence_metrics(index: np.ndarray, score: np.ndarray, pair: Pair, grid_w: int) -> dict[str, float]:
    """exact@0, within one cell, end-point error (cells) and mean best cosine over the valid cells."""
    v = pair.valid
    if not v.any():
        return {"valid": 0, "exact": float("nan"), "within1": float("nan"), "epe": float("nan"), "cos": float("nan")}
    py, px = np.divmod(index[v], grid_w)
    ty, tx = np.divmod(pair.truth[v], grid_w)
    dist = np.hypot(py - ty, px - tx)
    return {"valid": int(v.sum()), "exact": float((dist == 0).mean()),
            "within1": float((np.maximum(abs(py - ty), abs(px - tx)) <= 1).mean()), "epe": float(dist.mean()),
            "cos": float(score[v].mean())}
