"""U-GAT-IT speed paths: the batched generator and discriminator passes compute the authors' separate calls."""

from __future__ import annotations

import copy

import pytest
import torch

from i2icli.config import read_recipe, resolve
from i2icli.models.base import Nets
from i2icli.models.ugatit import UGATIT
from i2icli.registry import RECIPES_DIR, config_cls_for


def _family() -> UGATIT:
    path = RECIPES_DIR / "ugatit" / "tiny.toml"
    torch.manual_seed(0)
    fam = UGATIT(resolve(read_recipe(path), config_cls_for, str(path), overrides=[], model="ugatit"))
    fam.networks.double()
    return fam


def _batch(size: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return {k: torch.rand(2, 3, size, size, generator=g, dtype=torch.double) * 2 - 1 for k in ("a", "b")}


@pytest.mark.parametrize("phase", ["discriminator", "generator"])
def test_batched_losses_and_gradients_equal_separate_calls(phase):
    fam = _family()
    ref = copy.deepcopy(fam)  # same weights and spectral-norm vectors u, v
    batch = _batch(fam.cfg.data.image_size)
    trained = ("disc" if phase == "discriminator" else "gen")
    results = []
    for f, batched in ((fam, True), (ref, False)):
        f.networks.requires_grad_(False)
        for name, net in f.networks.items():
            net.requires_grad_(name.startswith(trained))
        nets = Nets(f.networks)
        if phase == "discriminator":
            with torch.no_grad():
                fake_b, fake_a = nets["gen_ab"](batch["a"]).image, nets["gen_ba"](batch["b"]).image
            loss, logs = f.discriminator_loss(nets, batch["a"], batch["b"], fake_a, fake_b, batched=batched)
        else:
            loss, logs = f.generator_loss(nets, batch["a"], batch["b"], batched=batched)
        loss.backward()
        results.append(logs)
    for key in results[1]:
        torch.testing.assert_close(results[0][key], results[1][key], rtol=1e-10, atol=1e-12, msg=key)
    grads = 0
    for (name, p), q in zip(fam.networks.named_parameters(), ref.networks.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-8, atol=1e-12, msg=name)
            grads += 1
    assert grads > 0
    for (name, buf), ref_buf in zip(fam.networks.named_buffers(), ref.networks.named_buffers(), strict=True):
        torch.testing.assert_close(buf, ref_buf[1], rtol=1e-10, atol=1e-12, msg=name)  # u, v advanced alike
