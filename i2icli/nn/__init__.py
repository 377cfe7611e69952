"""Shared network building blocks (norms, conv blocks, attention, discriminators, init).

Blocks take their normalisation and activation as factories; model files in
:mod:`i2icli.models` compose them and never copy them.
"""

from i2icli.nn.attention import CAMAttention, CAMOutput, raw_weight
from i2icli.nn.blocks import (
    ActFactory,
    AdaptiveResidualBlock,
    NormFactory,
    ResidualBlock,
    conv2d,
    conv_block,
    linear,
)
from i2icli.nn.discriminators import (
    DiscriminatorOutput,
    SameConv2d,
    UGATITDiscriminator,
    UNITDiscriminator,
    patchgan_receptive_field,
    same_padding,
)
from i2icli.nn.init import he_std, init_kaiming_, init_normal_
from i2icli.nn.norms import LIN, AdaLIN, clip_rho_, instance_norm, layer_instance_norm, rho_parameters
from i2icli.nn.spectral import (
    SpectralNormConv2d,
    SpectralNormLinear,
    spectral_norm_conv2d,
    spectral_norm_linear,
    stacked_calls,
)

__all__ = [
    "ActFactory",
    "AdaLIN",
    "AdaptiveResidualBlock",
    "CAMAttention",
    "CAMOutput",
    "DiscriminatorOutput",
    "LIN",
    "NormFactory",
    "ResidualBlock",
    "SameConv2d",
    "SpectralNormConv2d",
    "SpectralNormLinear",
    "UGATITDiscriminator",
    "UNITDiscriminator",
    "clip_rho_",
    "conv2d",
    "conv_block",
    "he_std",
    "init_kaiming_",
    "init_normal_",
    "instance_norm",
    "layer_instance_norm",
    "linear",
    "patchgan_receptive_field",
    "raw_weight",
    "rho_parameters",
    "same_padding",
    "spectral_norm_conv2d",
    "spectral_norm_linear",
    "stacked_calls",
]
