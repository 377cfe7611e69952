"""Auxiliary-classifier losses (AC-GAN / StarGAN), LOMIT Eq. 11-12.

LOMIT's classifier ``D_cls`` predicts the domain label ``y_x`` of an image; for
CelebA/EmotioNet the label is a multi-hot attribute vector, so
``-log D_cls(y | x)`` is the binary cross-entropy summed over attributes and
averaged over the batch (the reduction of LOMIT's and StarGAN's code).

- Eq. 11 (discriminator): ``attribute_bce(D_cls(x_real), y_real)``
- Eq. 12 (generator):     ``attribute_bce(D_cls(x_1->2), y_exemplar)``
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def attribute_bce(logits: Tensor, labels: Tensor) -> Tensor:
    """Multi-label BCE: sum over attributes, mean over the batch. ``logits``, ``labels`` (B, n_attr)."""
    if logits.shape != labels.shape:
        raise ValueError(f"attribute_bce: logits {tuple(logits.shape)} vs labels {tuple(labels.shape)}")
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="sum") / logits.shape[0]


def attribute_accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    """Fraction of attributes predicted right (logit > 0 vs label > 0.5); a detached scalar for logs."""
    return ((logits.detach() > 0) == (labels > 0.5)).float().mean()
