"""Regularisers on attention/segmentation masks.

LOMIT Section 4.5 (masks ``m`` are (B, 1, h, w) in [0, 1]):

- :func:`mask_content_consistency` -- R1, Eq. 13: pixels with similar content
  should get similar mask values::

      R1 = mean_ij |m_i - m_j| * cos(c_i, c_j)

  over all pairs of positions (i, j) of one image; the cosine similarity of
  the C-dimensional content vectors is computed from a *detached* content
  code, so R1 trains only the network producing ``m`` (the paper: "we
  backpropagate ... only through m ... not through c^, which does not affect
  our encoder").  The mean over pairs (not the sum) is what LOMIT's public
  code optimises; it keeps lambda_1 independent of the resolution.
- :func:`style_contrast` -- R2, Eq. 14: ``-E ||s1f - s2f||_1``, pushing the
  foreground codes of input and exemplar apart so the masks pick regions whose
  styles differ (mean absolute difference, as the public code).
- :func:`mask_area` -- R3, Eq. 15: ``E ||m||_1``, normalised by the number of
  pixels (mean mask value), as the public code.
"""

from __future__ import annotations

import torch
from torch import Tensor


def content_cosine_similarity(content: Tensor, eps: float = 1e-8) -> Tensor:
    """(B, C, h, w) -> (B, hw, hw) cosine similarities between positions (no gradient)."""
    c = content.detach().flatten(2)  # (B, C, hw)
    c = c / c.norm(dim=1, keepdim=True).clamp_min(eps)
    return torch.bmm(c.transpose(1, 2), c)


def mask_content_consistency(mask: Tensor, content: Tensor, similarity: Tensor | None = None) -> Tensor:
    """R1 (Eq. 13). ``mask`` (B,1,h,w), ``content`` (B,C,h,w) at the same h, w.

    Pass a precomputed ``similarity`` (from :func:`content_cosine_similarity`)
    when several masks are regularised against the same content code.
    """
    if mask.shape[-2:] != content.shape[-2:]:
        raise ValueError(f"R1: mask {tuple(mask.shape[-2:])} and content {tuple(content.shape[-2:])} differ in size")
    sim = content_cosine_similarity(content) if similarity is None else similarity
    m = mask.flatten(1)  # (B, hw)
    dist = (m[:, :, None] - m[:, None, :]).abs()  # (B, hw, hw)
    return (dist * sim).mean()


def style_contrast(style_a: Tensor, style_b: Tensor) -> Tensor:
    """R2 (Eq. 14): minus the mean absolute difference of two foreground style codes."""
    return -(style_a - style_b).abs().mean()


def mask_area(mask: Tensor) -> Tensor:
    """R3 (Eq. 15): the mean mask value (L1 norm per pixel)."""
    return mask.abs().mean()


def total_variation(img: Tensor, eps: float = 1e-8) -> Tensor:
    """Isotropic TV, SEGIN Eq. 8: sum_ij sqrt(|y_{i+1,j} - y_ij|^2 + |y_{i,j+1} - y_ij|^2), as a mean over the
    (H-1) x (W-1) positions and channels (the paper's sum would dwarf every other term at w6 = 10); ``eps`` keeps
    the gradient finite on flat regions."""
    dy = img[:, :, 1:, :-1] - img[:, :, :-1, :-1]
    dx = img[:, :, :-1, 1:] - img[:, :, :-1, :-1]
    return (dy.square() + dx.square() + eps).sqrt().mean()
