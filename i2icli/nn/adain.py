"""Adaptive instance normalisation (AdaIN) and its local, mask-gated variant.

- :func:`adain` is Eq. 3 of LOMIT (Huang & Belongie 2017; MUNIT's learned form)::

      AdaIN(c, s) = gamma(s) * (c - mu(c)) / sigma(c) + beta(s)

  with ``mu``/``sigma`` the per-sample, per-channel mean and standard deviation
  over the spatial positions (biased variance plus ``eps`` under the square
  root, the same statistics as :class:`torch.nn.InstanceNorm2d`).
- :func:`highway_adain` is Eq. 4 (HAdaIN)::

      HAdaIN(m1, c1, s2f, s1b) = m1 * AdaIN(c1, s2f) + (1 - m1) * AdaIN(c1, s1b)

  The content is normalised once and both affine maps are applied to it.  With
  ``m1 == 1`` it is plain AdaIN with the exemplar's foreground code; with
  ``m1 == 0`` the input keeps its own (background) style.
- :class:`StyleAffineMLP` maps a style code to ``(gamma, beta)`` (the paper's
  ``[sigma(s); mu(s)] = MLP(s)`` below Eq. 4); LOMIT uses one for the
  foreground and a separate one for the background code.
- :class:`HighwayAdaIN` holds the two MLPs and applies Eq. 4.
- :class:`AdaIN` is :func:`adain` as a parameter-free module, and
  :func:`adain_from_features` / :meth:`AdaIN.from_features` take gamma and beta
  from another feature map's statistics (Huang & Belongie 2017, Eq. 8):
  EGSC-IT's exemplar AdaIN (Ma et al., ICLR 2019, Eq. 1-2) with
  ``gamma = sigma(f_B)``, ``beta = mu(f_B)``.  EGSC-IT's Eq. 1 calls
  ``delta(.)`` a "variance" and its public code scales by the mean and shifts by
  the variance; that variant belongs in the model file, which can build it from
  :func:`instance_stats` (see specs/egscit.md).

Everything here is generic: LOMIT uses :class:`HighwayAdaIN`; EGSC-IT uses
:class:`AdaIN` on exemplar statistics (no MLP).  BridgeGAN conditions on
spatial style maps through SPADE (:mod:`i2icli.nn.spade`), not through AdaIN.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from i2icli.nn.factories import ActFactory


def instance_stats(x: Tensor, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and std over H, W: two (B, C, 1, 1) tensors."""
    var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, unbiased=False)
    return mean, torch.sqrt(var + eps)


def instance_normalize(x: Tensor, eps: float = 1e-5) -> Tensor:
    """``(x - mu(x)) / sigma(x)`` per sample and channel (no affine)."""
    mean, std = instance_stats(x, eps)
    return (x - mean) / std


def _as_map(p: Tensor) -> Tensor:
    # (B, C) -> (B, C, 1, 1); (B, C, 1, 1) passes through
    return p[:, :, None, None] if p.dim() == 2 else p


