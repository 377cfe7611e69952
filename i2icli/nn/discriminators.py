"""U-GAT-IT PatchGAN discriminators with CAM attention (Kim et al. ICLR 2020, Sec. 2.1.2, Tables 5-6).

``UGATITDiscriminator(n_layers=5)`` is the local discriminator (Table 5,
70x70 receptive field), ``n_layers=7`` the global one (Table 6, 286x286).
Following the authors' code, ``n_layers`` counts the encoder convs plus the
classifier: ``n_layers - 2`` stride-2 convs, one stride-1 conv, CAM, then the
4x4 classifier conv.  All 4x4 convs use reflection padding 1, spectral norm
(App. B.1) and a bias (authors' code; the classifier has none), followed by
leaky ReLU with slope 0.2.

With reflection padding every feature map must stay at least 2 pixels wide,
so the paper's global discriminator needs inputs of at least 96 px
(:meth:`UGATITDiscriminator.min_input_size`); small recipes use fewer layers.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from i2icli.nn.attention import CAMAttention
from i2icli.nn.blocks import conv2d
from i2icli.nn.factories import ActFactory, leaky_relu


class DiscriminatorOutput(NamedTuple):
    logits: Tensor  # (B, 1, h', w') patch real/fake scores D(x)
    cam_logits: Tensor  # (B, 2) auxiliary classifier eta_D(x), [GAP, GMP]
    heatmap: Tensor  # (B, 1, h, w) CAM heatmap (unnormalised)


def patchgan_receptive_field(n_layers: int) -> int:
    """Receptive field (px) of one output of :class:`UGATITDiscriminator` with ``n_layers``.

    Going backwards from one output pixel: the 4x4 stride-1 classifier sees 4,
    the stride-1 conv adds 3 (7), each 4x4 stride-2 conv maps r to 2r + 2
    (7 -> 16 -> 34 -> 70 -> 142 -> 286).  The 1x1 CAM fuse conv adds nothing.
    """
    r = 7
    for _ in range(n_layers - 2):
        r = 2 * r + 2
    return r


def _output_size(size: int, n_layers: int) -> int:
    """Spatial size of the logit map for a ``size`` input, or 0 if a reflection pad fails."""
    for stride in [2] * (n_layers - 2) + [1, 1]:
        if size < 2:  # ReflectionPad(1) needs at least 2 pixels
            return 0
        size = (size + 2 - 4) // stride + 1
    return size


class UGATITDiscriminator(nn.Module):
    """Encoder (SN convs + leaky ReLU) -> CAM -> 4x4 classifier; returns :class:`DiscriminatorOutput`."""

    def __init__(self, in_channels: int = 3, ch: int = 64, n_layers: int = 5, *, negative_slope: float = 0.2,
                 spectral_norm: bool = True, cam: bool = True):
        super().__init__()
        if n_layers < 3:
            raise ValueError(f"n_layers must be >= 3 (two encoder convs and the classifier), got {n_layers}")
        self.n_layers = n_layers
        act = leaky_relu(negative_slope, inplace=True)
        sn = spectral_norm
        layers: list[nn.Module] = [conv2d(in_channels, ch, 4, 2, 1, pad_mode="reflect", spectral_norm=sn), act()]
        width = ch
        for _ in range(n_layers - 3):
            layers += [conv2d(width, 2 * width, 4, 2, 1, pad_mode="reflect", spectral_norm=sn), act()]
            width *= 2
        layers += [conv2d(width, 2 * width, 4, 1, 1, pad_mode="reflect", spectral_norm=sn), act()]
        width *= 2
        self.encoder = nn.Sequential(*layers)
        # cam=False: U-GAT-IT's "w/o D_CAM" ablation (Table 1): the classifier reads the encoder's features
        self.cam = CAMAttention(width, act, spectral_norm=sn) if cam else None
        self.classifier = conv2d(width, 1, 4, 1, 1, pad_mode="reflect", bias=False, spectral_norm=sn)
        self.out_channels = width

    @property
    def receptive_field(self) -> int:
        return patchgan_receptive_field(self.n_layers)

    def min_input_size(self) -> int:
        """Smallest square input this discriminator can take."""
        size = 2
        while _output_size(size, self.n_layers) < 1:
            size += 1
        return size

    def forward(self, x: Tensor) -> DiscriminatorOutput:
        """Without CAM, ``cam_logits`` is (B, 0) and the heatmap is the features' channel sum."""
        h = self.encoder(x)
        if self.cam is None:
            return DiscriminatorOutput(self.classifier(h), h.new_zeros(h.shape[0], 0), h.sum(1, keepdim=True))
        features, cam_logits, heatmap = self.cam(h)
        return DiscriminatorOutput(self.classifier(features), cam_logits, heatmap)


# --------------------------------------------------------------------------- StarGAN / LOMIT

# StarGAN-style discriminator: PatchGAN source head + auxiliary classifier on one trunk.
#
# Choi et al. 2018 (StarGAN), used by LOMIT Section 5.1 ("six strided-
# convolutional layers, followed by the standard discriminator and the
# auxiliary classifier") and Section 4.4 ("D_cls shares the parameters with
# D_src except for the last layer"):
#
# - trunk: ``layers`` 4x4 convolutions with stride 2 and padding 1, each
#   followed by ``activation`` (StarGAN: LeakyReLU(0.01)), no normalisation
#   (WGAN-GP penalises per-sample input gradients, which batch norm would
#   couple); the width doubles from ``channels`` up to ``max_channels``;
# - source head: a 3x3 conv (stride 1, padding 1) to one channel -- a PatchGAN
#   map of realness scores (B, 1, S/2^layers, S/2^layers);
# - classifier head: a conv whose kernel covers the whole final map
#   (``image_size / 2^layers``), giving (B, num_classes) logits.
#
# At 128 px with six layers the final map is 2x2 (StarGAN's setting).  Small
# test images need fewer layers: ``image_size`` must be divisible by
# ``2**layers``.


_LEAKY_RELU_001: ActFactory = leaky_relu(0.01)  # StarGAN's slope


class PatchClassifierDiscriminator(nn.Module):
    """``forward(x)`` -> ``(src, cls)``: (B,1,s,s) PatchGAN scores and (B, num_classes) logits."""

    def __init__(self, image_size: int, num_classes: int, in_channels: int = 3, channels: int = 64, layers: int = 6,
                 max_channels: int = 2048, activation: ActFactory = _LEAKY_RELU_001):
        super().__init__()
        if layers < 1 or image_size % (2 ** layers) != 0:
            raise ValueError(f"image size {image_size} is not divisible by 2**layers = {2 ** layers}")
        mods: list[nn.Module] = []
        cin, cout = in_channels, channels
        for _ in range(layers):
            mods += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), activation()]
            cin, cout = cout, min(cout * 2, max_channels)
        self.trunk = nn.Sequential(*mods)
        self.source = nn.Conv2d(cin, 1, 3, stride=1, padding=1, bias=False)
        self.classifier = nn.Conv2d(cin, num_classes, image_size // (2 ** layers), bias=False)
        self.num_classes = num_classes

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(x)
        return self.source(h), self.classifier(h).flatten(1)
