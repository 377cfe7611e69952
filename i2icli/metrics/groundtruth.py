"""Scores of exemplar-guided translations against a synthetic store's exact answers.

``i2i prepare synthetic faces`` stores held-out (input, exemplar) pairs with
the exact translation (``store.truth``) and the region where it may differ
from the input (``store.region``).  For local translation (LOMIT, the hair
colour of the exemplar on the input) that gives what the paper can only show
in pictures:

- ``bg_psnr`` / ``bg_ssim``: background preservation, PSNR over the pixels
  outside the region and the SSIM map averaged there
  (:func:`i2icli.metrics.ssim.ssim_pair`);
- ``hair_err``: mean absolute difference to the truth inside the region, on
  the 0-255 scale (for the identity, output = input, it is the size of the
  edit);
- ``ssim``: SSIM of the whole image;
- with a predicted input mask: ``iou`` (mask > 0.5 against the region),
  ``mask_mean``, and ``bg_psnr_kept`` / ``hair_err_kept``, the same scores of
  the translation pasted over the input outside the mask, as
  ``i2i translate --keep-background`` does (``m y + (1 - m) x``);
- over a whole run, ``iou_avg_mask``: the IoU that one fixed mask, the
  average of the predicted masks over all inputs, scores against each input's
  region.  A mask that follows each image scores clearly above it; a mask
  that is a position prior (the same place whatever the face) scores about
  the same as ``iou``.

Used by ``benchmarks/bench_lomit_quality.py`` and by the test that checks the
demo's shipped checkpoint (tests/test_shipped_checkpoint.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from i2icli.data.store import Store
from i2icli.data.transforms import resize
from i2icli.errors import DataError
from i2icli.guidance import Guidance
from i2icli.images import to_tensor, to_uint8
from i2icli.metrics.ssim import ssim_pair
from i2icli.translate import LoadedRun

HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair")


def pairs_changing_only(store: Store, attributes: Sequence[str] = HAIR) -> list[int]:
    """Indices of the store's test pairs whose chosen attributes are among ``attributes`` only."""
    pairs = store.pairs("test")
    if pairs is None or pairs.chosen is None:
        raise DataError(f"{store.path}: has no ground-truth test pairs; prepare it with `i2i prepare synthetic faces`")
    cols = [store.attributes.index(a) for a in attributes]
    other = [j for j in range(len(store.attributes)) if j not in cols]
    chosen = pairs.chosen.astype(bool)
    keep = chosen[:, cols].any(1) & ~chosen[:, other].any(1)
    return [int(k) for k in np.flatnonzero(keep)]


def score_pair(out: np.ndarray, truth: np.ndarray, x: np.ndarray, region: np.ndarray,
               mask: np.ndarray | None) -> dict[str, float]:
    """Scores of one translation ``out`` of input ``x`` (uint8 HxWx3) against ``truth`` and its bool ``region``."""
    def bg_psnr(y: np.ndarray) -> float:
        if not (~region).any():
            return float("inf")
        diff = y[~region].astype(np.float64) - truth[~region].astype(np.float64)
        return float(10 * np.log10(255.0 ** 2 / max(float(np.mean(diff ** 2)), 1e-10)))

    def region_err(y: np.ndarray) -> float:
        if not region.any():
            return 0.0
        return float(np.abs(y[region].astype(np.float64) - truth[region].astype(np.float64)).mean())

    r = {"ssim": ssim_pair(out, truth), "bg_ssim": ssim_pair(out, truth, region, region="outside"),
         "bg_psnr": bg_psnr(out), "hair_err": region_err(out)}
    if mask is not None:
        pred = mask > 0.5
        union = (pred | region).sum()
        r["iou"] = float((pred & region).sum() / union) if union else 1.0
        r["mask_mean"] = float(mask.mean())
        m = mask[..., None].astype(np.float64)
        kept = np.clip(np.rint(m * out + (1 - m) * x), 0, 255).astype(np.uint8)
        r["bg_psnr_kept"] = bg_psnr(kept)
        r["hair_err_kept"] = region_err(kept)
    return r


def score_exemplar_run(loaded: LoadedRun | None, store: Store, pairs: Sequence[int], size: int,
                       batch: int = 32) -> dict[str, float]:
    """Mean :func:`score_pair` over test ``pairs`` at ``size`` px; ``loaded = None`` scores the identity."""
    p = store.pairs("test")
    if p is None:
        raise DataError(f"{store.path}: has no ground-truth test pairs; prepare it with `i2i prepare synthetic faces`")
    rows: list[dict[str, float]] = []
    all_masks: list[np.ndarray] = []
    all_regions: list[np.ndarray] = []
    for start in range(0, len(pairs), batch):
        ks = pairs[start:start + batch]
        xs = [resize(store.image("test", int(p.input[k])), size) for k in ks]
        es = [resize(store.image("test", int(p.exemplar[k])), size) for k in ks]
        truths = [resize(store.truth("test", k), size) for k in ks]
        regions = [resize(store.region("test", k), size) > 127 for k in ks]
        if loaded is None:
            outs: list[np.ndarray] = xs
            masks: list[np.ndarray | None] = [None] * len(ks)
        else:
            x = torch.stack([to_tensor(a) for a in xs]).to(loaded.device)
            e = torch.stack([to_tensor(a) for a in es]).to(loaded.device)
            with torch.no_grad():
                r = loaded.family.translate(x, Guidance(exemplar=e))
            outs = [to_uint8(t) for t in r["output"].float().cpu()]
            masks = [m[0].numpy() for m in r["mask_input"].float().cpu()] if "mask_input" in r else [None] * len(ks)
        rows += [score_pair(o, t, a, g, m) for o, t, a, g, m in zip(outs, truths, xs, regions, masks, strict=True)]
        all_masks += [m for m in masks if m is not None]
        all_regions += regions
    if not rows:
        raise DataError(f"{store.path}: no test pairs to score")
    scores = {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}
    if all_masks:
        scores["iou_avg_mask"] = average_mask_iou(np.stack(all_masks), np.stack(all_regions))
    return scores


def best_fixed_mask_iou(store: Store, pairs: Sequence[int], size: int) -> float:
    """The IoU a position prior can reach: one fixed mask, the pixels inside at least half of the pairs' regions.

    Thresholding the per-pixel frequency at 1/2 is the fixed mask that agrees
    with the most regions pixel by pixel; a predicted mask has to beat this to
    show that it follows each face rather than where hair usually is.
    """
    regions = np.stack([resize(store.region("test", int(k)), size) > 127 for k in pairs])
    return average_mask_iou(regions.astype(np.float32), regions)


def average_mask_iou(masks: np.ndarray, regions: np.ndarray) -> float:
    """Mean IoU of one fixed mask, ``masks.mean(0) > 0.5``, with every region of ``regions`` (N, H, W) bool."""
    fixed = masks.mean(0) > 0.5
    ious = [(fixed & r).sum() / u if (u := (fixed | r).sum()) else 1.0 for r in regions]
    return float(np.mean(ious))
