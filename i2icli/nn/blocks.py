"""Generic convolutional building blocks; norms and activations are factories.

``norm_layer(num_channels) -> nn.Module`` and ``activation() -> nn.Module``
(the one factory type, :mod:`i2icli.nn.factories`; e.g.
:func:`i2icli.nn.norms.instance_norm`, :func:`i2icli.nn.factories.leaky_relu`
``(0.2)``), or ``None`` for none.  Conditional norms (AdaLIN, AdaIN, highway
AdaIN, ...) are modules whose ``forward(x, *cond)`` takes extra tensors;
:class:`AdaptiveResidualBlock` passes its conditioning through to them.

Padding is a mode, not a layer: ``pad_mode="reflect"`` (U-GAT-IT, CycleGAN
generators), ``"zeros"``, ``"replicate"`` or ``"circular"`` is handed to
``nn.Conv2d(padding_mode=...)`` so the state dict holds only the conv's own
parameters.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from i2icli.nn.factories import ActFactory, NormFactory
from i2icli.nn.spectral import spectral_norm_conv2d, spectral_norm_linear

__all__ = ["ActFactory", "AdaptiveResidualBlock", "NormFactory", "PadMode", "PreActResidualBlock", "ResidualBlock",
           "conv2d", "conv_block", "linear"]
PadMode = Literal["reflect", "zeros", "replicate", "circular"]


def conv2d(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, *,
           pad_mode: PadMode = "zeros", bias: bool = True, spectral_norm: bool = False) -> nn.Conv2d:
    """``nn.Conv2d`` with a padding mode and optional spectral normalisation (Miyato et al., 2018).

    With ``spectral_norm`` the layer is :class:`i2icli.nn.spectral.SpectralNormConv2d`: torch's
    parametrisation (same state dict), but 1/sigma scales the output instead of the weight.
    """
    if spectral_norm:
        return spectral_norm_conv2d(in_channels, out_channels, kernel_size, stride, padding, padding_mode=pad_mode,
                                    bias=bias)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias, padding_mode=pad_mode)


def linear(in_features: int, out_features: int, *, bias: bool = True, spectral_norm: bool = False) -> nn.Linear:
    """``nn.Linear`` with optional spectral normalisation (:class:`i2icli.nn.spectral.SpectralNormLinear`)."""
    if spectral_norm:
        return spectral_norm_linear(in_features, out_features, bias=bias)
    return nn.Linear(in_features, out_features, bias=bias)


def conv_block(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, *,
               pad_mode: PadMode = "zeros", norm_layer: NormFactory | None = None,
               activation: ActFactory | None = None, bias: bool = True, spectral_norm: bool = False,
               upsample: int = 1) -> nn.Sequential:
    """[nearest upsample] -> conv -> [norm] -> [activation].

    ``upsample=2`` gives U-GAT-IT's up-sampling block (Table 4: nearest
    neighbour x2, then a stride-1 conv).
    """
    layers: list[nn.Module] = []
    if upsample != 1:
        layers.append(nn.Upsample(scale_factor=upsample, mode="nearest"))
    layers.append(conv2d(in_channels, out_channels, kernel_size, stride, padding, pad_mode=pad_mode, bias=bias,
                         spectral_norm=spectral_norm))
    if norm_layer is not None:
        layers.append(norm_layer(out_channels))
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """x + [conv3x3 -> norm -> act -> conv3x3 -> norm](x)  (He et al. 2016; U-GAT-IT Table 4 "ResBlock").

    ``bias`` defaults to False: a bias right before a normalisation that
    subtracts the mean is a no-op (the authors' U-GAT-IT code also drops it).
    """

    def __init__(self, dim: int, norm_layer: NormFactory, activation: ActFactory, *,
                 pad_mode: PadMode = "reflect", bias: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            conv_block(dim, dim, 3, 1, 1, pad_mode=pad_mode, norm_layer=norm_layer, activation=activation, bias=bias),
            conv_block(dim, dim, 3, 1, 1, pad_mode=pad_mode, norm_layer=norm_layer, bias=bias),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class AdaptiveResidualBlock(nn.Module):
    """Residual block whose norms are conditioned: ``forward(x, *cond)``.

    x + norm2(conv2(act(norm1(conv1(x), *cond))), *cond); with
    ``norm_layer=AdaLIN`` and ``cond=(gamma, beta)`` this is U-GAT-IT's
    "AdaResBlock" (Table 4); with an AdaIN norm it is the MUNIT/LOMIT style
    block.
    """

    def __init__(self, dim: int, norm_layer: NormFactory, activation: ActFactory, *,
                 pad_mode: PadMode = "reflect", bias: bool = False):
        super().__init__()
        self.conv1 = conv2d(dim, dim, 3, 1, 1, pad_mode=pad_mode, bias=bias)
        self.norm1 = norm_layer(dim)
        self.act = activation()
        self.conv2 = conv2d(dim, dim, 3, 1, 1, pad_mode=pad_mode, bias=bias)
        self.norm2 = norm_layer(dim)

    def forward(self, x: Tensor, *cond: Tensor) -> Tensor:
        out = self.act(self.norm1(self.conv1(x), *cond))
        return x + self.norm2(self.conv2(out), *cond)


Resample = Literal["none", "up", "down"]


class PreActResidualBlock(nn.Module):
    """Pre-activation residual block that may change width and resample: ``forward(x, *cond)``.

    ::

        residual = [avgpool2] conv3x3(act(norm2(conv3x3([up2] act(norm1(x, *cond))), *cond)))
        shortcut = x                                   if in == out and resample == "none"
                   conv1x1(up2(x)) | avgpool2(conv1x1(x)) | conv1x1(x)   otherwise
        out      = residual + shortcut

    He et al. (2016)'s pre-activation order with StarGAN v2's resampling
    (nearest x2 before the first conv, 2x2 average pool after the second);
    BridgeGAN's ``ResBlk`` (specs/bridge.md: every conv biased, zero "SAME"
    padding, learned 1x1 shortcut with bias whenever the width changes or the
    block resamples, plain sum, no 1/sqrt(2)).  ``norm_layer`` builds
    ``norm1`` over ``in_channels`` and ``norm2`` over ``out_channels``; it may
    be conditional (SPADE, AdaIN modules), in which case ``cond`` reaches both;
    ``None`` means no norm (BridgeGAN's discriminator).
    """

    def __init__(self, in_channels: int, out_channels: int, norm_layer: NormFactory | None,
                 activation: ActFactory, *, resample: Resample = "none", pad_mode: PadMode = "zeros",
                 bias: bool = True):
        super().__init__()
        if resample not in ("none", "up", "down"):
            raise ValueError(f"unknown resample {resample!r}; valid: none, up, down")
        self.resample = resample
        self.norm1 = norm_layer(in_channels) if norm_layer is not None else None
        self.act1 = activation()
        self.conv1 = conv2d(in_channels, out_channels, 3, 1, 1, pad_mode=pad_mode, bias=bias)
        self.norm2 = norm_layer(out_channels) if norm_layer is not None else None
        self.act2 = activation()
        self.conv2 = conv2d(out_channels, out_channels, 3, 1, 1, pad_mode=pad_mode, bias=bias)
        learned = in_channels != out_channels or resample != "none"
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, bias=bias) if learned else None

    def _resample(self, x: Tensor) -> Tensor:
        if self.resample == "up":
            return nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        return nn.functional.avg_pool2d(x, 2)

    def forward(self, x: Tensor, *cond: Tensor) -> Tensor:
        h = self.act1(self.norm1(x, *cond) if self.norm1 is not None else x)
        if self.resample == "up":
            h = self._resample(h)
        h = self.conv1(h)
        h = self.conv2(self.act2(self.norm2(h, *cond) if self.norm2 is not None else h))
        if self.resample == "down":
            h = self._resample(h)
        if self.shortcut is None:
            return x + h
        if self.resample == "up":
            return h + self.shortcut(self._resample(x))
        skip = self.shortcut(x)
        return h + (self._resample(skip) if self.resample == "down" else skip)
