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
- :func:`domain_dataset`: ``{"image", "domain", "reference", "reference_domain", ...}``, N domains
  (AFHQ), the reference drawn from a target domain
- :func:`attribute_dataset`: ``{"image", "labels"}`` with ``labels`` float32 (n_attr,) in {0, 1}
- :func:`attribute_reference_dataset`: ``{"image", "labels", "reference", "reference_labels", ...}``,
  the reference drawn by a policy (random, any, differ, flip:<attribute>, callable)
- :func:`paired_dataset`: ``{"source", "target", "index"}`` (sketch -> image), same crop/flip on both,
  optionally a ``"reference"`` (another pair's target)

References come from :mod:`i2icli.data.references`, through the same keyed
generator as the augmentation.

Augmentation (train split only): resize to ``cfg.data.load_size``, random crop
``image_size`` and horizontal flip when ``cfg.data.flip`` (U-GAT-IT App. B.2).
The attribute dataset only resizes to ``image_size`` and flips: its stores
are already face-aligned crops (CelebA 178 center crop), and LOMIT/StarGAN
train with flip as the only augmentation.  Test split: resize to
``image_size``, nothing random.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from i2icli.config import RunConfig
from i2icli.data.keyed import KeyedDataset, image_bytes
from i2icli.data.references import DomainReferences, LabelPolicyFn, LabelReferences, other_index
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


# --------------------------------------------------------------------------- N domains with references


def _index(i: int) -> Tensor:
    """A 0-d int64 tensor (collates to (B,) int64)."""
    return torch.tensor(int(i), dtype=torch.int64)


class DomainDataset(KeyedDataset):
    """Every image of N domains, its domain index and a reference image from a target domain.

    Item ``index`` enumerates the selected domains' images (domain 0's, then
    domain 1's, ... in store order) and gives ``{"image", "domain",
    "reference", "reference_domain", "index", "reference_index"}``: domains
    are int64 positions in :attr:`domain_names` (``data.domains`` order, not
    the store's numbering), indices are the dataset's (``key % len``).  From
    the keyed generator, in this order: the target domain and the reference
    (:class:`~i2icli.data.references.DomainReferences`), the image's
    augmentation, the reference's (each its own crop and flip).

    ``balanced``: the key no longer picks the image; a domain is drawn
    uniformly and then an image uniformly within it (before the reference), so
    every domain is seen equally often whatever its size -- StarGAN v2's
    class-balanced source sampler (``WeightedRandomSampler`` with weights
    1/class count, with replacement; clovaai/stargan-v2 ``core/data_loader.py``).
    ``"index"`` is then the drawn image's.
    """

    image_keys = ("image", "reference")

    def __init__(self, store: Store, split: str, store_indices: np.ndarray, domain_ids: np.ndarray,
                 domain_names: tuple[str, ...], augment: _Augment, seed: int,
                 target: Literal["other", "any"] = "other", balanced: bool = False):
        self.store, self.split = store, split
        self.balanced = bool(balanced)
        self.store_indices = np.asarray(store_indices, dtype=np.int64)
        self.domain_ids = np.asarray(domain_ids, dtype=np.int64)
        self.domain_names = domain_names
        self.augment = augment
        self.seed = int(seed)
        self.references = DomainReferences(self.domain_ids, domain_names, target,
                                           source=f"{store.path} ({split} split)")

    def __len__(self) -> int:
        return len(self.store_indices)

    def raw_image(self, index: int) -> np.ndarray:
        """Image ``index`` of the dataset as stored, (H, W, 3) uint8, no augmentation."""
        return self.store.image(self.split, int(self.store_indices[index]))

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Tensor]:
        if self.balanced:
            members = self.references.members
            pool = members[int(rng.integers(len(members)))]
            index = int(pool[rng.integers(len(pool))])
        j, target = self.references(index, rng)
        x, y = (self.augment([self.raw_image(i)], rng)[0] for i in (index, j))
        return {"image": image_bytes(x), "domain": _index(self.domain_ids[index]),
                "reference": image_bytes(y), "reference_domain": _index(target),
                "index": _index(index), "reference_index": _index(j)}


