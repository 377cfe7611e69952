"""Generic blocks, CAM attention, U-GAT-IT discriminators and init helpers."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from i2icli.nn import (
    AdaLIN,
    AdaptiveResidualBlock,
    CAMAttention,
    ResidualBlock,
    UGATITDiscriminator,
    conv_block,
    init_kaiming_,
    init_normal_,
    instance_norm,
    patchgan_receptive_field,
    raw_weight,
)


def test_conv_block_layers_and_shapes():
    blk = conv_block(3, 8, 3, 1, 1, pad_mode="reflect", norm_layer=instance_norm, activation=nn.ReLU, upsample=2)
    assert [type(m) for m in blk] == [nn.Upsample, nn.Conv2d, nn.InstanceNorm2d, nn.ReLU]
    assert blk[1].padding_mode == "reflect"
    assert blk(torch.randn(2, 3, 5, 5)).shape == (2, 8, 10, 10)
    plain = conv_block(3, 4, 4, 2, 1)
    assert len(plain) == 1 and plain(torch.randn(1, 3, 8, 8)).shape == (1, 4, 4, 4)


def test_reflection_padding_differs_from_zero_padding():
    torch.manual_seed(0)
    a = conv_block(2, 2, 3, 1, 1, pad_mode="reflect")
    b = conv_block(2, 2, 3, 1, 1, pad_mode="zeros")
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 2, 6, 6) + 3
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya[..., 1:-1, 1:-1], yb[..., 1:-1, 1:-1])  # interior identical
    assert not torch.allclose(ya[..., 0, :], yb[..., 0, :])  # borders differ
    torch.testing.assert_close(ya, F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), a[0].weight, a[0].bias))


def test_spectral_norm_option_normalises_the_weight():
    blk = conv_block(4, 6, 3, spectral_norm=True)
    conv = blk[0]
    assert parametrize.is_parametrized(conv, "weight")
    for _ in range(30):  # power iteration converges in training mode
        conv(torch.randn(1, 4, 5, 5))
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert abs(float(sigma) - 1.0) < 1e-3


def test_residual_block_is_identity_plus_body():
    blk = ResidualBlock(4, instance_norm, functools.partial(nn.ReLU, inplace=True))
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(blk(x), x + blk.body(x))
    assert all(m.bias is None for m in blk.modules() if isinstance(m, nn.Conv2d))


def test_adaptive_residual_block_passes_condition_to_both_norms():
    blk = AdaptiveResidualBlock(4, functools.partial(AdaLIN, rho_init=0.9), nn.ReLU)
    x = torch.randn(2, 4, 6, 6)
    gamma, beta = torch.randn(2, 4), torch.randn(2, 4)
    y = blk(x, gamma, beta)
    ref = blk.conv1(x)
    ref = torch.relu(blk.norm1(ref, gamma, beta))
    ref = x + blk.norm2(blk.conv2(ref), gamma, beta)
    torch.testing.assert_close(y, ref)
    assert not torch.allclose(y, blk(x, gamma * 2, beta))  # the condition matters


# ----------------------------------------------------------------------------- CAM


def cam_by_concatenation(cam: CAMAttention, x):
    """The tables' literal form: re-weight, concatenate, 1x1 conv, activation."""
    gap_logit = cam.gap_fc(x.mean(dim=(2, 3)))
    gmp_logit = cam.gmp_fc(x.amax(dim=(2, 3)))
    w_gap, w_gmp = raw_weight(cam.gap_fc), raw_weight(cam.gmp_fc)
    cat = torch.cat([x * w_gap[:, :, None, None], x * w_gmp[:, :, None, None]], dim=1)
    feats = cam.act(cam.fuse(cat))
    return feats, torch.cat([gap_logit, gmp_logit], 1), feats.sum(1, keepdim=True)


@pytest.mark.parametrize("sn", [False, True])
def test_cam_shapes_and_folded_conv_matches_concatenation(sn):
    torch.manual_seed(0)
    cam = CAMAttention(6, functools.partial(nn.LeakyReLU, 0.2), spectral_norm=sn).double().eval()
    x = torch.randn(3, 6, 5, 4, dtype=torch.float64, requires_grad=True)
    out = cam(x)
    assert out.features.shape == (3, 6, 5, 4) and out.logits.shape == (3, 2) and out.heatmap.shape == (3, 1, 5, 4)
    x2 = x.detach().clone().requires_grad_()
    ref = cam_by_concatenation(cam, x2)
    for a, b in zip(out, ref, strict=True):
        torch.testing.assert_close(a, b)
    params = [p for p in cam.parameters()]
    g1 = torch.autograd.grad(sum((t * t.detach().sin()).sum() for t in out), [x, *params])
    g2 = torch.autograd.grad(sum((t * t.detach().sin()).sum() for t in ref), [x2, *params])
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b)


