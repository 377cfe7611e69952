"""``i2i prepare unpaired`` and ``i2i prepare afhq``: folder layouts -> a store with domains.

- Unpaired (CycleGAN / U-GAT-IT layout, used by selfie2anime, horse2zebra,
  cat2dog, photo2portrait, photo2vangogh): ``trainA/ trainB/ [testA/ testB/]``.
  Domains are named ``A`` and ``B`` unless ``domains`` renames them.
- AFHQ: ``train/{cat,dog,wild}/`` and ``test/`` (or ``val/``, the name of the
  official release) with the same classes; every class folder is a domain.

Images are resized to ``size`` x ``size`` the way the U-GAT-IT / CycleGAN
loaders do (``Resize((size, size))``: the aspect ratio is not kept), or
center-cropped to a square first with ``crop="center"``.  Images smaller than
``min_size`` on either side are skipped as too small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np

from i2icli.data.store import StoreWriter
from i2icli.data.transforms import center_crop, resize
from i2icli.errors import DataError
from i2icli.images import load_rgb
from i2icli.prepare.common import (
    Job,
    PrepareResult,
    check_output,
    default_workers,
    finish,
    output_path,
    run_jobs,
    scan_inputs,
)
from i2icli.progress import OptionalProgress

Crop = Literal["none", "center"]


def load_checked(path: str, min_size: int) -> np.ndarray:
    """:func:`load_rgb`, refusing images smaller than ``min_size`` on a side."""
    img = load_rgb(path)
    h, w = img.shape[:2]
    if min(h, w) < min_size:
        raise DataError(f"{path}: too small ({w}x{h}; needs at least {min_size} px on each side, --min-size)")
    return img


def decode_square(job: Job, size: int, crop: Crop, min_size: int) -> np.ndarray:
    """Read, optionally center-crop to a square, resize to ``size`` x ``size``."""
    img = load_checked(job.path, min_size)
    if crop == "center":
        img = center_crop(img, min(img.shape[:2]))
    return resize(img, size)


@dataclass(frozen=True)
class FolderRequest:
    root: Path
    out: Path | None = None
    size: int = 256
    crop: Crop = "none"
    domains: tuple[str, ...] = ()  # rename the domains (unpaired: A, B; afhq: the class folders)
    min_size: int = 16
    workers: int = default_workers()
    strict: bool = False
    force: bool = False
    compression: str | None = None


def _prepare(root: Path, out: Path, layout: dict[tuple[str, int], Path], domains: tuple[str, ...],
             req: FolderRequest, producer: str, progress: OptionalProgress, notes: list[str]) -> PrepareResult:
    started = time.perf_counter()
    jobs: list[Job] = []
    skipped: list[tuple[str, str]] = []
    for (split, d), folder in sorted(layout.items()):
        for p in scan_inputs(folder, recursive=False, base=root, skipped=skipped, notes=notes, strict=req.strict):
            jobs.append(Job(split, str(p), str(p.relative_to(root)), domain=d))
    if not jobs:
        left = f" ({len(skipped)} left out, e.g. {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise DataError(f"{root}: no image files found in "
                        f"{', '.join(str(f.relative_to(root)) for f in layout.values())}{left}")
    check_output(out, req.force)
    params = {"root": str(root), "size": req.size, "crop": req.crop, "min_size": req.min_size}
    writer = StoreWriter(out, image_size=(req.size, req.size), domains=domains, producer=producer, parameters=params,
                         force=req.force, compression=req.compression)
    try:
        run_jobs(jobs, partial(decode_square, size=req.size, crop=req.crop, min_size=req.min_size), writer,
                 workers=req.workers, strict=req.strict, progress=progress, description=producer.split()[-1],
                 skipped=skipped, notes=notes)
    except BaseException:
        writer.abort()
        raise
    return finish(writer, skipped, started, notes)


def _rename(found: tuple[str, ...], wanted: tuple[str, ...]) -> tuple[str, ...]:
    if not wanted:
        return found
    if len(wanted) != len(found) or len(set(wanted)) != len(wanted):
        raise DataError(f"--domains needs {len(found)} distinct names (for {', '.join(found)}), "
                        f"got {', '.join(wanted)}")
    return wanted


def prepare_unpaired(req: FolderRequest, progress: OptionalProgress = None) -> PrepareResult:
    """trainA/ trainB/ [testA/ testB/] -> a store with two domains."""
    root = Path(req.root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    layout: dict[tuple[str, int], Path] = {}
    notes: list[str] = []
    for split in ("train", "test"):
        for d, letter in enumerate("AB"):
            folder = root / f"{split}{letter}"
            if folder.is_dir():
                layout[(split, d)] = folder
    if (("train", 0) not in layout) or (("train", 1) not in layout):
        subs = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise DataError(f"{root}: expected trainA/ and trainB/ (and optionally testA/ testB/); found "
                        f"{', '.join(subs) or 'no subfolders'}")
    if not any(k[0] == "test" for k in layout):
        notes.append("no testA/ testB/: the store has a train split only")
    out = output_path(req.out, f"{root.name}.h5")
    return _prepare(root, out, layout, _rename(("A", "B"), req.domains), req, "i2i prepare unpaired", progress, notes)


def prepare_afhq(req: FolderRequest, progress: OptionalProgress = None) -> PrepareResult:
    """AFHQ: train/<class>/ and test/ or val/<class>/ -> one domain per class."""
    root = Path(req.root)
    if not (root / "train").is_dir():
        raise DataError(f"{root}: expected AFHQ's train/ (and val/ or test/) folders with cat/ dog/ wild/ inside")
    classes = tuple(sorted(p.name for p in (root / "train").iterdir() if p.is_dir()))
    if not classes:
        raise DataError(f"{root / 'train'}: no class folders (cat/ dog/ wild/)")
    test_root = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    layout: dict[tuple[str, int], Path] = {}
    notes: list[str] = []
    for d, c in enumerate(classes):
        layout[("train", d)] = root / "train" / c
        if test_root is not None and (test_root / c).is_dir():
            layout[("test", d)] = test_root / c
    if test_root is None:
        notes.append("no val/ or test/ folder: the store has a train split only")
    out = output_path(req.out, f"{root.name}.h5")
    return _prepare(root, out, layout, _rename(classes, req.domains), req, "i2i prepare afhq", progress, notes)
