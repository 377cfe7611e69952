"""``i2i prepare faces``: detect, crop (with margin) and resize faces from in-the-wild photos.

Detector choice (works offline, from registry packages only)
-------------------------------------------------------------
- ``cascade`` (default): scikit-image's LBP frontal-face cascade
  (``skimage.data.lbp_frontal_face_cascade_filename()``, shipped inside the
  scikit-image wheel) run with ``skimage.feature.Cascade.detect_multi_scale``.
  No extra dependency.  A single cascade scan also fires on face-like
  textures, so we scan three image pyramids offset by a third of a scale step,
  group overlapping hits (IoU > 0.3) and keep groups found in at least
  ``min_neighbors`` (default 3) scans -- the idea of OpenCV's ``minNeighbors``
  -- with the group's mean box; faces smaller than half the largest one are
  dropped.  Photos are scanned at most 384 px on the long side (boxes are
  mapped back), smallest face 24 scan pixels.
- ``mtcnn`` (optional extra ``pip install 'i2icli[faces]'``): MTCNN from
  ``facenet-pytorch`` 2.5.3, which ships its weights inside the wheel and
  returns five landmarks.  Better on profiles and small faces.  It is not
  installed by default because later facenet-pytorch releases pin an old torch.
  With ``align`` the photo is first rotated about the face centre so that the
  two eye landmarks are level (in-plane alignment only, no warping).
  (opencv-python 5 no longer ships Haar cascades, so OpenCV is not an option
  without downloading model files.)

Crop: a square around the box centre with side ``max(w, h) * (1 + margin)``
(default margin 0.6 keeps hair and chin, like selfie2anime's crops), shifted
to stay inside the photo (and shrunk if the photo is smaller), then resized.

Photos without a face are skipped and listed; photos with several faces keep
the largest by default (``multiple="largest"``), every face (``all``) or are
skipped (``skip``) -- in every case the summary says which photos had several.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from i2icli.data.store import StoreWriter
from i2icli.data.transforms import resize
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

DetectorName = Literal["cascade", "mtcnn"]
Multiple = Literal["largest", "all", "skip"]
Box = tuple[float, float, float, float]  # x, y, w, h in pixels

_DETECTORS: dict[tuple[int, str], object] = {}  # (pid, name) -> detector; never shared across fork
_SCAN = 384  # photos are scanned at most this many pixels on the long side
_MIN_FACE = 24  # smallest face searched for, in scan pixels
_PASSES = 3
_RELATIVE = 0.5  # faces smaller than this fraction of the largest one are dropped (mostly false positives)


def _cascade() -> Any:  # skimage.feature.Cascade
    from skimage import data
    from skimage.feature import Cascade

    key = (os.getpid(), "cascade")
    if key not in _DETECTORS:
        _DETECTORS[key] = Cascade(data.lbp_frontal_face_cascade_filename())
    return _DETECTORS[key]


def mtcnn_available() -> bool:
    try:
        import facenet_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def _mtcnn() -> Any:  # facenet_pytorch.MTCNN
    key = (os.getpid(), "mtcnn")
    if key not in _DETECTORS:
        try:
            from facenet_pytorch import MTCNN
        except ImportError:
            raise DataError("--detector mtcnn needs facenet-pytorch: pip install 'facenet-pytorch==2.5.3' "
                            "(or use the default --detector cascade)") from None
        _DETECTORS[key] = MTCNN(keep_all=True, device="cpu")
    return _DETECTORS[key]


def _iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def group_boxes(boxes: list[Box], min_neighbors: int, iou: float = 0.3) -> list[Box]:
    """Cluster overlapping detections; keep clusters with >= ``min_neighbors`` members (their mean box)."""
    groups: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: -b[2] * b[3]):
        for g in groups:
            if _iou(g[0], b) > iou:
                g.append(b)
                break
        else:
            groups.append([b])
    out: list[Box] = []
    for g in groups:
        if len(g) >= min_neighbors:
            x, y, w, h = (float(v) for v in np.mean(g, axis=0))
            out.append((x, y, w, h))
    return sorted(out, key=lambda b: -b[2] * b[3])


def detect_faces(img: np.ndarray, detector: DetectorName = "cascade", min_neighbors: int = 3) -> list[Box]:
    """Face boxes (x, y, w, h) in pixels of ``img`` (H, W, 3) uint8, largest first."""
    if detector == "mtcnn":
        import torch

        with torch.no_grad():
            boxes, _ = _mtcnn().detect(img)
        if boxes is None:
            return []
        out = [(float(x0), float(y0), float(x1 - x0), float(y1 - y0)) for x0, y0, x1, y1 in boxes]
        return sorted(out, key=lambda b: -b[2] * b[3])
    from skimage.color import rgb2gray

    h, w = img.shape[:2]
    scale = min(1.0, _SCAN / max(h, w))
    small = resize(img, (max(1, round(h * scale)), max(1, round(w * scale)))) if scale < 1 else img
    gray = rgb2gray(small)
    side = min(gray.shape)
    raw: list[Box] = []
    for i in range(_PASSES):  # pyramids offset by a quarter step each: a real face is found in most passes
        lo = int(round(_MIN_FACE * 1.2 ** (i / _PASSES)))
        if lo > side:
            break
        for d in _cascade().detect_multi_scale(img=gray, scale_factor=1.2, step_ratio=1, min_size=(lo, lo),
                                               max_size=(side, side)):
            raw.append((d["c"] / scale, d["r"] / scale, d["width"] / scale, d["height"] / scale))
    faces = group_boxes(raw, min_neighbors)
    if faces:
        biggest = max(faces[0][2], faces[0][3])
        faces = [b for b in faces if max(b[2], b[3]) >= _RELATIVE * biggest]
    return faces


def detect_landmarks(img: np.ndarray) -> list[tuple[Box, np.ndarray]]:
    """MTCNN faces with their five landmarks (left eye, right eye, nose, mouth corners), largest first."""
    import torch

    with torch.no_grad():
        boxes, _, points = _mtcnn().detect(img, landmarks=True)
    if boxes is None:
        return []
    out = [((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), np.asarray(pts, np.float64))
           for (x0, y0, x1, y1), pts in zip(boxes, points, strict=True)]
    return sorted(out, key=lambda f: -f[0][2] * f[0][3])


def level_eyes(img: np.ndarray, box: Box, landmarks: np.ndarray) -> np.ndarray:
    """Rotate ``img`` about the box centre so the eyes (landmarks 0 and 1) are horizontal."""
    from PIL import Image

    (lx, ly), (rx, ry) = landmarks[0], landmarks[1]
    angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))  # > 0: the face leans clockwise (y points down)
    centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
    rotated = Image.fromarray(img).rotate(angle, resample=Image.Resampling.BILINEAR, center=centre,
                                          fillcolor=(0, 0, 0))
    return np.asarray(rotated)


def crop_box(img: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """Square crop around ``box`` enlarged by ``margin``, kept inside the image."""
    h, w = img.shape[:2]
    x, y, bw, bh = box
    side = int(round(min(max(bw, bh) * (1 + margin), h, w)))
    cx, cy = x + bw / 2, y + bh / 2
    left = int(round(min(max(cx - side / 2, 0), w - side)))
    top = int(round(min(max(cy - side / 2, 0), h - side)))
    return img[top:top + side, left:left + side]


def decode_faces(job: Job, size: int, detector: DetectorName, margin: float, multiple: Multiple, min_size: int,
                 min_neighbors: int, align: bool = False) -> list[dict[str, Any]]:
    img = load_checked(job.path, min_size)
    if align:
        found = detect_landmarks(img)
        boxes = [b for b, _ in found]
    else:
        boxes = detect_faces(img, detector, min_neighbors)
    if not boxes:
        raise DataError(f"{job.path}: no face found")
    if len(boxes) > 1 and multiple == "skip":
        raise DataError(f"{job.path}: {len(boxes)} faces (--multiple skip)")
    note = None
    if len(boxes) > 1:
        note = f"{len(boxes)} faces, " + ("kept all" if multiple == "all" else "kept the largest")
    chosen = range(len(boxes)) if multiple == "all" else range(1)
    out = []
    for k in chosen:
        source = level_eyes(img, boxes[k], found[k][1]) if align else img
        name = job.name if len(chosen) == 1 else f"{job.name}#face{k}"
        out.append({"image": resize(crop_box(source, boxes[k], margin), size), "name": name,
                    "note": note if k == 0 else None})
    return out


@dataclass(frozen=True)
class FacesRequest:
    folders: tuple[Path, ...]  # one domain per folder
    out: Path | None = None
    domains: tuple[str, ...] = ()  # default: the folder names
    size: int = 256
    margin: float = 0.6
    detector: DetectorName = "cascade"
    multiple: Multiple = "largest"
    min_neighbors: int = 3
    align: bool = False  # level the eyes with MTCNN's landmarks (needs detector="mtcnn")
    test_count: int = 0  # per domain, random (seeded)
    seed: int = 0
    min_size: int = 32
    workers: int = default_workers()
    strict: bool = False
    force: bool = False
    compression: str | None = None


def prepare_faces(req: FacesRequest, progress: OptionalProgress = None) -> PrepareResult:
    """Each folder of photos -> one domain of face crops."""
    started = time.perf_counter()
    if not req.folders:
        raise DataError("give at least one folder of photos")
    names = req.domains or tuple(Path(f).name or "faces" for f in req.folders)
    if len(names) != len(req.folders) or len(set(names)) != len(names):
        raise DataError(f"--domains needs {len(req.folders)} distinct names, got {', '.join(names)}")
    if req.align and req.detector != "mtcnn":
        raise DataError("--align needs --detector mtcnn (the cascade finds no eye landmarks)")
    if req.detector == "mtcnn" and not mtcnn_available():  # fail early, not once per photo; the model itself
        _mtcnn()  # is built inside each worker (never in the parent before a fork)
    jobs: list[Job] = []
    skipped: list[tuple[str, str]] = []
    notes: list[str] = []
    for d, folder in enumerate(req.folders):
        folder = Path(folder)
        files = scan_inputs(folder, recursive=True, base=folder.parent, skipped=skipped, notes=notes,
                            strict=req.strict)
        test = split_test(len(files), req.test_count, req.seed + d)
        jobs += [Job("test" if t else "train", str(p), str(p.relative_to(folder.parent)), domain=d)
                 for p, t in zip(files, test, strict=True)]
    if not jobs:
        raise DataError(f"no image files in {', '.join(str(f) for f in req.folders)}")
    out = output_path(req.out, f"{names[0]}-faces.h5")
    check_output(out, req.force)
    params = {"folders": [str(f) for f in req.folders], "size": req.size, "margin": req.margin,
              "detector": req.detector, "multiple": req.multiple, "min_neighbors": req.min_neighbors,
              "align": req.align, "test_count": req.test_count, "seed": req.seed}
    writer = StoreWriter(out, image_size=(req.size, req.size), domains=names, producer="i2i prepare faces",
                         parameters=params, force=req.force, compression=req.compression)
    decode = partial(decode_faces, size=req.size, detector=req.detector, margin=req.margin, multiple=req.multiple,
                     min_size=req.min_size, min_neighbors=req.min_neighbors, align=req.align)
    try:
        run_jobs(jobs, decode, writer, workers=req.workers, strict=req.strict, progress=progress,
                 description="faces", skipped=skipped, notes=notes)
    except BaseException:
        writer.abort()
        raise
    return finish(writer, skipped, started, notes)
