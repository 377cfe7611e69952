"""``i2i prepare celeba``: the CelebA release -> an attribute-labelled store.

Layout of the official release (Liu et al. 2015)::

    ROOT/img_align_celeba/000001.jpg ...   aligned & cropped, 178x218
    ROOT/list_attr_celeba.txt              line 1: image count; line 2: the 40 attribute names;
                                           then "000001.jpg  -1  1 ..." (one row per image, +-1)
    ROOT/list_eval_partition.txt           "000001.jpg 0" (0 train, 1 val, 2 test)   [optional]
    ROOT/img_celeba/ + list_bbox_celeba.txt   the in-the-wild release                 [alternative]

Aligned images (178x218) are cropped by ``crop``:

- ``stargan``: the central 178x178 square, bilinear resize to ``size`` -- StarGAN's
  loader (``CenterCrop(178)``, ``Resize``), which LOMIT follows;
- ``attgan``: the 170x170 window at top 26, left 3, *bicubic* resize to ``size`` --
  the AttGAN/STGAN crop that BridgeGAN's TF code uses (``data_noise_in.py``;
  not StarGAN's centre crop, whatever earlier notes said).  PIL's bicubic
  filter antialiases when shrinking; TF1's ``resize_images`` does not, so
  pixels differ slightly from the authors' tensors;
- ``auto`` (default): ``attgan`` for ``--preset bridge``, ``stargan`` otherwise.

Neither crop flips images here; flipping is a training-time option
(``data.flip``), which BridgeGAN's recipes turn off as its code does.
In-the-wild images are cropped around the official
``list_bbox_celeba.txt`` box (square, side = max(w, h) * (1 + margin)), or,
without that file, around the largest face found by the detector of
:mod:`i2icli.prepare.faces`.

Labels: ``attributes`` (CelebA names) or a preset: ``lomit`` (the ten of LOMIT
Sec. 4.1) or ``bridge`` (the fourteen of BridgeGAN's Table 1).  Stored as 0/1.

Split: ``random`` takes ``test_count`` images at random (seeded) as test, the
StarGAN/LOMIT protocol (2,000); ``official`` uses list_eval_partition.txt
(train = partition 0 and 1, test = partition 2).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from i2icli.data.store import StoreWriter
from i2icli.data.transforms import center_crop, resize
from i2icli.errors import DataError
from i2icli.images import is_image_path
from i2icli.prepare.common import (
    Job,
    PrepareResult,
    check_output,
    default_workers,
    finish,
    output_path,
    run_jobs,
    split_test,
)
from i2icli.prepare.faces import crop_box, detect_faces
from i2icli.prepare.folders import load_checked
from i2icli.progress import OptionalProgress

LOMIT_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Smiling", "Goatee", "Mustache", "No_Beard", "Male",
                    "Heavy_Makeup", "Wearing_Lipstick")
BRIDGE_ATTRIBUTES = ("Young", "Mouth_Slightly_Open", "Smiling", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair",
                     "Receding_Hairline", "Bangs", "Male", "No_Beard", "Mustache", "Goatee", "Sideburns")
PRESETS = {"lomit": LOMIT_ATTRIBUTES, "bridge": BRIDGE_ATTRIBUTES}
ALIGNED_CROP = 178
ATTGAN_CROP = (26, 3, 170)  # top, left, side of the AttGAN/STGAN/BridgeGAN window on a 178x218 aligned image
Crop = Literal["auto", "stargan", "attgan"]


@dataclass(frozen=True)
class CelebARequest:
    root: Path
    out: Path | None = None
    attributes: tuple[str, ...] = ()  # empty: the preset's
    preset: Literal["lomit", "bridge", "all"] = "lomit"
    size: int = 128
    split: Literal["random", "official"] = "random"
    test_count: int = 2000
    seed: int = 0
    release: Literal["auto", "aligned", "wild"] = "auto"
    margin: float = 0.3  # in-the-wild crop margin around the face box
    limit: int | None = None  # only the first N rows (quick trials)
    min_size: int = 32
    workers: int = default_workers()
    strict: bool = False
    force: bool = False
    compression: str | None = None
    crop: Crop = "auto"  # aligned release: see the module docstring

    @property
    def aligned_crop(self) -> Literal["stargan", "attgan"]:
        if self.crop == "auto":
            return "attgan" if self.preset == "bridge" else "stargan"
        return self.crop


def read_attr_file(path: Path,
                   strict: bool) -> tuple[list[str], list[tuple[str, tuple[int, ...]]], list[tuple[str, str]]]:
    """Parse list_attr_celeba.txt -> (names, rows (file, +-1 values), bad rows (where, why))."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if len(lines) < 2:
        raise DataError(f"{path}: too short; expected a count line, a line of attribute names, then one row per image")
    names = lines[1].split()
    if not names or any(n.lstrip("-").isdigit() for n in names):
        raise DataError(f"{path}: line 2 should list the attribute names (e.g. 5_o_Clock_Shadow Arched_Eyebrows ...)")
    rows, bad = [], []
    for no, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        why = None
        if len(parts) != len(names) + 1:
            why = f"expected a file name and {len(names)} values, got {len(parts) - 1} values"
        elif any(v not in ("1", "-1", "0") for v in parts[1:]):
            why = "values must be 1 or -1"
        if why:
            if strict:
                raise DataError(f"{path}:{no}: malformed row ({why}) (--strict stops at the first bad input)")
            bad.append((f"{path.name}:{no}", f"malformed row: {why}"))
            continue
        rows.append((parts[0], tuple(1 if v == "1" else 0 for v in parts[1:])))
    try:
        declared = int(lines[0].split()[0])
    except (ValueError, IndexError):
        raise DataError(f"{path}: line 1 should be the number of images") from None
    if declared != len(rows) + len(bad):
        bad.append((path.name, f"line 1 declares {declared} images but the file has {len(rows) + len(bad)} rows"))
    return names, rows, bad


