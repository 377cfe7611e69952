"""Perceptual losses over VGG-19 feature dicts: content (feature L1) and style (Gram L1).

Both take the ``{layer: (B, C, h, w)}`` dicts that :class:`i2icli.nn.vgg.VGG19Features`
returns, plus ``{layer: weight}``; they never run a network themselves, so the
caller decides which features carry gradients (generated images) and which are
fixed targets (real images; compute those under ``torch.no_grad()`` to save
memory) and can reuse one VGG pass for several terms.

EGSC-IT (Ma et al., ICLR 2019, Section 3.3, Eq. 4-5)::

    L_P   = lambda_c (L_cA + L_cB) + lambda_s (L_sA + L_sB)                  (4)
    L_cA  = E[ || phi(x_AB) - phi(x_A) ||_1 ],
    L_sA  = E[ || Gram(x_AB) - Gram(x_B) ||_1 ]                              (5)

"the first convolutional layer of the five blocks in VGG19" (relu1_1 ...
relu5_1: the authors' ``conv_layer`` returns the ReLU output), with "a linear
weighting scheme" over the content layers.  The paper gives no numbers for the
weighting; the authors' code (charliememory/EGSC-IT ``trainer_EGSCIT.py``,
``encoder_style_content_loss``) uses ``(i + 1) / n`` for layer ``i`` of ``n``,
i.e. 0.2, 0.4, ..., 1.0 (:func:`linear_layer_weights`), and leaves the style
layers unweighted (:data:`EGSCIT_STYLE_WEIGHTS`).  The same code L2-normalises
every feature map per (sample, channel) over its positions before both losses
(:func:`spatial_l2_normalize`); the paper does not mention it.  "E[|.|_1]" is a
mean over all elements of each layer's difference (TF ``reduce_mean``).

SEGIN's feature loss (Eq. 6, ``||Phi(y_hat) - Phi(y)||_1`` at relu3_2) is
:func:`content_loss` with one layer; ``reduction="sample_sum"`` gives the sum
over C*h*w per sample that its tiny weight 5e-6 suggests (see specs/segin.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor

GramNormalization = Literal["hw", "chw", "none"]
ContentReduction = Literal["mean", "sample_sum"]

#: relu1_1 ... relu5_1, "the first convolutional layer of the five blocks" (EGSC-IT Section 3.3).
EGSCIT_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def linear_layer_weights(layers: Sequence[str]) -> dict[str, float]:
    """EGSC-IT's "linear weighting scheme" for the content loss: layer ``i`` (0-based) of ``n`` weighs ``(i+1)/n``.

    Deeper layers weigh more "to help the network focus more on the high-level
    semantic information" (Section 3.3); the numbers are the authors' code's.
    """
    n = len(layers)
    if n == 0:
        raise ValueError("linear_layer_weights needs at least one layer")
    return {name: (i + 1) / n for i, name in enumerate(layers)}


#: Content weights 0.2, 0.4, 0.6, 0.8, 1.0 over :data:`EGSCIT_LAYERS`.
EGSCIT_CONTENT_WEIGHTS: dict[str, float] = linear_layer_weights(EGSCIT_LAYERS)
#: Style weights: every layer 1 (the authors' code sums the five Gram terms unweighted).
EGSCIT_STYLE_WEIGHTS: dict[str, float] = dict.fromkeys(EGSCIT_LAYERS, 1.0)


def spatial_l2_normalize(features: Tensor, eps: float = 1e-12) -> Tensor:
    """``f / ||f||_2`` per (sample, channel), the norm taken over the h*w positions.

    EGSC-IT's code applies this to every VGG map before the content and style
    losses (``tf.nn.l2_normalize(f, axis=[1, 2])``: ``f * rsqrt(max(sum f^2, eps))``,
    which this matches, eps included).  It removes each channel's scale, so
    layers with large activations do not dominate; it also makes the losses
    insensitive to the VGG input convention (Caffe BGR there, torchvision RGB
    here) up to the per-channel scale it removes.
    """
    sq = features.square().sum(dim=(-2, -1), keepdim=True)
    return features * torch.rsqrt(sq.clamp_min(eps))


def normalize_features(features: Mapping[str, Tensor], eps: float = 1e-12) -> dict[str, Tensor]:
    """:func:`spatial_l2_normalize` applied to every map of a feature dict."""
    return {name: spatial_l2_normalize(f, eps) for name, f in features.items()}


def gram_matrix(features: Tensor, normalization: GramNormalization = "hw") -> Tensor:
    """Gram matrix ``G = F F^T / N`` per sample: (B, C, h, w) -> (B, C, C), ``F`` the (C, h*w) reshaped map.

    ``normalization`` picks ``N``:

    - ``"hw"`` (default): ``N = h*w``, so ``G[c, d]`` is the spatial *average* of
      ``f_c * f_d`` and does not grow with the image size.  This is what
      EGSC-IT's code does (``ops_EGSCIT.gram_matrix``) and what Gatys et al.
      (2016) amount to up to a constant per layer; it is the default because
      the EGSC-IT recipes' lambda_s values were tuned with it.
    - ``"chw"``: ``N = C*h*w`` (Johnson et al. 2016's fast style transfer).
    - ``"none"``: the raw inner products.

    Computed in at least float32 (the products of bf16 activations summed over
    up to 65k positions would lose most of their digits).
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix expects (B, C, h, w), got shape {tuple(features.shape)}")
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w).to(torch.promote_types(features.dtype, torch.float32))
    gram = torch.bmm(flat, flat.transpose(1, 2))  # (B, C, C)
    if normalization == "hw":
        return gram / (h * w)
    if normalization == "chw":
        return gram / (c * h * w)
    if normalization == "none":
        return gram
    raise ValueError(f"unknown Gram normalization {normalization!r}; valid: hw, chw, none")


