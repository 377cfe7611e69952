"""The i2i dataset store: one versioned HDF5 schema for every prepared dataset.

``i2i prepare ...`` writes one ``.h5`` file per dataset with
:class:`StoreWriter`; every training dataset, ``i2i translate`` and ``i2i eval``
read it with :func:`open_store`.  This docstring is the schema (docs/DATA.md
repeats it with examples).  Schema version :data:`SCHEMA_VERSION` = 1.

Root attributes
---------------
``format``            ``"i2i-store"`` (identifies the file)
``schema_version``    int; a reader refuses files from a newer version
``domains``           JSON list of domain names (``[]`` if the store has no domains)
``attributes``        JSON list of binary attribute (label) names (``[]`` if none)
``mask_names``        JSON list of per-image mask channel names (``[]`` if none)
``image_size``        ``[H, W]`` of every image (all images in a store share it)
``paired``            bool: each image has a paired ``sources`` image (sketch -> image)
``producer``          the command that wrote the file (e.g. ``i2i prepare celeba``)
``parameters``        JSON object of the producer's parameters
``package_version``   i2i version that wrote it
``created``           ISO-8601 UTC time
``checksum``          ``sha256:<hex>`` over every split's ``images`` (and ``sources``,
                      ``masks``, ``pairs/truth``) bytes in index order; see :meth:`Store.verify`

Per split (a group named ``train`` or ``test``; at least one exists)
---------------------------------------------------------------------
``images``   uint8 (N, H, W, 3), chunked one image per chunk (optionally lzf)
``names``    variable-length UTF-8 str (N,): where each image came from
``domain``   int16 (N,), index into ``domains``          -- iff ``domains`` is non-empty
``labels``   uint8 (N, A) in {0, 1}, columns = ``attributes`` -- iff ``attributes`` is non-empty
``masks``    uint8 (N, M, H, W) in [0, 255], channels = ``mask_names``, one chunk
             per image, always lzf-compressed -- iff ``mask_names`` is non-empty
``sources``  uint8 (N, H, W, 3): the paired input of ``images[i]`` (e.g. its sketch)
             -- iff ``paired``

Ground-truth translation pairs (optional, synthetic benchmarks), group ``<split>/pairs``
----------------------------------------------------------------------------------------
``input``      int32 (P,): index of the input image in the split
``exemplar``   int32 (P,): index of the exemplar image in the same split
``truth``      uint8 (P, H, W, 3): the correct translation of ``input`` guided by ``exemplar``
``region``     uint8 (P, H, W) in {0, 255}: where the translation may differ from the input (lzf)
``chosen``     uint8 (P, A) in {0, 1}: attributes taken from the exemplar -- iff ``attributes``

Reading
-------
:class:`Store` validates the schema on open and loads the small per-image
metadata (names, domains, labels) into memory.  The HDF5 handle is opened
lazily *per process* (checked with ``os.getpid()``), so a store can be handed to
DataLoader worker processes and DDP ranks: a forked child never reuses its
parent's handle, and pickling drops it.  Images are read one chunk at a time
(``dataset[i]``); never with h5py fancy indexing (a list of indices is ~100x
slower, see benchmarks/bench_data.py).

Writing
-------
:class:`StoreWriter` writes to ``.<name>.h5.tmp<random>`` next to the target
and renames it over the target only when :meth:`StoreWriter.commit` succeeds;
an interrupted or failing prepare leaves no file that looks complete.  An
existing target is refused unless ``force=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from i2icli import __version__
from i2icli.errors import DataError

FORMAT = "i2i-store"
SCHEMA_VERSION = 1
SPLITS = ("train", "test")
_FLUSH = 256  # images buffered per split before a write


def _h5py() -> Any:  # the h5py module (no type hints)
    import h5py

    return h5py


# --------------------------------------------------------------------------- writer



class _Pixels:
    """One pixel dataset, read an item (= one chunk) at a time.

    Unfiltered uint8 datasets (images and sources of stores written without
    ``--lzf``) are read with ``read_direct_chunk`` straight into a fresh array:
    the chunk *is* the item, so this returns the same bytes as ``ds[i]`` while
    skipping h5py's selection machinery (about 2x faster per 128 px image,
    benchmarks/bench_data.py).  Compressed datasets (masks, lzf stores) and
    negative indices take the ordinary ``ds[i]`` path.
    """

    def __init__(self, ds: Any) -> None:  # an h5py.Dataset
        self.ds = ds
        self.n = ds.shape[0]
        self.item_shape = tuple(ds.shape[1:])
        self.direct = (ds.dtype == np.uint8 and ds.chunks == (1, *self.item_shape)
                       and ds.id.get_create_plist().get_nfilters() == 0)
        self.origin = (0,) * len(self.item_shape)

    def read(self, index: int) -> np.ndarray:
        if self.direct and 0 <= index < self.n:
            out = np.empty(self.item_shape, np.uint8)
            self.ds.id.read_direct_chunk((index, *self.origin), out=out.reshape(-1))
            return out
        return self.ds[index]

class StoreWriter:
    """Write a store atomically (see the module docstring for the schema).

    Use as a context manager; leaving the block normally commits, an exception
    discards the temporary file::

        with StoreWriter(out, image_size=(64, 64), domains=("a", "b"), producer="i2i prepare unpaired",
                         parameters={...}, force=False) as w:
            w.add("train", image, name="trainA/x.png", domain=0)
    """

    def __init__(self, path: str | os.PathLike, *, image_size: tuple[int, int], producer: str,
                 parameters: dict[str, Any] | None = None, domains: Sequence[str] = (),
                 attributes: Sequence[str] = (), mask_names: Sequence[str] = (), paired: bool = False,
                 compression: str | None = None, force: bool = False):
        self.path = Path(path)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.domains = tuple(domains)
        self.attributes = tuple(attributes)
        self.mask_names = tuple(mask_names)
        self.paired = bool(paired)
        self.compression = compression
        if compression not in (None, "lzf"):
            raise DataError(f"{self.path}: unknown compression {compression!r}; use none or lzf")
        if self.path.exists() and not force:
            raise DataError(f"{self.path}: already exists; pass --force to overwrite it")
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a folder; give a file name such as data/set.h5")
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=parent)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot write to {parent} ({exc.strerror or exc})") from None
        os.close(fd)
        self.tmp = Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the final file private
        h5py = _h5py()
        try:
            # No chunk cache and an explicit flush after every batch: a failing write
            # (disk full) then raises here, in our code, instead of later while h5py
            # deallocates objects (where HDF5 can only print or crash).
            self._f = h5py.File(self.tmp, "w", rdcc_nbytes=0)
        except OSError as exc:
            self.tmp.unlink(missing_ok=True)
            raise DataError(f"{self.path}: cannot create HDF5 file ({exc})") from None
        self._producer = producer
        self._parameters = dict(parameters or {})
        self._buf: dict[str, dict[str, list]] = {}
        self._pairs: dict[str, dict[str, list]] = {}
        self._counts: dict[str, int] = {}
        self._done = False

    # -- adding ---------------------------------------------------------------------
    def count(self, split: str) -> int:
        return self._counts.get(split, 0)

    def add(self, split: str, image: np.ndarray, name: str, *, domain: int | None = None,
            labels: Sequence[int] | np.ndarray | None = None, masks: np.ndarray | None = None,
            source: np.ndarray | None = None) -> int:
        """Append one image (H, W, 3) uint8 to ``split``; returns its index in the split."""
        if split not in SPLITS:
            raise DataError(f"{self.path}: unknown split {split!r}; use one of {', '.join(SPLITS)}")
        h, w = self.image_size
        if image.shape != (h, w, 3) or image.dtype != np.uint8:
            raise ValueError(f"image {name!r} has shape {image.shape} {image.dtype}, expected ({h}, {w}, 3) uint8")
        if bool(self.domains) != (domain is not None):
            raise ValueError("domain index required iff the store has domains")
        if domain is not None and not 0 <= domain < len(self.domains):
            raise ValueError(f"domain index {domain} out of range")
        if bool(self.attributes) != (labels is not None):
            raise ValueError("labels required iff the store has attributes")
        if bool(self.mask_names) != (masks is not None):
            raise ValueError("masks required iff the store has mask names")
        if self.paired != (source is not None):
            raise ValueError("source image required iff the store is paired")
        buf = self._buf.setdefault(split, {"images": [], "names": [], "domain": [], "labels": [],
                                           "masks": [], "sources": []})
        buf["images"].append(image)
        buf["names"].append(str(name))
        if domain is not None:
            buf["domain"].append(int(domain))
        if labels is not None:
            lab = np.asarray(labels, dtype=np.uint8).reshape(-1)
            if lab.shape != (len(self.attributes),) or lab.max(initial=0) > 1:
                raise ValueError(f"labels of {name!r} must be {len(self.attributes)} values in {{0, 1}}")
            buf["labels"].append(lab)
        if masks is not None:
            if masks.shape != (len(self.mask_names), h, w) or masks.dtype != np.uint8:
                raise ValueError(f"masks of {name!r} must be ({len(self.mask_names)}, {h}, {w}) uint8")
            buf["masks"].append(masks)
        if source is not None:
            if source.shape != (h, w, 3) or source.dtype != np.uint8:
                raise ValueError(f"source of {name!r} must be ({h}, {w}, 3) uint8")
            buf["sources"].append(source)
        index = self._counts.get(split, 0)
        self._counts[split] = index + 1
        if len(buf["images"]) >= _FLUSH:
            self._flush(split)
        return index

    def add_pair(self, split: str, input: int, exemplar: int, truth: np.ndarray, region: np.ndarray,
                 chosen: Sequence[int] | np.ndarray | None = None) -> None:
        """Record a ground-truth translation of image ``input`` guided by ``exemplar`` (same split)."""
        h, w = self.image_size
        if truth.shape != (h, w, 3) or truth.dtype != np.uint8:
            raise ValueError(f"truth must be ({h}, {w}, 3) uint8")
        if region.shape != (h, w) or region.dtype != np.uint8:
            raise ValueError(f"region must be ({h}, {w}) uint8")
        if bool(self.attributes) != (chosen is not None):
            raise ValueError("chosen attributes required iff the store has attributes")
        p = self._pairs.setdefault(split, {"input": [], "exemplar": [], "truth": [], "region": [], "chosen": []})
        p["input"].append(int(input))
        p["exemplar"].append(int(exemplar))
        p["truth"].append(truth)
        p["region"].append(region)
        if chosen is not None:
            p["chosen"].append(np.asarray(chosen, dtype=np.uint8).reshape(-1))

    # -- writing --------------------------------------------------------------------
    def _dataset(self, group: Any, name: str, shape_tail: tuple[int, ...], dtype: Any,
                 compression: str | None = None) -> Any:
        """A resizable dataset with one item per chunk (created on first use)."""
        if name in group:
            return group[name]
        kwargs: dict[str, Any] = {"chunks": (1, *shape_tail)}
        if compression or self.compression:
            kwargs["compression"] = compression or self.compression
        return group.create_dataset(name, shape=(0, *shape_tail), maxshape=(None, *shape_tail), dtype=dtype, **kwargs)

    @staticmethod
    def _append(ds: Any, values: Any) -> None:
        n = ds.shape[0]
        ds.resize(n + len(values), axis=0)
        ds[n:] = values

    def _flush(self, split: str) -> None:
        buf = self._buf.get(split)
        if not buf or not buf["images"]:
            return
        h5py = _h5py()
        h, w = self.image_size
        try:
            g = self._f.require_group(split)
            self._append(self._dataset(g, "images", (h, w, 3), np.uint8), np.stack(buf["images"]))
            names = g["names"] if "names" in g else g.create_dataset(
                "names", shape=(0,), maxshape=(None,), dtype=h5py.string_dtype("utf-8"), chunks=(1024,))
            self._append(names, np.array(buf["names"], dtype=object))
            if self.domains:
                ds = g["domain"] if "domain" in g else g.create_dataset("domain", shape=(0,), maxshape=(None,),
                                                                     dtype=np.int16, chunks=(4096,))
                self._append(ds, np.array(buf["domain"], dtype=np.int16))
            if self.attributes:
                a = len(self.attributes)
                ds = g["labels"] if "labels" in g else g.create_dataset("labels", shape=(0, a), maxshape=(None, a),
                                                                     dtype=np.uint8, chunks=(1024, a))
                self._append(ds, np.stack(buf["labels"]))
            if self.mask_names:  # binary masks: lzf always (about 20x smaller, still one chunk per image)
                self._append(self._dataset(g, "masks", (len(self.mask_names), h, w), np.uint8, "lzf"),
                             np.stack(buf["masks"]))
            if self.paired:
                self._append(self._dataset(g, "sources", (h, w, 3), np.uint8), np.stack(buf["sources"]))
            self._f.flush()
        except OSError as exc:
            raise DataError(f"{self.path}: write failed ({_reason(exc)}); is the disk full?") from None
        for v in buf.values():
            v.clear()

    def _write_pairs(self) -> None:
        h, w = self.image_size
        for split, p in self._pairs.items():
            if not p["input"]:
                continue
            n = self._counts.get(split, 0)
            idx = np.array(p["input"] + p["exemplar"])
            if idx.min() < 0 or idx.max() >= n:
                raise ValueError(f"pair index out of range for split {split!r} with {n} images")
            g = self._f.require_group(split).create_group("pairs")
            g.create_dataset("input", data=np.array(p["input"], dtype=np.int32))
            g.create_dataset("exemplar", data=np.array(p["exemplar"], dtype=np.int32))
            kw = {"compression": self.compression} if self.compression else {}
            g.create_dataset("truth", data=np.stack(p["truth"]), chunks=(1, h, w, 3), **kw)
            g.create_dataset("region", data=np.stack(p["region"]), chunks=(1, h, w), compression="lzf")
            if self.attributes:
                g.create_dataset("chosen", data=np.stack(p["chosen"]))

    def commit(self) -> Path:
        """Finish the file (metadata, checksum), then rename it onto the target."""
        if self._done:
            return self.path
        if not any(self._counts.values()):
            self.abort()
            raise DataError(f"{self.path}: nothing to write (no usable images)")
        try:
            for split in list(self._buf):
                self._flush(split)
            self._write_pairs()
            f = self._f
            f.attrs["format"] = FORMAT
            f.attrs["schema_version"] = SCHEMA_VERSION
            f.attrs["domains"] = json.dumps(list(self.domains))
            f.attrs["attributes"] = json.dumps(list(self.attributes))
            f.attrs["mask_names"] = json.dumps(list(self.mask_names))
            f.attrs["image_size"] = np.array(self.image_size, dtype=np.int64)
            f.attrs["paired"] = self.paired
            f.attrs["producer"] = self._producer
            f.attrs["parameters"] = json.dumps(self._parameters, default=str, sort_keys=True)
            f.attrs["package_version"] = __version__
            f.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            f.attrs["checksum"] = _checksum(f)
            f.close()
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise DataError(f"{self.path}: write failed ({_reason(exc)}); is the disk full?") from None
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.path

    def abort(self) -> None:
        """Discard everything written so far (the target is left untouched)."""
        self._done = True
        try:
            self._f.close()
        except (OSError, RuntimeError, ValueError):
            pass  # closing a file whose writes failed can itself fail; it is deleted next
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _reason(exc: OSError | RuntimeError) -> str:
    """One line for an OS/HDF5 error (HDF5 messages span several lines)."""
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _checksum_items(f: Any) -> Iterator[tuple[str, Any]]:
    for split in SPLITS:
        if split not in f:
            continue
        g = f[split]
        for key in ("images", "sources", "masks"):
            if key in g:
                yield f"{split}/{key}", g[key]
        if "pairs" in g:
            yield f"{split}/pairs/truth", g["pairs"]["truth"]


def _checksum(f: Any) -> str:
    h = hashlib.sha256()
    for key, ds in _checksum_items(f):
        h.update(key.encode())
        for start in range(0, ds.shape[0], 1024):
            h.update(np.ascontiguousarray(ds[start:start + 1024]).tobytes())
    return "sha256:" + h.hexdigest()


# --------------------------------------------------------------------------- reader


@dataclass(frozen=True)
class Pairs:
    """Ground-truth translation pairs of one split (see the module docstring)."""

    input: np.ndarray  # (P,) int
    exemplar: np.ndarray  # (P,) int
    chosen: np.ndarray | None  # (P, A) uint8 or None

    def __len__(self) -> int:
        return len(self.input)


class Store:
    """A validated, read-only view of a store file; picklable and fork-safe."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fh: Any | None = None  # an h5py.File (h5py has no type hints)
        self._pid = -1
        self._datasets: dict[str, _Pixels] = {}
        self._load()

    # -- opening / validation ---------------------------------------------------------
    def _bad(self, what: str) -> DataError:
        return DataError(f"{self.path}: {what}")

    def _load(self) -> None:
        h5py = _h5py()
        if self.path.is_dir():
            raise self._bad("is a folder, not a store file (.h5); create one with `i2i prepare ...`")
        if not self.path.is_file():
            raise self._bad("no such store file; create one with `i2i prepare ...`")
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise self._bad(f"not a readable HDF5 store (truncated or corrupt? {exc})") from None
        try:
            self._read_meta(f)
        except KeyError as exc:
            raise self._bad(f"missing required field {exc.args[0]!r}; "
                            "the file is incomplete, prepare it again") from None
        except (OSError, ValueError, TypeError) as exc:
            raise self._bad(f"corrupt store ({exc}); prepare it again") from None
        finally:
            f.close()

    def _read_meta(self, f: Any) -> None:
        a = f.attrs
        if a.get("format") != FORMAT:
            raise self._bad("not an i2i store (missing format attribute); create one with `i2i prepare ...`")
        version = int(a["schema_version"])
        if version > SCHEMA_VERSION:
            raise self._bad(f"schema version {version} is newer than this i2i understands ({SCHEMA_VERSION}); "
                            "upgrade i2i or prepare the data again")
        self.schema_version = version
        self.domains: tuple[str, ...] = tuple(json.loads(a["domains"]))
        self.attributes: tuple[str, ...] = tuple(json.loads(a["attributes"]))
        self.mask_names: tuple[str, ...] = tuple(json.loads(a["mask_names"]))
        self.image_size: tuple[int, int] = tuple(int(v) for v in a["image_size"])  # type: ignore[assignment]
        self.paired = bool(a["paired"])
        self.provenance: dict[str, Any] = {
            "producer": str(a["producer"]), "parameters": json.loads(a["parameters"]),
            "package_version": str(a["package_version"]), "created": str(a["created"]),
            "checksum": str(a["checksum"]),
        }
        self.splits: tuple[str, ...] = tuple(s for s in SPLITS if s in f)
        if not self.splits:
            raise self._bad("contains no split (train or test); the file is incomplete, prepare it again")
        h, w = self.image_size
        self._names: dict[str, np.ndarray] = {}
        self._domain: dict[str, np.ndarray] = {}
        self._labels: dict[str, np.ndarray] = {}
        self._pairs: dict[str, Pairs] = {}
        def check(split: str, key: str, shape: tuple[int, ...]) -> Any:
            ds = f[split][key]
            if ds.shape != shape:
                raise self._bad(f"{split}/{key} has shape {ds.shape}, expected {shape}")
            return ds

        for split in self.splits:
            g = f[split]
            images = g["images"]
            n = images.shape[0]
            if images.shape[1:] != (h, w, 3) or images.dtype != np.uint8:
                raise self._bad(f"{split}/images has shape {images.shape} {images.dtype}, "
                                f"expected (N, {h}, {w}, 3) uint8")

            self._names[split] = np.array([s.decode("utf-8", "replace") if isinstance(s, bytes) else str(s)
                                           for s in check(split, "names", (n,))[:]], dtype=object)
            if self.domains:
                dom = check(split, "domain", (n,))[:].astype(np.int64)
                if n and (dom.min() < 0 or dom.max() >= len(self.domains)):
                    raise self._bad(f"{split}/domain has indices outside 0..{len(self.domains) - 1}")
                self._domain[split] = dom
            if self.attributes:
                self._labels[split] = check(split, "labels", (n, len(self.attributes)))[:]
            if self.mask_names:
                check(split, "masks", (n, len(self.mask_names), h, w))
            if self.paired:
                check(split, "sources", (n, h, w, 3))
            if "pairs" in g:
                p = g["pairs"]
                inp, ex = p["input"][:].astype(np.int64), p["exemplar"][:].astype(np.int64)
                m = len(inp)
                if ex.shape != (m,) or p["truth"].shape != (m, h, w, 3) or p["region"].shape != (m, h, w):
                    raise self._bad(f"{split}/pairs has inconsistent shapes")
                if m and (min(inp.min(), ex.min()) < 0 or max(inp.max(), ex.max()) >= n):
                    raise self._bad(f"{split}/pairs refers to images outside 0..{n - 1}")
                chosen = p["chosen"][:] if self.attributes else None
                self._pairs[split] = Pairs(inp, ex, chosen)

    def _file(self) -> Any:
        """The h5py handle of *this* process (reopened after fork/unpickle)."""
        if self._fh is None or self._pid != os.getpid():
            self._datasets = {}
            try:
                self._fh = _h5py().File(self.path, "r")
            except OSError as exc:
                raise self._bad(f"cannot open ({exc})") from None
            self._pid = os.getpid()
        return self._fh

    def close(self) -> None:
        if self._fh is not None and self._pid == os.getpid():
            self._fh.close()
        self._fh = None
        self._datasets = {}

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fh"] = None
        state["_pid"] = -1
        state["_datasets"] = {}
        return state

    def __repr__(self) -> str:
        counts = ", ".join(f"{s}={self.count(s)}" for s in self.splits)
        return f"Store({str(self.path)!r}, {counts}, domains={list(self.domains)}, attributes={len(self.attributes)})"

    # -- metadata -----------------------------------------------------------------------
    def _split(self, split: str) -> str:
        if split not in self.splits:
            raise self._bad(f"has no split {split!r}; it has {', '.join(self.splits)}")
        return split

    def domain_index(self, domain: str) -> int:
        """Index of a domain given by name, or by letter ``a``/``b`` = first/second domain."""
        if domain in self.domains:
            return self.domains.index(domain)
        low = domain.lower()
        lowered = [d.lower() for d in self.domains]
        if low in lowered:
            return lowered.index(low)
        if len(low) == 1 and "a" <= low <= "z" and ord(low) - ord("a") < len(self.domains):
            return ord(low) - ord("a")
        raise self._bad(f"has no domain {domain!r}; domains: {', '.join(self.domains) or '(none)'}")

    def count(self, split: str, domain: str | int | None = None) -> int:
        return len(self.indices(split, domain))

    def indices(self, split: str, domain: str | int | None = None) -> np.ndarray:
        """Indices of the images of ``split`` (optionally only of one domain)."""
        n = len(self._names[self._split(split)])
        if domain is None:
            return np.arange(n)
        if not self.domains:
            raise self._bad("has no domains")
        d = self.domain_index(domain) if isinstance(domain, str) else int(domain)
        return np.flatnonzero(self._domain[split] == d)

    def names(self, split: str) -> np.ndarray:
        return self._names[self._split(split)]

    def domain_ids(self, split: str) -> np.ndarray:
        if not self.domains:
            raise self._bad("has no domains")
        return self._domain[self._split(split)]

    def labels(self, split: str) -> np.ndarray:
        """(N, A) uint8 labels in {0, 1}, columns named by :attr:`attributes`."""
        if not self.attributes:
            raise self._bad("has no attribute labels")
        return self._labels[self._split(split)]

    def pairs(self, split: str) -> Pairs | None:
        return self._pairs.get(self._split(split))

    # -- pixel data (one chunk per read) ---------------------------------------------------
    def _dataset(self, key: str) -> _Pixels:
        """Dataset ``key`` of this process's handle (cached: path lookups cost more than a chunk read)."""
        f = self._file()
        px = self._datasets.get(key)
        if px is None:
            px = self._datasets[key] = _Pixels(f[key])
        return px

    def _read(self, key: str, index: int) -> np.ndarray:
        try:
            return self._dataset(key).read(int(index))
        except (OSError, RuntimeError) as exc:
            raise self._bad(f"cannot read {key}[{int(index)}] ({_reason(exc)}); "
                            "the file is damaged, prepare it again") from None

    def image(self, split: str, index: int) -> np.ndarray:
        """Image ``index`` of ``split`` as (H, W, 3) uint8 (one chunk read)."""
        return self._read(f"{self._split(split)}/images", index)

    def source(self, split: str, index: int) -> np.ndarray:
        """The paired source (e.g. sketch) of image ``index``, (H, W, 3) uint8."""
        if not self.paired:
            raise self._bad("is not a paired store (no sources)")
        return self._read(f"{self._split(split)}/sources", index)

    def masks(self, split: str, index: int) -> np.ndarray:
        """(M, H, W) uint8 masks of image ``index``, channels named by :attr:`mask_names`."""
        if not self.mask_names:
            raise self._bad("has no masks")
        return self._read(f"{self._split(split)}/masks", index)

    def truth(self, split: str, pair: int) -> np.ndarray:
        """Ground-truth translation of pair ``pair``, (H, W, 3) uint8."""
        return self._read(f"{self._split(split)}/pairs/truth", pair)

    def region(self, split: str, pair: int) -> np.ndarray:
        """Where pair ``pair``'s translation may differ from its input, (H, W) uint8."""
        return self._read(f"{self._split(split)}/pairs/region", pair)

    def iter_images(self, split: str, domain: str | int | None = None) -> Iterator[np.ndarray]:
        """All images of a selection in index order, as (H, W, 3) uint8, read in slices."""
        idx = self.indices(split, domain)
        ds = self._file()[split]["images"]
        if domain is None:
            for start in range(0, len(idx), 256):
                yield from ds[start:start + 256]
        else:
            for i in idx:
                yield ds[int(i)]

    def verify(self) -> bool:
        """Recompute the content checksum and compare it with the stored one."""
        return _checksum(self._file()) == self.provenance["checksum"]

    # -- summary ----------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts per split and domain/attribute, image size and provenance (JSON-able)."""
        splits: dict[str, Any] = {}
        for s in self.splits:
            entry: dict[str, Any] = {"images": self.count(s)}
            if self.domains:
                entry["domains"] = {d: int((self._domain[s] == i).sum()) for i, d in enumerate(self.domains)}
            if self.attributes:
                entry["attributes"] = {a: int(self._labels[s][:, i].sum()) for i, a in enumerate(self.attributes)}
            p = self._pairs.get(s)
            if p is not None:
                entry["pairs"] = len(p)
            splits[s] = entry
        return {
            "path": str(self.path), "schema_version": self.schema_version, "image_size": list(self.image_size),
            "paired": self.paired, "domains": list(self.domains), "attributes": list(self.attributes),
            "mask_names": list(self.mask_names), "splits": splits, "size_bytes": self.path.stat().st_size,
            **self.provenance,
        }


