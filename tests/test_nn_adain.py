"""AdaIN (LOMIT Eq. 3), highway AdaIN (Eq. 4) and the style MLP."""

import pytest
import torch
from torch import nn

from i2icli.nn.adain import (
    AdaIN,
    HighwayAdaIN,
    StyleAffineMLP,
    adain,
    adain_from_features,
    highway_adain,
    instance_stats,
)


def test_adain_matches_instance_norm_with_affine():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 7, 6) * 3 + 1
    gamma, beta = torch.rand(3, 5) + 0.5, torch.randn(3, 5)
    ref = nn.functional.instance_norm(x, eps=1e-5) * gamma[:, :, None, None] + beta[:, :, None, None]
    torch.testing.assert_close(adain(x, gamma, beta), ref, rtol=1e-5, atol=1e-5)


def test_adain_output_has_target_statistics():
    torch.manual_seed(1)
    x = torch.randn(2, 4, 16, 16) * 5 - 2
    gamma, beta = torch.tensor([[1.0, 2.0, 0.5, 3.0]] * 2), torch.tensor([[0.0, -1.0, 4.0, 2.0]] * 2)
    mean, std = instance_stats(adain(x, gamma, beta), eps=0.0)
    torch.testing.assert_close(mean.flatten(1), beta, atol=1e-4, rtol=0)
    torch.testing.assert_close(std.flatten(1), gamma, atol=1e-3, rtol=1e-3)


def _params(b=2, c=6):
    g = torch.Generator().manual_seed(2)
    return [torch.rand(b, c, generator=g) + 0.5 for _ in range(2)] + [torch.randn(b, c, generator=g) for _ in range(2)]


def test_highway_adain_all_ones_is_plain_adain_with_foreground_style():
    x = torch.randn(2, 6, 8, 8)
    fg_g, bg_g, fg_b, bg_b = _params()
    out = highway_adain(x, torch.ones(2, 1, 8, 8), fg_g, fg_b, bg_g, bg_b)
    torch.testing.assert_close(out, adain(x, fg_g, fg_b))


def test_highway_adain_all_zeros_keeps_own_background_style():
    x = torch.randn(2, 6, 8, 8)
    fg_g, bg_g, fg_b, bg_b = _params()
    zeros = torch.zeros(2, 1, 8, 8)
    out = highway_adain(x, zeros, fg_g, fg_b, bg_g, bg_b)
    torch.testing.assert_close(out, adain(x, bg_g, bg_b))
    # the exemplar's foreground style has no effect at all
    out2 = highway_adain(x, zeros, fg_g * 3, fg_b - 5, bg_g, bg_b)
    torch.testing.assert_close(out, out2)


def test_highway_adain_is_pixelwise_blend():
    x = torch.randn(1, 6, 4, 4)
    fg_g, bg_g, fg_b, bg_b = _params(1)
    m = torch.zeros(1, 1, 4, 4)
    m[..., :2, :] = 1.0
    m[..., 3, 3] = 0.25
    out = highway_adain(x, m, fg_g, fg_b, bg_g, bg_b)
    fg, bg = adain(x, fg_g, fg_b), adain(x, bg_g, bg_b)
    torch.testing.assert_close(out[..., :2, :], fg[..., :2, :])
    torch.testing.assert_close(out[..., 2, :], bg[..., 2, :])
    torch.testing.assert_close(out[..., 3, 3], 0.25 * fg[..., 3, 3] + 0.75 * bg[..., 3, 3])


def test_highway_module_uses_separate_mlps_and_routes_styles():
    torch.manual_seed(3)
    h = HighwayAdaIN(style_dim=8, channels=6, hidden=16, layers=3)
    assert h.fg_mlp is not h.bg_mlp
    pairs = zip(h.fg_mlp.parameters(), h.bg_mlp.parameters(), strict=True)
    assert all(p1.data_ptr() != p2.data_ptr() for p1, p2 in pairs)
    x, s_f, s_b = torch.randn(2, 6, 4, 4), torch.randn(2, 8), torch.randn(2, 8)
    ones = h(x, torch.ones(2, 1, 4, 4), s_f, s_b)
    torch.testing.assert_close(ones, adain(x, *h.fg_mlp(s_f)))
    zeros = h(x, torch.zeros(2, 1, 4, 4), s_f, s_b)
    torch.testing.assert_close(zeros, adain(x, *h.bg_mlp(s_b)))


