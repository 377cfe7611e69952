"""Drive a model family the way the engine does, without the engine (models/base.py).

Every iteration goes through :func:`i2icli.engine.iteration.run_iteration`,
the engine's own update (phases due at the iteration, gradients for the
phase's modules only, step, finiteness check, backward, optimiser step,
``after_update``), so this driver can never drift from the engine.  Frozen
networks (``family.frozen_networks()``) are built once and visible in ``nets``.
"""

from __future__ import annotations

from collections.abc import Iterable

from i2icli.engine.iteration import build_optimizers, run_iteration
from i2icli.models.base import Family, Logs, Nets


def make_optimizers(family: Family) -> dict:
    return build_optimizers(family)


def drive(family: Family, batches: Iterable[dict], start: int = 0,
          optimizers: dict | None = None) -> tuple[list[tuple[int, str, Logs]], dict]:
    """Run one iteration per batch; returns ``[(iteration, phase, logs), ...]`` and the optimisers."""
    optimizers = optimizers if optimizers is not None else make_optimizers(family)
    frozen = family.frozen_networks()
    for m in frozen.values():
        m.eval().requires_grad_(False)
    nets = Nets({**dict(family.networks.items()), **frozen})
    views = {ph.name: nets for ph in family.phases}
    family.networks.train()
    history: list[tuple[int, str, Logs]] = []
    for it, batch in enumerate(batches, start=start):
        for phase, logs in run_iteration(family, views, optimizers, batch, it):
            history.append((it, phase.name, logs))
    for module in family.networks.values():
        module.requires_grad_(True)
    return history, optimizers
