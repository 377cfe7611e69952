"""SSIM against ground-truth pairs, mean ± std (EGSC-IT Sec. 4.1, Tables 2, 4, 5).

Per pair we call :func:`skimage.metrics.structural_similarity` on the uint8
RGB arrays with

- ``data_range=255`` (8-bit images; never inferred from the data),
- ``win_size=7``, uniform window (``gaussian_weights=False``), ``K1=0.01``,
  ``K2=0.03``, sample covariance -- scikit-image's defaults, which is what an
  evaluation calling ``compare_ssim(a, b, multichannel=True)`` (the API of the
  paper's time) computed;
- ``channel_axis=-1``: SSIM per RGB channel, averaged.

The paper reports the mean over the test pairs; we add the std over pairs.

``mask``: score only inside (or outside) a region, e.g. the background of the
synthetic faces.  We take scikit-image's full SSIM map (``full=True``), average
it over channels, and average it over the masked pixels -- excluding, as
scikit-image does for the global value, the ``(win_size - 1) // 2`` border
where the window does not fit.  An all-ones mask therefore reproduces the
unmasked value exactly.  A pair whose region is empty after the border crop is
an error naming the mask.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from i2icli.errors import DataError
from i2icli.metrics.inputs import ImageSet, check_paired
from i2icli.progress import OptionalProgress, report

WIN_SIZE = 7
DATA_RANGE = 255.0


def mask_from_array(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool from an (H, W) or (H, W, 3) uint8 mask image: bright (>= 128) is inside."""
    m = mask if mask.ndim == 2 else mask.mean(axis=2)
    return m >= 128


def ssim_pair(generated: np.ndarray, real: np.ndarray, mask: np.ndarray | None = None,
              region: Literal["inside", "outside"] = "inside", win_size: int = WIN_SIZE) -> float:
    """SSIM of one (H, W, 3) uint8 pair, optionally restricted to ``mask`` (H, W bool)."""
    from skimage.metrics import structural_similarity

    if generated.shape != real.shape:
        raise DataError(f"SSIM pair shapes differ: {generated.shape} vs {real.shape}")
    if mask is None:
        return float(structural_similarity(generated, real, data_range=DATA_RANGE, channel_axis=-1,
                                           win_size=win_size))
    if mask.shape != generated.shape[:2]:
        raise DataError(f"mask is {mask.shape[1]}x{mask.shape[0]} but images are "
                        f"{generated.shape[1]}x{generated.shape[0]}")
    _, smap = structural_similarity(generated, real, data_range=DATA_RANGE, channel_axis=-1, win_size=win_size,
                                    full=True)
    smap = smap.mean(axis=2)
    keep = mask if region == "inside" else ~mask
    pad = (win_size - 1) // 2
    valid = np.zeros_like(keep)
    valid[pad:keep.shape[0] - pad, pad:keep.shape[1] - pad] = True
    keep = keep & valid
    if not keep.any():
        raise DataError(f"the mask leaves no pixels {region} the region (after the {pad}-pixel SSIM border)")
    return float(smap[keep].mean(dtype=np.float64))


def ssim(generated: ImageSet, real: ImageSet, masks: ImageSet | None = None,
         region: Literal["inside", "outside"] = "inside", progress: OptionalProgress = None) -> dict:
    """Mean ± std SSIM over pairs (image i of ``generated`` vs image i of ``real``).

    ``masks``: one mask for all pairs, or one per pair (same order).
    """
    check_paired(generated, real, "SSIM")
    if region not in ("inside", "outside"):
        raise DataError(f"mask region must be 'inside' or 'outside', got {region!r}")
    if masks is not None and len(masks) not in (1, len(generated)):
        raise DataError(f"--mask has {len(masks)} images; give one mask for all pairs or one per pair "
                        f"({len(generated)})")
    values = []
    for i in range(len(generated)):
        m = None
        if masks is not None:
            m = mask_from_array(masks.load(0 if len(masks) == 1 else i))
        values.append(ssim_pair(generated.load(i), real.load(i), m, region))
        report(progress, "ssim", i + 1, len(generated))
    v = np.asarray(values, dtype=np.float64)
    return {"ssim_mean": float(v.mean()), "ssim_std": float(v.std()), "n_pairs": len(v), "win_size": WIN_SIZE,
            "data_range": DATA_RANGE, "gaussian_weights": False,
            "mask": None if masks is None else masks.source, "mask_region": None if masks is None else region}
