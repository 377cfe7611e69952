"""Shared helpers of the LOMIT tests: tiny configs, a toy attribute store, an engine-like driver."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from i2icli.config import DataConfig, RunConfig, TrainConfig
from i2icli.data.store import StoreWriter
from i2icli.models.base import Family
from i2icli.models.lomit import LOMIT, LOMITConfig

ATTRS = ("Black_Hair", "Blond_Hair")
HAIR = {0: (20, 20, 20), 1: (235, 200, 60)}


def tiny_model(**over) -> LOMITConfig:
    base = dict(channels=8, mlp_dim=32, disc_channels=8, n_disc_layers=4, style_max_channels=32,
                n_content_res_blocks=2, n_decoder_res_blocks=2, n_mask_layers=3)
    base.update(over)
    return LOMITConfig(**base)


def tiny_cfg(path: str = "", size: int = 32, model: LOMITConfig | None = None, **train) -> RunConfig:
    return RunConfig(model="lomit", model_cfg=model or tiny_model(),
                     data=DataConfig(path=str(path), image_size=size, load_size=size, attributes=ATTRS, num_workers=0),
                     train=TrainConfig(batch_size=4, **{"seed": 0, **train}), recipe="test")


def toy_face(rng: np.random.Generator, size: int, hair: int) -> tuple[np.ndarray, np.ndarray]:
    """A flat background of a random colour, a skin-coloured face disc and a hair cap of the given colour."""
    yy, xx = np.mgrid[:size, :size] / size
    img = np.empty((size, size, 3), np.float64)
    img[:] = rng.uniform(40, 220, 3)
    face = (yy - 0.58) ** 2 + (xx - 0.5) ** 2 < 0.3 ** 2
    img[face] = (225, 180, 150)
    cap = ((yy - 0.45) ** 2 + (xx - 0.5) ** 2 < 0.36 ** 2) & (yy < 0.42)
    img[cap] = HAIR[hair]
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), cap


def toy_store(path: Path, size: int = 32, n_train: int = 32, n_test: int = 8, seed: int = 0) -> Path:
    """An attribute store with two exclusive hair colours (a stand-in for `i2i prepare synthetic faces`)."""
    rng = np.random.default_rng(seed)
    with StoreWriter(path, image_size=(size, size), attributes=ATTRS, producer="tests") as w:
        for split, n in (("train", n_train), ("test", n_test)):
            for i in range(n):
                hair = i % 2
                img, _ = toy_face(rng, size, hair)
                w.add(split, img, name=f"{split}/{i}.png", labels=[1 - hair, hair])
    return path


def random_batch(b: int = 2, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.rand(b, 3, size, size, generator=g) * 2 - 1,
            "y": torch.rand(b, 3, size, size, generator=g) * 2 - 1,
            "x_labels": torch.randint(0, 2, (b, len(ATTRS)), generator=g).float(),
            "y_labels": torch.randint(0, 2, (b, len(ATTRS)), generator=g).float()}


def build(**over) -> LOMIT:
    torch.manual_seed(0)
    return LOMIT(tiny_cfg(model=tiny_model(**over)))


def drive(family: Family, batches, iterations: int, start: int = 0) -> list[dict[str, float]]:
    """``iterations`` engine-style iterations; one dict of float logs per iteration."""
    import itertools

    from family_driver import drive as drive_phases

    steps, _ = drive_phases(family, itertools.islice(batches, iterations), start=start)
    history: dict[int, dict[str, float]] = {}
    for it, _, logs in steps:
        history.setdefault(it, {"iteration": it}).update({k: float(v) for k, v in logs.items()})
    return [history[it] for it in sorted(history)]
