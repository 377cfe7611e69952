"""``i2i prepare synthetic digits|faces``: the built-in benchmarks with ground truth.

Deterministic given ``seed`` and the counts: every (domain, split) draws from
its own generator ``default_rng([seed, domain, split])``, so the test set does
not change when only ``count`` (the training size) does.  See
:mod:`i2icli.data.synthetic.digits` and :mod:`i2icli.data.synthetic.faces`
for what is drawn, and docs/DATA.md for the store layout of the pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from i2icli.data.store import StoreWriter
from i2icli.data.synthetic import digits as D
from i2icli.data.synthetic import faces as FA
from i2icli.errors import DataError
from i2icli.prepare.common import PrepareResult, check_output, finish
from i2icli.progress import OptionalProgress, report

_BATCH = 512
_SPLIT_ID = {"train": 0, "test": 1}


@dataclass(frozen=True)
class DigitsRequest:
    out: Path
    layout: Literal["single", "multi"] = "single"
    count: int = 2000  # training images per domain
    test_count: int = 500  # test images per domain (= test pairs per direction)
    size: int | None = None  # default 32 (single), 64 (multi)
    seed: int = 0
    force: bool = False
    compression: str | None = None


def prepare_digits(req: DigitsRequest, progress: OptionalProgress = None) -> PrepareResult:
    """MNIST-Single / MNIST-Multiple (EGSC-IT Section 4) with x_AB / x_BA ground truth for every test pair."""
    started = time.perf_counter()
    size = req.size or (32 if req.layout == "single" else 64)
    if req.layout not in ("single", "multi"):
        raise DataError(f"--layout {req.layout!r}: use single or multi")
    if req.count < 1 or req.test_count < 0:
        raise DataError("--count must be >= 1 and --test-count >= 0")
    if size < 16 or (req.layout == "multi" and size % 4):
        raise DataError(f"--size {size}: must be >= 16 (and a multiple of 4 for --layout multi)")
    check_output(req.out, req.force)
    params = {"layout": req.layout, "count": req.count, "test_count": req.test_count, "size": size, "seed": req.seed}
    writer = StoreWriter(req.out, image_size=(size, size), domains=("a", "b"), producer="i2i prepare synthetic digits",
                         parameters=params, force=req.force, compression=req.compression)
    try:
        total = 2 * (req.count + req.test_count)
        done = 0
        test_parts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for split, n in (("train", req.count), ("test", req.test_count)):
            for d, domain in enumerate(("a", "b")):
                rng = np.random.default_rng([req.seed, d, _SPLIT_ID[split], 0 if req.layout == "single" else 1])
                keep = []
                for start in range(0, n, _BATCH):
                    m = min(_BATCH, n - start)
                    masks, classes = D.make_shapes(split, req.layout, size, m, rng)
                    bg, fg = D.make_styles(domain, split, req.layout, classes[:, 0], rng)
                    images = D.render(masks, classes, bg, fg)
                    for k in range(m):
                        digit = str(classes[k, 0]) if req.layout == "single" else "all"
                        writer.add(split, images[k], f"{domain}/{split}/{start + k:06d} digit {digit}", domain=d)
                    if split == "test":
                        keep.append((masks, classes, bg, fg))
                    done += m
                    report(progress, "synthetic digits", done, total)
                if split == "test" and keep:
                    test_parts[domain] = tuple(np.concatenate([k[i] for k in keep]) for i in range(4))  # type: ignore
        t = req.test_count
        if t:
            (ma, ca, bga, fga), (mb, cb, bgb, fgb) = test_parts["a"], test_parts["b"]
            full = np.full((size, size), 255, np.uint8)  # every pixel's colour changes
            for start in range(0, t, _BATCH):
                sl = slice(start, min(start + _BATCH, t))
                x_ab = D.render(ma[sl], ca[sl], bgb[sl], fgb[sl])  # A's shapes, exemplar B's colours
                x_ba = D.render(mb[sl], cb[sl], bga[sl], fga[sl])  # B's shapes, exemplar A's colours
                for j, k in enumerate(range(sl.start, sl.stop)):
                    writer.add_pair("test", k, t + k, x_ab[j], full)
                    writer.add_pair("test", t + k, k, x_ba[j], full)
    except BaseException:
        writer.abort()
        raise
    return finish(writer, [], started)


@dataclass(frozen=True)
class FacesRequest:
    out: Path
    count: int = 2000  # training faces
    test_count: int = 500  # test faces
    pairs: int | None = None  # test pairs (default: test_count)
    size: int = 64
    seed: int = 0
    force: bool = False
    compression: str | None = None


def prepare_faces(req: FacesRequest, progress: OptionalProgress = None) -> PrepareResult:
    """Procedural faces with CelebA-named labels, per-attribute masks and ground-truth test pairs."""
    started = time.perf_counter()
    if req.size not in (64, 128):
        raise DataError(f"--size {req.size}: synthetic faces are drawn at 64 or 128 px")
    if req.count < 1 or req.test_count < 0:
        raise DataError("--count must be >= 1 and --test-count >= 0")
    n_pairs = req.test_count if req.pairs is None else req.pairs
    if n_pairs and req.test_count < 2:
        raise DataError("test pairs need --test-count >= 2 (an input and a different exemplar)")
    check_output(req.out, req.force)
    size = req.size
    params = {"count": req.count, "test_count": req.test_count, "pairs": n_pairs, "size": size, "seed": req.seed,
              "groups": list(FA.GROUPS)}
    writer = StoreWriter(req.out, image_size=(size, size), attributes=FA.ATTRIBUTES, mask_names=FA.ATTRIBUTES,
                         producer="i2i prepare synthetic faces", parameters=params, force=req.force,
                         compression=req.compression)
    try:
        total, done = req.count + req.test_count + n_pairs, 0
        test_params: list[FA.Params] = []
        test_images: list[np.ndarray] = []
        for split, n in (("train", req.count), ("test", req.test_count)):
            rng = np.random.default_rng([req.seed, 0, _SPLIT_ID[split], 2])
            for start in range(0, n, _BATCH):
                m = min(_BATCH, n - start)
                p = FA.sample_params(m, rng)
                images, masks = FA.render_with_masks(p, size)
                labels = FA.labels_of(p)
                for k in range(m):
                    writer.add(split, images[k], f"{split}/{start + k:06d}", labels=labels[k], masks=masks[k])
                if split == "test":
                    test_params.append(p)
                    test_images.append(images)
                done += m
                report(progress, "synthetic faces", done, total)
        if n_pairs:
            p = {k: np.concatenate([q[k] for q in test_params]) for k in test_params[0]}
            images = np.concatenate(test_images)
            rng = np.random.default_rng([req.seed, 0, _SPLIT_ID["test"], 3])
            inputs, exemplars, groups = FA.choose_pairs(p, n_pairs, rng)
            chosen = FA.chosen_attributes(groups)
            for start in range(0, n_pairs, _BATCH):
                sl = slice(start, min(start + _BATCH, n_pairs))
                truth, region = FA.ground_truth(p, inputs[sl], exemplars[sl], groups[sl], size, images)
                for j, k in enumerate(range(sl.start, sl.stop)):
                    writer.add_pair("test", int(inputs[k]), int(exemplars[k]), truth[j], region[j], chosen=chosen[k])
                done += sl.stop - sl.start
                report(progress, "synthetic faces", done, total)
    except BaseException:
        writer.abort()
        raise
    return finish(writer, [], started)


@dataclass(frozen=True)
class AnimeRequest:
    out: Path
    count: int = 2000  # training images per domain (unpaired: independent faces in each)
    test_count: int = 500  # test images per domain (= ground-truth pairs per direction)
    size: int = 64
    seed: int = 0
    force: bool = False
    compression: str | None = None


def prepare_anime(req: AnimeRequest, progress: OptionalProgress = None) -> PrepareResult:
    """A synthetic selfie2anime with ground truth: domain ``photo`` and domain ``anime`` of the face renderer.

    Train: photo-style faces and *independent* anime-style faces (unpaired).  Test: the same, plus for every
    test image its exact translation (:func:`i2i.data.synthetic.faces.anime` of its parameters, or the photo
    style of an anime face's parameters) as a ground-truth pair whose ``region`` is where the two renderings
    differ -- where an attention map should look.  Pairs follow the digits store's convention: test image k
    of domain a (index k) -> truth in b, image k of domain b (index t + k) -> truth in a; the exemplar index
    is the other domain's image k (unused by direction models).
    """
    started = time.perf_counter()
    if req.size not in (64, 128):
        raise DataError(f"--size {req.size}: synthetic faces are drawn at 64 or 128 px")
    if req.count < 1 or req.test_count < 0:
        raise DataError("--count must be >= 1 and --test-count >= 0")
    check_output(req.out, req.force)
    size = req.size
    params = {"count": req.count, "test_count": req.test_count, "size": size, "seed": req.seed}
    writer = StoreWriter(req.out, image_size=(size, size), domains=("photo", "anime"),
                         producer="i2i prepare synthetic anime", parameters=params, force=req.force,
                         compression=req.compression)
    try:
        total, done = 2 * (req.count + req.test_count) + 2 * req.test_count, 0
        test: dict[int, list[tuple[FA.Params, np.ndarray]]] = {0: [], 1: []}
        for split, n in (("train", req.count), ("test", req.test_count)):
            for d, style in enumerate(FA.STYLES):
                rng = np.random.default_rng([req.seed, d, _SPLIT_ID[split], 4])
                for start in range(0, n, _BATCH):
                    m = min(_BATCH, n - start)
                    p = FA.sample_params(m, rng)
                    images, _ = FA.render(FA.in_style(p, style), size)
                    for k in range(m):
                        writer.add(split, images[k], f"{style}/{split}/{start + k:06d}", domain=d)
                    if split == "test":
                        test[d].append((p, images))
                    done += m
                    report(progress, "synthetic anime", done, total)
        t = req.test_count
        for d in range(len(FA.STYLES)):
            if not t:
                break
            other = FA.STYLES[1 - d]
            base = 0
            for p, images in test[d]:
                truth, _ = FA.render(FA.in_style(p, other), size)
                region = (np.abs(truth.astype(np.int16) - images.astype(np.int16)).max(axis=-1) > 2) * np.uint8(255)
                for j in range(len(images)):
                    k = base + j
                    src, ex = (k, t + k) if d == 0 else (t + k, k)
                    writer.add_pair("test", src, ex, truth[j], region[j].astype(np.uint8))
                base += len(images)
                done += len(images)
                report(progress, "synthetic anime", done, total)
    except BaseException:
        writer.abort()
        raise
    return finish(writer, [], started)
