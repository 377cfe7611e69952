"""Embedded-Gaussian non-local block (Wang et al. 2018, Eq. 1-3, 6) against a literal recomputation."""

import math

import pytest
import torch
from torch import nn

from i2icli.nn.nonlocal_block import NonLocalBlock
from i2icli.nn.norms import instance_norm

F64 = torch.float64


def _conv1x1(x: torch.Tensor, conv: nn.Conv2d) -> list[list[list[float]]]:
    """Per sample: a list over positions (row-major) of C_out-vectors."""
    w, b = conv.weight.detach()[:, :, 0, 0].tolist(), conv.bias.detach().tolist()
    bsz, c, h, wd = x.shape
    out = []
    for n in range(bsz):
        pos = []
        for i in range(h):
            for j in range(wd):
                v = [float(x[n, k, i, j]) for k in range(c)]
                pos.append([b[o] + sum(w[o][k] * v[k] for k in range(c)) for o in range(len(w))])
        out.append(pos)
    return out


def _maxpool_positions(vecs: list[list[float]], h: int, w: int) -> list[list[float]]:
    out = []
    for i in range(0, h, 2):
        for j in range(0, w, 2):
            cells = [vecs[(i + di) * w + (j + dj)] for di in (0, 1) for dj in (0, 1)]
            out.append([max(c[k] for c in cells) for k in range(len(cells[0]))])
    return out


def _literal(block: NonLocalBlock, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    bsz, c, h, w = x.shape
    theta, phi, g = _conv1x1(x, block.theta), _conv1x1(x, block.phi), _conv1x1(x, block.g)
    if block.pool is not None:
        phi = [_maxpool_positions(p, h, w) for p in phi]
        g = [_maxpool_positions(p, h, w) for p in g]
    y = torch.zeros(bsz, block.inter_channels, h, w, dtype=F64)
    attn = torch.zeros(bsz, h * w, len(phi[0]), dtype=F64)
    for n in range(bsz):
        for i in range(h * w):
            logits = [sum(a * b for a, b in zip(theta[n][i], phi[n][j], strict=True)) for j in range(len(phi[n]))]
            top = max(logits)
            e = [math.exp(v - top) for v in logits]
            s = sum(e)
            for j, ej in enumerate(e):
                attn[n, i, j] = ej / s
            for k in range(block.inter_channels):
                y[n, k, i // w, i % w] = sum(e[j] / s * g[n][j][k] for j in range(len(e)))
    z = torch.tensor(_conv1x1(y, block.out), dtype=F64).reshape(bsz, h, w, c).permute(0, 3, 1, 2)
    return z, attn


def _bn_train_literal(z: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    mean = z.mean(dim=(0, 2, 3), keepdim=True)
    var = ((z - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    return (z - mean) / torch.sqrt(var + bn.eps) * bn.weight.detach()[None, :, None, None] + \
        bn.bias.detach()[None, :, None, None]


@pytest.mark.parametrize("subsample", [False, True])
def test_nonlocal_matches_literal_softmax_attention(subsample):
    torch.manual_seed(0)
    block = NonLocalBlock(6, subsample=subsample, zero_init=False).double().train()
    assert block.inter_channels == 3  # C / 2 (Wang et al. bottleneck)
    x = torch.randn(2, 6, 4, 4, dtype=F64)
    z, attn = _literal(block, x)
    torch.testing.assert_close(block.attention(x), attn)
    torch.testing.assert_close(block(x), x + _bn_train_literal(z, block.norm))


def test_nonlocal_without_norm_and_custom_width_matches_literal():
    torch.manual_seed(1)
    block = NonLocalBlock(4, inter_channels=5, norm_layer=None, zero_init=False).double()
    x = torch.randn(1, 4, 3, 5, dtype=F64)
    z, _ = _literal(block, x)
    torch.testing.assert_close(block(x), x + z)


@pytest.mark.parametrize("norm_layer", [nn.BatchNorm2d, None, instance_norm])
def test_zero_init_is_the_identity_but_still_learns(norm_layer):
    torch.manual_seed(2)
    block = NonLocalBlock(8, norm_layer=norm_layer).train()
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(block(x), x, rtol=0, atol=0)
    # gradient reaches the zero-initialised output path, so training can move away from the identity
    block(x).square().sum().backward()
    grads = [p.grad for p in (block.norm.weight if norm_layer is nn.BatchNorm2d else block.out.weight,)]
    assert grads[0] is not None and grads[0].abs().sum().item() > 0


def test_nonlocal_attention_rows_sum_to_one_and_mix_positions():
    torch.manual_seed(3)
    block = NonLocalBlock(4, subsample=True, zero_init=False)
    x = torch.randn(1, 4, 8, 8)
    a = block.attention(x)
    assert a.shape == (1, 64, 16)
    torch.testing.assert_close(a.sum(-1), torch.ones(1, 64))
    # non-local: changing one far-away position changes the output everywhere
    x2 = x.clone()
    x2[..., 7, 7] += 5.0
    assert (block.eval()(x2) - block(x))[..., 0, 0].abs().max().item() > 0
