"""Embedded-Gaussian non-local block (Wang et al., CVPR 2018, Eq. 1-3 and 6; SEGIN Eq. 3-4).

Eq. 1 with the embedded Gaussian pairwise function (Eq. 3) is a softmax
attention over all positions::

    y_i = sum_j softmax_j( theta(x_i)^T phi(x_j) ) g(x_j)        theta, phi, g: 1x1 convs to C' channels
    z_i = W_z y_i + x_i                                            (Eq. 6), W_z: 1x1 conv C' -> C [+ norm]

SEGIN (Section III-B, Eq. 3-4) uses three such blocks at its 16x16
bottleneck, with residual blocks between them (specs/segin.md).  Choices,
following Wang et al. (the paper is explicit about these; SEGIN is silent):

- C' = C / 2 (``inter_channels``), "a bottleneck design" that halves the cost.
- No 1/sqrt(C') scaling inside the softmax (unlike Transformer attention):
  Eq. 3 is ``exp(theta^T phi)``.
- W_z is followed by a norm (batch norm in Wang et al.; a factory here) whose
  scale is initialised to zero, so the block starts as the identity and "can
  be inserted into any pre-trained model"; with ``norm_layer=None`` W_z itself
  is zero-initialised.  ``zero_init=False`` keeps torch's default init.
- ``subsample=True`` max-pools phi and g by 2 (Wang et al. Section 4.1), which
  cuts the pairwise cost by 4; off by default (SEGIN's 16x16 map is small).

The attention is computed with :func:`torch.nn.functional.scaled_dot_product_attention`
at ``scale=1`` (the same maths, fused kernels on GPU); :meth:`NonLocalBlock.attention`
returns the (B, N, M) weights for inspection.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from i2icli.nn.factories import NormFactory


class NonLocalBlock(nn.Module):
    """``forward(x) = x + norm(W_z(softmax(theta^T phi) g))`` for ``x`` (B, C, H, W)."""

    def __init__(self, channels: int, inter_channels: int | None = None, *, subsample: bool = False,
                 norm_layer: NormFactory | None = nn.BatchNorm2d, zero_init: bool = True):
        super().__init__()
        inter = channels // 2 if inter_channels is None else inter_channels
        if inter < 1:
            raise ValueError(f"NonLocalBlock needs inter_channels >= 1, got {inter} (channels={channels})")
        self.inter_channels = inter
        self.theta = nn.Conv2d(channels, inter, 1)
        self.phi = nn.Conv2d(channels, inter, 1)
        self.g = nn.Conv2d(channels, inter, 1)
        self.pool = nn.MaxPool2d(2) if subsample else None
        self.out = nn.Conv2d(inter, channels, 1)
        self.norm = norm_layer(channels) if norm_layer is not None else None
        if zero_init:
            self._zero_init()

    def _zero_init(self) -> None:
        weight = getattr(self.norm, "weight", None)
        if isinstance(weight, nn.Parameter):
            nn.init.zeros_(weight)  # BN gamma = 0 (Wang et al.): the norm's output is its bias, 0 at init
            bias = getattr(self.norm, "bias", None)
            if isinstance(bias, nn.Parameter):
                nn.init.zeros_(bias)
        else:
            nn.init.zeros_(self.out.weight)
            if self.out.bias is not None:
                nn.init.zeros_(self.out.bias)  # a parameter-free norm maps the all-zero map to zero too

    def _embed(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """theta (B, N, C'), phi and g (B, M, C')."""
        phi, g = self.phi(x), self.g(x)
        if self.pool is not None:
            phi, g = self.pool(phi), self.pool(g)
        return (self.theta(x).flatten(2).transpose(1, 2), phi.flatten(2).transpose(1, 2),
                g.flatten(2).transpose(1, 2))

    def attention(self, x: Tensor) -> Tensor:
        """The (B, N, M) softmax weights, N = H*W query positions, M key positions (H*W/4 when subsampled)."""
        theta, phi, _ = self._embed(x)
        return torch.softmax(theta @ phi.transpose(1, 2), dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        theta, phi, g = self._embed(x)
        y = F.scaled_dot_product_attention(theta[:, None], phi[:, None], g[:, None], scale=1.0)[:, 0]  # (B, N, C')
        z = self.out(y.transpose(1, 2).reshape(b, self.inter_channels, h, w))
        return x + (self.norm(z) if self.norm is not None else z)
