"""Weight initialisation helpers.

``init_normal_(module, std=0.02)``: conv / linear weights ~ N(0, std), biases
0 (U-GAT-IT App. B.2, DCGAN/CycleGAN convention).  ``init_kaiming_(module)``:
He et al. (2015) normal init for ReLU-family networks.  Normalisation layers
(IN, LIN/AdaLIN rho, gamma, beta) keep the values their constructors chose.

Spectrally normalised layers are initialised through their raw weight
(``parametrizations.weight.original``); the power-iteration vectors are then
re-estimated from the new weight (15 iterations, as torch does when the
parametrisation is attached) so that sigma is right from the first step.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)


def weight_parametrizations(m: nn.Module) -> parametrize.ParametrizationList:
    """``m.parametrizations.weight`` of a parametrised layer (e.g. spectral norm).

    Typed access: torch types ``Module.__getattr__`` as ``Tensor | Module``.
    """
    plists = m.parametrizations
    plist = plists["weight"] if isinstance(plists, nn.ModuleDict) else None
    if not isinstance(plist, parametrize.ParametrizationList):
        raise TypeError(f"{type(m).__name__}: weight is not parametrised")
    return plist


def raw_weight(m: nn.Module) -> Tensor:
    """A layer's weight before any parametrisation (e.g. before spectral norm)."""
    weight = weight_parametrizations(m).original if parametrize.is_parametrized(m, "weight") else m.weight
    if not isinstance(weight, Tensor):
        raise TypeError(f"{type(m).__name__} has no weight tensor")
    return weight


@torch.no_grad()
def _refresh_spectral_norm(m: nn.Module) -> None:
    if not parametrize.is_parametrized(m, "weight"):
        return
    plist = weight_parametrizations(m)
    original = plist.original
    if original.is_meta:  # shape-only modules (e.g. counting parameters): nothing to estimate
        return
    for p in plist:
        # torch's spectral-norm parametrisation keeps u, v and the power method;
        # other parametrisations have nothing to refresh.
        if hasattr(p, "_power_method") and hasattr(p, "_reshape_weight_to_matrix") and original.ndim > 1:
            # private torch methods, typed Tensor | Module by Module.__getattr__; checked by hasattr above
            p._power_method(p._reshape_weight_to_matrix(original), 15)  # type: ignore[operator]


@torch.no_grad()
def init_normal_(module: nn.Module, std: float = 0.02, mean: float = 0.0) -> nn.Module:
    """Every conv/linear weight in ``module`` ~ N(mean, std); biases = 0. Returns ``module``."""
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            raw_weight(m).normal_(mean, std)
            if m.bias is not None:
                m.bias.zero_()
            _refresh_spectral_norm(m)
    return module


@torch.no_grad()
def init_kaiming_(module: nn.Module, negative_slope: float = 0.0,
                  mode: Literal["fan_in", "fan_out"] = "fan_in") -> nn.Module:
    """He-normal init of every conv/linear weight (gain for (leaky) ReLU); biases = 0."""
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            w = raw_weight(m)
            nn.init.kaiming_normal_(w, a=negative_slope, mode=mode,
                                    nonlinearity="leaky_relu" if negative_slope else "relu")
            if m.bias is not None:
                m.bias.zero_()
            _refresh_spectral_norm(m)
    return module


def he_std(fan_in: int, negative_slope: float = 0.0) -> float:
    """The He-normal standard deviation sqrt(2 / ((1 + a^2) fan_in))."""
    return math.sqrt(2.0 / ((1.0 + negative_slope**2) * fan_in))


@torch.no_grad()
def init_glorot_uniform_(module: nn.Module) -> nn.Module:
    """Glorot/Xavier-uniform weights, zero biases: TF-slim's and Keras' default (BridgeGAN's TF code).

    For a conv the fans include the receptive field (fan_in = C_in k^2,
    fan_out = C_out k^2), which is what TF's ``glorot_uniform`` uses too.
    """
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.xavier_uniform_(raw_weight(m))
            if m.bias is not None:
                m.bias.zero_()
            _refresh_spectral_norm(m)
    return module
