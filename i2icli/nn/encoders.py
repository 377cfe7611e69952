"""Content and style encoders of disentangled (MUNIT-family) translation models.

:class:`ContentEncoder` (LOMIT Section 5.1, after MUNIT): a 7x7 stride-1
conv, ``downsamplings`` 4x4 stride-2 convs (doubling the width), then
``res_blocks`` residual blocks; instance normalisation and ReLU everywhere,
reflection padding.  The paper names the two strided convs and four residual
blocks; the leading 7x7 stride-1 conv and the 4x4 kernels are MUNIT's and
LOMIT's public code's.  Output (B, channels * 2**downsamplings, H/2**d, W/2**d).

:class:`SharedStyleEncoders` (LOMIT Section 5.1): several style encoders with
the same architecture that *share their first layers* and have their own
last layers ("E_sf, E_sb ... share first few layers as the first few layers
detect low-level feature").  Each encoder is four strided convs + global
average pooling + a fully-connected layer to a ``style_dim`` code, with no
instance norm ("to maintain the style information").  Split (after the
public code): shared = 7x7 stride-1 conv + 2 strided convs (64 -> 128 ->
256), per head = 2 strided convs at constant width (256) + GAP + linear.  The
activation is LeakyReLU(0.01) as in the public code.  Heads are named (one per
code LOMIT needs).  Neither EGSC-IT (exemplar statistics of a frozen feature
net) nor BridgeGAN (spatial style maps from an encoder that takes the
attribute difference as input channels) uses these encoders.

Norm and activation are factories (``norm_layer(channels) -> Module``,
``activation() -> Module``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from i2icli.nn.blocks import ResidualBlock, conv_block
from i2icli.nn.factories import ActFactory, NormFactory, leaky_relu
from i2icli.nn.norms import instance_norm

_LEAKY_RELU_001: ActFactory = leaky_relu(0.01)  # LOMIT's public code's slope

class ContentEncoder(nn.Module):
    """Image (B,3,H,W) -> content code (B, out_channels, H/2**d, W/2**d)."""

    def __init__(self, in_channels: int = 3, channels: int = 64, downsamplings: int = 2, res_blocks: int = 4,
                 norm_layer: NormFactory = instance_norm, activation: ActFactory = nn.ReLU):
        super().__init__()
        block = functools.partial(conv_block, pad_mode="reflect", norm_layer=norm_layer, activation=activation)
        mods: list[nn.Module] = [block(in_channels, channels, 7, 1, 3)]
        ch = channels
        for _ in range(downsamplings):
            mods.append(block(ch, ch * 2, 4, 2, 1))
            ch *= 2
        mods += [ResidualBlock(ch, norm_layer, activation, pad_mode="reflect") for _ in range(res_blocks)]
        self.net = nn.Sequential(*mods)
        self.out_channels = ch
        self.downsampling = 2 ** downsamplings

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class SharedStyleEncoders(nn.Module):
    """Style encoders sharing their first layers; ``forward(*images)`` -> one code per head.

    ``forward(x_a, x_b)`` encodes ``x_a`` with the first head and ``x_b`` with
    the second (the shared trunk runs once on both, batched); ``encode(x, head)``
    encodes one image with a named head.  Codes are (B, style_dim).
    """

    def __init__(self, heads: Sequence[str] = ("foreground", "background"), in_channels: int = 3,
                 channels: int = 64, style_dim: int = 8, shared_downsamplings: int = 2, head_downsamplings: int = 2,
                 max_channels: int = 256, norm_layer: NormFactory | None = None,
                 activation: ActFactory = _LEAKY_RELU_001):
        super().__init__()
        if len(set(heads)) != len(heads) or not heads:
            raise ValueError(f"style encoder heads must be distinct names, got {tuple(heads)}")
        block = functools.partial(conv_block, pad_mode="reflect", norm_layer=norm_layer, activation=activation)
        shared: list[nn.Module] = [block(in_channels, channels, 7, 1, 3)]
        ch = channels
        for _ in range(shared_downsamplings):
            nxt = min(ch * 2, max_channels)
            shared.append(block(ch, nxt, 4, 2, 1))
            ch = nxt
        self.shared = nn.Sequential(*shared)
        self.heads = nn.ModuleDict()
        for name in heads:
            mods: list[nn.Module] = []
            hc = ch
            for _ in range(head_downsamplings):
                nxt = min(hc * 2, max_channels)
                mods.append(block(hc, nxt, 4, 2, 1))
                hc = nxt
            mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(hc, style_dim)]
            self.heads[name] = nn.Sequential(*mods)
        self.head_names = tuple(heads)
        self.style_dim = style_dim

    def encode(self, x: Tensor, head: str) -> Tensor:
        return self.heads[head](self.shared(x))

    def forward(self, *images: Tensor) -> tuple[Tensor, ...]:
        if len(images) != len(self.head_names):
            raise ValueError(f"expected {len(self.head_names)} images (one per head {self.head_names}), "
                             f"got {len(images)}")
        sizes = [x.shape[0] for x in images]
        trunk = self.shared(torch.cat(images)).split(sizes)
        return tuple(self.heads[name](t) for name, t in zip(self.head_names, trunk, strict=True))
