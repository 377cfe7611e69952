"""Reconstruction and auxiliary-classifier losses (U-GAT-IT, Kim et al., ICLR 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def l1_loss(output: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error: cycle loss (Eq. 3, ``|x - G_ts(G_st(x))|_1``) and
    identity loss (Eq. 4, ``|x - G_st(x)|_1``), averaged over all elements."""
    return (output - target).abs().mean()


def cam_bce_loss(source_logits: Tensor, other_logits: Tensor) -> Tensor:
    """Generator CAM loss, Eq. 5: -(E_{x~X_s}[log eta_s(x)] + E_{x~X_t}[log(1 - eta_s(x))]).

    ``source_logits``: the generator's auxiliary-classifier logits (B, 2) on
    images of its own source domain (target 1); ``other_logits``: on images of
    the other domain (target 0).  Binary cross-entropy on logits (numerically
    stable), averaged over the batch and the GAP/GMP logits, as the authors'
    ``BCEWithLogitsLoss``.
    """
    return (F.binary_cross_entropy_with_logits(source_logits, torch.ones_like(source_logits))
            + F.binary_cross_entropy_with_logits(other_logits, torch.zeros_like(other_logits)))


def feature_l1_per_sample(output: Tensor, target: Tensor) -> Tensor:
    """SEGIN Eq. 6: ||Phi(y_hat) - Phi(y)||_1 summed over (C, h, w) per sample, averaged over the batch.

    The sum (not a mean) is what makes the paper's w2 = 5e-6 a non-trivial weight: at 256 px relu3_2 has
    256 x 64 x 64 = 1.05 M elements, so 5e-6 x sum ~ 5.2 x mean (shared/specs/segin.md Section 2)."""
    return (output - target).abs().flatten(1).sum(1).mean()