def test_style_mlp_shapes_and_positive_scale():
    mlp = StyleAffineMLP(8, 32, hidden=64, layers=3, scale="log_var")
    gamma, beta = mlp(torch.randn(5, 8))
    assert gamma.shape == beta.shape == (5, 32)
    assert (gamma > 0).all()
    linear = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    assert [lin.out_features for lin in linear] == [64, 64, 64]
    direct = StyleAffineMLP(8, 4, hidden=16, layers=1, scale="direct")
    g, _ = direct(torch.randn(3, 8))
    out = direct.net(torch.randn(3, 8))
    assert out.shape == (3, 8) and g.shape == (3, 4)


def test_gradients_flow_to_content_mask_and_both_styles():
    h = HighwayAdaIN(style_dim=4, channels=3, hidden=8, layers=2)
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    m = torch.full((2, 1, 5, 5), 0.5, requires_grad=True)
    s_f, s_b = torch.randn(2, 4, requires_grad=True), torch.randn(2, 4, requires_grad=True)
    h(x, m, s_f, s_b).square().sum().backward()
    for t in (x, m, s_f, s_b):
        assert t.grad is not None and t.grad.abs().sum() > 0


def _literal_in_stats(t: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    b, c = t.shape[:2]
    mean, std = torch.zeros(b, c, dtype=torch.float64), torch.zeros(b, c, dtype=torch.float64)
    for n in range(b):
        for k in range(c):
            vals = t[n, k].flatten().tolist()
            mu = sum(vals) / len(vals)
            mean[n, k] = mu
            std[n, k] = (sum((v - mu) ** 2 for v in vals) / len(vals) + eps) ** 0.5
    return mean, std


def test_adain_module_is_literal_gamma_times_normalised_plus_beta():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64) * 2 + 1
    gamma, beta = torch.rand(2, 3, generator=g, dtype=torch.float64) + 0.5, torch.randn(2, 3, generator=g,
                                                                                        dtype=torch.float64)
    mod = AdaIN(eps=1e-3)
    assert list(mod.parameters()) == [] and "eps=0.001" in repr(mod)
    mean, std = _literal_in_stats(x, 1e-3)
    ref = torch.empty_like(x)
    for n in range(2):
        for k in range(3):
            ref[n, k] = gamma[n, k] * (x[n, k] - mean[n, k]) / std[n, k] + beta[n, k]
    torch.testing.assert_close(mod(x, gamma, beta), ref)
    torch.testing.assert_close(mod(x, gamma[:, :, None, None], beta[:, :, None, None]), ref)


def test_adain_from_features_takes_the_exemplars_statistics():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64) * 3 - 1
    style = torch.randn(2, 3, 4, 7, generator=g, dtype=torch.float64) * 0.5 + 2  # other spatial size
    s_mean, s_std = _literal_in_stats(style, 1e-5)
    c_mean, c_std = _literal_in_stats(x, 1e-5)
    ref = torch.empty_like(x)
    for n in range(2):
        for k in range(3):
            ref[n, k] = s_std[n, k] * (x[n, k] - c_mean[n, k]) / c_std[n, k] + s_mean[n, k]
    torch.testing.assert_close(adain_from_features(x, style), ref)
    torch.testing.assert_close(AdaIN().from_features(x, style), ref)
    # the output carries the exemplar's mean exactly and its std up to eps
    mean, std = instance_stats(ref, eps=0.0)
    torch.testing.assert_close(mean.flatten(1), s_mean)
    torch.testing.assert_close(std.flatten(1), s_std, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="style"):
        adain_from_features(x, style[:, :2])
