"""U-GAT-IT loss terms (Eqs. 2-6) against hand-computed values."""

from __future__ import annotations

import math

import torch

from i2icli.losses import cam_bce_loss, l1_loss, lsgan_d_loss, lsgan_g_loss


def test_lsgan_discriminator_loss_known_values():
    real = torch.tensor([[1.0, 0.5], [0.0, 1.0]])  # (1-1)^2, (.5)^2, 1, 0 -> mean .3125
    fake = torch.tensor([0.0, 2.0, -1.0])  # 0, 4, 1 -> mean 5/3
    torch.testing.assert_close(lsgan_d_loss(real, fake), torch.tensor(0.3125 + 5 / 3))
    # the optimum: real scored 1, fake scored 0
    assert float(lsgan_d_loss(torch.ones(4), torch.zeros(3))) == 0.0


def test_lsgan_generator_loss_known_values():
    torch.testing.assert_close(lsgan_g_loss(torch.tensor([1.0, 0.0, 3.0])), torch.tensor((0 + 1 + 4) / 3))
    assert float(lsgan_g_loss(torch.ones(2, 1, 3, 3))) == 0.0


def test_lsgan_gradients_push_scores_towards_targets():
    real = torch.zeros(3, requires_grad=True)
    fake = torch.ones(3, requires_grad=True)
    lsgan_d_loss(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()  # descent raises real, lowers fake


def test_l1_loss():
    a = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    b = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    torch.testing.assert_close(l1_loss(a, b), torch.tensor((1 + 0 + 2 + 2) / 4))
    assert float(l1_loss(a, a)) == 0.0


def test_cam_bce_loss_matches_eq5():
    src = torch.tensor([[2.0, -1.0]])
    oth = torch.tensor([[0.5, 3.0]])
    sig = torch.sigmoid
    expected = -(torch.log(sig(src)).mean() + torch.log(1 - sig(oth)).mean())
    torch.testing.assert_close(cam_bce_loss(src, oth), expected)
    # at logit 0 each term is log 2
    torch.testing.assert_close(cam_bce_loss(torch.zeros(2, 2), torch.zeros(2, 2)), torch.tensor(2 * math.log(2)))


def test_cam_bce_loss_is_stable_for_large_logits():
    loss = cam_bce_loss(torch.tensor([[200.0, 150.0]]), torch.tensor([[-300.0, -120.0]]))
    assert torch.isfinite(loss) and float(loss) < 1e-30
    big = cam_bce_loss(torch.tensor([[-200.0, -200.0]]), torch.tensor([[0.0, 0.0]]))
    torch.testing.assert_close(big, torch.tensor(200.0 + math.log(2)))
