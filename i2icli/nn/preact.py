"""Pre-activation resampling residual blocks (StarGAN v2 idiom, BridgeGAN's ``ResBlk``) and a bias-only IN.

The blocks of :mod:`i2icli.nn.blocks` neither resample nor change width; the
four networks of BridgeGAN (and StarGAN v2's) are built from one residual
block that does both::

    residual: norm1 -> act -> [nearest x2] -> conv3x3 in->out -> norm2 -> act -> conv3x3 out->out -> [avgpool 2]
    shortcut: identity, or a 1x1 conv (with bias) when in != out or the block resamples:
              up: conv1x1(up(x)); down: pool(conv1x1(x))
    output  = residual + shortcut

Differences from StarGAN v2's ``ResBlk`` (clovaai/stargan-v2, core/model.py),
which are BridgeGAN's (its TF code, ``models_712.py``): the sum is *not*
divided by sqrt(2), the down-sampling pool comes after the second conv (not
the first), and every conv, the shortcut included, has a bias.

``norm_layer`` is a factory ``C -> nn.Module`` or ``None`` (the critic's blocks
have no norm).  A conditional norm (SPADE) is a module whose ``forward(x,
cond)`` takes the conditioning map and sets ``conditional = True``; the block
passes its ``cond`` argument through to both of its norms.

:class:`BiasInstanceNorm` is TF-slim's default ``instance_norm``: normalise per
sample and channel over (H, W) with eps = 1e-6, then add a learnable
per-channel bias and *no* scale (``center=True, scale=False``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NormFactory = Callable[[int], nn.Module]
ActFactory = Callable[[], nn.Module]
Resample = Literal["none", "up", "down"]


class BiasInstanceNorm(nn.Module):
    """Instance norm with a learnable bias only (TF-slim ``instance_norm`` defaults, eps 1e-6).

    ``affine=True`` adds a learnable scale as well (torch's affine IN), for
    recipes that prefer it; the scale starts at one.
    """

    def __init__(self, num_features: int, eps: float = 1e-6, affine: bool = False):
        super().__init__()
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


class PreActResBlock(nn.Module):
    """The pre-activation residual block above; ``resample`` in {"none", "up", "down"}."""

    def __init__(self, in_channels: int, out_channels: int, norm_layer: NormFactory | None,
                 activation: ActFactory, resample: Resample = "none"):
        super().__init__()
        if resample not in ("none", "up", "down"):
            raise ValueError(f"resample must be 'none', 'up' or 'down', got {resample!r}")
        self.resample = resample
        self.norm1 = norm_layer(in_channels) if norm_layer is not None else None
        self.norm2 = norm_layer(out_channels) if norm_layer is not None else None
        self.act = activation()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        learned = in_channels != out_channels or resample != "none"
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if learned else None

    @staticmethod
    def _norm(norm: nn.Module | None, x: Tensor, cond: Tensor | None) -> Tensor:
        if norm is None:
            return x
        if getattr(norm, "conditional", False):
            if cond is None:
                raise ValueError("this residual block has a conditional norm (SPADE) and needs its conditioning map")
            return norm(x, cond)
        return norm(x)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = self.act(self._norm(self.norm1, x, cond))
        if self.resample == "up":
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv1(h)
        h = self.conv2(self.act(self._norm(self.norm2, h, cond)))
        if self.resample == "down":
            h = F.avg_pool2d(h, 2)
        if self.shortcut is None:
            s = x
        elif self.resample == "up":
            s = self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))
        elif self.resample == "down":
            s = F.avg_pool2d(self.shortcut(x), 2)
        else:
            s = self.shortcut(x)
        return h + s
