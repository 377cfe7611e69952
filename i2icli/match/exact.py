"""Exact semantic matching, SEGIN Eq. 1: hard argmax of the cosine of whole k x k x C feature patches.

``xi_i = argmax_j <kappa(Fx)_i, kappa(Fr)_j> / (|kappa(Fx)_i| |kappa(Fr)_j|)`` (Huang, Liao, Kwong,
Section III-A, Eq. 1), one-directional (input -> exemplar), with kappa the k x k x C patch at every
cell, zero padding ``k // 2`` and stride 1 (what ``F.unfold`` does; the paper gives no padding, so we
take CoCosNet's choice).  Norms are clamped at ``eps`` so zero patches score 0; ties (and rows of
zeros) go to the **lowest** flat index ``j = jy * w_r + jx`` in every path, which is ``torch.max``'s
documented rule.

Three implementations of the same operator:

* :func:`match_reference` - float64, unfold every patch, normalise, one matmul.  The test oracle.
* :func:`match_unfold` - the same "plain formulation" in the working dtype (the benchmark's baseline):
  ``k^2 C`` channels per patch and an ``I x J`` similarity matrix per pair (64 MiB at 256 px).
* :func:`match_gram` - the fast exact path (docs: ``shared/specs/segin.md`` Section 4).  The patch dot
  product is a sum of per-cell dot products over the k^2 offsets d:
  ``<U_x(i), U_r(j)> = sum_d <F_x(i+d), F_r(j+d)>``, out-of-range terms being exactly unfold's zero
  padding.  So one Gram matrix ``G = F_x^T F_r`` (C channels instead of k^2 C: k^2 = 9x fewer FLOPs)
  followed by a k x k box sum of shifted G entries (done separably: 2(k-1) shifted adds) gives every patch
  similarity.  Rows of x are processed in blocks of
  ``block_rows`` grid rows (plus a ``k // 2`` halo), so the I x J matrix never exists: memory is
  ``(block_rows + 2h) * w_x * J`` floats per pair.  The r-side norm comes from a box filter of the
  squared feature norms; the x-side norm is constant along a row, so it cannot change the argmax and is
  applied only to the returned score.
* :func:`match_bf16_certified` - the Gram path with a bf16 GEMM, whose argmax is *certified*: for
  non-negative features (ReLU outputs) every bf16 similarity is within a relative ``EPS_BF16`` of the
  exact one, so when the (m+1)-th best bf16 score is below ``(1 - e)/(1 + e)`` of the best, the true
  argmax is among the top m, which are rescored in fp32.  Rows that cannot be certified are recomputed
  in fp32.  The result equals the fp32 path's up to fp32's own rounding (bit-equal when every product
  and sum is exact, e.g. integer-valued features).

All functions take batches ``fx (B, C, hx, wx)``, ``fr (B, C, hr, wr)`` on any device and return
``(index (B, hx, wx) int64, score (B, hx, wx) float32)``; ``score`` is the cosine of the chosen match.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-8
# bf16 unit roundoff u = 2^-8: inputs rounded (2u), output rounded (u), plus slack for the fp32 accumulation of at most
# a few thousand non-negative products and the k^2 fp32 adds (each <= n * 2^-24 relative; 2^-12 covers n <= 4096).
EPS_BF16 = 3 * 2.0**-8 + 2.0**-12


@dataclass(frozen=True)
class MatchOutput:
    """Matched flat indices ``(B, hx, wx)`` (int64), their cosine (float32), optional top-k, bf16 fallback rate."""

    index: Tensor
    score: Tensor
    topk_index: Tensor | None = None
    topk_score: Tensor | None = None
    fallback_rate: float | None = None


def _check(fx: Tensor, fr: Tensor, patch: int) -> None:
    if fx.dim() != 4 or fr.dim() != 4:
        raise ValueError(f"features must be (B, C, h, w); got {tuple(fx.shape)} and {tuple(fr.shape)}")
    if fx.shape[:2] != fr.shape[:2]:
        raise ValueError(f"input and exemplar features differ in batch/channels: {tuple(fx.shape)} vs "
                         f"{tuple(fr.shape)}")
    if patch < 1 or patch % 2 == 0:
        raise ValueError(f"patch size must be odd and >= 1, got {patch}")


@contextlib.contextmanager
def ieee_fp32() -> Iterator[None]:
    """Exact fp32 matmuls and convolutions: no TF32 on CUDA, no reduced-precision oneDNN on CPU, and bf16 GEMMs
    without cuBLAS's reduced-precision split-K reductions (the bf16 certificate assumes fp32 accumulation).
    Restored on exit."""
    cm = torch.backends.cuda.matmul
    saved = (cm.allow_tf32, torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision(),
             cm.allow_bf16_reduced_precision_reduction)
    try:
        cm.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        cm.allow_bf16_reduced_precision_reduction = False
        yield
    finally:
        cm.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[0], saved[1]
        torch.set_float32_matmul_precision(saved[2])
        cm.allow_bf16_reduced_precision_reduction = saved[3]


def patch_norms(f: Tensor, patch: int, eps: float = EPS) -> Tensor:
    """|kappa(f)_j| for every cell, ``(B, h*w)``, clamped at ``eps``: a k x k box sum of squared cell norms
    (zero padding, as unfold), computed as a convolution with ones instead of materialising the patches."""
    sq = f.pow(2).sum(1, keepdim=True)
    ones = torch.ones(1, 1, patch, patch, dtype=f.dtype, device=f.device)
    box = F.conv2d(sq, ones, padding=patch // 2).clamp_min_(0)
    return box.sqrt().clamp_min_(eps).flatten(1)


def _unfolded(f: Tensor, patch: int, eps: float) -> Tensor:
    u = F.unfold(f, patch, padding=patch // 2)  # (B, k*k*C, h*w)
    return u / u.norm(dim=1, keepdim=True).clamp_min(eps)


def match_unfold(fx: Tensor, fr: Tensor, patch: int = 3, eps: float = EPS, topk: int = 0) -> MatchOutput:
    """The plain formulation: unfold all patches, normalise, one (I x J) matmul per pair, argmax (in fx's dtype)."""
    _check(fx, fr, patch)
    ux, ur = _unfolded(fx, patch, eps), _unfolded(fr, patch, eps)
    sim = torch.bmm(ux.transpose(1, 2), ur)  # (B, I, J)
    score, index = sim.max(dim=2)
    shape = (fx.shape[0], fx.shape[2], fx.shape[3])
    tk_i = tk_s = None
    if topk:
        tk_s, tk_i = _topk_lowest(sim, topk)
        tk_s, tk_i = tk_s.reshape(*shape, topk), tk_i.reshape(*shape, topk)
    return MatchOutput(index.reshape(shape), score.float().reshape(shape), tk_i, tk_s)


def match_reference(fx: Tensor, fr: Tensor, patch: int = 3, eps: float = EPS) -> tuple[Tensor, Tensor, Tensor]:
    """float64 oracle: ``(index, best cosine, second-best cosine)``, each ``(B, hx, wx)``; the gap between the two
    best values tells a test where a lower-precision path may legitimately pick another (tied) index."""
    _check(fx, fr, patch)
    ux, ur = _unfolded(fx.double(), patch, eps), _unfolded(fr.double(), patch, eps)
    sim = torch.bmm(ux.transpose(1, 2), ur)
    best, index = sim.max(dim=2)
    second = sim.topk(min(2, sim.shape[2]), dim=2).values[..., -1]
    shape = (fx.shape[0], fx.shape[2], fx.shape[3])
    return index.reshape(shape), best.reshape(shape), second.reshape(shape)


def _topk_lowest(sim: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-k along the last dim, ordered by value then lowest index (``torch.topk`` promises no tie order)."""
    k = min(k, sim.shape[-1])
    vals, idx = sim.topk(k, dim=-1)
    # stable re-sort: by index ascending first, then by value descending (stable keeps the index order on ties)
    order = idx.argsort(dim=-1)
    vals, idx = vals.gather(-1, order), idx.gather(-1, order)
    order = vals.argsort(dim=-1, descending=True, stable=True)
    return vals.gather(-1, order).float(), idx.gather(-1, order)


def _shift_ranges(n_out: int, n_src: int, lo: int, hi: int, d: int) -> tuple[int, int]:
    """Output positions p in [lo, hi) with p + d inside [0, n_src), clipped to [0, n_out)."""
    return max(lo, -d, 0), min(hi, n_src - d, n_out)


def _block_similarity(fx: Tensor, fr2: Tensor, a: int, b: int, patch: int, wr: int, gbuf: Tensor | None) -> Tensor:
    """Patch dot products ``(B, (b-a)*wx, J)`` for x rows [a, b): one GEMM over the halo'd rows, then the k x k box
    sum of Gram entries along both diagonals, separably (x then y)."""
    bsz, c, hx, wx = fx.shape
    h = patch // 2
    hr = fr2.shape[2] // wr
    a0, b0 = max(0, a - h), min(hx, b + h)
    rows = fx[:, :, a0:b0, :].reshape(bsz, c, (b0 - a0) * wx).transpose(1, 2)
    n = bsz * (b0 - a0) * wx * fr2.shape[2]
    if gbuf is not None and gbuf.numel() >= n and gbuf.dtype == torch.promote_types(rows.dtype, fr2.dtype):
        g = torch.bmm(rows, fr2, out=gbuf[:n].view(bsz, (b0 - a0) * wx, fr2.shape[2]))
    else:
        g = torch.bmm(rows, fr2)
    g = g.view(bsz, b0 - a0, wx, hr, wr)
    # separable box sum: first along x (on the halo'd rows), then along y - 2(k-1) shifted adds instead of k^2-1
    acc = torch.float32 if g.dtype == torch.bfloat16 else g.dtype  # bf16 Gram entries are summed in fp32
    t = g.to(acc, copy=True)  # the dx = 0 term
    for dx in range(-h, h + 1):
        x0, x1 = _shift_ranges(wx, wx, 0, wx, dx)
        jx0, jx1 = _shift_ranges(wr, wr, 0, wr, dx)
        if dx == 0 or x0 >= x1 or jx0 >= jx1:
            continue
        t[:, :, x0:x1, :, jx0:jx1] += g[:, :, x0 + dx:x1 + dx, :, jx0 + dx:jx1 + dx]
    s = t[:, a - a0:b - a0].clone()  # the dy = 0 term
    for dy in range(-h, h + 1):
        y0, y1 = _shift_ranges(b, hx, a, b, dy)
        jy0, jy1 = _shift_ranges(hr, hr, 0, hr, dy)
        if dy == 0 or y0 >= y1 or jy0 >= jy1:
            continue
        s[:, y0 - a:y1 - a, :, jy0:jy1] += t[:, y0 + dy - a0:y1 + dy - a0, :, jy0 + dy:jy1 + dy]
    return s.view(bsz, (b - a) * wx, hr * wr)


def default_block_rows(fx: Tensor, fr: Tensor) -> int:
    """All rows at once on a GPU; on CPU about 8 MiB of similarities per pair block (cache-sized working set)."""
    if fx.device.type != "cpu":
        return fx.shape[2]
    per_row = fx.shape[3] * fr.shape[2] * fr.shape[3] * 4
    return max(1, min(fx.shape[2], (8 << 20) // max(1, per_row)))


def match_gram(fx: Tensor, fr: Tensor, patch: int = 3, eps: float = EPS, block_rows: int | None = None,
               topk: int = 0) -> MatchOutput:
    """Exact Eq. 1 via the Gram identity, in row blocks (bounded memory).  See the module docstring."""
    _check(fx, fr, patch)
    bsz, c, hx, wx = fx.shape
    hr, wr = fr.shape[2:]
    block_rows = block_rows or default_block_rows(fx, fr)
    inv_r = patch_norms(fr, patch, eps).reciprocal_().unsqueeze(1)  # (B, 1, J)
    inv_x = patch_norms(fx, patch, eps).reciprocal_()  # (B, I)
    fr2 = fr.reshape(bsz, c, hr * wr)
    index = torch.empty(bsz, hx * wx, dtype=torch.long, device=fx.device)
    score = torch.empty(bsz, hx * wx, dtype=torch.float32, device=fx.device)
    tk_i = torch.empty(bsz, hx * wx, max(topk, 1), dtype=torch.long, device=fx.device)
    tk_s = torch.empty(bsz, hx * wx, max(topk, 1), dtype=torch.float32, device=fx.device)
    h = patch // 2
    gbuf = torch.empty(bsz * (min(block_rows, hx) + 2 * h) * wx * hr * wr, dtype=fx.dtype, device=fx.device)
    for a in range(0, hx, block_rows):
        b = min(hx, a + block_rows)
        s = _block_similarity(fx, fr2, a, b, patch, wr, gbuf)
        s.mul_(inv_r)
        best, idx = s.max(dim=2)
        index[:, a * wx:b * wx] = idx
        score[:, a * wx:b * wx] = best * inv_x[:, a * wx:b * wx]
        if topk:
            v, i = _topk_lowest(s, topk)
            tk_i[:, a * wx:b * wx, :i.shape[-1]] = i
            tk_s[:, a * wx:b * wx, :i.shape[-1]] = v * inv_x[:, a * wx:b * wx, None]
    shape = (bsz, hx, wx)
    if not topk:
        return MatchOutput(index.view(shape), score.view(shape))
    return MatchOutput(index.view(shape), score.view(shape), tk_i.view(*shape, topk), tk_s.view(*shape, topk))


def _padded_rows(f: Tensor, h: int) -> tuple[Tensor, int]:
    """Zero-padded features as ``(B, (h+2p)*(w+2p), C)`` rows for gathers, and the padded width."""
    p = F.pad(f, (h, h, h, h))
    return p.flatten(2).transpose(1, 2).contiguous(), p.shape[3]


def _patch_dots(px: Tensor, pr: Tensor, wpx: int, wpr: int, cells: Tensor, cand: Tensor, wx: int, wr: int,
                h: int) -> Tensor:
    """fp32 patch dot products of x cells ``cells (B, n)`` with exemplar cells ``cand (B, n, m)``: ``(B, n, m)``.

    Summed offset by offset (d = 0 first, then row-major): another order than the Gram path's, so the two agree
    up to fp32 rounding (bit-equal when every product and sum is exact)."""
    iy, ix = cells // wx + h, cells % wx + h
    jy, jx = cand // wr + h, cand % wr + h
    offsets = [(0, 0)] + [(dy, dx) for dy in range(-h, h + 1) for dx in range(-h, h + 1) if (dy, dx) != (0, 0)]
    out: Tensor | None = None
    c = px.shape[2]
    for dy, dx in offsets:
        xi = ((iy + dy) * wpx + ix + dx)  # (B, n)
        ri = ((jy + dy) * wpr + jx + dx)  # (B, n, m)
        xv = px.gather(1, xi.unsqueeze(-1).expand(-1, -1, c))  # (B, n, C)
        rv = pr.gather(1, ri.flatten(1).unsqueeze(-1).expand(-1, -1, c)).view(*ri.shape, c)  # (B, n, m, C)
        term = torch.einsum("bnc,bnmc->bnm", xv, rv)
        out = term if out is None else out.add_(term)
    assert out is not None  # offsets always holds (0, 0)
    return out


def match_bf16_certified(fx: Tensor, fr: Tensor, patch: int = 3, eps: float = EPS, block_rows: int | None = None,
                         candidates: int = 8) -> MatchOutput:
    """bf16 Gram + certificate + fp32 rescoring (see the module docstring).  Needs non-negative features.

    A row (cell i) is certified iff ``S~_(m+1) < (1 - e) / (1 + e) * S~_(1)`` with ``e = EPS_BF16``: then every
    exemplar cell outside the bf16 top m has a true score strictly below the bf16 winner's, so the exact argmax
    is one of the m candidates, which are rescored in fp32 (ties to the lowest index).  Uncertified rows get the
    m candidates plus a full fp32 row (the Gram path restricted to them).  ``fallback_rate`` is their share.
    """
    _check(fx, fr, patch)
    if bool((fx.min() < 0) | (fr.min() < 0)):
        raise ValueError("bf16-certified matching needs non-negative features (ReLU outputs); use fp32")
    bsz, c, hx, wx = fx.shape
    hr, wr = fr.shape[2:]
    h = patch // 2
    block_rows = block_rows or default_block_rows(fx, fr)
    m = min(candidates, hr * wr - 1)
    thr = (1 - EPS_BF16) / (1 + EPS_BF16)
    fx32, fr32 = fx.float(), fr.float()
    inv_r = patch_norms(fr32, patch, eps).reciprocal_()  # (B, J)
    inv_x = patch_norms(fx32, patch, eps).reciprocal_()
    fxb, frb = fx32.bfloat16(), fr32.reshape(bsz, c, hr * wr).bfloat16()
    px, wpx = _padded_rows(fx32, h)
    pr, wpr = _padded_rows(fr32, h)
    index = torch.empty(bsz, hx * wx, dtype=torch.long, device=fx.device)
    score = torch.empty(bsz, hx * wx, dtype=torch.float32, device=fx.device)
    failed_total = 0
    for a in range(0, hx, block_rows):
        b = min(hx, a + block_rows)
        s = _block_similarity(fxb, frb, a, b, patch, wr, None)  # fp32 sums of the bf16 Gram
        s.mul_(inv_r.unsqueeze(1))
        if m >= 1:
            top_v, top_i = s.topk(m + 1, dim=2)
            certified = top_v[..., m] < thr * top_v[..., 0]
            cand = top_i[..., :m]
        else:  # a 1-cell exemplar: nothing to choose
            certified = torch.ones(s.shape[:2], dtype=torch.bool, device=s.device)
            cand = torch.zeros(*s.shape[:2], 1, dtype=torch.long, device=s.device)
        zero_row = s.amax(dim=2) <= 0  # all scores exactly 0 (zero x patch): exact answer is j = 0
        cells = torch.arange(a * wx, b * wx, device=fx.device).expand(bsz, -1)
        cand, _ = cand.sort(dim=2)  # lowest index first, so max() breaks ties to it
        dots = _patch_dots(px, pr, wpx, wpr, cells, cand, wx, wr, h) * inv_r.gather(1, cand.flatten(1)).view_as(cand)
        best, arg = dots.max(dim=2)
        idx = cand.gather(2, arg.unsqueeze(-1)).squeeze(-1)
        need = ~certified & ~zero_row
        if bool(need.any()):
            bi, ni = need.nonzero(as_tuple=True)
            failed_total += int(bi.numel())
            for bb in bi.unique().tolist():
                rows = ni[bi == bb] + a * wx
                full = _rows_fp32(px, pr, wpx, wpr, bb, rows, wx, wr, hr, h) * inv_r[bb]
                fb, fi = full.max(dim=1)
                best[bb, rows - a * wx] = fb
                idx[bb, rows - a * wx] = fi
        best = torch.where(zero_row, torch.zeros_like(best), best)
        idx = torch.where(zero_row, torch.zeros_like(idx), idx)
        index[:, a * wx:b * wx] = idx
        score[:, a * wx:b * wx] = best * inv_x[:, a * wx:b * wx]
    shape = (bsz, hx, wx)
    return MatchOutput(index.view(shape), score.view(shape), fallback_rate=failed_total / max(1, bsz * hx * wx))


def _rows_fp32(px: Tensor, pr: Tensor, wpx: int, wpr: int, b: int, rows: Tensor, wx: int, wr: int, hr: int,
               h: int) -> Tensor:
    """Full fp32 patch dot products of x cells ``rows`` (of pair b) with every exemplar cell: ``(n, J)``."""
    iy, ix = rows // wx + h, rows % wx + h
    c = px.shape[2]
    pr_grid = pr[b].view(hr + 2 * h, wpr, c)
    out: Tensor | None = None
    offsets = [(0, 0)] + [(dy, dx) for dy in range(-h, h + 1) for dx in range(-h, h + 1) if (dy, dx) != (0, 0)]
    for dy, dx in offsets:
        xv = px[b, (iy + dy) * wpx + ix + dx]  # (n, C)
        rv = pr_grid[h + dy:h + dy + hr, h + dx:h + dx + wr].reshape(hr * wr, c)  # shifted exemplar cells
        term = xv @ rv.T
        out = term if out is None else out.add_(term)
    assert out is not None  # offsets always holds (0, 0)
    return out


PRECISIONS = ("fp32", "bf16-certified", "bf16", "fp64")


def match_features(fx: Tensor, fr: Tensor, patch: int = 3, precision: str = "fp32", eps: float = EPS,
                   block_rows: int | None = None, topk: int = 0) -> MatchOutput:
    """Dispatch by precision name.  ``fp32`` (exact Gram), ``bf16-certified`` (equal to fp32, see above),
    ``bf16`` (uncertified bf16 Gram, only when asked for by name), ``fp64`` (Gram in float64)."""
    if precision == "fp32":
        with ieee_fp32():
            return match_gram(fx.float(), fr.float(), patch, eps, block_rows, topk)
    if precision == "fp64":
        return match_gram(fx.double(), fr.double(), patch, eps, block_rows, topk)
    if precision == "bf16-certified":
        if topk:
            raise ValueError("top-k is stored by the fp32 path only; use --precision fp32 with --topk")
        with ieee_fp32():
            return match_bf16_certified(fx, fr, patch, eps, block_rows)
    if precision == "bf16":
        out = match_gram(fx.bfloat16(), fr.bfloat16(), patch, eps, block_rows, topk)
        return out
    raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")


def gram_flops(c: int, hx: int, wx: int, hr: int, wr: int, patch: int) -> float:
    """FLOPs of the Gram path (GEMM + k^2 adds + scaling) for one pair, halo excluded."""
    i, j = hx * wx, hr * wr
    return 2.0 * i * j * c + (patch * patch + 1) * i * j


def unfold_flops(c: int, hx: int, wx: int, hr: int, wr: int, patch: int) -> float:
    """FLOPs of the plain formulation's matmul for one pair."""
    return 2.0 * hx * wx * hr * wr * c * patch * patch


__all__ = [
    "EPS",
    "EPS_BF16",
    "PRECISIONS",
    "MatchOutput",
    "default_block_rows",
    "gram_flops",
    "ieee_fp32",
    "match_bf16_certified",
    "match_features",
    "match_gram",
    "match_reference",
    "match_unfold",
    "patch_norms",
    "unfold_flops",
]
