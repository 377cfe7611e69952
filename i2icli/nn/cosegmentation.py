"""Co-segmentation networks: soft masks of two images computed jointly (LOMIT Section 3.1, Fig. 3).

Given content codes ``c1`` (input) and ``c2`` (exemplar) of shape (B, C, h, w):

1. :class:`ChannelAttention`: the *other* image's code is globally average
   pooled and passed through an MLP of two linear layers, tanh then sigmoid,
   giving a channel-wise soft mask ``c_attn`` (B, C, 1, 1) in (0, 1);
2. it is multiplied channel-wise into this image's code (``c2_attn * c1``),
   "transferring the object information" of one image to the other;
3. :class:`AttentionNetwork` ``A`` (six conv layers with batch norm, Section
   5.1) maps the result to this image's mask ``m1 = A(c2_attn * c1)`` in
   [0, 1]; symmetrically ``m2 = A(c1_attn * c2)``.  One ``A`` and one MLP are
   shared by both directions.

Choices where the paper is silent (following LOMIT's public code):

- the MLP's hidden width is ``2 C`` (C -> 2C -> C);
- ``A`` is six 3x3 conv layers (stride 1, reflection padding, width C) each
  with batch norm and ReLU, then a 1x1 conv to one channel and a sigmoid; the
  paper's "six convolutional layers" are the six normalised ones, the 1x1
  projection to a mask is counted apart (the public code has the same seven);
- masks are produced at the content code's resolution (1/4 of the image);
  :func:`upsample_mask` brings them to image size bilinearly for
  ``x_f = m * x`` and ``x_b = (1 - m) * x`` (Eq. 1), while HAdaIN uses the
  mask at code resolution.

Norm and activation are factories so other models can reuse the module.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from i2icli.nn.blocks import conv2d, conv_block
from i2icli.nn.factories import ActFactory, NormFactory


class ChannelAttention(nn.Module):
    """GAP -> Linear(C, hidden) -> tanh -> Linear(hidden, C) -> sigmoid: (B,C,h,w) -> (B,C,1,1)."""

    def __init__(self, channels: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or 2 * channels
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.Tanh(), nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, content: Tensor) -> Tensor:
        pooled = content.mean(dim=(2, 3))  # (B, C)
        return self.mlp(pooled)[:, :, None, None]


class AttentionNetwork(nn.Module):
    """``layers`` x (3x3 conv, norm, activation), then 1x1 conv + sigmoid: (B,C,h,w) -> (B,1,h,w)."""

    def __init__(self, channels: int, layers: int = 6, norm_layer: NormFactory = nn.BatchNorm2d,
                 activation: ActFactory = nn.ReLU):
        super().__init__()
        # no conv bias before batch norm: BN removes any per-channel constant
        mods: list[nn.Module] = [conv_block(channels, channels, 3, 1, 1, pad_mode="reflect", norm_layer=norm_layer,
                                            activation=activation, bias=False) for _ in range(layers)]
        mods += [conv2d(channels, 1, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CoSegmentation(nn.Module):
    """``forward(c_self, c_other)`` -> mask of ``c_self``'s image, conditioned on the other image.

    ``masks(c1, c2)`` returns both ``(m1, m2)``.  Batching tip: with
    ``c = cat([c1, c2])`` and ``c_swapped = cat([c2, c1])``, ``forward(c, c_swapped)``
    returns ``cat([m1, m2])`` in one pass.
    """

    def __init__(self, channels: int, layers: int = 6, norm_layer: NormFactory = nn.BatchNorm2d,
                 activation: ActFactory = nn.ReLU, attention_hidden: int | None = None):
        super().__init__()
        self.channel_attention = ChannelAttention(channels, attention_hidden)
        self.attention = AttentionNetwork(channels, layers, norm_layer, activation)

    def forward(self, c_self: Tensor, c_other: Tensor) -> Tensor:
        return self.attention(self.channel_attention(c_other) * c_self)

    def masks(self, c1: Tensor, c2: Tensor) -> tuple[Tensor, Tensor]:
        return self.forward(c1, c2), self.forward(c2, c1)


def upsample_mask(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of a (B,1,h,w) mask to ``size`` (no corner alignment), kept in [0, 1]."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask, size=size, mode="bilinear", align_corners=False).clamp(0.0, 1.0)


def downsample_mask(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """Area-average a (B,1,H,W) mask down to ``size`` (e.g. a user's region to code resolution)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.adaptive_avg_pool2d(mask, size)
