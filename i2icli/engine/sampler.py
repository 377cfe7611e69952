"""An infinite, resumable, rank-sharded sampler that yields *keys*.

The global sample stream is ``g = 0, 1, 2, ...``; position ``g`` belongs to
epoch ``e = g // N`` and maps to ``index = perm_e[g % N]`` where ``perm_e`` is a
permutation seeded by ``(seed, e)``.  The key handed to the dataset is
``e * N + index`` (see :mod:`i2icli.data.keyed`).

Iteration ``it`` consumes the global positions ``[it*B*W, (it+1)*B*W)``; rank
``r`` takes ``[it*B*W + r*B, it*B*W + (r+1)*B)``.  So the union of all ranks'
batches at an iteration is the same whatever the world size, and resuming at
iteration ``it`` only needs ``it``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class KeyedSampler(Sampler[int]):
    def __init__(self, size: int, batch_size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1,
                 start_iteration: int = 0):
        if size <= 0:
            raise ValueError("cannot sample from an empty dataset")
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start_iteration = start_iteration
        self._epoch = -1
        self._perm: np.ndarray | None = None

    def _key(self, g: int) -> int:
        epoch, pos = divmod(g, self.size)
        if epoch != self._epoch:
            self._perm = np.random.default_rng([self.seed & 0xFFFFFFFF, epoch, 0x5EED]).permutation(self.size)
            self._epoch = epoch
        assert self._perm is not None
        return epoch * self.size + int(self._perm[pos])

    def keys_for(self, iteration: int) -> list[int]:
        base = (iteration * self.world_size + self.rank) * self.batch_size
        return [self._key(base + j) for j in range(self.batch_size)]

    def __iter__(self) -> Iterator[int]:
        it = self.start_iteration
        while True:
            yield from self.keys_for(it)
            it += 1

    def __len__(self) -> int:  # effectively infinite; DataLoader only needs it for len(loader)
        return 2**62
