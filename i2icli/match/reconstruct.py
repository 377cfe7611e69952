"""Warped exemplar W(x, r) from a matched cell field (SEGIN Eq. 2).

``kappa(W)_i := kappa(r)_{xi_i}``: every input cell i receives the exemplar's *pixel* patch at its match
xi_i, a (delta k) x (delta k) block with delta = image size / feature grid (4 at relu3_2).  The paper does
not say how the overlapping pixel patches of kappa^-1 are merged, so two modes (``shared/specs/segin.md``
Section 1):

* ``vote`` (default; Eq. 2 literally): each pixel p averages, over the <= k^2 cells c whose patch window
  holds p, the exemplar pixel ``r(p + delta (xi_c - c))``; samples that fall outside r are skipped (Deep Image
  Analogy's average voting).  Equivalently ``fold(selected pixel patches) / fold(valid masks)``.
* ``block``: ``W(p) = r(p + delta (xi_{c(p)} - c(p)))`` - each cell copies its own delta x delta block; sharper
  but blocky.

Both return r exactly on the identity field.  The field is stored in the warp cache and W is rebuilt at read
time (a few numpy gathers), so the mode and the Section III-B perturbations are not frozen into the cache.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from i2icli.errors import DataError

Mode = Literal["vote", "block"]
MODES = ("vote", "block")


def cell_size(image_hw: tuple[int, int], grid_hw: tuple[int, int]) -> int:
    """delta: pixels per feature cell; the image must be an exact multiple of the grid."""
    (h, w), (gh, gw) = image_hw, grid_hw
    if gh <= 0 or gw <= 0 or h % gh or w % gw or h // gh != w // gw:
        raise DataError(f"image size {h}x{w} is not a whole multiple of the feature grid {gh}x{gw}; "
                        "use a size divisible by the layer's stride (relu3_2: 4)")
    return h // gh


def _blocks(r: np.ndarray, delta: int) -> np.ndarray:
    """(H, W, C) -> (H/delta, W/delta, delta, delta, C) view of the exemplar's cell blocks."""
    hh, ww, c = r.shape
    return r.reshape(hh // delta, delta, ww // delta, delta, c).swapaxes(1, 2)


def reconstruct(r: np.ndarray, index: np.ndarray, delta: int, mode: Mode = "vote", patch: int = 3) -> np.ndarray:
    """W from exemplar ``r`` (H_r, W_r, C) and the flat cell field ``index`` (h, w) into r's grid of delta-pixel cells.

    The output has the input's size ``(h * delta, w * delta, C)`` and r's dtype (``vote`` rounds to nearest for
    uint8).  ``patch`` is the match's k (the vote window is k cells wide).
    """
    h, w = index.shape
    hr_px, wr_px = r.shape[:2]
    if hr_px % delta or wr_px % delta:
        raise DataError(f"exemplar size {hr_px}x{wr_px} is not a multiple of the cell size {delta}")
    gr_h, gr_w = hr_px // delta, wr_px // delta
    if index.size and (int(index.min()) < 0 or int(index.max()) >= gr_h * gr_w):
        raise DataError(f"match field points outside the exemplar's {gr_h}x{gr_w} grid (a cache for other images?)")
    rb = _blocks(r, delta).reshape(gr_h * gr_w, delta, delta, r.shape[2])
    iy, ix = np.divmod(index.astype(np.int64), gr_w)
    if mode == "block":
        out = rb[index.reshape(-1)].reshape(h, w, delta, delta, -1)
        return out.swapaxes(1, 2).reshape(h * delta, w * delta, -1)
    if mode != "vote":
        raise ValueError(f"unknown reconstruction mode {mode!r}; valid: {', '.join(MODES)}")
    acc = np.zeros((h, w, delta, delta, r.shape[2]), np.float32)
    cnt = np.zeros((h, w), np.float32)
    half = patch // 2
    qy, qx = np.mgrid[0:h, 0:w]
    for ey in range(-half, half + 1):
        for ex in range(-half, half + 1):
            cy, cx = qy + ey, qx + ex  # the cell c whose window holds the pixels of cell q
            ok = (cy >= 0) & (cy < h) & (cx >= 0) & (cx < w)
            cyc, cxc = np.clip(cy, 0, h - 1), np.clip(cx, 0, w - 1)
            sy, sx = iy[cyc, cxc] - ey, ix[cyc, cxc] - ex  # source cell in r: xi_c - e
            ok &= (sy >= 0) & (sy < gr_h) & (sx >= 0) & (sx < gr_w)
            src = np.where(ok, sy * gr_w + sx, 0)
            acc += rb[src] * ok[..., None, None, None]
            cnt += ok
    out = acc / cnt[..., None, None, None]  # cnt >= 1: e = 0 is always valid
    out = out.swapaxes(1, 2).reshape(h * delta, w * delta, -1)
    if r.dtype == np.uint8:
        return np.rint(out).astype(np.uint8)
    return out.astype(r.dtype)


def identity_field(h: int, w: int) -> np.ndarray:
    """xi_i = i: the field for which W = r."""
    return np.arange(h * w, dtype=np.int64).reshape(h, w)