def read_partition(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    for no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise DataError(f"{path}:{no}: expected 'FILE 0|1|2', got {line.strip()!r}")
        out[parts[0]] = int(parts[1])
    return out


def read_bboxes(path: Path) -> dict[str, tuple[float, float, float, float]]:
    """list_bbox_celeba.txt: count line, header line, then 'FILE x_1 y_1 width height'."""
    out: dict[str, tuple[float, float, float, float]] = {}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for no, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        try:  # a value that is not a number, or fewer than four of them
            x, y, w, h = (float(v) for v in parts[1:5])
        except ValueError:
            raise DataError(f"{path}:{no}: expected 'FILE x_1 y_1 width height', got {line.strip()!r}") from None
        out[parts[0]] = (x, y, w, h)
    return out


def attgan_crop(img: np.ndarray, size: int) -> np.ndarray:
    """The 170x170 window at (top 26, left 3) of an aligned 178x218 image, bicubic-resized to ``size``."""
    top, left, side = ATTGAN_CROP
    h, w = img.shape[:2]
    if h < top + side or w < left + side:
        raise DataError(f"image of {w}x{h} is smaller than the AttGAN crop ({side}x{side} at top {top}, left {left}); "
                        "expected CelebA's aligned 178x218 images (or use --crop stargan)")
    window = np.ascontiguousarray(img[top:top + side, left:left + side])
    if side == size:
        return window
    return np.array(Image.fromarray(window).resize((size, size), Image.Resampling.BICUBIC))


def decode_aligned(job: Job, size: int, min_size: int,
                   crop: Literal["stargan", "attgan"] = "stargan") -> np.ndarray:
    img = load_checked(job.path, min_size)
    if crop == "attgan":
        try:
            return attgan_crop(img, size)
        except DataError as exc:
            raise DataError(f"{job.path}: {exc}") from None
    return resize(center_crop(img, ALIGNED_CROP), size)


def decode_wild(job: Job, size: int, margin: float, min_size: int) -> np.ndarray:
    img = load_checked(job.path, min_size)
    box = job.extra
    if box is None:
        faces = detect_faces(img)
        if not faces:
            raise DataError(f"{job.path}: no face found")
        box = faces[0]
    return resize(crop_box(img, box, margin), size)


def prepare_celeba(req: CelebARequest, progress: OptionalProgress = None) -> PrepareResult:
    started = time.perf_counter()
    root = Path(req.root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder (give the CelebA root with img_align_celeba/ and list_attr_celeba.txt)")
    attr_path = root / "list_attr_celeba.txt"
    if not attr_path.is_file():
        raise DataError(f"{attr_path}: missing; the CelebA root must contain list_attr_celeba.txt")
    release = req.release
    if release == "auto":
        release = "aligned" if (root / "img_align_celeba").is_dir() else "wild"
    folder = root / ("img_align_celeba" if release == "aligned" else "img_celeba")
    if not folder.is_dir():
        raise DataError(f"{folder}: missing; CelebA images go in "
                        "img_align_celeba/ (aligned) or img_celeba/ (in the wild)")
    names, rows, bad = read_attr_file(attr_path, req.strict)
    wanted = req.attributes or (tuple(names) if req.preset == "all" else PRESETS[req.preset])
    missing = [a for a in wanted if a not in names]
    if missing:
        raise DataError(f"{attr_path}: no attribute {missing[0]!r}; available: {', '.join(names)}")
    cols = [names.index(a) for a in wanted]
    if req.limit is not None:
        rows = rows[: req.limit]
    if not rows:
        raise DataError(f"{attr_path}: no usable rows")
    if req.split == "official":
        part_path = root / "list_eval_partition.txt"
        if not part_path.is_file():
            raise DataError(f"{part_path}: missing; needed for --split official (or use --split random)")
        partition = read_partition(part_path)
        test = [partition.get(f, -1) == 2 for f, _ in rows]
        unknown = [f for f, _ in rows if f not in partition]
        if unknown:
            bad.append(("list_eval_partition.txt", f"{len(unknown)} images have no partition (put in train), "
                                                   f"e.g. {unknown[0]}"))
    else:
        test = list(split_test(len(rows), req.test_count, req.seed))
    bbox_file = root / "list_bbox_celeba.txt"
    boxes = read_bboxes(bbox_file) if release == "wild" and bbox_file.is_file() else {}
    notes = []
    if release == "wild":
        notes.append("in-the-wild release: " + ("cropped around list_bbox_celeba.txt boxes" if boxes
                                                 else "no list_bbox_celeba.txt, cropped around detected faces"))
    listed = {f for f, _ in rows}
    unlabelled = sorted(e.name for e in os.scandir(folder) if e.is_file() and is_image_path(Path(e.name))
                        and e.name not in listed) if req.limit is None else []
    if unlabelled:
        notes.append(f"{len(unlabelled)} image(s) in {folder.name}/ have no usable row in {attr_path.name} "
                     "(missing or malformed) and were not used, "
                     f"e.g. {unlabelled[0]}")
    jobs = [Job("test" if t else "train", str(folder / f), f, labels=tuple(v[c] for c in cols), extra=boxes.get(f))
            for (f, v), t in zip(rows, test, strict=True)]
    out = output_path(req.out, f"celeba-{req.size}.h5")
    check_output(out, req.force)
    params = {"root": str(root), "release": release, "size": req.size, "split": req.split,
              "test_count": req.test_count if req.split == "random" else None, "seed": req.seed, "limit": req.limit,
              "crop": (("attgan 170@(26,3) bicubic" if req.aligned_crop == "attgan" else ALIGNED_CROP)
                       if release == "aligned" else f"box+{req.margin}")}
    writer = StoreWriter(out, image_size=(req.size, req.size), attributes=wanted, producer="i2i prepare celeba",
                         parameters=params, force=req.force, compression=req.compression)
    skipped = list(bad)
    if release == "aligned":
        decode = partial(decode_aligned, size=req.size, min_size=req.min_size, crop=req.aligned_crop)
    else:
        decode = partial(decode_wild, size=req.size, margin=req.margin, min_size=req.min_size)
    try:
        run_jobs(jobs, decode, writer, workers=req.workers, strict=req.strict, progress=progress,
                 description="celeba", skipped=skipped, notes=notes)
    except BaseException:
        writer.abort()
        raise
    return finish(writer, skipped, started, notes)
