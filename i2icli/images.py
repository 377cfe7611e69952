"""Reading and writing images robustly, and converting to/from tensors.

Every reader in i2i (prepare, translate, eval) goes through :func:`load_rgb`,
so odd inputs are handled one way everywhere:

- EXIF orientation is applied (phones store portraits rotated);
- grayscale, palette, CMYK and 16-bit/32-bit/float images become 8-bit RGB
  (16-bit is scaled by 1/257, i.e. the full 0..65535 range maps to 0..255);
- transparency is composited over white (the convention of most image viewers);
- truncated, empty or non-image files raise :class:`~i2icli.errors.DataError`
  naming the file, never a raw PIL traceback.

Writes are atomic: a temporary file in the same folder, then ``os.replace``.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from i2icli.errors import DataError

if TYPE_CHECKING:
    import torch

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"})

# Refuse decompression bombs politely instead of PIL's warning/exception.
MAX_PIXELS = 16384 * 16384


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class ImageScan:
    """What :func:`scan_images` found in a folder.

    ``images``: image files to read, sorted.  ``left_out``: entries that look
    like inputs but cannot be read as one -- each with its reason (a folder
    named like an image, a broken symlink, a symlink loop, an unlistable
    folder, a FIFO or device, a hidden image file); callers list them
    wherever they list inputs that failed.  ``ignored``: entries that are not
    inputs (files without an image extension; subfolders of a non-recursive
    scan), with a reason, for a summary note.
    """

    images: list[Path] = field(default_factory=list)
    left_out: list[tuple[Path, str]] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)


def _why_unresolvable(path: Path, exc: OSError) -> str:
    """Why ``os.stat`` (following symlinks) failed for ``path``, in words."""
    if exc.errno == errno.ELOOP:
        return "symlink loop (the link leads back to itself)"
    if path.is_symlink() and exc.errno == errno.ENOENT:
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"broken symlink (its target {target} does not exist)"
    return f"cannot read ({exc.strerror or exc})"


def scan_images(folder: Path, recursive: bool = False) -> ImageScan:
    """Image files in ``folder`` (by suffix), and every entry left out with its reason.

    Symlinks to files are followed.  With ``recursive``, subfolders and
    symlinks to folders are searched; a link back to a folder on the current
    path is reported as a symlink loop, and a second way into a folder already
    searched is reported instead of listing its images twice.  Hidden entries
    (names starting with ``.``) are skipped; hidden *image* files are named in
    ``left_out`` (e.g. macOS ``._x.png`` resource forks), others silently.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    scan = ImageScan()
    seen: dict[tuple[int, int], Path] = {}

    def walk(d: Path, ancestors: tuple[tuple[int, int], ...]) -> None:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            scan.left_out.append((d, f"cannot list this folder ({exc.strerror or exc})"))
            return
        for entry in entries:
            path = Path(entry.path)
            image_like = is_image_path(path)
            if entry.name.startswith("."):
                if image_like:
                    scan.left_out.append((path, "hidden file (its name starts with '.'); rename it to include it"))
                elif recursive and path.is_dir():
                    scan.ignored.append((path, "a hidden folder (not searched)"))
                continue
            try:
                st = path.stat()  # follows symlinks
            except OSError as exc:
                scan.left_out.append((path, _why_unresolvable(path, exc)))
                continue
            if stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if not recursive:
                    if image_like:
                        scan.left_out.append((path, "a folder named like an image file, not an image"))
                    else:
                        scan.ignored.append((path, "a subfolder (not searched: this folder is read non-recursively)"))
                elif key in ancestors:
                    scan.left_out.append((path, f"symlink loop (leads back to {seen.get(key, folder)})"))
                elif key in seen:
                    scan.left_out.append((path, f"the same folder as {seen[key]}, whose images are listed once"))
                else:
                    seen[key] = path
                    walk(path, ancestors + (key,))
            elif not stat.S_ISREG(st.st_mode):
                if image_like:
                    scan.left_out.append((path, "not a regular file (a FIFO, socket or device)"))
            elif image_like:
                scan.images.append(path)
            else:
                scan.ignored.append((path, "no image file extension"))

    root_st = folder.stat()
    seen[(root_st.st_dev, root_st.st_ino)] = folder
    walk(folder, ((root_st.st_dev, root_st.st_ino),))
    scan.images.sort()
    return scan


def list_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by suffix), sorted by name for determinism.

    Callers that report inputs use :func:`scan_images`, which also says what
    was left out and why.
    """
    return scan_images(folder, recursive).images


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        arr = arr / 257.0 if arr.max() > 255 or mode.startswith("I;16") else arr
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        scale = 255.0 if arr.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode != "RGB":
        return img.convert("RGB")
    return img


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read ``path`` as an (H, W, 3) uint8 RGB array, or raise DataError naming it."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise DataError(f"{path}: image too large ({img.width}x{img.height})")
                img.load()
                img = ImageOps.exif_transpose(img) or img
                rgb = _to_rgb(img)
                arr = np.asarray(rgb, dtype=np.uint8)
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file (or an unsupported format)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: corrupt or truncated image ({exc})") from None
    except Image.DecompressionBombError as exc:
        raise DataError(f"{path}: image too large ({exc})") from None
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise DataError(f"{path}: unexpected image shape {arr.shape}")
    return np.ascontiguousarray(arr)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_png(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Save an (H,W,3) or (H,W) uint8 array as PNG, atomically."""
    import io

    path = Path(path)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG")
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:
        raise DataError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H,W,3) uint8 -> (3,H,W) float32 tensor in [-1, 1]."""
    import torch

    t = torch.from_numpy(np.require(array, dtype=np.uint8, requirements=["C", "W"])).permute(2, 0, 1).float()
    return t.div_(127.5).sub_(1.0)


def to_uint8(tensor: torch.Tensor) -> np.ndarray:
    """(3,H,W) or (1,H,W) tensor in [-1, 1] -> (H,W,3) uint8 (maps: (H,W))."""
    t = tensor.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(dtype=__import__("torch").uint8)
    arr = t.permute(1, 2, 0).numpy()
    return arr[..., 0] if arr.shape[2] == 1 else arr
