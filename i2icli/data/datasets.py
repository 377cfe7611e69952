"""Training and test datasets over the store (and over CycleGAN folder trees).

Every dataset is a :class:`~i2icli.data.keyed.KeyedDataset`: the engine's
sampler hands it keys, and all randomness (crop, flip, the partner image of an
unpaired pair) comes from ``keyed_rng(cfg.train.seed, key)``, so the same key
always yields the same item, in any worker process and on any DDP rank.

Items are dicts whose images are uint8 tensors (3, S, S) with
``S = cfg.data.image_size``; each dataset lists them in ``image_keys`` and the
engine turns them into float32 in [-1, 1] on the training device (the batch
contract in :mod:`i2icli.data.keyed`; call
:func:`~i2icli.data.keyed.images_to_float` when feeding a family without the
engine):

- :func:`unpaired_dataset`: ``{"a", "b"}``, two domains (U-GAT-IT, EGSC-IT, SEGIN-free setups)
- :func:`attribute_dataset`: ``{"image", "labels"}`` with ``labels`` float32 (n_attr,) in {0, 1}
- :func:`paired_dataset`: ``{"source", "target"}`` (sketch -> image), same crop/flip on both

Augmentation (train split only): resize to ``cfg.data.load_size``, random crop
``image_size`` and horizontal flip when ``cfg.data.flip`` (U-GAT-IT App. B.2).
The attribute dataset only resizes to ``image_size`` and flips: its stores
are already face-aligned crops (CelebA 178 center crop), and LOMIT/StarGAN
train with flip as the only augmentation.  Test split: resize to
``image_size``, nothing random.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from i2icli.config import RunConfig
from i2icli.data.keyed import KeyedDataset, image_bytes
from i2icli.data.store import SPLITS, Store, open_store
from i2icli.data.transforms import resize, test_transform, train_augment
from i2icli.errors import DataError
from i2icli.images import list_images, load_rgb, to_tensor


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def _data_path(cfg: RunConfig) -> Path:
    if not cfg.data.path:
        raise DataError("data.path is empty; set it in the recipe or pass --data FILE.h5 (see `i2i prepare --help`)")
    path = Path(cfg.data.path)
    if not path.exists():
        raise DataError(f"{path}: data.path does not exist; prepare it with `i2i prepare ...`")
    return path


class _Augment:
    """The split's transform, shared by the datasets below."""

    def __init__(self, cfg: RunConfig, split: str, crop: bool = True):
        self.train = split == "train"
        self.size = cfg.data.image_size
        self.load = cfg.data.load_size if crop else cfg.data.image_size
        self.flip = cfg.data.flip

    def __call__(self, arrays: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        if self.train:
            return train_augment(arrays, rng, self.load, self.size, self.flip)
        return test_transform(arrays, self.size)


# --------------------------------------------------------------------------- unpaired


class _Domain(Protocol):
    """One domain's images: ``len(d)`` of them, ``d(i)`` the i-th as uint8 (H, W, 3)."""

    def __len__(self) -> int: ...

    def __call__(self, i: int) -> np.ndarray: ...


class _StoreDomain:
    def __init__(self, store: Store, split: str, domain: str | int):
        self.store, self.split = store, split
        self.indices = store.indices(split, domain)

    def __len__(self) -> int:
        return len(self.indices)

    def __call__(self, i: int) -> np.ndarray:
        return self.store.image(self.split, int(self.indices[i]))


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be an image, from its header alone (no decoding), or None."""
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        with Image.open(path) as img:
            img.size  # noqa: B018 - parsing the header is the check
    except UnidentifiedImageError:
        return "not an image file (or an unsupported format)"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"corrupt image ({exc})"
    return None


class _FolderDomain:
    """Images of one folder, read with :func:`load_rgb` at training time.

    Headers are checked up front (cheap, no decoding) so that a junk file is a
    clear error before training rather than an exception inside a DataLoader
    worker; files truncated after a valid header still fail when read.
    """

    def __init__(self, folder: Path):
        self.paths = list_images(folder)
        bad = [(p, why) for p in self.paths if (why := _unreadable(p)) is not None]
        if bad:
            p, why = bad[0]
            raise DataError(f"{folder}: {len(bad)} unreadable image file(s), e.g. {p.name}: {why}; remove them, "
                            "or prepare a store with `i2i prepare unpaired` (it skips and lists bad files)")

    def __len__(self) -> int:
        return len(self.paths)

    def __call__(self, i: int) -> np.ndarray:
        return load_rgb(self.paths[i])  # DataError names a bad file


class UnpairedDataset(KeyedDataset):
    """Two domains A and B; item ``index`` enumerates the larger one, its partner is keyed-random."""

    image_keys = ("a", "b")

    def __init__(self, domain_a: _Domain, domain_b: _Domain,
                 augment: _Augment, seed: int, domain_names: tuple[str, str], source: str):
        self.domain_a, self.domain_b = domain_a, domain_b
        self.augment = augment
        self.seed = int(seed)
        self.domain_names = domain_names
        self.source = source
        self.len_a, self.len_b = len(domain_a), len(domain_b)

    def __len__(self) -> int:
        return max(self.len_a, self.len_b)

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Tensor]:
        if self.len_a >= self.len_b:
            ia, ib = index, int(rng.integers(self.len_b))
        else:
            ia, ib = int(rng.integers(self.len_a)), index
        a = self.augment([self.domain_a(ia)], rng)[0]
        b = self.augment([self.domain_b(ib)], rng)[0]
        return {"a": image_bytes(a), "b": image_bytes(b)}


def unpaired_dataset(cfg: RunConfig, split: str) -> UnpairedDataset:
    """Domains A and B of a store (``cfg.data.domains`` or the first two) or of a trainA/trainB/testA/testB tree."""
    _check_split(split)
    path = _data_path(cfg)
    augment = _Augment(cfg, split)
    a: _Domain
    b: _Domain
    if path.is_dir():
        folders = [path / f"{split}{d}" for d in ("A", "B")]
        for f in folders:
            if not f.is_dir():
                raise DataError(f"{f}: missing; a folder dataset needs {split}A/ and {split}B/ "
                                "(CycleGAN layout) or use a store from `i2i prepare unpaired`")
        a, b = _FolderDomain(folders[0]), _FolderDomain(folders[1])
        names = ("A", "B")
    else:
        store = open_store(path)
        if len(store.domains) < 2:
            raise DataError(f"{path}: needs at least 2 domains for unpaired training, has "
                            f"{len(store.domains)}; prepare it with `i2i prepare unpaired|afhq|synthetic digits`")
        chosen = cfg.data.domains or store.domains[:2]
        if len(chosen) != 2:
            raise DataError(f"data.domains must name exactly 2 domains, got {list(chosen)}; "
                            f"store has {list(store.domains)}")
        ids = [store.domain_index(d) for d in chosen]
        a, b = _StoreDomain(store, split, ids[0]), _StoreDomain(store, split, ids[1])
        names = (store.domains[ids[0]], store.domains[ids[1]])
    for name, d in zip(names, (a, b), strict=True):
        if len(d) == 0:
            raise DataError(f"{path}: domain {name!r} has no {split} images")
    return UnpairedDataset(a, b, augment, cfg.train.seed, names, str(path))


# --------------------------------------------------------------------------- attributes


class AttributeDataset(KeyedDataset):
    """Images with binary labels.  Unaugmented access for exemplar samplers:
    :meth:`raw_image` and :attr:`labels` (N, n_attr) float32."""

    image_keys = ("image",)

    def __init__(self, store: Store, split: str, columns: list[int], augment: _Augment, seed: int):
        self.store, self.split = store, split
        self.label_names = tuple(store.attributes[c] for c in columns)
        self.labels = store.labels(split)[:, columns].astype(np.float32)
        self.augment = augment
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def raw_image(self, index: int) -> np.ndarray:
        """Image ``index`` as stored, (H, W, 3) uint8, no augmentation."""
        return self.store.image(self.split, index)

    def image_tensor(self, index: int) -> Tensor:
        """Image ``index`` resized to ``image_size``, no augmentation, (3, S, S) in [-1, 1]."""
        return to_tensor(resize(self.raw_image(index), self.augment.size))

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        image = self.augment([self.raw_image(index)], rng)[0]
        return {"image": image_bytes(image), "labels": torch.from_numpy(self.labels[index].copy())}


def attribute_dataset(cfg: RunConfig, split: str) -> AttributeDataset:
    """Attribute-labelled images of a store; ``cfg.data.attributes`` selects the labels (default all)."""
    _check_split(split)
    path = _data_path(cfg)
    store = open_store(path)
    if not store.attributes:
        raise DataError(f"{path}: has no attribute labels; prepare it with `i2i prepare celeba` or "
                        "`i2i prepare synthetic faces`")
    wanted = cfg.data.attributes or store.attributes
    missing = [a for a in wanted if a not in store.attributes]
    if missing:
        raise DataError(f"{path}: no attribute {missing[0]!r} (data.attributes); the store has "
                        f"{', '.join(store.attributes)}")
    if split not in store.splits or store.count(split) == 0:
        raise DataError(f"{path}: has no {split} images")
    return AttributeDataset(store, split, [store.attributes.index(a) for a in wanted],
                            _Augment(cfg, split, crop=False), cfg.train.seed)


# --------------------------------------------------------------------------- paired


class PairedDataset(KeyedDataset):
    """(source, target) pairs, e.g. (sketch, photo); one crop/flip draw for both."""

    image_keys = ("source", "target")

    def __init__(self, store: Store, split: str, augment: _Augment, seed: int):
        self.store, self.split = store, split
        self.augment = augment
        self.seed = int(seed)
        self._n = store.count(split)

    def __len__(self) -> int:
        return self._n

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Tensor]:
        source, target = self.augment([self.store.source(self.split, index), self.store.image(self.split, index)], rng)
        return {"source": image_bytes(source), "target": image_bytes(target)}


def paired_dataset(cfg: RunConfig, split: str) -> PairedDataset:
    """Paired store from `i2i prepare sketch`: items ``{"source", "target"}``."""
    _check_split(split)
    path = _data_path(cfg)
    store = open_store(path)
    if not store.paired:
        raise DataError(f"{path}: is not a paired store; prepare it with `i2i prepare sketch`")
    if split not in store.splits or store.count(split) == 0:
        raise DataError(f"{path}: has no {split} images")
    return PairedDataset(store, split, _Augment(cfg, split), cfg.train.seed)
