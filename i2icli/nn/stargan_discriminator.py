"""StarGAN-style discriminator: PatchGAN source head + auxiliary classifier on one trunk.

Choi et al. 2018 (StarGAN), used by LOMIT Section 5.1 ("six strided-
convolutional layers, followed by the standard discriminator and the
auxiliary classifier") and Section 4.4 ("D_cls shares the parameters with
D_src except for the last layer"):

- trunk: ``layers`` 4x4 convolutions with stride 2 and padding 1, each
  followed by ``activation`` (StarGAN: LeakyReLU(0.01)), no normalisation
  (WGAN-GP penalises per-sample input gradients, which batch norm would
  couple); the width doubles from ``channels`` up to ``max_channels``;
- source head: a 3x3 conv (stride 1, padding 1) to one channel -- a PatchGAN
  map of realness scores (B, 1, S/2^layers, S/2^layers);
- classifier head: a conv whose kernel covers the whole final map
  (``image_size / 2^layers``), giving (B, num_classes) logits.

At 128 px with six layers the final map is 2x2 (StarGAN's setting).  Small
test images need fewer layers: ``image_size`` must be divisible by
``2**layers``.
"""

from __future__ import annotations

from typing import Callable

from torch import Tensor, nn

ActivationFactory = Callable[[], nn.Module]


def _leaky_relu() -> nn.Module:
    return nn.LeakyReLU(0.01)


class PatchClassifierDiscriminator(nn.Module):
    """``forward(x)`` -> ``(src, cls)``: (B,1,s,s) PatchGAN scores and (B, num_classes) logits."""

    def __init__(self, image_size: int, num_classes: int, in_channels: int = 3, channels: int = 64, layers: int = 6,
                 max_channels: int = 2048, activation: ActivationFactory = _leaky_relu):
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
