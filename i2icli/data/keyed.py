"""Keyed sampling: reproducible augmentation across resume, workers and ranks.

The engine's sampler (:class:`i2icli.engine.sampler.KeyedSampler`) yields
*keys* ``k = epoch * len(dataset) + index``.  A training dataset maps a key to
``index = k % len(self)`` and draws **all** its randomness (crop offsets, flips,
the partner image of an unpaired pair, an exemplar, target labels) from
``keyed_rng(seed, k)``.  Nothing depends on global RNG state or on which worker
process loads the item, so a run that is interrupted and resumed sees exactly
the same batches as one that was not, and every rank of a DDP job sees a
disjoint, deterministic shard.
"""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset


def keyed_rng(seed: int, key: int) -> np.random.Generator:
    """A NumPy generator determined by ``(seed, key)`` alone."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(key)])


class KeyedDataset(Dataset):
    """Base class: subclasses implement ``__len__`` and ``item(index, rng)``."""

    seed: int = 0

    def __getitem__(self, key: int):
        key = int(key)
        return self.item(key % len(self), keyed_rng(self.seed, key))

    def item(self, index: int, rng: np.random.Generator):  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement item(index, rng)")
