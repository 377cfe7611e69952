"""The contract between a model family and the training engine.

A family owns its networks and says how one training iteration is made of
*phases* (e.g. a discriminator update, then a generator update).  The engine
(:mod:`i2icli.engine.loop`) owns everything else: devices, DDP wrapping,
optimisers, AMP, learning-rate schedules, checkpoints, logging, sampling, NaN
checks.  A family never calls ``backward()`` or ``optimizer.step()``.

Per iteration, for each phase whose ``every`` divides the iteration number, the
engine

1. enables gradients for the phase's modules and disables them for all others,
2. calls ``family.step(phase.name, nets, batch, iteration)`` which returns
   ``(loss, logs)``; ``nets[name]`` is the DDP-wrapped module for the phase's
   own modules and the plain module for the others (so frozen networks never
   take part in gradient synchronisation),
3. back-propagates ``loss``, steps the phase's optimiser, then calls
   ``family.after_update(phase.name)`` (e.g. U-GAT-IT clips rho there).

``logs`` maps names to *detached* scalar tensors; the engine converts them to
floats only when it logs (avoids a device sync every step).

Batches: the registered dataset's items are collated by a DataLoader and
copied to the device by the engine.  Images leave the workers as uint8
(3, H, W) under the keys the dataset lists in ``image_keys``; the engine
converts exactly those to float32 in [-1, 1] on the device after the copy
(:mod:`i2icli.data.keyed`).  So ``step`` and ``sample`` always receive float
images in [-1, 1] (B, 3, H, W), and every other entry (labels, masks) with the
dtype the dataset gave it.  Code that drives a family without the engine
applies :func:`i2icli.data.keyed.images_to_float` to its collated batches.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import Tensor, nn

from i2icli.config import RunConfig


@dataclass(frozen=True)
class Phase:
    """One optimiser and the modules it updates.

    ``every``: the phase runs on iterations where ``iteration % every == 0``
    (LOMIT/WGAN-GP: generator every 5th iteration, discriminator every one).
    ``lr``: overrides ``train.lr`` for this phase when set.
    """

    name: str
    modules: tuple[str, ...]
    every: int = 1
    lr: float | None = None


class Nets(Mapping[str, nn.Module]):
    """Read-only name -> module view handed to :meth:`Family.step`."""

    def __init__(self, modules: Mapping[str, nn.Module]):
        self._modules = dict(modules)

    def __getitem__(self, name: str) -> nn.Module:
        return self._modules[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


Logs = dict[str, Tensor]


class Family(abc.ABC):
    """Base class of a trainable model family (see module docstring).

    Subclasses set ``self.networks`` (an ``nn.ModuleDict``: everything that is
    checkpointed) and ``self.phases`` in ``__init__`` and implement
    :meth:`step`, :meth:`translate` and :meth:`sample`.
    """

    networks: nn.ModuleDict
    phases: tuple[Phase, ...]

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg

    # -- training -----------------------------------------------------------------
    @abc.abstractmethod
    def step(self, phase: str, nets: Nets, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Logs]:
        """Compute the loss of ``phase`` for one batch. Use ``nets[name]``, not ``self.networks``."""

    def after_update(self, phase: str) -> None:
        """Hook run after the optimiser step of ``phase`` (e.g. parameter clipping)."""

    def make_optimizer(self, phase: Phase, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        """Adam with the recipe's lr/betas/weight decay; override for anything else.

        The fused kernel (one pass over all tensors) is used where torch has it
        for every parameter's device: the same update as the per-tensor loop,
        which costs seconds per iteration on CPU for models of ~100M parameters.
        """
        t = self.cfg.train
        return torch.optim.Adam(params, lr=phase.lr or t.lr, betas=t.betas, weight_decay=t.weight_decay,
                                fused=_fused_adam_available(params) or None)


def _fused_adam_available(params: list[nn.Parameter]) -> bool:
    """Fused Adam runs on CUDA (torch >= 2.0) and on CPU (torch >= 2.4)."""
    if not params or not all(p.dtype.is_floating_point for p in params):
        return False
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    devices = {p.device.type for p in params}
    allowed = {"cuda", "cpu"} if (major, minor) >= (2, 4) else {"cuda"}
    return devices <= allowed

    # -- inference ----------------------------------------------------------------
    @abc.abstractmethod
    def translate(self, x: Tensor, **guidance: Any) -> dict[str, Tensor]:
        """Translate a batch ``x`` (B,3,H,W) in [-1, 1].

        Returns at least ``"output"`` (B,3,H,W) in [-1, 1]; extra entries are
        maps (B,1,H,W) in [0, 1] (attention, masks) named by the family.
        ``guidance`` is model-specific: ``direction="a2b"|"b2a"``,
        ``exemplar=Tensor``, ``labels=Tensor``.
        """

    @abc.abstractmethod
    def sample(self, batch: dict[str, Tensor]) -> list[tuple[str, Tensor]]:
        """Columns of a sample grid for a fixed batch: (title, (B,C,H,W)).

        Images are in [-1, 1] with C=3, maps in [0, 1] with C=1.  Called by the
        engine under ``torch.no_grad()`` with the networks in eval mode.
        """