def open_store(path: str | os.PathLike) -> Store:
    """Open and validate a store; :class:`DataError` names the file and the problem."""
    return Store(path)


# --------------------------------------------------------------------------- selections

_SPEC = re.compile(r"^(?P<path>.+?\.(?:h5|hdf5))(?::(?P<sel>[^:]*))?$", re.IGNORECASE)


def parse_store_spec(text: str) -> tuple[Path, str | None, str | None]:
    """``data.h5`` | ``data.h5:test`` | ``data.h5:test/b`` -> (path, split, domain).

    The domain is a domain name or a letter (``a``/``b`` = first/second domain).
    """
    m = _SPEC.match(str(text).strip())
    if not m:
        raise DataError(f"{text!r}: not a store spec; expected FILE.h5, FILE.h5:SPLIT or FILE.h5:SPLIT/DOMAIN")
    sel = m.group("sel")
    split = domain = None
    if sel:
        split, _, domain = sel.partition("/")
        if split not in SPLITS:
            raise DataError(f"{text!r}: unknown split {split!r}; use one of {', '.join(SPLITS)}")
        domain = domain or None
        if domain is not None and "/" in domain:
            raise DataError(f"{text!r}: expected FILE.h5:SPLIT/DOMAIN")
    return Path(m.group("path")), split, domain


def is_store_spec(text: str) -> bool:
    return bool(_SPEC.match(str(text).strip()))


def select(text: str) -> tuple[Store, list[tuple[str, np.ndarray]]]:
    """Open the store of a spec and return the (split, indices) it selects.

    No split means every split; a domain needs the store to have domains.
    """
    path, split, domain = parse_store_spec(text)
    store = open_store(path)
    splits = [split] if split else list(store.splits)
    return store, [(s, store.indices(s, domain)) for s in splits]


def iter_spec_images(text: str) -> Iterator[np.ndarray]:
    """Every image of a store selection (``data.h5:test/b``) as (H, W, 3) uint8."""
    store, parts = select(text)
    try:
        for split, idx in parts:
            for i in idx:
                yield store.image(split, int(i))
    finally:
        store.close()


def count_spec_images(text: str) -> int:
    _, parts = select(text)
    return sum(len(idx) for _, idx in parts)
