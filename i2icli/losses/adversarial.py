"""Adversarial losses (one function per objective; WGAN, hinge, ... go here too).

Least-squares GAN (Mao et al., 2017), as used by U-GAT-IT (Kim et al., ICLR
2020, Eq. 2 for D(x), Eq. 6 for the discriminator's CAM logits eta_D(x)).
Eqs. 2 and 6 are printed with the targets swapped (real -> 0, fake -> 1 in
a min-max form); the authors' code, which we follow, uses the usual LSGAN
targets real -> 1, fake -> 0 for the discriminator and fake -> 1 for the
generator, with a mean over all elements (``MSELoss``), so patch maps of any
size weigh the same.
"""

from __future__ import annotations

from torch import Tensor


def lsgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Discriminator side of Eq. 2 / Eq. 6: mean((D(x_real) - 1)^2) + mean(D(x_fake)^2)."""
    return (real - 1.0).square().mean() + fake.square().mean()


def lsgan_g_loss(fake: Tensor) -> Tensor:
    """Generator side of Eq. 2 / Eq. 6: mean((D(G(x)) - 1)^2)."""
    return (fake - 1.0).square().mean()


def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Non-saturating GAN, discriminator side (SEGIN Eq. 7): BCE(D(x, y), 1) + BCE(D(x, y_hat), 0), mean over logits."""
    import torch.nn.functional as F

    return (F.binary_cross_entropy_with_logits(real, real.new_ones(()).expand_as(real))
            + F.binary_cross_entropy_with_logits(fake, fake.new_zeros(()).expand_as(fake)))


def bce_g_loss(fake: Tensor) -> Tensor:
    """Non-saturating GAN, generator side (SEGIN Eq. 7, Goodfellow et al.'s -log D trick): BCE(D(x, y_hat), 1)."""
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(fake, fake.new_ones(()).expand_as(fake))
