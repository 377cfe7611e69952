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

The whole of that is :func:`i2icli.engine.iteration.run_iteration`, the one
function the engine and the tests' family driver both call.

What else a family may declare (all optional):

- ``Phase.optimizer``: phases naming the same optimiser share it (one Adam
  whose state spans, e.g., an encoder stage and a decoder stage);
  ``Phase.lr`` the base lr of the phase's optimiser, ``Phase.module_lr``
  per-module base lrs (SEGIN's G/D rates live in two phases; BridgeGAN's
  mapping network a lower lr inside the generator's optimiser).  The
  schedule (``train.lr_schedule``) scales every base lr by the same factor.
- ``ema``: names of networks whose exponential moving average the engine
  keeps (decay ``train.ema_decay``; 0 turns it off).  EMA weights are saved in
  the checkpoint (``ema.<net>.*``) and used by samples and ``translate``.
- :meth:`Family.load_initial_weights`: networks copied from another run at
  the start of a fresh run (EGSC-IT's stage 2 takes its frozen feature
  networks from the stage-1 run); the plan calls it before any file is
  written, so a bad source run is a one-line error; never on resume.
- :meth:`Family.frozen_networks`: auxiliary networks (an ImageNet VGG-19 for a
  perceptual loss) built for training only, moved to the device, in eval mode
  with gradients off, visible in ``step`` as ``nets[name]`` and never
  checkpointed; ``translate`` must not need them.

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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from i2icli.config import RunConfig
from i2icli.guidance import Guidance


@dataclass(frozen=True)
class Phase:
    """One loss, the modules it updates and the optimiser that updates them.

    ``every``: the phase runs on iterations where ``iteration % every == 0``
    (LOMIT/WGAN-GP: generator every 5th iteration, discriminator every one).
    ``optimizer``: the optimiser's name (default: the phase's own name);
    phases with the same name share one optimiser over the union of their modules.
    ``lr``: base lr of this phase's modules (default ``train.lr``).
    ``module_lr``: ``((module, lr), ...)`` base lrs for single modules.
    """

    name: str
    modules: tuple[str, ...]
    every: int = 1
    lr: float | None = None
    optimizer: str | None = None
    module_lr: tuple[tuple[str, float], ...] = ()

    @property
    def optimizer_name(self) -> str:
        return self.optimizer or self.name


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
SampleColumns = list[tuple[str, Tensor]]


class Family(abc.ABC):
    """Base class of a trainable model family (see module docstring).

    Subclasses set ``self.networks`` (an ``nn.ModuleDict``: everything that is
    checkpointed) and ``self.phases`` in ``__init__`` and implement
    :meth:`step`, :meth:`translate` and :meth:`sample`; a family missing any of
    the three cannot be instantiated.
    """

    networks: nn.ModuleDict
    phases: tuple[Phase, ...]
    ema: tuple[str, ...] = ()
    ddp_find_unused_parameters: bool = False

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg

    # -- training -----------------------------------------------------------------
    @abc.abstractmethod
    def step(self, phase: str, nets: Nets, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Logs]:
        """Compute the loss of ``phase`` for one batch. Use ``nets[name]``, not ``self.networks``."""

    def after_update(self, phase: str) -> None:  # noqa: B027 (an optional hook: doing nothing is the default)
        """Hook run after the optimiser step of ``phase`` (e.g. parameter clipping)."""

    def diagnose(self, record: Mapping[str, float]) -> str | None:
        """A one-line warning about the state of training, or None (default: nothing to say).

        Called by the engine with each averaged log record (a ``metrics.jsonl``
        line: the ``step`` logs averaged over ``train.log_every`` iterations).
        For failures that losses hide, such as a code that collapsed to zero
        while every loss term looks fine.  The engine writes the warning into
        that record under ``"warning"`` and shows the first one of the process
        in the terminal (a message usually carries numbers that change every
        record, so showing each change would print a line per record); training
        goes on (the user decides).
        """
        return None

    def load_initial_weights(self) -> None:  # noqa: B027 (an optional hook: doing nothing is the default)
        """Fill some networks from other runs at the start of a *fresh* run (default: nothing).

        Called by the engine's plan (validation: raise an :class:`~i2icli.errors.I2IError`
        naming the bad source and the fix, before anything is written) and by the
        worker after building the family; not on resume (the checkpoint holds
        the weights) and not by ``translate``.
        """

    def frozen_networks(self) -> dict[str, nn.Module]:
        """Auxiliary networks for training only (never checkpointed); built once by the engine.

        Raise :class:`~i2icli.errors.WeightsError` (via :mod:`i2icli.weights`)
        when a required file is missing: the engine calls this before any work.
        """
        return {}

    def required_weights(self) -> tuple[str, ...]:
        """Names in :mod:`i2icli.weights` that :meth:`frozen_networks` will load.

        Checked by the engine's plan before any work, so a missing file stops a
        run with its name, URL and ``i2i weights import`` instead of failing
        after the run directory is made.
        """
        return ()

    def make_optimizer(self, name: str, param_groups: list[dict]) -> torch.optim.Optimizer:
        """Adam with the recipe's betas/weight decay over ``param_groups`` (each with its ``lr``).

        The fused kernel (one pass over all tensors) is used where torch has it
        for every parameter's device: the same update as the per-tensor loop,
        which costs seconds per iteration on CPU for models of ~100M parameters.
        """
        t = self.cfg.train
        params = [p for g in param_groups for p in g["params"]]
        return torch.optim.Adam(param_groups, lr=t.lr, betas=t.betas, weight_decay=t.weight_decay,
                                fused=_fused_adam_available(params) or None)

    # -- inference ----------------------------------------------------------------
    @abc.abstractmethod
    def translate(self, x: Tensor, guidance: Guidance) -> dict[str, Tensor]:
        """Translate a batch ``x`` (B,3,H,W) in [-1, 1] as ``guidance`` asks.

        ``guidance`` has been validated against the model's spec
        (:func:`i2icli.guidance.validate`).  Returns at least ``"output"``
        (B * guidance.n_outputs, 3, H, W) in [-1, 1]; extra entries are maps
        (B,1,H,W) in [0, 1] (attention, masks) or images named by the family.
        """

    @abc.abstractmethod
    def sample(self, batch: dict[str, Tensor]) -> SampleColumns:
        """Columns of a sample grid for a fixed batch: (title, (B,C,H,W)).

        Images are in [-1, 1] with C=3, maps in [0, 1] with C=1.  Called by the
        engine under ``torch.no_grad()`` with the networks in eval mode (EMA
        weights when the family keeps them) and the global RNG forked and
        seeded with ``train.seed``, so latent draws here never touch training's
        random stream and every grid of a run uses the same draws.
        """


def param_groups(family: Family, networks: Mapping[str, nn.Module], phases: tuple[Phase, ...],
                 base_lr: float) -> list[dict]:
    """Adam parameter groups for the phases sharing one optimiser: one group per module.

    Each group carries ``lr`` (its base lr) and ``initial_lr`` (the same; the
    schedule multiplies it) and ``module`` (for logs and tests).
    """
    lrs: dict[str, float] = {}
    for ph in phases:
        for name in ph.modules:
            lrs.setdefault(name, ph.lr if ph.lr is not None else base_lr)
        for name, lr in ph.module_lr:
            if name not in ph.modules:
                raise ValueError(f"phase {ph.name!r}: module_lr names {name!r}, which the phase does not update")
            lrs[name] = lr
    groups = []
    for name, lr in lrs.items():
        params = [p for p in networks[name].parameters()]
        if params:
            groups.append({"params": params, "lr": lr, "initial_lr": lr, "module": name})
    return groups


def _fused_adam_available(params: list[nn.Parameter]) -> bool:
    """Fused Adam runs on CUDA (torch >= 2.0) and on CPU (torch >= 2.4)."""
    if not params or not all(p.dtype.is_floating_point for p in params):
        return False
    major, minor = (int(x) for x in torch.__version__.split(".")[:2])
    devices = {p.device.type for p in params}
    allowed = {"cuda", "cpu"} if (major, minor) >= (2, 4) else {"cuda"}
    return devices <= allowed
