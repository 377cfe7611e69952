"""CAM attention (U-GAT-IT, Kim et al. ICLR 2020, Sec. 2.1.1-2.1.2, Tables 4-6).

An auxiliary classifier eta(x) = sigma(sum_k w^k * pool(E^k(x))) is trained on
globally average- and max-pooled encoder features (Class Activation Maps, Zhou
et al. 2016; App. A.3).  Its weights re-weight the feature maps,
a(x) = w * E(x); the GAP- and GMP-weighted maps are concatenated and fused by
a 1x1 conv + activation.  The classifier logits (B, 2) feed the CAM losses
(Eqs. 5-6); the channel sum of the fused maps is the attention heatmap.

Facts taken from the authors' PyTorch code (znxlwm/UGATIT-pytorch), where the
paper is silent:

- GAP and GMP each have their own 1-output linear layer without bias (the
  TensorFlow code shares one); the fuse conv has a bias.
- The heatmap is ``sum_c`` of the fused maps after the activation.
- In the discriminators both classifiers are spectrally normalised; the logits
  use the normalised weight but the feature maps are re-weighted with the
  *raw* weight, in both official implementations (PyTorch reads
  ``parameters()[0]`` = ``weight_orig``, TensorFlow returns the un-normalised
  kernel).  We follow them.

Speed: concat([w_gap * x, w_gmp * x]) followed by a 1x1 conv with weight
[W1 | W2] equals one 1x1 conv with weight W1 * w_gap + W2 * w_gmp (both are
linear in x per pixel).  We fold the weights (a C x C product, negligible)
and convolve once: half the 1x1-conv FLOPs and no 2C-channel intermediate.
The gradients reach W1, W2, w_gap and w_gmp through the fold exactly as
through the concatenation; ``tests/test_nn_attention.py`` checks both.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from i2icli.nn.blocks import linear
from i2icli.nn.factories import ActFactory
from i2icli.nn.init import raw_weight


class CAMOutput(NamedTuple):
    features: Tensor  # (B, C, h, w) attention-weighted, fused features
    logits: Tensor  # (B, 2) auxiliary classifier logits [GAP, GMP]
    heatmap: Tensor  # (B, 1, h, w) channel sum of ``features`` (unnormalised)


class CAMAttention(nn.Module):
    """GAP/GMP auxiliary classifiers whose weights re-weight the features, fused by a 1x1 conv.

    ``forward(x)`` with ``x`` (B, C, h, w) returns :class:`CAMOutput`.
    ``spectral_norm`` applies to the two classifiers (discriminators,
    Tables 5-6); the 1x1 conv is never normalised (as in the authors' code).
    """

    def __init__(self, channels: int, activation: ActFactory, *, spectral_norm: bool = False):
        super().__init__()
        self.channels = channels
        self.gap_fc = linear(channels, 1, bias=False, spectral_norm=spectral_norm)
        self.gmp_fc = linear(channels, 1, bias=False, spectral_norm=spectral_norm)
        self.fuse = nn.Conv2d(2 * channels, channels, kernel_size=1, bias=True)
        self.act = activation()

    def forward(self, x: Tensor) -> CAMOutput:
        c = self.channels
        gap = x.mean(dim=(2, 3))  # (B, C)
        gmp = x.amax(dim=(2, 3))  # (B, C)
        logits = torch.cat([self.gap_fc(gap), self.gmp_fc(gmp)], dim=1)  # (B, 2)
        w_gap = raw_weight(self.gap_fc)  # (1, C)
        w_gmp = raw_weight(self.gmp_fc)  # (1, C)
        fuse_w = self.fuse.weight[:, :, 0, 0]  # (C, 2C)
        folded = fuse_w[:, :c] * w_gap + fuse_w[:, c:] * w_gmp  # (C, C)
        features = self.act(F.conv2d(x, folded[:, :, None, None], self.fuse.bias))
        heatmap = features.sum(dim=1, keepdim=True)
        return CAMOutput(features, logits, heatmap)