def _pick(features: Mapping[str, Tensor], name: str, which: str) -> Tensor:
    try:
        return features[name]
    except KeyError:
        raise KeyError(f"{which} has no VGG layer {name!r} (it has {', '.join(features) or 'none'}); "
                       f"build VGG19Features with every layer the loss weights name") from None


def content_loss(features: Mapping[str, Tensor], targets: Mapping[str, Tensor], weights: Mapping[str, float],
                 reduction: ContentReduction = "mean") -> Tensor:
    """Weighted feature L1, EGSC-IT Eq. 5 left (and SEGIN Eq. 6): ``sum_l w_l * || phi_l(x) - phi_l(y) ||_1``.

    ``features``/``targets``: ``{layer: (B, C, h, w)}``; ``weights``:
    ``{layer: w_l}`` (e.g. :data:`EGSCIT_CONTENT_WEIGHTS`), which also chooses
    the layers.  ``reduction``: ``"mean"`` averages each layer's ``|diff|``
    over all its elements (EGSC-IT's code); ``"sample_sum"`` sums over
    (C, h, w) and averages over the batch.  Returns a scalar.
    """
    if not weights:
        raise ValueError("content_loss needs at least one layer weight")
    if reduction not in ("mean", "sample_sum"):
        raise ValueError(f"unknown reduction {reduction!r}; valid: mean, sample_sum")
    terms = []
    for name, w in weights.items():
        diff = (_pick(features, name, "features") - _pick(targets, name, "targets")).abs()
        terms.append(w * (diff.mean() if reduction == "mean" else diff.flatten(1).sum(dim=1).mean()))
    return sum(terms[1:], terms[0])


def style_loss(features: Mapping[str, Tensor], targets: Mapping[str, Tensor], weights: Mapping[str, float],
               normalization: GramNormalization = "hw") -> Tensor:
    """Weighted Gram L1, EGSC-IT Eq. 5 right: ``sum_l w_l * mean | Gram(phi_l(x)) - Gram(phi_l(y)) |``.

    The mean runs over the batch and the C x C entries (TF ``reduce_mean``).
    ``weights``: ``{layer: w_l}`` (e.g. :data:`EGSCIT_STYLE_WEIGHTS`);
    ``normalization``: see :func:`gram_matrix`.  Returns a float32 (or wider)
    scalar.  The two maps of a layer may differ in h*w (the Gram is C x C).
    """
    if not weights:
        raise ValueError("style_loss needs at least one layer weight")
    terms = []
    for name, w in weights.items():
        g_x = gram_matrix(_pick(features, name, "features"), normalization)
        g_y = gram_matrix(_pick(targets, name, "targets"), normalization)
        terms.append(w * (g_x - g_y).abs().mean())
    return sum(terms[1:], terms[0])
