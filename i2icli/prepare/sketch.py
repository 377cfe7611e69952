"""``i2i prepare sketch``: paired (sketch, image) data for sketch -> image translation.

Sources are stored as ``sources`` (the sketch, the model's input) and images
as ``images`` (the target), see :mod:`i2icli.data.store`.

Methods
-------
- ``xdog`` (default): eXtended Difference of Gaussians (Winnemoeller et al.,
  Computers & Graphics 2012, Eq. 4 with the soft threshold of Eq. 5):
  ``D = G_sigma(I) - tau * G_{k sigma}(I)`` on the grey image in [0, 1];
  ``E = 1`` where ``D >= eps``, else ``1 + tanh(phi * (D - eps))``.  Defaults
  sigma 0.8, k 1.6, tau 0.98, eps -0.01, phi 200: on a flat region
  ``D = (1 - tau) I`` lies in [0, 0.02], so a threshold just below 0 keeps
  only the dark side of edges -- clean pencil-like lines at 256 px (the often
  quoted eps = -0.1 assumes a different scaling and leaves the page blank).
- ``canny``: scikit-image's Canny edges (Gaussian ``sigma``, hysteresis
  thresholds ``low``/``high`` as quantiles when given in (0, 1)), drawn black
  on white like edges2shoes.
- ``ab``: the pix2pix side-by-side format (edges2shoes, edges2handbags): each
  file is [A | B]; A (left, the edges) becomes the source, B the target
  (``reverse`` swaps them).

The sketch is computed on the image already resized to ``size``, so line
width is the same for every source resolution.  SEGIN itself used HED edges
with sketch simplification for danbooru; those networks need downloaded
weights, so these two classical operators are the offline choice.

Foreground masks (``fg_mask = "white"``, SEGIN's segmentation target): stored as the mask channel
``foreground``, see :func:`foreground_white`.

Splits: ``train/`` and ``test/`` (or ``val/``, pix2pix's name) subfolders
when present, else a random (seeded) ``test_count``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np

from i2icli.data.store import StoreWriter
from i2icli.data.transforms import resize, square_resize
from i2icli.errors import DataError
from i2icli.prepare.common import (
    Job,
    PrepareResult,
    check_output,
    default_workers,
    finish,
    output_path,
    run_jobs,
    scan_inputs,
    split_test,
)
from i2icli.prepare.folders import load_checked
from i2icli.progress import OptionalProgress

Method = Literal["xdog", "canny", "ab"]


@dataclass(frozen=True)
class XDoGParams:
    sigma: float = 0.8
    k: float = 1.6
    tau: float = 0.98
    eps: float = -0.01
    phi: float = 200.0


@dataclass(frozen=True)
class CannyParams:
    sigma: float = 2.0
    low: float | None = None
    high: float | None = None


def _grey(img: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray

    return rgb2gray(img)


def xdog(img: np.ndarray, p: XDoGParams = XDoGParams()) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 XDoG sketch, dark lines on white."""
    from skimage.filters import gaussian

    g = _grey(img)
    d = gaussian(g, sigma=p.sigma) - p.tau * gaussian(g, sigma=p.sigma * p.k)
    e = np.where(d >= p.eps, 1.0, 1.0 + np.tanh(p.phi * (d - p.eps)))
    out = np.clip(e * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


def canny(img: np.ndarray, p: CannyParams = CannyParams()) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 Canny edges, black on white."""
    from skimage.feature import canny as sk_canny

    quantiles = p.low is not None and p.high is not None and 0 < p.low < 1 and 0 < p.high < 1
    edges = sk_canny(_grey(img), sigma=p.sigma, low_threshold=p.low, high_threshold=p.high,
                     use_quantiles=quantiles)
    out = np.where(edges, 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


def foreground_white(img: np.ndarray, threshold: int = 240) -> np.ndarray:
    """Foreground of a product photo on white (SEGIN's y_seg, ``--fg-mask white``): (H, W) uint8 in {0, 255}.

    The background is the near-white region (min RGB >= ``threshold``) connected to the image border
    (4-connectivity); everything else is foreground, so white areas enclosed by the object (holes, highlights,
    white soles) stay foreground.  edges2shoes/handbags photos sit on white; the paper takes its shoe/bag
    segmentations from TextureGAN, which is not redistributable, so this is the offline substitute.
    """
    from scipy.ndimage import label

    white = img.min(axis=2) >= threshold
    lab, _ = label(white)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    background = np.isin(lab, border[border > 0])
    return np.where(background, 0, 255).astype(np.uint8)


def decode_sketch(job: Job, size: int, method: Method, xdog_params: XDoGParams, canny_params: CannyParams,
                  reverse: bool, min_size: int, fg_mask: str = "none",
                  fg_threshold: int = 240) -> dict[str, np.ndarray]:
    item = _decode_sketch(job, size, method, xdog_params, canny_params, reverse, min_size)
    if fg_mask == "white":
        item["masks"] = foreground_white(item["image"], fg_threshold)[None]
    return item


def _decode_sketch(job: Job, size: int, method: Method, xdog_params: XDoGParams, canny_params: CannyParams,
                   reverse: bool, min_size: int) -> dict[str, np.ndarray]:
    img = load_checked(job.path, min_size)
    if method == "ab":
        h, w = img.shape[:2]
        if w < 1.5 * h or w < 2 * min_size:
            raise DataError(f"{job.path}: not a side-by-side AB image ({w}x{h}: expected width about 2x height)")
        a, b = img[:, : w // 2], img[:, w // 2: 2 * (w // 2)]
        if reverse:
            a, b = b, a
        return {"image": resize(b, size), "source": resize(a, size)}
    target = square_resize(img, size)
    source = xdog(target, xdog_params) if method == "xdog" else canny(target, canny_params)
    return {"image": target, "source": source}


@dataclass(frozen=True)
class SketchRequest:
    root: Path
    out: Path | None = None
    method: Method = "xdog"
    size: int = 256
    xdog: XDoGParams = XDoGParams()
    canny: CannyParams = CannyParams()
    reverse: bool = False
    test_count: int = 0
    seed: int = 0
    min_size: int = 16
    workers: int = default_workers()
    strict: bool = False
    force: bool = False
    compression: str | None = None
    fg_mask: Literal["none", "white"] = "none"
    fg_threshold: int = 240


def prepare_sketch(req: SketchRequest, progress: OptionalProgress = None) -> PrepareResult:
    started = time.perf_counter()
    root = Path(req.root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    splits = {"train": root / "train"}
    test_dir = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    jobs: list[Job] = []
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    scan = partial(scan_inputs, recursive=True, base=root, skipped=skipped, notes=notes, strict=req.strict)
    if splits["train"].is_dir():
        for p in scan(splits["train"]):
            jobs.append(Job("train", str(p), str(p.relative_to(root))))
        if test_dir is not None:
            for p in scan(test_dir):
                jobs.append(Job("test", str(p), str(p.relative_to(root))))
    else:
        files = scan(root)
        test = split_test(len(files), req.test_count, req.seed)
        jobs = [Job("test" if t else "train", str(p), str(p.relative_to(root)))
                for p, t in zip(files, test, strict=True)]
    if not jobs:
        raise DataError(f"{root}: no image files found")
    out = output_path(req.out, f"{root.name}-{req.method}.h5")
    check_output(out, req.force)
    params = {"root": str(root), "method": req.method, "size": req.size, "reverse": req.reverse,
              "test_count": req.test_count, "seed": req.seed}
    if req.fg_mask not in ("none", "white"):
        raise DataError(f"--fg-mask {req.fg_mask!r}: use none or white")
    if req.fg_mask != "none":
        params["fg_mask"], params["fg_threshold"] = req.fg_mask, req.fg_threshold
    if req.method == "xdog":
        params["xdog"] = vars(req.xdog)
    elif req.method == "canny":
        params["canny"] = vars(req.canny)
    writer = StoreWriter(out, image_size=(req.size, req.size), paired=True, producer="i2i prepare sketch",
                         parameters=params, force=req.force, compression=req.compression,
                         mask_names=("foreground",) if req.fg_mask != "none" else ())
    decode = partial(decode_sketch, size=req.size, method=req.method, xdog_params=req.xdog, canny_params=req.canny,
                     reverse=req.reverse, min_size=req.min_size, fg_mask=req.fg_mask, fg_threshold=req.fg_threshold)
    try:
        run_jobs(jobs, decode, writer, workers=req.workers, strict=req.strict, progress=progress,
                 description="sketch", skipped=skipped, notes=notes)
    except BaseException:
        writer.abort()
        raise
    return finish(writer, skipped, started, notes)
