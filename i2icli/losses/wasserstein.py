"""Wasserstein adversarial terms (Arjovsky et al. 2017; WGAN-GP, Gulrajani et al. 2017).

LOMIT Eq. 10 writes the critic's objective as
``L_adv = E[D(x)] - E[D(G(...))] - lambda_gp * GP``, maximised by D; Eq. 16
then minimises ``L_D = -L_adv + ...`` and ``L_G = L_adv + ...``, whose only
generator-dependent part is ``-E[D(G(...))]``.  As losses to minimise:

- :func:`wgan_critic_loss`: ``-E[D(x_real)] + E[D(x_fake)]`` (the penalty is
  :func:`i2icli.losses.gradient_penalty.gradient_penalty`, added by the caller);
- :func:`wgan_generator_loss`: ``-E[D(x_fake)]``.

PatchGAN score maps (LOMIT: "we apply the loss proposed in patchGAN") are
averaged over patches and batch.
"""

from __future__ import annotations

from torch import Tensor


def wgan_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``mean(D(fake)) - mean(D(real))``; its negative estimates the Wasserstein distance."""
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: Tensor) -> Tensor:
    """``-mean(D(fake))``."""
    return -fake_scores.mean()
