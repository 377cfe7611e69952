"""Self-supervised warp perturbations (SEGIN Section III-B1, Fig. 4).

Training warps W(x, y) are built with the *paired ground truth* y as the exemplar, so the matcher sees a far
better reference than it will at test time (another image).  The paper therefore post-processes the match
with "patches shifting, patterns repeating, and random matches with a certain possibility" (inspired by
SIMS) and the introduction adds "adding noise"; no parameters are given and Fig. 4's text is missing.  Our
choices (``shared/specs/segin.md`` Section 1), at a 64-cell grid and scaled with the grid's side:

* shift  (p = 0.5): 1-4 rectangles of 8-32 cells, their matches moved by a random (+-1..8, +-1..8), clamped;
* repeat (p = 0.3): the matches of a 4-16-cell rectangle tiled over an 8-32-cell rectangle;
* random (p = 0.5): smooth blobs covering 0-30 % of the cells get a uniformly random match, or a stored
  top-k alternative when the cache has one;
* noise  (p = 0.5): on the reconstructed W, gain U(0.9, 1.1), bias U(-10, 10)/255, Gaussian noise with a
  standard deviation U(0, 8)/255.

They act on the cell field before :func:`~i2icli.match.reconstruct.reconstruct` (noise after it), and every
draw comes from the item's keyed RNG, so a resumed run sees the same warps and the cache stays unperturbed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PerturbConfig:
    """Probabilities of each perturbation; ``enabled=False`` turns them all off."""

    enabled: bool = True
    shift: float = 0.5
    repeat: float = 0.3
    random: float = 0.5
    noise: float = 0.5
    random_max_fraction: float = 0.3
    noise_sigma: float = 8.0 / 255


def _scaled(cells: int, grid: int) -> int:
    return max(1, round(cells * grid / 64))


def _rect(rng: np.random.Generator, h: int, w: int, lo: int, hi: int) -> tuple[int, int, int, int]:
    """A random rectangle (y0, x0, rh, rw) with sides in [lo, hi] cells (scaled to the grid), inside h x w."""
    rh = int(rng.integers(min(_scaled(lo, h), h), min(_scaled(hi, h), h) + 1))
    rw = int(rng.integers(min(_scaled(lo, w), w), min(_scaled(hi, w), w) + 1))
    return int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1)), rh, rw


def _smooth_blobs(rng: np.random.Generator, h: int, w: int, fraction: float) -> np.ndarray:
    """Boolean (h, w) mask of about ``fraction`` of the cells: thresholded bilinear-upsampled coarse noise."""
    ch, cw = max(2, h // 8), max(2, w // 8)
    coarse = rng.standard_normal((ch, cw))
    ys, xs = np.linspace(0, ch - 1, h), np.linspace(0, cw - 1, w)
    rows = np.stack([np.interp(xs, np.arange(cw), coarse[i]) for i in range(ch)])  # (ch, w)
    field = np.stack([np.interp(ys, np.arange(ch), rows[:, j]) for j in range(w)], axis=1)  # (h, w)
    if fraction <= 0:
        return np.zeros((h, w), bool)
    return field >= np.quantile(field, 1.0 - fraction)


def perturb_field(index: np.ndarray, exemplar_grid: tuple[int, int], rng: np.random.Generator,
                  cfg: PerturbConfig = PerturbConfig(), topk: np.ndarray | None = None) -> np.ndarray:
    """A perturbed copy of the flat match field ``index`` (h, w) into an exemplar grid ``(gh, gw)``.

    ``topk`` (h, w, K), when given, supplies the alternatives for the random matches.  The draws happen in a
    fixed order whether or not a perturbation fires, so one flag does not shift the others' random streams.
    """
    gh, gw = exemplar_grid
    h, w = index.shape
    ys, xs = np.divmod(index.astype(np.int64), gw)
    u = rng.random(4)
    if not cfg.enabled:
        return index.astype(np.int64).copy()
    if u[0] < cfg.shift:
        for _ in range(int(rng.integers(1, 5))):
            y0, x0, rh, rw = _rect(rng, h, w, 8, 32)
            sy, sx = (rng.integers(1, _scaled(8, min(gh, gw)) + 1, size=2) * rng.choice([-1, 1], size=2))
            ys[y0:y0 + rh, x0:x0 + rw] = np.clip(ys[y0:y0 + rh, x0:x0 + rw] + sy, 0, gh - 1)
            xs[y0:y0 + rh, x0:x0 + rw] = np.clip(xs[y0:y0 + rh, x0:x0 + rw] + sx, 0, gw - 1)
    if u[1] < cfg.repeat:
        ty, tx, th, tw = _rect(rng, h, w, 4, 16)
        y0, x0, rh, rw = _rect(rng, h, w, 8, 32)
        tile_y, tile_x = ys[ty:ty + th, tx:tx + tw].copy(), xs[ty:ty + th, tx:tx + tw].copy()
        ry, rx = np.arange(rh) % th, np.arange(rw) % tw
        ys[y0:y0 + rh, x0:x0 + rw] = tile_y[np.ix_(ry, rx)]
        xs[y0:y0 + rh, x0:x0 + rw] = tile_x[np.ix_(ry, rx)]
    out = ys * gw + xs
    if u[2] < cfg.random:
        blob = _smooth_blobs(rng, h, w, float(rng.uniform(0, cfg.random_max_fraction)))
        n = int(blob.sum())
        if topk is not None and topk.shape[-1] > 1 and rng.random() < 0.5:
            pick = rng.integers(1, topk.shape[-1], size=n)
            out[blob] = topk[blob][np.arange(n), pick]
        else:
            out[blob] = rng.integers(0, gh * gw, size=n)
    return out


def perturb_warp(warp: np.ndarray, rng: np.random.Generator, cfg: PerturbConfig = PerturbConfig()) -> np.ndarray:
    """Gain, bias and Gaussian noise on a uint8 warp (the "adding noise" of the introduction)."""
    u = rng.random()
    gain, bias, sigma = rng.uniform(0.9, 1.1), rng.uniform(-10, 10) / 255, rng.uniform(0, cfg.noise_sigma)
    if not cfg.enabled or u >= cfg.noise:
        return warp
    x = warp.astype(np.float32) / 255.0
    x = x * gain + bias + rng.standard_normal(x.shape).astype(np.float32) * sigma
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)
