"""The feature network of the matcher (SEGIN Eq. 1's Phi) and :class:`Matcher`, which turns images into a match.

Phi is VGG-19 cut after one named layer (default ``relu3_2``: the layer the paper names for L_F, Eq. 6;
the paper does not say which layer the match uses, see ``shared/specs/segin.md`` Section 1).  Images in
[-1, 1] are ImageNet-normalised inside :class:`~i2icli.nn.vgg.VGG19Features`.  ``weights="imagenet"`` needs
the upstream file (``i2i weights import``); ``weights="random"`` is a seeded random init, allowed only when
asked for by name and labelled "not ImageNet VGG".
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from i2icli.match.exact import PRECISIONS, MatchOutput, ieee_fp32, match_features
from i2icli.nn.vgg import LAYERS, NOT_IMAGENET, VGG19Features

ALGORITHM = "segin-match/1"
_IMAGENET_ID = "vgg19-dcbb9e9d"  # the torchvision file's hash prefix (i2icli.weights manifest "vgg19")


@dataclass(frozen=True)
class FeatureSpec:
    """Which Phi: VGG-19 weights (``imagenet`` or ``random`` with ``seed``) and the cut ``layer``."""

    weights: Literal["imagenet", "random"] = "imagenet"
    layer: str = "relu3_2"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"unknown VGG-19 layer {self.layer!r}; valid: {', '.join(LAYERS)}")
        if self.weights not in ("imagenet", "random"):
            raise ValueError(f"features must be 'imagenet' or 'random', got {self.weights!r}")

    def key(self) -> dict[str, Any]:
        """The part of the cache key that identifies Phi."""
        return {"net": "vgg19", "weights": _IMAGENET_ID if self.weights == "imagenet" else f"random:{self.seed}",
                "layer": self.layer, "normalize": "imagenet"}

    @property
    def label(self) -> str:
        return "ImageNet VGG-19" if self.weights == "imagenet" else NOT_IMAGENET


def to_float_images(images: np.ndarray | Tensor, device: torch.device | str) -> Tensor:
    """(B, H, W, 3) uint8 arrays or (B, 3, H, W) float tensors in [-1, 1] -> float32 (B, 3, H, W) on ``device``."""
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected (B, H, W, 3) uint8 images, got {images.shape} {images.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)
        return t.float().div_(127.5).sub_(1.0)
    return images.to(device=device, dtype=torch.float32)


@functools.lru_cache(maxsize=4)
def _vgg(weights: str, layer: str, seed: int, directory: str | None) -> VGG19Features:
    """One frozen VGG-19 cut per settings and process (building the random init alone takes seconds on CPU)."""
    return VGG19Features((layer,), weights=weights, directory=directory, seed=seed)  # type: ignore[arg-type]


class Matcher:
    """Phi + Eq. 1 on one device: ``features(images)`` then ``match(fx, fr)``, or ``match_images(x, r)``.

    ``precision``: ``fp32`` (exact), ``bf16-certified`` (bf16 GEMM, certified equal to fp32), ``bf16`` (bf16 VGG and
    GEMM, approximate; only when asked for by name), ``fp64``.  ``directory``: where the ImageNet file lives.
    """

    def __init__(self, spec: FeatureSpec = FeatureSpec(), patch: int = 3, precision: str = "fp32",
                 device: str | torch.device = "cpu", block_rows: int | None = None, directory: str | None = None):
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
        if patch < 1 or patch % 2 == 0:
            raise ValueError(f"patch size must be odd and >= 1, got {patch}")
        self.spec, self.patch, self.precision, self.block_rows = spec, patch, precision, block_rows
        self.device = torch.device(device)
        net = _vgg(spec.weights, spec.layer, spec.seed, directory)
        self.net = copy.deepcopy(net).to(self.device) if self.device.type != "cpu" else net

    @property
    def label(self) -> str:
        return self.spec.label

    @torch.inference_mode()
    def features(self, images: np.ndarray | Tensor) -> Tensor:
        """Phi(images) at the spec's layer, (B, C, h, w) float32 (bf16 VGG only for ``precision="bf16"``)."""
        x = to_float_images(images, self.device)
        if self.precision == "bf16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return self.net(x)[self.spec.layer].float()
        with ieee_fp32():
            return self.net(x)[self.spec.layer].float().contiguous()

    @torch.inference_mode()
    def match(self, fx: Tensor, fr: Tensor, topk: int = 0) -> MatchOutput:
        precision = "fp32" if self.precision == "bf16" and topk else self.precision
        return match_features(fx, fr, self.patch, "bf16" if precision == "bf16" else precision,
                              block_rows=self.block_rows, topk=topk)

    def match_images(self, x: np.ndarray | Tensor, r: np.ndarray | Tensor, topk: int = 0) -> MatchOutput:
        return self.match(self.features(x), self.features(r), topk=topk)

    def grid(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """Feature grid (h, w) of an image size (VGG's pools floor odd sizes)."""
        h, w = image_size
        pools = sum(1 for n in LAYERS[: LAYERS.index(self.spec.layer) + 1] if n.startswith("pool"))
        for _ in range(pools):
            h, w = h // 2, w // 2
        return h, w
