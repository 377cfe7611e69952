"""SPADE: spatially-adaptive (de)normalisation (Park et al., CVPR 2019, Eq. 1).

::

    SPADE(x, m) = norm(x) * (1 + gamma(m)) + beta(m)
    h           = ReLU(conv_kxk(resize(m, size(x))))      # shared hidden map, `hidden` channels
    gamma(m)    = conv_kxk(h),  beta(m) = conv_kxk(h)      # (B, C, H, W) each, per position

``norm`` is parameter-free (the affine parameters are the modulation):
batch norm in Park et al., instance norm in BridgeGAN; it comes in as a
factory (:data:`i2icli.nn.factories.NormFactory`), e.g.
:func:`i2icli.nn.norms.instance_norm` or :func:`i2icli.nn.norms.batch_norm`.
Park et al. write ``gamma * norm(x) + beta``; their code (NVlabs/SPADE
``normalization.py``) and BridgeGAN's use ``1 + gamma``, so a zero
modulation is the identity on the normalised map; we follow the code.

The conditioning map is resized to the feature's H x W with nearest
neighbour (Park et al.: label maps; BridgeGAN: its 32-channel style map S,
64 px, subsampled to 16/32 px and repeated to 128 px).  torch's ``"nearest"``
picks source index ``floor(i * in / out)``, the same rule as TF1's
``resize_images(NEAREST_NEIGHBOR)`` that BridgeGAN's code uses.

BridgeGAN (Huang et al., ICCV 2021, supplementary Fig. 2; specs/bridge.md):
``hidden=128``, 3x3 convs with bias and zero padding, ReLU, instance norm
without affine (TF-slim, eps 1e-6), eight SPADE layers (two per block) each
with its own weights, all fed the same S.  Park et al. use the same hidden
width and kernel.  The pre-activation residual block that carries SPADE in
BridgeGAN is :class:`i2icli.nn.blocks.PreActResidualBlock`.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from i2icli.nn.factories import ActFactory, NormFactory
from i2icli.nn.norms import instance_norm

ResizeMode = Literal["nearest", "bilinear"]


class SPADE(nn.Module):
    """``forward(x, cond)``: ``x`` (B, channels, H, W), ``cond`` (B, cond_channels, h, w), any h, w.

    ``norm_layer``: parameter-free norm factory (default instance norm,
    eps 1e-5; pass ``functools.partial(nn.InstanceNorm2d, eps=1e-6)`` for
    TF-slim's eps).  ``hidden``/``kernel_size``: the shared conv (128, 3 in
    both papers).  ``activation``: after the shared conv (ReLU in both).
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int = 128, kernel_size: int = 3, *,
                 norm_layer: NormFactory = instance_norm, activation: ActFactory = nn.ReLU,
                 resize_mode: ResizeMode = "nearest"):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"SPADE kernel_size must be odd (same-size output), got {kernel_size}")
        if resize_mode not in ("nearest", "bilinear"):
            raise ValueError(f"unknown resize_mode {resize_mode!r}; valid: nearest, bilinear")
        pad = kernel_size // 2
        self.norm = norm_layer(channels)
        if any(p.requires_grad for p in self.norm.parameters()):
            raise ValueError("SPADE needs a parameter-free norm (affine=False): its modulation is the affine part")
        self.shared = nn.Sequential(nn.Conv2d(cond_channels, hidden, kernel_size, padding=pad), activation())
        self.gamma = nn.Conv2d(hidden, channels, kernel_size, padding=pad)
        self.beta = nn.Conv2d(hidden, channels, kernel_size, padding=pad)
        self.resize_mode = resize_mode

    def modulation(self, x_size: tuple[int, int], cond: Tensor) -> tuple[Tensor, Tensor]:
        """``(gamma, beta)``, each (B, channels, H, W), for a feature map of spatial size ``x_size``."""
        if tuple(cond.shape[-2:]) != tuple(x_size):
            if self.resize_mode == "nearest":
                cond = F.interpolate(cond, size=x_size, mode="nearest")
            else:
                cond = F.interpolate(cond, size=x_size, mode="bilinear", align_corners=False)
        h = self.shared(cond)
        return self.gamma(h), self.beta(h)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        gamma, beta = self.modulation((x.shape[-2], x.shape[-1]), cond)
        return self.norm(x) * (1 + gamma) + beta
