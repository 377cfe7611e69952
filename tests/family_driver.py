"""Drive a model family the way the engine does, without the engine (models/base.py).

Per iteration and phase (respecting ``phase.every``): only the phase's modules
get gradients, ``step`` gives ``(loss, logs)``, then backward, the phase's
optimiser step and ``after_update``.  Model tests use this to check a family in
isolation; the engine's own behaviour is tested in test_engine.py.
"""

from __future__ import annotations

from typing import Iterable

from i2icli.models.base import Family, Logs, Nets


def make_optimizers(family: Family) -> dict:
    return {ph.name: family.make_optimizer(ph, [p for n in ph.modules for p in family.networks[n].parameters()])
            for ph in family.phases}


def drive(family: Family, batches: Iterable[dict], start: int = 0,
          optimizers: dict | None = None) -> tuple[list[tuple[int, str, Logs]], dict]:
    """Run one iteration per batch; returns ``[(iteration, phase, logs), ...]`` and the optimisers."""
    optimizers = optimizers if optimizers is not None else make_optimizers(family)
    nets = Nets(family.networks)
    family.networks.train()
    history: list[tuple[int, str, Logs]] = []
    for it, batch in enumerate(batches, start=start):
        for phase in family.phases:
            if it % phase.every:
                continue
            for name, module in family.networks.items():
                module.requires_grad_(name in phase.modules)
            loss, logs = family.step(phase.name, nets, batch, it)
            optimizers[phase.name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[phase.name].step()
            family.after_update(phase.name)
            history.append((it, phase.name, logs))
    for module in family.networks.values():
        module.requires_grad_(True)
    return history, optimizers
