"""The fast exact matcher returns the float64 unfold reference's argmax (SEGIN Eq. 1)."""

from __future__ import annotations

import pytest
import torch

from i2icli.match.exact import (
    match_bf16_certified,
    match_features,
    match_gram,
    match_reference,
    match_unfold,
    patch_norms,
)

torch.set_num_threads(1)


def _features(seed: int, b: int, c: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, c, h, w, generator=g) - 0.4).clamp_min(0)  # ReLU-like: non-negative, 40 % zeros


def _agree(index: torch.Tensor, ref: tuple[torch.Tensor, torch.Tensor, torch.Tensor], rel: float) -> None:
    """Equal wherever the reference's best is separated from its second best by more than ``rel * best``."""
    ri, best, second = ref
    clear = (best - second) > rel * best.abs().clamp_min(1e-30)
    assert clear.float().mean() > 0.8  # the test data must not be degenerate
    assert torch.equal(index[clear], ri[clear])


@pytest.mark.parametrize("patch", [1, 3, 5])
@pytest.mark.parametrize("block_rows", [1, 3, 8])
def test_gram_float64_equals_reference_non_square(patch: int, block_rows: int) -> None:
    fx, fr = _features(1, 2, 16, 24, 20), _features(2, 2, 16, 18, 22)
    ref = match_reference(fx, fr, patch)
    out = match_gram(fx.double(), fr.double(), patch, block_rows=block_rows)
    _agree(out.index, ref, 1e-9)
    assert torch.allclose(out.score.double(), ref[1], atol=1e-6)


@pytest.mark.parametrize("patch", [1, 3, 5])
def test_fp32_and_bf16_certified_equal_reference(patch: int) -> None:
    fx, fr = _features(3, 1, 16, 13, 17), _features(4, 1, 16, 15, 11)
    ref = match_reference(fx, fr, patch)
    fp32 = match_features(fx, fr, patch, "fp32", block_rows=4)
    _agree(fp32.index, ref, 1e-5)
    cert = match_features(fx, fr, patch, "bf16-certified", block_rows=4)
    _agree(cert.index, ref, 1e-5)
    assert 0.0 <= cert.fallback_rate <= 1.0
    assert torch.allclose(cert.score, fp32.score, atol=1e-5)


@pytest.mark.parametrize("precision", ["fp32", "fp64", "bf16-certified"])
def test_ties_zero_patches_borders(precision: str) -> None:
    """Exact duplicates in the exemplar are real ties: the lowest index must win; zero input patches give j = 0."""
    fr = _features(5, 1, 4, 9, 11)
    fr[:, :, 0:3, 0:3] = fr[:, :, 5:8, 6:9]  # a duplicated 3x3 region (patches centred at (1, 1) and (6, 7))
    fr[:, :, 4:7, 0:2] = 0  # more zero exemplar cells on the border
    fx = _features(6, 1, 4, 10, 7)
    fx[:, :, 0:3, 4:7] = 0  # zero input patch at the right border: every score is 0, the answer is j = 0
    fx[:, :, 6:9, 2:5] = fr[:, :, 5:8, 6:9]
    ref = match_reference(fx, fr, 3)
    out = match_features(fx, fr, 3, precision, block_rows=2)
    _agree(out.index, ref, 1e-5 if precision != "fp64" else 1e-9)
    assert int(ref[0][0, 1, 5]) == 0 and int(out.index[0, 1, 5]) == 0
    assert float(out.score[0, 1, 5]) == 0.0
    # the copied centre (7, 3) equals exemplar cells (6, 7) and (1, 1) patch for patch: the lower index wins
    assert float(ref[1][0, 7, 3]) == pytest.approx(1.0) and float(ref[2][0, 7, 3]) == pytest.approx(1.0)
    assert int(ref[0][0, 7, 3]) == 1 * 11 + 1
    assert int(out.index[0, 7, 3]) == 1 * 11 + 1
    assert float(out.score[0, 7, 3]) == pytest.approx(1.0, abs=1e-5)


def test_unfold_baseline_and_topk_agree() -> None:
    fx, fr = _features(6, 2, 8, 10, 12), _features(7, 2, 8, 9, 8)
    ref = match_reference(fx, fr, 3)
    plain = match_unfold(fx, fr, 3, topk=4)
    _agree(plain.index, ref, 1e-5)
    gram = match_features(fx, fr, 3, "fp32", topk=4)
    assert torch.equal(gram.topk_index[..., 0], gram.index)
    clear = (ref[1] - ref[2]) > 1e-5
    assert torch.equal(gram.topk_index[..., 0][clear], plain.topk_index[..., 0][clear])
    assert bool((gram.topk_score[..., :-1] >= gram.topk_score[..., 1:]).all())


def test_patch_norms_match_unfold() -> None:
    f = _features(8, 2, 5, 7, 6)
    u = torch.nn.functional.unfold(f.double(), 3, padding=1).norm(dim=1)
    assert torch.allclose(patch_norms(f.double(), 3), u.clamp_min(1e-8))


def test_bad_arguments() -> None:
    fx = _features(9, 1, 4, 5, 5)
    with pytest.raises(ValueError, match="odd"):
        match_gram(fx, fx, 2)
    with pytest.raises(ValueError, match="channels"):
        match_gram(fx, _features(9, 1, 3, 5, 5))
    with pytest.raises(ValueError, match="non-negative"):
        match_bf16_certified(fx - 1, fx)
    with pytest.raises(ValueError, match="unknown precision"):
        match_features(fx, fx, 3, "int8")


def test_bf16_gemm_meets_the_certificate_assumption() -> None:
    """The certificate assumes bf16 GEMMs accumulate in fp32 and round the output once (error <= 2^-8 relative
    to the exact product of the bf16 inputs, for non-negative data); check it on this machine's kernels."""
    g = torch.Generator().manual_seed(0)
    for k in (64, 256, 2304):
        a = torch.relu(torch.randn(2, 64, k, generator=g)).bfloat16()
        b = torch.relu(torch.randn(2, k, 96, generator=g)).bfloat16()
        exact = torch.bmm(a.double(), b.double())
        rel = ((torch.bmm(a, b).double() - exact).abs() / exact.clamp_min(1e-30)).max()
        assert float(rel) <= 2.0 ** -8
