"""Test helpers for the eval/metrics tests (not a test module).

``TinyExtractor`` is a small, fixed-seed random convolutional feature
extractor registered with torch-fidelity, so tests run the real torch-fidelity
code paths without the 91 MB Inception file.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

TINY = "i2i-test-tiny"


class TinyExtractor(FeatureExtractorBase):
    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)
        g = torch.Generator().manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 8, 3, stride=2)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2)
        self.fc = torch.nn.Linear(16, 10)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)

    @staticmethod
    def get_provided_features_list():
        return ("feat", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"fid": "feat", "kid": "feat", "isc": "logits", "prc": "feat"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x):
        assert x.dtype == torch.uint8
        x = F.interpolate(x.float() / 127.5 - 1, size=(32, 32), mode="bilinear", align_corners=False)
        h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        feat = h.mean(dim=(2, 3))
        out = {"feat": feat, "logits": self.fc(feat)}
        return tuple(out[k] for k in self.features_list)


def register_tiny() -> str:
    from i2icli.metrics import fidelity

    if TINY not in fidelity._EXTRA_EXTRACTORS:
        fidelity.register_extractor(TINY, TinyExtractor)
    return TINY


def random_images(n: int, size: int = 32, seed: int = 0, shift: int = 0) -> list[np.ndarray]:
    """Smooth random colour images; ``shift`` brightens them (a different distribution)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(0, 200, size=(size // 4, size // 4, 3)).astype(np.float64)
        img = np.kron(base, np.ones((4, 4, 1))) + rng.normal(0, 10, (size, size, 3)) + shift
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def write_folder(folder, images, prefix="img", suffix=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(images):
        Image.fromarray(a).save(folder / f"{prefix}{i:03d}{suffix}")
    return folder
