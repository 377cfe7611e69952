"""Shared network building blocks (norms, conv blocks, attention, discriminators, init).

Blocks take their normalisation and activation as factories; model files in
:mod:`i2icli.models` compose them and never copy them.
"""

from i2icli.nn.adain import AdaIN, adain, adain_from_features, instance_stats
from i2icli.nn.attention import CAMAttention, CAMOutput, raw_weight
from i2icli.nn.blocks import (
    AdaptiveResidualBlock,
    PreActResidualBlock,
    ResidualBlock,
    conv2d,
    conv_block,
    linear,
)
from i2icli.nn.discriminators import DiscriminatorOutput, UGATITDiscriminator, patchgan_receptive_field
from i2icli.nn.factories import ActFactory, NormFactory
from i2icli.nn.init import he_std, init_kaiming_, init_normal_
from i2icli.nn.nonlocal_block import NonLocalBlock
from i2icli.nn.norms import LIN, AdaLIN, batch_norm, clip_rho_, instance_norm, layer_instance_norm, rho_parameters
from i2icli.nn.spade import SPADE
from i2icli.nn.spectral import (
    SpectralNormConv2d,
    SpectralNormLinear,
    spectral_norm_conv2d,
    spectral_norm_linear,
    stacked_calls,
)

__all__ = [
    "LIN",
    "SPADE",
    "ActFactory",
    "AdaIN",
    "AdaLIN",
    "AdaptiveResidualBlock",
    "CAMAttention",
    "CAMOutput",
    "DiscriminatorOutput",
    "NonLocalBlock",
    "NormFactory",
    "PreActResidualBlock",
    "ResidualBlock",
    "SpectralNormConv2d",
    "SpectralNormLinear",
    "UGATITDiscriminator",
    "adain",
    "adain_from_features",
    "batch_norm",
    "clip_rho_",
    "conv2d",
    "conv_block",
    "he_std",
    "init_kaiming_",
    "init_normal_",
    "instance_norm",
    "instance_stats",
    "layer_instance_norm",
    "linear",
    "patchgan_receptive_field",
    "raw_weight",
    "rho_parameters",
    "spectral_norm_conv2d",
    "spectral_norm_linear",
    "stacked_calls",
]
