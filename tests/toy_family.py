"""A deliberately small model family used to test the engine quickly.

It is a real two-phase adversarial model (a 1x1-conv generator against a tiny
conv critic, with a random interpolation like WGAN-GP so RNG state matters),
registered as ``toy-gan`` only when the tests import this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from i2icli.data.keyed import KeyedDataset
from i2icli.guidance import Guidance
from i2icli.models.base import Family, Phase
from i2icli.registry import _REGISTRY, ModelSpec, register


@dataclass(frozen=True)
class ToyConfig:
    ch: int = 4
    nan_at: int = -1  # make the generator loss NaN at this iteration (tests the NaN guard)


class ToyData(KeyedDataset):
    def __init__(self, n: int, size: int, seed: int):
        self.n, self.size, self.seed = n, size, seed

    def __len__(self) -> int:
        return self.n

    def item(self, index, rng):
        base = np.random.default_rng(index).random((3, self.size, self.size), dtype=np.float32)
        flip = rng.random() < 0.5
        a = torch.from_numpy(base * 2 - 1)
        if flip:
            a = a.flip(-1)
        return {"a": a, "b": a.roll(1, dims=0) * 0.5}


class ToyGAN(Family):
    def __init__(self, cfg):
        super().__init__(cfg)
        c = cfg.model_cfg.ch
        self.networks = nn.ModuleDict({
            "gen": nn.Sequential(nn.Conv2d(3, c, 1), nn.ReLU(), nn.Conv2d(c, 3, 1), nn.Tanh()),
            "disc": nn.Sequential(nn.Conv2d(3, c, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(c, 1, 3, 1, 1)),
        })
        self.phases = (Phase("discriminator", ("disc",)), Phase("generator", ("gen",)))

    def step(self, phase, nets, batch, iteration):
        a, b = batch["a"], batch["b"]
        if phase == "discriminator":
            with torch.no_grad():
                fake = nets["gen"](a)
            alpha = torch.rand(a.shape[0], 1, 1, 1, device=a.device)
            mix = alpha * b + (1 - alpha) * fake
            loss_real = (nets["disc"](b) - 1).pow(2).mean()
            loss_fake = nets["disc"](mix).pow(2).mean()
            loss = loss_real + loss_fake
            return loss, {"d_real": loss_real.detach(), "d_fake": loss_fake.detach()}
        fake = nets["gen"](a)
        adv = (nets["disc"](fake) - 1).pow(2).mean()
        rec = (fake - b).abs().mean()
        loss = adv + 10 * rec
        if iteration == self.cfg.model_cfg.nan_at:
            loss = loss * float("nan")
        return loss, {"g_adv": adv.detach(), "g_rec": rec.detach()}

    def translate(self, x, guidance):
        y = self.networks["gen"](x)
        return {"output": y, "attention": (y.mean(1, keepdim=True) + 1) / 2}

    def sample(self, batch):
        out = self.translate(batch["a"], Guidance())
        return [("A", batch["a"]), ("attention", out["attention"]), ("A->B", out["output"])]


def _dataset(cfg, split):
    return ToyData(16 if split == "train" else 4, cfg.data.image_size, cfg.train.seed)


if "toy-gan" not in _REGISTRY:
    register(ModelSpec(name="toy-gan", config_cls=ToyConfig, build=ToyGAN, dataset=_dataset,
                       default_recipe="tiny.toml", summary="Engine test model.", accepts=("direction",),
                       defaults={"direction": "a2b"}))