def adain(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """Eq. 3 of LOMIT: ``gamma * IN(x) + beta``.

    ``x`` (B, C, H, W); ``gamma``, ``beta`` (B, C) or (B, C, 1, 1).
    """
    return _as_map(gamma) * instance_normalize(x, eps) + _as_map(beta)


def adain_from_features(x: Tensor, style: Tensor, eps: float = 1e-5) -> Tensor:
    """Statistics transfer: ``sigma(y) * (x - mu(x)) / sigma(x) + mu(y)`` (Huang & Belongie 2017, Eq. 8).

    ``x`` (B, C, H, W) content; ``style`` (B, C, h, w) with the same B and C
    (any h, w); both statistics per sample and channel, biased variance plus
    ``eps`` (:func:`instance_stats`).  EGSC-IT's exemplar AdaIN, Eq. 1-2, read
    with delta = standard deviation.
    """
    if style.shape[:2] != x.shape[:2]:
        raise ValueError(f"adain_from_features: content is (B, C) = {tuple(x.shape[:2])}, "
                         f"style is {tuple(style.shape[:2])}")
    mean, std = instance_stats(style, eps)
    return adain(x, std, mean, eps)


class AdaIN(nn.Module):
    """Parameter-free AdaIN: ``forward(x, gamma, beta) = gamma * IN(x) + beta`` (LOMIT Eq. 3).

    ``gamma``, ``beta``: (B, C) or (B, C, 1, 1), e.g. from a
    :class:`StyleAffineMLP` or :func:`instance_stats` of an exemplar's features.
    A module (rather than only :func:`adain`) so that it shows in a network's
    ``repr`` where it is applied and carries its ``eps``.
    """

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        return adain(x, gamma, beta, self.eps)

    def from_features(self, x: Tensor, style: Tensor) -> Tensor:
        """:func:`adain_from_features` with this module's ``eps``."""
        return adain_from_features(x, style, self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


def highway_adain(x: Tensor, mask: Tensor, fg_gamma: Tensor, fg_beta: Tensor, bg_gamma: Tensor, bg_beta: Tensor,
                  eps: float = 1e-5) -> Tensor:
    """Eq. 4 of LOMIT (HAdaIN): ``m * AdaIN(x; fg) + (1 - m) * AdaIN(x; bg)``.

    ``x`` (B, C, H, W) content code of the input; ``mask`` (B, 1, H, W) in
    [0, 1] at the content code's resolution (the input's own mask m1);
    ``fg_*`` from the exemplar's foreground code, ``bg_*`` from the input's
    background code, each (B, C).
    """
    if mask.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"highway_adain: mask is {tuple(mask.shape[-2:])}, content is {tuple(x.shape[-2:])}")
    normalized = instance_normalize(x, eps)
    fg = _as_map(fg_gamma) * normalized + _as_map(fg_beta)
    bg = _as_map(bg_gamma) * normalized + _as_map(bg_beta)
    return bg + mask * (fg - bg)  # == m * fg + (1 - m) * bg, one op fewer


class StyleAffineMLP(nn.Module):
    """Style code (B, style_dim) -> ``(gamma, beta)``, each (B, channels).

    ``layers`` linear layers (``hidden`` wide) with ``activation`` between them
    and none after the last.  ``scale``:

    - ``"log_var"``: the first half of the output is a log-variance and
      ``gamma = exp(0.5 * out)`` is a positive standard deviation, as Eq. 3's
      ``sigma(s)`` reads and as LOMIT's public code does;
    - ``"direct"``: ``gamma`` is the raw output (MUNIT's convention).
    """

    def __init__(self, style_dim: int, channels: int, hidden: int = 256, layers: int = 3,
                 activation: ActFactory = nn.ReLU, scale: Literal["log_var", "direct"] = "log_var"):
        super().__init__()
        if layers < 1:
            raise ValueError("StyleAffineMLP needs at least one layer")
        if scale not in ("log_var", "direct"):
            raise ValueError(f"unknown scale {scale!r}")
        mods: list[nn.Module] = []
        dim = style_dim
        for _ in range(layers - 1):
            mods += [nn.Linear(dim, hidden), activation()]
            dim = hidden
        mods.append(nn.Linear(dim, 2 * channels))
        self.net = nn.Sequential(*mods)
        self.channels = channels
        self.scale = scale

    def forward(self, style: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(style.flatten(1))  # (B, 2C)
        gamma, beta = out[:, : self.channels], out[:, self.channels:]
        if self.scale == "log_var":
            gamma = torch.exp(0.5 * gamma)
        return gamma, beta


class HighwayAdaIN(nn.Module):
    """Eq. 4 with its two MLPs: separate ones for foreground and background codes."""

    def __init__(self, style_dim: int, channels: int, hidden: int = 256, layers: int = 3,
                 activation: ActFactory = nn.ReLU, scale: Literal["log_var", "direct"] = "log_var",
                 eps: float = 1e-5):
        super().__init__()
        self.fg_mlp = StyleAffineMLP(style_dim, channels, hidden, layers, activation, scale)
        self.bg_mlp = StyleAffineMLP(style_dim, channels, hidden, layers, activation, scale)
        self.eps = eps

    def forward(self, content: Tensor, mask: Tensor, fg_style: Tensor, bg_style: Tensor) -> Tensor:
        """``content`` (B,C,h,w), ``mask`` (B,1,h,w), styles (B, style_dim) -> (B,C,h,w)."""
        fg_gamma, fg_beta = self.fg_mlp(fg_style)
        bg_gamma, bg_beta = self.bg_mlp(bg_style)
        return highway_adain(content, mask, fg_gamma, fg_beta, bg_gamma, bg_beta, self.eps)
