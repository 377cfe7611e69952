"""One training iteration, the same for the engine and for code that drives a family directly.

:func:`build_optimizers` makes one optimiser per distinct ``Phase.optimizer_name``
(phases that name the same optimiser share it, over the union of their
modules, one parameter group per module with its base lr), and
:func:`run_iteration` runs every phase due at an iteration: gradients on for
the phase's modules only, ``family.step``, a finiteness check, backward, the
optimiser step and ``after_update``.  ``tests/family_driver.py`` and the
benchmarks call exactly these functions, so they can never drift from the
engine's update.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from i2icli.models.base import Family, Logs, Nets, Phase, param_groups

NonFinite = Callable[[Phase, Tensor, Logs], None]


def build_optimizers(family: Family, networks: Mapping[str, nn.Module] | nn.ModuleDict | None = None
                     ) -> dict[str, torch.optim.Optimizer]:
    """Optimisers keyed by ``Phase.optimizer_name``, over ``networks`` (default: the family's own)."""
    nets = dict((networks if networks is not None else family.networks).items())
    by_name: dict[str, list[Phase]] = {}
    for ph in family.phases:
        by_name.setdefault(ph.optimizer_name, []).append(ph)
    return {name: family.make_optimizer(name, param_groups(family, nets, tuple(phs), family.cfg.train.lr))
            for name, phs in by_name.items()}


def set_lr_factor(optimizers: Mapping[str, torch.optim.Optimizer], factor: float) -> None:
    """Scale every parameter group's base lr (``initial_lr``) by the schedule's ``factor``."""
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * factor


def set_trainable(family: Family, phase: Phase) -> None:
    """Gradients on for the phase's modules, off for every other checkpointed network."""
    active = set(phase.modules)
    for name, module in family.networks.items():
        flag = name in active
        for prm in module.parameters():
            prm.requires_grad_(flag)


def due_phases(family: Family, iteration: int) -> list[Phase]:
    return [ph for ph in family.phases if iteration % ph.every == 0]


def run_iteration(family: Family, nets: Mapping[str, Nets], optimizers: Mapping[str, torch.optim.Optimizer],
                  batch: dict[str, Tensor], iteration: int,
                  autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                  check_finite: Callable[[Tensor], bool] | None = None,
                  on_nonfinite: NonFinite | None = None) -> list[tuple[Phase, Logs]]:
    """Run the phases due at ``iteration``; return ``[(phase, logs), ...]``.

    ``nets[phase.name]`` is the view the phase's ``step`` gets.
    ``check_finite(loss)`` (default: the loss is finite) decides, before the
    update, whether to go on; when it says no, ``on_nonfinite(phase, loss,
    logs)`` is called (it should raise) and nothing is updated.
    """
    done: list[tuple[Phase, Logs]] = []
    for phase in due_phases(family, iteration):
        set_trainable(family, phase)
        with autocast():
            loss, logs = family.step(phase.name, nets[phase.name], batch, iteration)
        finite = check_finite(loss) if check_finite is not None else bool(torch.isfinite(loss.detach()).all())
        if not finite:
            if on_nonfinite is not None:
                on_nonfinite(phase, loss, logs)
            raise FloatingPointError(f"non-finite {phase.name} loss at iteration {iteration}")
        opt = optimizers[phase.optimizer_name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        family.after_update(phase.name)
        done.append((phase, logs))
    return done
