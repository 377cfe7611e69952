"""Image sets a metric reads: a folder, a prepared HDF5 store selection, or arrays.

``--generated`` / ``--real`` accept

- a folder of images (read with :func:`i2icli.images.load_rgb`, sorted by
  file name; sub-folders are ignored except by LPIPS ``diversity``);
- a store selection ``FILE.h5:SPLIT/DOMAIN`` (e.g. ``data/selfie2anime.h5:test/anime``).

Policy (recorded in every eval.jsonl line):

- images are read as 8-bit RGB; i2i does **not** resize.  The Inception
  extractor of torch-fidelity resizes every image to 299x299 with its
  TF1.x-compatible bilinear filter; LPIPS and SSIM compare at the stored size.
- all images of one set must have the same size (a mixed folder almost always
  means a mistake, and published protocols evaluate at one resolution); the
  error names the first file that differs.
- an empty set, or an unreadable file, is a :class:`~i2icli.errors.DataError`
  naming the folder / file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from i2icli.errors import DataError
from i2icli.images import list_images, load_rgb

STORE_SUFFIXES = (".h5", ".hdf5")


@dataclass
class ImageSet:
    """An ordered, named collection of (H, W, 3) uint8 images.

    ``fingerprint()`` hashes the content (every file's bytes, or every array)
    so cached features are reused only for identical inputs.
    """

    source: str
    kind: str  # "folder", "store", "arrays"
    names: list[str]
    _load: Callable[[int], np.ndarray]
    _fingerprint: Callable[[], str]
    file_format: str
    _size: tuple[int, int] | None = field(default=None, repr=False)
    attributes: tuple[str, ...] = ()  # label names, for store selections with attribute labels
    labels: np.ndarray | None = field(default=None, repr=False)  # (N, A) uint8 in {0, 1}

    def __len__(self) -> int:
        return len(self.names)

    def load(self, i: int) -> np.ndarray:
        return self._load(i)

    def fingerprint(self) -> str:
        return self._fingerprint()

    def image_size(self) -> tuple[int, int]:
        """(H, W) of the set, checking that all images agree (DataError naming the first that differs)."""
        if self._size is None:
            first = None
            for i in range(len(self)):
                hw = self.load(i).shape[:2]
                if first is None:
                    first = hw
                elif hw != first:
                    raise DataError(f"{self.source}: {self.names[i]} is {hw[1]}x{hw[0]} but {self.names[0]} is "
                                    f"{first[1]}x{first[0]}; all images of a set must have the same size")
            self._size = first
        assert self._size is not None
        return self._size

    def batches(self, batch_size: int) -> Iterator[tuple[int, np.ndarray]]:
        """(start index, (B, H, W, 3) uint8) batches; checks sizes as it goes."""
        if batch_size < 1:
            raise DataError(f"batch size must be >= 1, got {batch_size}")
        expected = None
        for start in range(0, len(self), batch_size):
            arrays = []
            for i in range(start, min(start + batch_size, len(self))):
                a = self.load(i)
                if expected is None:
                    expected = a.shape
                elif a.shape != expected:
                    raise DataError(f"{self.source}: {self.names[i]} is {a.shape[1]}x{a.shape[0]} but "
                                    f"{self.names[0]} is {expected[1]}x{expected[0]}; all images of a set must "
                                    "have the same size")
                arrays.append(a)
            yield start, np.stack(arrays)

    def describe(self) -> dict:
        return {"source": self.source, "kind": self.kind, "count": len(self), "file_format": self.file_format}


def from_arrays(arrays: list[np.ndarray] | np.ndarray, source: str = "<arrays>",
                names: list[str] | None = None) -> ImageSet:
    """An ImageSet over in-memory (H, W, 3) uint8 arrays (library use and tests)."""
    arrays = [np.ascontiguousarray(a) for a in arrays]
    if not arrays:
        raise DataError(f"{source}: no images")
    for i, a in enumerate(arrays):
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise DataError(f"{source}: image {i} must be (H, W, 3) uint8, got {a.shape} {a.dtype}")

    def fp() -> str:
        h = hashlib.sha256()
        for a in arrays:
            h.update(str(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()

    return ImageSet(source, "arrays", names or [f"{i:06d}" for i in range(len(arrays))], lambda i: arrays[i], fp,
                    "array")


def from_folder(folder: Path) -> ImageSet:
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{folder}: no such folder")
    files = list_images(folder)
    if not files:
        raise DataError(f"{folder}: no images (looked for .png/.jpg/... files directly in the folder)")
    suffixes = sorted({p.suffix.lower().lstrip(".") for p in files})
    fmt = suffixes[0] if len(suffixes) == 1 else "mixed:" + ",".join(suffixes)

    def fp() -> str:
        h = hashlib.sha256()
        for p in files:
            h.update(p.name.encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
        return h.hexdigest()

    return ImageSet(str(folder), "folder", [p.name for p in files], lambda i: load_rgb(files[i]), fp, fmt)


def is_store_spec(spec: str) -> bool:
    head = spec.split(":", 1)[0]
    return ":" in spec and head.lower().endswith(STORE_SUFFIXES)


def from_store(spec: str) -> ImageSet:
    """``FILE.h5:SPLIT/DOMAIN`` (or ``FILE.h5:SPLIT``) through :mod:`i2icli.data.store`.

    The fingerprint is the store's content checksum plus the selection, so
    features are never recomputed for an unchanged store.
    """
    from i2icli.data import store as store_mod

    head, _, sel = spec.rpartition(":")
    split_part, _, what = sel.partition("/")
    if what in PAIR_SELECTIONS:
        return _from_store_pairs(head, split_part, what)
    path, split, _domain = store_mod.parse_store_spec(spec)
    if split is None:
        raise DataError(f"{spec}: give a split (and domain), e.g. {path}:test/<domain>")
    store, parts = store_mod.select(spec)
    (split, idx), = parts
    if len(idx) == 0:
        raise DataError(f"{spec}: the selection holds no images")
    all_names = store.names(split)
    names = [str(all_names[int(i)]) for i in idx]
    checksum = store.provenance.get("checksum", "")

    def fp() -> str:
        h = hashlib.sha256(f"{checksum}|{split}|".encode())
        h.update(np.asarray(idx, dtype=np.int64).tobytes())
        return h.hexdigest()

    labels = store.labels(split)[idx] if store.attributes else None
    return ImageSet(spec, "store", names, lambda i: np.ascontiguousarray(store.image(split, int(idx[i]))), fp,
                    "hdf5-uint8", attributes=tuple(store.attributes), labels=labels)


# Ground-truth pairs of synthetic benchmarks (store group <split>/pairs): the
# correct translations, their inputs and exemplars, and the regions where a
# translation may differ from its input (white) -- for SSIM with --mask.
PAIR_SELECTIONS = ("pairs-truth", "pairs-input", "pairs-exemplar", "pairs-region")


def _from_store_pairs(path: str, split: str, what: str) -> ImageSet:
    from i2icli.data.store import open_store

    store = open_store(path)
    pairs = store.pairs(split)
    if pairs is None or len(pairs) == 0:
        raise DataError(f"{path}:{split}/{what}: the store has no ground-truth pairs in split {split!r}")
    spec = f"{path}:{split}/{what}"

    def load(i: int) -> np.ndarray:
        if what == "pairs-truth":
            return np.ascontiguousarray(store.truth(split, i))
        if what == "pairs-region":
            return np.repeat(store.region(split, i)[..., None], 3, axis=2)
        index = pairs.input[i] if what == "pairs-input" else pairs.exemplar[i]
        return np.ascontiguousarray(store.image(split, int(index)))

    checksum = store.provenance.get("checksum", "")
    return ImageSet(spec, "store", [f"{split}/{what}/{i:06d}" for i in range(len(pairs))], load,
                    lambda: hashlib.sha256(f"{checksum}|{split}|{what}".encode()).hexdigest(), "hdf5-uint8")


def resolve(spec: str | Path) -> ImageSet:
    """A folder path or a ``FILE.h5:SPLIT/DOMAIN`` store selection."""
    text = str(spec)
    if is_store_spec(text):
        return from_store(text)
    if Path(text).suffix.lower() in STORE_SUFFIXES:
        raise DataError(f"{text}: a store needs a selection, e.g. {text}:test/<domain>")
    return from_folder(Path(text))


def check_paired(generated: ImageSet, real: ImageSet, what: str) -> None:
    """Paired metrics (SSIM, LPIPS gt/ref) compare image i with image i: counts and sizes must match."""
    if len(generated) != len(real):
        raise DataError(f"{what} compares images pairwise (sorted by name): --generated has {len(generated)} images "
                        f"but --real has {len(real)} ({generated.source} vs {real.source})")
    gs, rs = generated.image_size(), real.image_size()
    if gs != rs:
        raise DataError(f"{what}: generated images are {gs[1]}x{gs[0]} but real images are {rs[1]}x{rs[0]}; "
                        "paired images must have the same size")


def resolve_mask(spec: str | Path) -> ImageSet:
    """``--mask``: one image file (the same mask for every pair), or a folder/store selection (one per pair)."""
    text = str(spec)
    path = Path(text)
    if not is_store_spec(text) and path.is_file():
        arr = load_rgb(path)
        return ImageSet(text, "file", [path.name], lambda i: arr,
                        lambda: hashlib.sha256(path.read_bytes()).hexdigest(), path.suffix.lower().lstrip("."))
    return resolve(text)
