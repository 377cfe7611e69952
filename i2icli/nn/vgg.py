"""VGG-19 features at named layers: the one feature network of the perceptual losses and the matcher.

Used by EGSC-IT's perceptual loss (Section 3, relu1_1 ... relu5_1), SEGIN's
semantic matching (Eq. 1, relu3_2 / relu4_2 patches) and feature loss.  Layer
names follow the usual ``conv{block}_{i}`` / ``relu{block}_{i}`` /
``pool{block}`` convention of torchvision's ``vgg19().features``; the network
is truncated after the deepest requested layer, so asking for ``relu3_2``
never runs blocks 4-5.

Weights: ``weights="imagenet"`` loads the upstream torchvision file through
:func:`i2icli.weights.load_vgg19_features`; a missing file raises
:class:`~i2icli.errors.WeightsError` naming the file, its URL and
``i2i weights import``, before any work.  ``weights="random"`` (a deterministic
random init) exists for tests and for recipes that ask for it *by name*; every
number made with it must say "not ImageNet VGG" (:attr:`VGG19Features.label`).
Inputs are images in [-1, 1]; ImageNet normalisation happens inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

# torchvision vgg19().features indices, block by block: (convs per block)
_BLOCKS = (2, 2, 4, 4, 4)


def layer_names() -> list[str]:
    """Names of the 37 modules of ``vgg19().features`` in order."""
    names: list[str] = []
    for b, n in enumerate(_BLOCKS, start=1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return names


LAYERS = tuple(layer_names())
NOT_IMAGENET = "not ImageNet VGG"


class VGG19Features(nn.Module):
    """Frozen VGG-19 returning ``{layer: (B, C, h, w)}`` for the requested layers.

    ``layers``: names from :data:`LAYERS`.  ``weights``: ``"imagenet"`` (the
    upstream file, required) or ``"random"`` (seeded init, labelled
    :data:`NOT_IMAGENET`).  ``pool``: ``"max"`` (torchvision) or ``"avg"``
    (Gatys et al. style transfer's choice; not used by our papers' defaults).
    ``ceil_mode``: round pooled sizes up, as TensorFlow's ``'SAME'`` pooling in
    EGSC-IT's VGG does; at 28 px it keeps relu5_1 at 2x2 instead of torch's
    1x1, where a per-channel spatial L2 normalisation would reduce every
    feature to its sign (specs/egscit.md).  Weights are unaffected.
    """

    mean: Tensor  # ImageNet channel mean, registered as a buffer
    std: Tensor

    def __init__(self, layers: Sequence[str], weights: Literal["imagenet", "random"] = "imagenet",
                 directory: str | None = None, pool: Literal["max", "avg"] = "max", seed: int = 0,
                 ceil_mode: bool = False):
        super().__init__()
        unknown = [n for n in layers if n not in LAYERS]
        if unknown or not layers:
            raise ValueError(f"unknown VGG-19 layers {unknown or '(none given)'}; valid: {', '.join(LAYERS)}")
        self.layers = tuple(layers)
        self.weights = weights
        last = max(LAYERS.index(n) for n in layers)
        if weights == "imagenet":
            from i2icli.weights import load_vgg19_features

            features = load_vgg19_features(directory)
        elif weights == "random":
            import torchvision

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                features = torchvision.models.vgg19(weights=None).features
        else:
            raise ValueError(f"weights must be 'imagenet' or 'random', got {weights!r}")
        body = list(features.children())[: last + 1]
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
        pool_layer = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
        body = [pool_layer(2, 2, ceil_mode=ceil_mode) if isinstance(m, nn.MaxPool2d) else m for m in body]
        for i, m in enumerate(body):
            if isinstance(m, nn.ReLU):
                body[i] = nn.ReLU(inplace=False)  # requested activations must not be overwritten
        self.body = nn.Sequential(*body)
        self.names = LAYERS[: last + 1]
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @property
    def label(self) -> str:
        """"ImageNet VGG-19" or :data:`NOT_IMAGENET`: print it next to every number made with this network."""
        return "ImageNet VGG-19" if self.weights == "imagenet" else NOT_IMAGENET

    def train(self, mode: bool = True) -> VGG19Features:
        return super().train(False)  # always eval: no dropout/BN here, but keep the contract explicit

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = ((x + 1) / 2 - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        wanted = set(self.layers)
        out: dict[str, Tensor] = {}
        for name, module in zip(self.names, self.body, strict=True):
            h = module(h)
            if name in wanted:
                out[name] = h
        return out