def test_cam_logits_are_the_pooled_linear_classifiers():
    cam = CAMAttention(5, nn.ReLU)
    x = torch.randn(2, 5, 4, 4)
    logits = cam(x).logits
    torch.testing.assert_close(logits[:, 0], x.mean((2, 3)) @ cam.gap_fc.weight[0])
    torch.testing.assert_close(logits[:, 1], x.amax((2, 3)) @ cam.gmp_fc.weight[0])


# ----------------------------------------------------------------------------- discriminators


def measured_receptive_field(d: nn.Module, size: int) -> int:
    """Gradient probing: the input extent that influences the centre output pixel."""
    d = d.double().eval()
    with torch.no_grad():
        for m in d.modules():  # positive weights: no accidental cancellation of gradients
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                raw_weight(m).copy_(raw_weight(m).abs() + 0.01)
    x = torch.randn(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    logits = d(x).logits
    h, w = logits.shape[-2:]
    logits[0, 0, h // 2, w // 2].backward()
    nz = (x.grad.abs().sum(dim=(0, 1)) > 0).nonzero()
    return int(nz[:, 0].max() - nz[:, 0].min() + 1)


def test_local_discriminator_receptive_field_is_70():
    d = UGATITDiscriminator(3, ch=2, n_layers=5)
    assert d.receptive_field == 70 == patchgan_receptive_field(5)
    assert measured_receptive_field(d, 160) == 70


def test_global_discriminator_receptive_field_is_286():
    d = UGATITDiscriminator(3, ch=1, n_layers=7)
    assert d.receptive_field == 286
    assert measured_receptive_field(d, 640) == 286


def test_discriminator_shapes_follow_tables_5_and_6():
    local = UGATITDiscriminator(3, ch=4, n_layers=5)
    out = local(torch.randn(2, 3, 64, 64))
    # Table 5: h/8 after the stride-2 convs; each 4x4 stride-1 conv with padding 1 then shrinks by 1
    assert out.logits.shape == (2, 1, 6, 6) and out.cam_logits.shape == (2, 2) and out.heatmap.shape == (2, 1, 7, 7)
    assert local.out_channels == 4 * 8
    glob = UGATITDiscriminator(3, ch=2, n_layers=7)
    out = glob(torch.randn(1, 3, 128, 128))
    assert out.heatmap.shape == (1, 1, 3, 3) and out.logits.shape == (1, 1, 2, 2) and glob.out_channels == 2 * 32


def test_discriminator_minimum_input_sizes():
    assert UGATITDiscriminator(3, ch=1, n_layers=7).min_input_size() == 96
    assert UGATITDiscriminator(3, ch=1, n_layers=5).min_input_size() == 24
    d = UGATITDiscriminator(3, ch=1, n_layers=7)
    d(torch.randn(1, 3, 96, 96))
    with pytest.raises(RuntimeError):
        d(torch.randn(1, 3, 64, 64))


def test_discriminator_uses_spectral_norm_leaky_relu_and_biases_as_the_authors():
    d = UGATITDiscriminator(3, ch=2, n_layers=5)
    convs = [m for m in d.encoder if isinstance(m, nn.Conv2d)]
    assert all(parametrize.is_parametrized(c, "weight") and c.bias is not None for c in convs)
    assert parametrize.is_parametrized(d.classifier, "weight") and d.classifier.bias is None
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    assert parametrize.is_parametrized(d.cam.gap_fc, "weight")


# ----------------------------------------------------------------------------- init


def test_init_normal_sets_std_zero_bias_and_refreshes_spectral_norm():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(16, 64, 3), conv_block(64, 64, 3, spectral_norm=True), nn.Linear(64, 512),
                        instance_norm(4), AdaLIN(4, rho_init=0.9))
    init_normal_(net, std=0.02)
    w = torch.cat([net[0].weight.flatten(), raw_weight(net[1][0]).flatten(), net[2].weight.flatten()]).detach()
    assert abs(float(w.std()) - 0.02) < 1e-3 and abs(float(w.mean())) < 1e-3
    assert not net[0].bias.any() and not net[2].bias.any()
    assert torch.equal(net[4].rho, torch.full((4,), 0.9))  # norms untouched
    conv = net[1][0]
    conv.eval()  # no power iteration at eval: sigma must already be right after init
    sigma = torch.linalg.matrix_norm(raw_weight(conv).flatten(1), ord=2)
    torch.testing.assert_close(conv.weight, raw_weight(conv) / sigma, rtol=2e-2, atol=1e-6)


def test_init_kaiming_std():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 128, 3)
    init_kaiming_(conv)
    expected = (2.0 / (64 * 9)) ** 0.5
    assert abs(float(conv.weight.detach().std()) / expected - 1.0) < 0.02
