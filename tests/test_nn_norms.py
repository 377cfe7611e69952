"""LIN / AdaLIN (U-GAT-IT Eq. 1) and the IN factory."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from i2icli.nn.norms import LIN, AdaLIN, clip_rho_, instance_norm, layer_instance_norm, rho_parameters


def eq1_literal(x, rho, gamma, beta, eps=1e-5):
    """Eq. 1 written out term by term (population statistics)."""
    mu_i = x.mean(dim=(2, 3), keepdim=True)
    var_i = ((x - mu_i) ** 2).mean(dim=(2, 3), keepdim=True)
    mu_l = x.mean(dim=(1, 2, 3), keepdim=True)
    var_l = ((x - mu_l) ** 2).mean(dim=(1, 2, 3), keepdim=True)
    a_i = (x - mu_i) / torch.sqrt(var_i + eps)
    a_l = (x - mu_l) / torch.sqrt(var_l + eps)
    r = rho.view(1, -1, 1, 1)
    return gamma[..., None, None] * (r * a_i + (1 - r) * a_l) + beta[..., None, None]


def _inputs(seed=0, b=3, c=5, h=7, w=6):
    g = torch.Generator().manual_seed(seed)
    # channels with different offsets and scales so IN and LN differ clearly
    x = torch.randn(b, c, h, w, generator=g, dtype=torch.float64) * torch.rand(1, c, 1, 1, generator=g,
                                                                              dtype=torch.float64) * 3
    x = x + torch.randn(1, c, 1, 1, generator=g, dtype=torch.float64) * 2
    rho = torch.rand(c, generator=g, dtype=torch.float64)
    gamma = torch.randn(b, c, generator=g, dtype=torch.float64)
    beta = torch.randn(b, c, generator=g, dtype=torch.float64)
    return x, rho, gamma, beta


def test_fused_matches_eq1_values_and_gradients():
    x, rho, gamma, beta = _inputs()
    args = [t.clone().requires_grad_() for t in (x, rho, gamma, beta)]
    ref_args = [t.clone().requires_grad_() for t in (x, rho, gamma, beta)]
    out = layer_instance_norm(*args)
    ref = eq1_literal(*ref_args)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    w = torch.randn_like(out)
    (out * w).sum().backward()
    (ref * w).sum().backward()
    for a, r in zip(args, ref_args, strict=True):
        torch.testing.assert_close(a.grad, r.grad, rtol=1e-9, atol=1e-9)


def test_rho_extremes_are_instance_and_layer_norm():
    x, _, _, _ = _inputs(seed=1)
    c = x.shape[1]
    ones, zeros = torch.ones(c, dtype=x.dtype), torch.zeros(c, dtype=x.dtype)
    torch.testing.assert_close(layer_instance_norm(x, ones, ones, zeros),
                               nn.functional.instance_norm(x, eps=1e-5))
    torch.testing.assert_close(layer_instance_norm(x, zeros, ones, zeros),
                               nn.functional.layer_norm(x, x.shape[1:], eps=1e-5))


def test_adalin_uses_per_sample_gamma_beta():
    x, rho, gamma, beta = _inputs(seed=2)
    m = AdaLIN(x.shape[1], rho_init=0.3).double()
    with torch.no_grad():
        m.rho.copy_(rho)
    torch.testing.assert_close(m(x, gamma, beta), eq1_literal(x, rho, gamma, beta))
    assert m.rho.shape == (x.shape[1],)


def test_lin_defaults_and_learned_affine():
    m = LIN(4)
    assert torch.equal(m.rho, torch.zeros(4))  # Sec. 2.1.1: rho = 0 in the up-sampling blocks
    assert torch.equal(m.gamma, torch.ones(4)) and torch.equal(m.beta, torch.zeros(4))
    x = torch.randn(2, 4, 5, 5)
    out = m(x)
    torch.testing.assert_close(out, nn.functional.layer_norm(x, x.shape[1:], eps=1e-5), rtol=1e-5, atol=1e-5)
    out.square().sum().backward()
    assert m.rho.grad is not None and m.gamma.grad is not None and m.beta.grad is not None


def test_rho_init_validation():
    with pytest.raises(ValueError, match="rho_init"):
        AdaLIN(3, rho_init=1.5)


def test_clip_rho_after_an_update_that_leaves_the_interval():
    net = nn.ModuleList([AdaLIN(3, rho_init=0.9), LIN(3), nn.Conv2d(3, 3, 1)])
    conv_before = net[2].weight.detach().clone()
    with torch.no_grad():
        net[0].rho.copy_(torch.tensor([1.7, 0.5, -0.2]))
        net[1].rho.copy_(torch.tensor([-3.0, 0.25, 2.0]))
    clip_rho_(net)
    assert torch.equal(net[0].rho, torch.tensor([1.0, 0.5, 0.0]))
    assert torch.equal(net[1].rho, torch.tensor([0.0, 0.25, 1.0]))
    assert torch.equal(net[2].weight, conv_before)  # only rho is touched
    assert len(list(rho_parameters(net))) == 2


def test_clip_rho_under_optimiser_steps_stays_in_unit_interval():
    m = AdaLIN(4, rho_init=1.0)
    opt = torch.optim.SGD(m.parameters(), lr=10.0)
    x = torch.randn(2, 4, 6, 6) * torch.arange(1, 5).view(1, 4, 1, 1) + torch.arange(4).view(1, 4, 1, 1)
    gamma, beta = torch.ones(2, 4), torch.zeros(2, 4)
    for sign in (1.0, -1.0, 1.0):
        opt.zero_grad()
        (sign * (m(x, gamma, beta) * x).sum()).backward()
        opt.step()
        clip_rho_(m)
        assert float(m.rho.detach().min()) >= 0.0 and float(m.rho.detach().max()) <= 1.0
    assert not torch.equal(m.rho.detach(), torch.ones(4))  # the steps did move it


def test_instance_norm_factory():
    m = instance_norm(6)
    assert isinstance(m, nn.InstanceNorm2d) and not m.affine and m.eps == 1e-5
    assert sum(p.numel() for p in m.parameters()) == 0
