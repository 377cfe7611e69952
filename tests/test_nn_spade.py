"""SPADE (Park et al. 2019) and the pre-activation resampling residual block, against literal recomputations."""

import functools

import pytest
import torch
from torch import nn

from i2icli.nn.blocks import PreActResidualBlock
from i2icli.nn.norms import batch_norm
from i2icli.nn.spade import SPADE

F64 = torch.float64


def _conv_literal(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """Zero-padded 'same' conv as an explicit sum over kernel offsets."""
    w, b = conv.weight.detach(), conv.bias.detach()
    k = w.shape[-1]
    p = k // 2
    bsz, _, h, wd = x.shape
    xp = torch.zeros(bsz, x.shape[1], h + 2 * p, wd + 2 * p, dtype=x.dtype)
    xp[:, :, p:p + h, p:p + wd] = x
    out = b[None, :, None, None].expand(bsz, -1, h, wd).clone()
    for dy in range(k):
        for dx in range(k):
            out += torch.einsum("oi,bihw->bohw", w[:, :, dy, dx], xp[:, :, dy:dy + h, dx:dx + wd])
    return out


def _nearest_literal(m: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    h, w = m.shape[-2:]
    rows = [int(i * h / size[0]) for i in range(size[0])]  # floor(i * in / out), TF1 / torch "nearest"
    cols = [int(j * w / size[1]) for j in range(size[1])]
    return m[:, :, rows][:, :, :, cols]


def _in_literal(x: torch.Tensor, eps: float) -> torch.Tensor:
    out = torch.empty_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            v = x[n, c]
            mu = v.sum() / v.numel()
            var = ((v - mu) ** 2).sum() / v.numel()
            out[n, c] = (v - mu) / torch.sqrt(var + eps)
    return out


def _bn_literal(x: torch.Tensor, eps: float) -> torch.Tensor:
    out = torch.empty_like(x)
    for c in range(x.shape[1]):
        v = x[:, c]
        mu = v.sum() / v.numel()
        var = ((v - mu) ** 2).sum() / v.numel()
        out[:, c] = (v - mu) / torch.sqrt(var + eps)
    return out


def _spade_literal(s: SPADE, x: torch.Tensor, m: torch.Tensor, norm) -> torch.Tensor:
    h = torch.relu(_conv_literal(_nearest_literal(m, tuple(x.shape[-2:])), s.shared[0]))
    return norm(x) * (1 + _conv_literal(h, s.gamma)) + _conv_literal(h, s.beta)


@pytest.mark.parametrize("cond_size", [(3, 5), (6, 6), (16, 12)])  # up-, same- and down-sampled conditioning
def test_spade_instance_norm_matches_literal(cond_size):
    torch.manual_seed(0)
    s = SPADE(4, 3, hidden=5).double()
    x = torch.randn(2, 4, 6, 6, dtype=F64) * 2 + 1
    m = torch.randn(2, 3, *cond_size, dtype=F64)
    torch.testing.assert_close(s(x, m), _spade_literal(s, x, m, lambda t: _in_literal(t, 1e-5)))


def test_spade_batch_norm_factory_and_other_eps_match_literal():
    torch.manual_seed(1)
    s = SPADE(3, 2, hidden=4, norm_layer=batch_norm).double().train()
    x = torch.randn(3, 3, 4, 5, dtype=F64)
    m = torch.randn(3, 2, 8, 10, dtype=F64)
    torch.testing.assert_close(s(x, m), _spade_literal(s, x, m, lambda t: _bn_literal(t, 1e-5)))
    s6 = SPADE(3, 2, hidden=4, norm_layer=functools.partial(nn.InstanceNorm2d, eps=1e-6)).double()
    torch.testing.assert_close(s6(x, m), _spade_literal(s6, x, m, lambda t: _in_literal(t, 1e-6)))


def test_spade_zero_modulation_is_the_plain_norm_and_gradients_reach_the_condition():
    s = SPADE(4, 2, hidden=8).double()
    for conv in (s.gamma, s.beta):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = torch.randn(2, 4, 5, 5, dtype=F64)
    m = torch.randn(2, 2, 5, 5, dtype=F64, requires_grad=True)
    torch.testing.assert_close(s(x, m), _in_literal(x, 1e-5))
    s2 = SPADE(4, 2, hidden=8).double()
    s2(x, m).square().sum().backward()
    assert m.grad is not None and m.grad.abs().sum().item() > 0


def test_spade_refuses_an_affine_norm():
    with pytest.raises(ValueError, match="parameter-free"):
        SPADE(4, 2, norm_layer=functools.partial(nn.InstanceNorm2d, affine=True))


def _up(t: torch.Tensor) -> torch.Tensor:
    return t.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)


def _down(t: torch.Tensor) -> torch.Tensor:
    return (t[:, :, 0::2, 0::2] + t[:, :, 1::2, 0::2] + t[:, :, 0::2, 1::2] + t[:, :, 1::2, 1::2]) / 4


def _block_literal(b: PreActResidualBlock, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    up, down = _up, _down

    def norm(t: torch.Tensor) -> torch.Tensor:
        return _in_literal(t, 1e-5)

    h = torch.relu(_spade_literal(b.norm1, x, m, norm))
    if b.resample == "up":
        h = up(h)
    h = _conv_literal(h, b.conv1)
    h = _conv_literal(torch.relu(_spade_literal(b.norm2, h, m, norm)), b.conv2)
    if b.resample == "down":
        h = down(h)
    if b.shortcut is None:
        return x + h
    w, bias = b.shortcut.weight.detach()[:, :, 0, 0], b.shortcut.bias.detach()

    def sc(t):
        return torch.einsum("oi,bihw->bohw", w, t) + bias[None, :, None, None]

    if b.resample == "up":
        return h + sc(up(x))
    return h + (down(sc(x)) if b.resample == "down" else sc(x))


@pytest.mark.parametrize(("cin", "cout", "resample"), [(4, 4, "none"), (4, 3, "none"), (4, 2, "up"), (3, 5, "down")])
def test_preact_block_with_spade_matches_literal(cin, cout, resample):
    torch.manual_seed(2)
    spade = functools.partial(SPADE, cond_channels=2, hidden=3)
    b = PreActResidualBlock(cin, cout, spade, nn.ReLU, resample=resample).double()
    assert (b.shortcut is None) == (cin == cout and resample == "none")
    x = torch.randn(2, cin, 4, 4, dtype=F64)
    m = torch.randn(2, 2, 8, 8, dtype=F64)
    out = b(x, m)
    assert out.shape[-1] == {"none": 4, "up": 8, "down": 2}[resample]
    torch.testing.assert_close(out, _block_literal(b, x, m))


def test_bridgegan_generator_spade_parts_have_the_specs_parameter_counts():
    # specs/bridge.md: SPADE mid block 2.435M and the three SPADE up blocks 2.396M (S has 32 channels)
    spade = functools.partial(SPADE, cond_channels=32, hidden=128)
    mid = PreActResidualBlock(256, 256, spade, nn.ReLU)
    up = [PreActResidualBlock(a, b, spade, nn.ReLU, resample="up") for a, b in ((256, 128), (128, 64), (64, 32))]
    assert sum(p.numel() for p in mid.parameters()) == 2_434_816
    assert sum(p.numel() for m in up for p in m.parameters()) == 2_395_872


def test_preact_block_without_norm_and_bad_resample():
    b = PreActResidualBlock(3, 3, None, functools.partial(nn.LeakyReLU, 0.2), resample="down")
    assert b(torch.randn(1, 3, 8, 8)).shape == (1, 3, 4, 4)
    with pytest.raises(ValueError, match="resample"):
        PreActResidualBlock(3, 3, None, nn.ReLU, resample="sideways")  # type: ignore[arg-type]