def domain_dataset(cfg: RunConfig, split: str, target: Literal["other", "any"] = "other",
                   balanced: bool = False) -> DomainDataset:
    """N domains of a store (AFHQ: cat, dog, wild): ``cfg.data.domains`` selects and orders them, () = all.

    ``target``: where references come from, ``"other"`` (uniform over the
    other domains) or ``"any"`` (uniform over all, the item's own included).
    ``balanced``: draw the item's domain uniformly too (see :class:`DomainDataset`).
    """
    _check_split(split)
    path = _data_path(cfg)
    if path.is_dir():
        raise DataError(f"{path}: a multi-domain dataset reads a store, not a folder; prepare one with "
                        "`i2i prepare afhq DIR` or `i2i prepare unpaired DIR`")
    store = open_store(path)
    if not store.domains:
        raise DataError(f"{path}: has no domains; prepare it with `i2i prepare afhq|unpaired|synthetic digits`")
    chosen = cfg.data.domains or store.domains
    ids = [store.domain_index(d) for d in chosen]
    if len(set(ids)) != len(ids):
        raise DataError(f"data.domains names a domain twice: {list(chosen)}; {path} has {', '.join(store.domains)}")
    per_domain = [store.indices(split, i) for i in ids]
    domain_ids = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(per_domain)])
    return DomainDataset(store, split, np.concatenate(per_domain), domain_ids,
                         tuple(store.domains[i] for i in ids), _Augment(cfg, split), cfg.train.seed, target,
                         balanced)


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


class AttributeReferenceDataset(KeyedDataset):
    """An attribute dataset whose items carry a labelled reference image drawn by a policy.

    Item ``index`` -> ``{"image", "labels", "reference", "reference_labels",
    "index", "reference_index"}`` (labels float32 (n_attr,), indices int64).
    Policies (:class:`~i2icli.data.references.LabelReferences`): ``"random"``,
    ``"any"``, ``"differ"``, ``"flip:<attribute>"`` or a callable.  From the
    keyed generator, in this order: the reference index, the image's flip, the
    reference's flip (LOMIT's exemplar pairs are this dataset's items).
    """

    image_keys = ("image", "reference")

    def __init__(self, base: AttributeDataset, policy: str | LabelPolicyFn = "random",
                 option: str = "reference policy"):
        self.base = base
        self.seed = base.seed
        self.label_names = base.label_names
        self.references = LabelReferences(base.labels, base.label_names, policy,
                                          source=f"{base.store.path} ({base.split} split)", option=option)

    def __len__(self) -> int:
        return len(self.base)

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Tensor]:
        j = self.references(index, rng)
        x, y = (self.base.augment([self.base.raw_image(i)], rng)[0] for i in (index, j))
        labels = self.base.labels
        return {"image": image_bytes(x), "labels": torch.from_numpy(labels[index].copy()),
                "reference": image_bytes(y), "reference_labels": torch.from_numpy(labels[j].copy()),
                "index": _index(index), "reference_index": _index(j)}


def attribute_reference_dataset(cfg: RunConfig, split: str, policy: str | LabelPolicyFn = "random",
                                option: str = "reference policy") -> AttributeReferenceDataset:
    """:func:`attribute_dataset` with a labelled reference per item; ``option`` names the recipe key in errors."""
    return AttributeReferenceDataset(attribute_dataset(cfg, split), policy, option)


# --------------------------------------------------------------------------- paired


class PairedDataset(KeyedDataset):
    """(source, target) pairs, e.g. (sketch, photo); one crop/flip draw for both; optionally a reference.

    Item ``index`` -> ``{"source", "target", "index"}``; with ``reference``
    also ``"reference"`` (the target image of another pair, uniform over the
    others, with its own crop and flip: what a reference-guided colourisation
    model such as SEGIN sees at test time) and ``"reference_index"``.  Indices
    are store indices of the split (int64), e.g. to look up a match cache.
    From the keyed generator, in this order: the reference index (when on),
    the pair's crop and flip, the reference's.
    """

    def __init__(self, store: Store, split: str, augment: _Augment, seed: int, reference: bool = False):
        self.store, self.split = store, split
        self.augment = augment
        self.seed = int(seed)
        self.reference = bool(reference)
        self.image_keys = ("source", "target", "reference") if reference else ("source", "target")
        self._n = store.count(split)
        if reference and self._n < 2:
            raise DataError(f"{store.path}: has {self._n} {split} pair(s), a reference from another pair needs at "
                            "least two; prepare more images")

    def __len__(self) -> int:
        return self._n

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Tensor]:
        j = other_index(index, self._n, rng) if self.reference else -1
        source, target = self.augment([self.store.source(self.split, index), self.store.image(self.split, index)], rng)
        out = {"source": image_bytes(source), "target": image_bytes(target), "index": _index(index)}
        if self.reference:
            out["reference"] = image_bytes(self.augment([self.store.image(self.split, j)], rng)[0])
            out["reference_index"] = _index(j)
        return out


def paired_dataset(cfg: RunConfig, split: str, reference: bool = False) -> PairedDataset:
    """Paired store from `i2i prepare sketch`: items ``{"source", "target", "index"}`` (+ a reference, see above)."""
    _check_split(split)
    path = _data_path(cfg)
    store = open_store(path)
    if not store.paired:
        raise DataError(f"{path}: is not a paired store; prepare it with `i2i prepare sketch`")
    if split not in store.splits or store.count(split) == 0:
        raise DataError(f"{path}: has no {split} images")
    return PairedDataset(store, split, _Augment(cfg, split), cfg.train.seed, reference)
