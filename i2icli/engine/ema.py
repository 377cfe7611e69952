"""Exponential moving average of declared networks, owned by the engine.

``Family.ema`` names the networks to average (e.g. a generator);
``train.ema_decay`` the decay (0: off) and ``train.ema_start`` the iteration
from which averaging starts (before it the average is a copy).  The update
after each iteration is ``ema = decay * ema + (1 - decay) * live`` for floating
parameters and a plain copy for buffers (running statistics, spectral-norm
vectors), as StarGAN v2's ``moving_average`` and most EMA code do.

The averaged copies are saved with the checkpoint under ``ema.<net>.<param>``
and loaded by ``translate`` in place of the live weights; sample grids are
drawn with them (:meth:`EMA.swapped`).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn

PREFIX = "ema."


class EMA:
    def __init__(self, networks: nn.ModuleDict, names: tuple[str, ...], decay: float, start: int = 0):
        unknown = [n for n in names if n not in networks]
        if unknown:
            raise ValueError(f"EMA of unknown networks {unknown}; networks: {list(networks)}")
        self.decay = decay
        self.start = start
        self.live = networks
        self.averaged = nn.ModuleDict({n: copy.deepcopy(networks[n]) for n in names})
        for m in self.averaged.values():
            m.requires_grad_(False)
            m.eval()

    @torch.no_grad()
    def update(self, iteration: int) -> None:
        """After iteration ``iteration`` (0-based) completed."""
        decay = self.decay if iteration >= self.start else 0.0
        for name, avg in self.averaged.items():
            live = self.live[name]
            for pa, pl in zip(avg.parameters(), live.parameters(), strict=True):
                if decay == 0.0:
                    pa.copy_(pl)
                else:
                    pa.lerp_(pl.detach(), 1.0 - decay)
            for ba, bl in zip(avg.buffers(), live.buffers(), strict=True):
                ba.copy_(bl)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"{PREFIX}{n}.{k}": v for n, m in self.averaged.items() for k, v in m.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, m in self.averaged.items():
            prefix = f"{PREFIX}{name}."
            sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            m.load_state_dict(sub)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """Within the block the live networks hold the averaged weights (restored after)."""
        saved = {n: {k: v.clone() for k, v in self.live[n].state_dict().items()} for n in self.averaged}
        try:
            for n, m in self.averaged.items():
                self.live[n].load_state_dict(m.state_dict())
            yield
        finally:
            for n, sd in saved.items():
                self.live[n].load_state_dict(sd)


def split_ema(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(network weights, ema weights) of a flat checkpoint state dict."""
    ema = {k: v for k, v in state.items() if k.startswith(PREFIX)}
    return {k: v for k, v in state.items() if not k.startswith(PREFIX)}, ema
