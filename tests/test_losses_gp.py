"""WGAN-GP penalty (LOMIT Eq. 10), attribute BCE (Eq. 11-12) and the LOMIT mask regularisers (Eq. 13-15)."""

import math

import pytest
import torch
from torch import nn

from i2icli.losses.classification import attribute_accuracy, attribute_bce
from i2icli.losses.gradient_penalty import gradient_penalty, interpolate
from i2icli.losses.regularizers import mask_area, mask_content_consistency, style_contrast


def test_penalty_of_linear_critic_is_known():
    # D(x) = <w, x>: the gradient is w everywhere, so GP = (||w|| - 1)^2
    w = torch.randn(3, 4, 4)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)


def test_unit_norm_critic_has_zero_penalty_and_patch_maps_are_summed():
    conv = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0 / 4.0)  # patch map over 16 pixels; grad of sum = 1/4 each -> norm 1
    gp = gradient_penalty(conv, torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4))
    assert gp.item() == pytest.approx(0.0, abs=1e-10)


def test_penalty_backpropagates_into_critic_parameters():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3))
    gp = gradient_penalty(critic, torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8))
    gp.backward()
    # biases do not change a piecewise-linear critic's input gradient; the weights do
    weights = [m.weight for m in critic if isinstance(m, nn.Conv2d)]
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in weights)


def test_interpolates_lie_between_real_and_fake_per_sample():
    real, fake = torch.zeros(64, 2, 2, 2), torch.ones(64, 2, 2, 2)
    x = interpolate(real, fake, torch.Generator().manual_seed(0))
    assert x.requires_grad and not x.grad_fn
    per_sample = x.flatten(1)
    assert torch.all(per_sample == per_sample[:, :1])  # one alpha per sample
    assert 0 <= x.min() and x.max() <= 1 and per_sample[:, 0].std() > 0.1
    with pytest.raises(ValueError):
        interpolate(real, fake[:3])


def test_attribute_bce_sums_attributes_and_averages_batch():
    logits = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    assert attribute_bce(logits, labels).item() == pytest.approx(3 * math.log(2))
    big = torch.tensor([[20.0, -20.0, 20.0]])
    assert attribute_bce(big, torch.tensor([[1.0, 0.0, 1.0]])).item() < 1e-6
    assert attribute_accuracy(torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, 1.0]])).item() == 0.5


def test_r1_zero_for_uniform_mask_and_penalises_splitting_similar_content():
    content = torch.ones(1, 4, 3, 3)  # every position has identical content -> cos = 1
    assert mask_content_consistency(torch.full((1, 1, 3, 3), 0.3), content).item() == pytest.approx(0.0)
    split = torch.zeros(1, 1, 3, 3)
    split[..., 0, :] = 1.0
    # 3 ones and 6 zeros: 2*3*6 = 36 ordered pairs differ by 1, out of 81
    assert mask_content_consistency(split, content).item() == pytest.approx(36 / 81)


def test_r1_gradient_reaches_mask_only():
    content = torch.randn(2, 5, 4, 4, requires_grad=True)
    mask = torch.rand(2, 1, 4, 4, requires_grad=True)
    mask_content_consistency(mask, content).backward()
    assert mask.grad is not None and mask.grad.abs().sum() > 0
    assert content.grad is None


def test_r2_and_r3():
    assert style_contrast(torch.zeros(2, 8), torch.ones(2, 8)).item() == -1.0
    assert mask_area(torch.full((2, 1, 4, 4), 0.25)).item() == 0.25
