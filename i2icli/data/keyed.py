"""Keyed sampling and the batch contract: reproducible augmentation, images as bytes.

The engine's sampler (:class:`i2icli.engine.sampler.KeyedSampler`) yields
*keys* ``k = epoch * len(dataset) + index``.  A training dataset maps a key to
``index = k % len(self)`` and draws **all** its randomness (crop offsets, flips,
the partner image of an unpaired pair, an exemplar, target labels) from
``keyed_rng(seed, k)``.  Nothing depends on global RNG state or on which worker
process loads the item, so a run that is interrupted and resumed sees exactly
the same batches as one that was not, and every rank of a DDP job sees a
disjoint, deterministic shard.

Images travel as bytes.  An item is a dict of tensors; the entries named in the
dataset's :attr:`KeyedDataset.image_keys` are **uint8 (3, H, W)** images, and
the engine turns them into float32 in [-1, 1] (``x / 127.5 - 1``, the same
arithmetic as :func:`i2icli.images.to_tensor`) *on the training device*, after
the host-to-device copy (:func:`images_to_float`).  Workers then do no float
maths per item, and worker IPC, pinned-memory copies and host-to-device
traffic carry a quarter of the bytes.  Every other entry (labels, masks,
indices) keeps its dtype and is passed through unchanged; float labels stay
float.  A family's ``step``/``sample`` therefore always sees float images.
Code that feeds dataset items to a family without the engine (tests,
benchmarks) calls :func:`images_to_float` itself.

Datasets that are not :class:`KeyedDataset` subclasses, or that leave
``image_keys`` empty, hand over float tensors as before; the engine converts
nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset


def keyed_rng(seed: int, key: int) -> np.random.Generator:
    """A NumPy generator determined by ``(seed, key)`` alone."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(key)])


def image_bytes(array: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 array (any strides: a crop or flip view is fine) -> contiguous (3, H, W) uint8 tensor.

    One NumPy copy does the crop, the flip and the HWC -> CHW transpose, so
    augmentations can return views and collation is a plain memcpy.  (NumPy,
    not torch: a torch transpose runs on the intra-op thread pool, which costs
    milliseconds per image in a busy main process; NumPy's loop is ~15 us at 128 px.)
    """
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.uint8))


def images_to_float(batch: Mapping[str, Any], image_keys: Collection[str]) -> dict[str, Any]:
    """``batch`` with its uint8 images (``image_keys``) as float32 in [-1, 1], on the images' own device.

    The arithmetic is :func:`i2icli.images.to_tensor`'s (``x / 127.5 - 1`` in
    float32), so converting on the device gives bit-identical floats to
    converting in the worker.  Memory format (channels_last) is kept.
    """
    out = dict(batch)
    for key in image_keys:
        x = out[key]
        if x.dtype != torch.uint8:
            raise TypeError(f"batch[{key!r}] is declared an image (image_keys) but has dtype {x.dtype}, not uint8")
        out[key] = x.float().div_(127.5).sub_(1.0)
    return out


class KeyedDataset(Dataset):
    """Base class: subclasses implement ``__len__`` and ``item(index, rng)``.

    ``image_keys``: the item entries that are uint8 (3, H, W) images (see the
    module docstring); the engine converts exactly these to float on the device.
    """

    seed: int = 0
    image_keys: tuple[str, ...] = ()

    def __getitem__(self, key: int) -> dict[str, Any]:
        key = int(key)
        return self.item(key % len(self), keyed_rng(self.seed, key))

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement __len__")

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Any]:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement item(index, rng)")


def dataset_image_keys(dataset: Dataset) -> tuple[str, ...]:
    """The keys the engine converts from uint8 to float: ``image_keys`` of a :class:`KeyedDataset`, else none."""
    return tuple(dataset.image_keys) if isinstance(dataset, KeyedDataset) else ()
