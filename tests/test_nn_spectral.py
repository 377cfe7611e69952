"""Output-scaled spectral norm (i2icli.nn.spectral) against torch's spectral_norm parametrisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from i2icli.nn.spectral import SpectralNormConv2d, SpectralNormLinear, spectral_norm_conv2d, spectral_norm_linear


def _pair(kind: str, bias: bool):
    torch.manual_seed(0)
    if kind == "conv":
        ours = spectral_norm_conv2d(5, 7, 4, 2, 1, padding_mode="reflect", bias=bias).double()
        ref = spectral_norm(nn.Conv2d(5, 7, 4, 2, 1, padding_mode="reflect", bias=bias)).double()
        x = torch.randn(2, 5, 12, 10, dtype=torch.double, requires_grad=True)
    else:
        ours = spectral_norm_linear(9, 4, bias=bias).double()
        ref = spectral_norm(nn.Linear(9, 4, bias=bias)).double()
        x = torch.randn(3, 9, dtype=torch.double, requires_grad=True)
    ref.load_state_dict(ours.state_dict())  # same keys: weight, bias, u, v
    with torch.no_grad():  # a bias that is not zero, so its placement after the scaling is tested
        for m in (ours, ref):
            if m.bias is not None:
                m.bias.copy_(torch.linspace(-1, 1, m.bias.numel(), dtype=torch.double))
    return ours, ref, x


@pytest.mark.parametrize("kind", ["conv", "linear"])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_spectral_norm_outputs_gradients_and_power_iteration(kind, bias):
    ours, ref, x = _pair(kind, bias)
    assert set(ours.state_dict()) == set(ref.state_dict())
    x_ref = x.detach().clone().requires_grad_(True)
    for step in range(3):  # u, v evolve over several training forwards
        y, y_ref = ours(x), ref(x_ref)
        torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
        g = torch.randn_like(y)
        y.backward(g)
        y_ref.backward(g)
        sn, sn_ref = ours.parametrizations.weight[0], ref.parametrizations.weight[0]
        torch.testing.assert_close(sn._u, sn_ref._u, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(sn._v, sn_ref._v, rtol=1e-10, atol=1e-12)
        for (name, p), p_ref in zip(ours.named_parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(p.grad, p_ref.grad, rtol=1e-9, atol=1e-12, msg=f"{name}, step {step}")
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-9, atol=1e-12)
    # the gradient really goes through sigma: it is not just the conv gradient / sigma
    w = ours.parametrizations.weight.original
    assert w.grad.abs().sum() > 0


def test_eval_mode_freezes_u_v_and_weight_is_still_w_over_sigma():
    ours, ref, x = _pair("conv", True)
    ours.eval()
    u0 = ours.parametrizations.weight[0]._u.clone()
    y = ours(x)
    assert torch.equal(ours.parametrizations.weight[0]._u, u0)
    # layer.weight (torch's parametrisation) is W / sigma; the output-scaled forward agrees with it
    manual = nn.functional.conv2d(nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), ours.weight, ours.bias, 2)
    torch.testing.assert_close(y, manual, rtol=1e-10, atol=1e-12)


def test_layers_are_torch_parametrisations_and_plain_without_one():
    conv = spectral_norm_conv2d(3, 4, 3)
    fc = spectral_norm_linear(3, 4)
    assert isinstance(conv, SpectralNormConv2d) and isinstance(conv, nn.Conv2d)
    assert isinstance(fc, SpectralNormLinear) and isinstance(fc, nn.Linear)
    assert parametrize.is_parametrized(conv, "weight") and parametrize.is_parametrized(fc, "weight")
    plain = SpectralNormConv2d(3, 4, 3)  # no parametrisation: an ordinary conv
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(plain(x), nn.functional.conv2d(x, plain.weight, plain.bias))


def test_stacked_calls_equal_separate_calls_including_power_iterations():
    import copy

    from i2icli.nn import UGATITDiscriminator
    from i2icli.nn.spectral import stacked_calls

    torch.manual_seed(0)
    d = UGATITDiscriminator(3, 4, 4).double()
    ref = copy.deepcopy(d)
    x1, x2 = torch.randn(2, 1, 3, 32, 32, dtype=torch.double)
    with stacked_calls(d, 2):
        both = d(torch.cat([x1, x2]))
    r, f = ref(x1), ref(x2)
    for k in range(3):
        torch.testing.assert_close(both[k][:1], r[k], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(both[k][1:], f[k], rtol=1e-10, atol=1e-12)
    # the two calls saw different sigmas (one power iteration each), so the halves are scaled differently
    (both.logits[:1].sum() + 2 * both.logits[1:].sum() + both.cam_logits.square().sum()).backward()
    (r.logits.sum() + 2 * f.logits.sum() + r.cam_logits.square().sum() + f.cam_logits.square().sum()).backward()
    for (name, p), q in zip(d.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-12, msg=name)
    for (name, buf), ref_buf in zip(d.named_buffers(), ref.buffers(), strict=True):
        torch.testing.assert_close(buf, ref_buf, rtol=1e-10, atol=1e-12, msg=name)  # u, v after two iterations
    assert all(m.stacked_calls == 1 for m in d.modules() if hasattr(m, "stacked_calls"))  # restored
    with pytest.raises(ValueError, match="stacked calls"), stacked_calls(d, 2):
        d(torch.randn(3, 3, 32, 32, dtype=torch.double))
