"""Warp reconstruction (SEGIN Eq. 2) and the Section III-B perturbations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from i2icli.errors import DataError
from i2icli.match.perturb import PerturbConfig, perturb_field, perturb_warp
from i2icli.match.reconstruct import MODES, identity_field, reconstruct


def test_identity_field_returns_the_exemplar() -> None:
    r = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    for mode in MODES:
        assert np.array_equal(reconstruct(r, identity_field(6, 8), 4, mode), r)


def test_block_is_a_per_pixel_gather_and_vote_is_fold_over_unfold() -> None:
    rng = np.random.default_rng(1)
    r = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    xi = rng.integers(0, 48, (5, 7))  # a 5x7 input grid into the exemplar's 6x8 grid
    yy, xx = np.mgrid[0:20, 0:28]
    c = xi[yy // 4, xx // 4]
    assert np.array_equal(reconstruct(r, xi, 4, "block"), r[(c // 8) * 4 + yy % 4, (c % 8) * 4 + xx % 4])
    # vote: select the exemplar's 12x12 pixel patches at the matches, fold them, divide by the folded valid masks
    rt = torch.from_numpy(r).permute(2, 0, 1)[None].double()
    sel = torch.from_numpy(xi.reshape(-1))
    patches = F.unfold(rt, 12, stride=4, padding=4)[:, :, sel]
    valid = F.unfold(torch.ones(1, 1, 24, 32, dtype=torch.double), 12, stride=4, padding=4)[:, :, sel]
    ref = (F.fold(patches, (20, 28), 12, stride=4, padding=4) / F.fold(valid, (20, 28), 12, stride=4, padding=4))
    got = reconstruct(r.astype(np.float32), xi, 4, "vote")
    assert np.abs(got - ref[0].permute(1, 2, 0).numpy()).max() < 1e-3


def test_bad_fields() -> None:
    r = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(DataError, match="outside the exemplar"):
        reconstruct(r, np.full((4, 4), 16), 4)
    with pytest.raises(DataError, match="multiple of the cell size"):
        reconstruct(np.zeros((18, 16, 3), np.uint8), identity_field(4, 4), 4)


def test_perturbations_are_keyed_bounded_and_switchable() -> None:
    idx = identity_field(16, 16)
    outs = [perturb_field(idx, (16, 16), np.random.default_rng(s)) for s in range(20)]
    assert all(o.min() >= 0 and o.max() < 256 for o in outs)
    changed = [float((o != idx).mean()) for o in outs]
    assert max(changed) > 0.1 and min(changed) < max(changed)
    assert np.array_equal(perturb_field(idx, (16, 16), np.random.default_rng(3)), outs[3])
    off = PerturbConfig(enabled=False)
    assert np.array_equal(perturb_field(idx, (16, 16), np.random.default_rng(3), off), idx)
    topk = np.stack([idx, (idx + 1) % 256], axis=-1)
    only_random = PerturbConfig(shift=0, repeat=0, random=1.0)
    via_topk = 0
    for seed in range(10):
        out = perturb_field(idx, (16, 16), np.random.default_rng(seed), only_random, topk=topk)
        moved = out != idx
        assert moved.mean() <= 0.3 + 1 / 256  # blobs cover at most 30 % of the cells
        if moved.sum() > 3 and np.array_equal(out[moved], (idx[moved] + 1) % 256):
            via_topk += 1  # every random match came from the stored alternatives
    assert 0 < via_topk < 10
    w = np.full((8, 8, 3), 128, np.uint8)
    noisy = [perturb_warp(w, np.random.default_rng(s)) for s in range(10)]
    assert any(not np.array_equal(n, w) for n in noisy) and any(np.array_equal(n, w) for n in noisy)
    assert np.array_equal(perturb_warp(w, np.random.default_rng(0), off), w)
