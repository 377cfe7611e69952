"""The one factory type for normalisation and activation layers, used by every block and model.

Blocks never choose a norm or an activation by a string; they take a factory
(torchvision's ``norm_layer: Callable[..., nn.Module]`` idiom):

- :data:`NormFactory`: ``norm_layer(num_channels) -> nn.Module``, e.g.
  :func:`i2icli.nn.norms.instance_norm`, ``nn.BatchNorm2d``,
  ``functools.partial(nn.GroupNorm, 1)`` (layer norm over C, H, W), or a
  conditional norm class such as :class:`i2icli.nn.norms.AdaLIN` /
  :class:`i2icli.nn.spade.SPADE` (``functools.partial(SPADE, cond_channels=32)``)
  whose ``forward(x, *cond)`` takes extra tensors that the block passes through.
- :data:`ActFactory`: ``activation() -> nn.Module``, e.g. ``nn.ReLU`` or
  :func:`leaky_relu` ``(0.2)``.

``None`` where a block accepts ``NormFactory | None`` means "no norm".
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from torch import nn

NormFactory = Callable[[int], nn.Module]
ActFactory = Callable[[], nn.Module]


def leaky_relu(negative_slope: float, inplace: bool = False) -> ActFactory:
    """``nn.LeakyReLU(negative_slope)`` as an :data:`ActFactory`."""
    return functools.partial(nn.LeakyReLU, negative_slope, inplace=inplace)


def relu(inplace: bool = False) -> ActFactory:
    """``nn.ReLU`` as an :data:`ActFactory` (``inplace=True`` where the input is not needed again)."""
    return functools.partial(nn.ReLU, inplace=inplace)
