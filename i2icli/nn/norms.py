"""Normalisation layers: IN, and U-GAT-IT's LIN / AdaLIN (Kim et al., ICLR 2020, Eq. 1).

Layer-instance normalisation mixes instance-normalised and layer-normalised
activations with a learnable per-channel ratio rho (Eq. 1)::

    AdaLIN(a, gamma, beta) = gamma * (rho * a_I + (1 - rho) * a_L) + beta
    a_I = (a - mu_I) / sqrt(sigma_I^2 + eps)     # per sample and channel, over (H, W)
    a_L = (a - mu_L) / sqrt(sigma_L^2 + eps)     # per sample, over (C, H, W)
    rho <- clip_[0,1](rho - tau * delta_rho)     # after every optimiser update

AdaLIN takes gamma and beta per sample from the generator's MLP; LIN learns
them as ordinary per-channel parameters (the up-sampling blocks, Table 4).
rho is clipped by :func:`clip_rho_`, which the model calls after each
generator update.

Choices where the paper is silent (facts from the authors' code):

- sigma is the population standard deviation (divide by N), as
  ``tf.nn.moments`` in the authors' TensorFlow code and every IN/LN layer do.
  The authors' PyTorch port (znxlwm/UGATIT-pytorch) first took
  ``torch.var(torch.var(x, 2), 3)``, an unbiased variance of row variances
  that is not sigma_I of Eq. 1; commit f7a4b59 (2019-08-27, still the current
  code) replaced it with ``torch.var(x, dim=[2, 3])`` (and ``[1, 2, 3]`` for
  LN), the joint variance but *unbiased* (divide by N - 1).  That differs
  from ours by the factor N / (N - 1) inside the square root: 1.0002 for a
  64x64 map, 1.016 for the 8x8 maps of 32 px test images.  We keep N.
- rho, gamma (LIN) and beta (LIN) are per-channel, shape (C,), as in both
  official implementations; eps = 1e-5.

Speed: the naive form normalises the tensor twice and blends (about ten
full-size element-wise passes forward, more backward).  We compute the IN
statistics in one ``var_mean`` pass, derive the LN statistics from them
exactly (law of total variance over equally sized channel groups), fold
everything into one per-(sample, channel) scale and shift, and apply them with
one ``addcmul``.  Same maths, same autograd gradients, a fraction of the
memory traffic; ``tests/test_nn_norms.py`` checks it against the literal Eq. 1.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn


def instance_norm(num_features: int) -> nn.Module:
    """Plain instance normalisation without affine parameters (the U-GAT-IT
    encoder, Table 4; ``nn.InstanceNorm2d`` defaults, eps = 1e-5)."""
    return nn.InstanceNorm2d(num_features, affine=False, track_running_stats=False)


class BiasInstanceNorm(nn.Module):
    """Instance norm with a learnable per-channel bias only: TF-slim's default ``instance_norm``.

    Normalise per sample and channel over (H, W) with eps 1e-6, then add a
    bias and *no* scale (slim's ``center=True, scale=False``); BridgeGAN's
    networks use it.  ``affine=True`` adds a learnable scale (starts at one).
    """

    def __init__(self, num_features: int, eps: float = 1e-6, affine: bool = False):
        super().__init__()
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


def layer_norm(num_features: int) -> nn.Module:
    """Layer norm over (C, H, W) per sample with a per-channel affine (``nn.GroupNorm(1, C)``).

    MUNIT's and LOMIT's decoder "LN" (LOMIT Section 5.1): statistics over the
    whole sample, scale and shift per channel, eps = 1e-5.
    """
    return nn.GroupNorm(1, num_features)


def batch_norm(num_features: int) -> nn.Module:
    """Batch normalisation without affine parameters (SPADE's parameter-free norm in Park et al. 2019)."""
    return nn.BatchNorm2d(num_features, affine=False)


def layer_instance_norm(x: Tensor, rho: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """Eq. 1 as one function. ``x`` (B,C,H,W); ``rho`` (C,); ``gamma``, ``beta`` (B,C) or (C,).

    Returns ``gamma * (rho * a_I + (1 - rho) * a_L) + beta`` computed as
    ``x * scale + shift`` with per-(B, C) ``scale`` and ``shift``.
    """
    if x.dim() != 4:
        raise ValueError(f"layer_instance_norm expects (B, C, H, W), got shape {tuple(x.shape)}")
    # Statistics in at least fp32 (bf16/fp16 activations under autocast).
    stats_dtype = torch.promote_types(x.dtype, torch.float32)
    var_i, mean_i = torch.var_mean(x.to(stats_dtype), dim=(2, 3), correction=0)  # (B, C)
    # Layer statistics from the channel statistics: every channel has H*W
    # elements, so the layer mean is the mean of channel means and the layer
    # variance is mean(within-channel variance) + variance(channel means).
    mean_l = mean_i.mean(dim=1, keepdim=True)  # (B, 1)
    var_l = (var_i + (mean_i - mean_l).square()).mean(dim=1, keepdim=True)  # (B, 1)
    inv_i = torch.rsqrt(var_i + eps)
    inv_l = torch.rsqrt(var_l + eps)
    mix_i = rho * inv_i  # (B, C)
    mix_l = (1.0 - rho) * inv_l  # (B, C)
    gamma, beta = gamma.to(stats_dtype), beta.to(stats_dtype)
    scale = gamma * (mix_i + mix_l)
    shift = beta - gamma * (mix_i * mean_i + mix_l * mean_l)
    return torch.addcmul(shift[:, :, None, None].to(x.dtype), x, scale[:, :, None, None].to(x.dtype))


class _RhoNorm(nn.Module):
    """Base of the layer-instance norms: owns the per-channel mixing ratio rho."""

    def __init__(self, num_features: int, rho_init: float, eps: float):
        super().__init__()
        if not 0.0 <= rho_init <= 1.0:
            raise ValueError(f"rho_init must be in [0, 1], got {rho_init}")
        self.num_features = num_features
        self.eps = eps
        self.rho = nn.Parameter(torch.full((num_features,), float(rho_init)))

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


class AdaLIN(_RhoNorm):
    """Adaptive layer-instance normalisation (Eq. 1): gamma, beta come from outside.

    ``forward(x, gamma, beta)`` with ``x`` (B,C,H,W) and ``gamma``/``beta`` (B,C).
    ``rho_init``: the paper (Sec. 2.1.1) initialises rho to 1 in the residual
    blocks; both official implementations effectively start at 0.9 (see
    :class:`i2icli.models.ugatit.UGATITConfig`), so the model passes its own value.
    """

    def __init__(self, num_features: int, rho_init: float = 1.0, eps: float = 1e-5):
        super().__init__(num_features, rho_init, eps)

    def forward(self, x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        return layer_instance_norm(x, self.rho, gamma, beta, self.eps)


class LIN(_RhoNorm):
    """Layer-instance normalisation with learned per-channel affine parameters.

    Used in U-GAT-IT's up-sampling blocks (Table 4) with rho starting at 0
    (Sec. 2.1.1), gamma at 1 and beta at 0.
    """

    def __init__(self, num_features: int, rho_init: float = 0.0, eps: float = 1e-5):
        super().__init__(num_features, rho_init, eps)
        self.gamma = nn.Parameter(torch.ones(num_features))
        self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: Tensor) -> Tensor:
        return layer_instance_norm(x, self.rho, self.gamma, self.beta, self.eps)


def rho_parameters(module: nn.Module) -> Iterator[nn.Parameter]:
    """Every rho of the (Ada)LIN layers inside ``module``."""
    for m in module.modules():
        if isinstance(m, _RhoNorm):
            yield m.rho


@torch.no_grad()
def clip_rho_(module: nn.Module, low: float = 0.0, high: float = 1.0) -> None:
    """Clip every rho in ``module`` to [low, high] in place (the update rule of Eq. 1)."""
    for rho in rho_parameters(module):
        rho.clamp_(low, high)
