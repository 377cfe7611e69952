"""Known-answer correspondences: integer-stride shifts and jigsaw must match exactly on every valid cell."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from i2icli.match.exact import match_features
from i2icli.match.features import FeatureSpec, Matcher
from i2icli.match.reconstruct import reconstruct
from i2icli.match.synthetic import (
    correspondence_metrics,
    lab_space_to_depth,
    make_pair,
    space_to_depth_window,
    vgg_relu3_2_window,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("kind", ["roll", "jigsaw", "colour"])
def test_space_to_depth_exact_on_valid_cells(kind: str) -> None:
    p = make_pair(kind, 64, np.random.default_rng(3), space_to_depth_window())
    o = match_features(torch.from_numpy(lab_space_to_depth(p.x[None])), torch.from_numpy(lab_space_to_depth(p.r[None])))
    m = correspondence_metrics(o.index[0].numpy(), o.score[0].numpy(), p, 16)
    assert m["valid"] > 50 and m["exact"] == 1.0 and m["epe"] == 0.0


@pytest.mark.parametrize("kind", ["roll", "jigsaw"])
def test_random_vgg_exact_on_valid_cells_and_block_warp_is_bit_exact(kind: str) -> None:
    p = make_pair(kind, 128, np.random.default_rng(4), vgg_relu3_2_window())
    o = Matcher(FeatureSpec("random"), 3, "fp32", "cpu").match_images(p.x[None], p.r[None])
    idx = o.index[0].numpy()
    m = correspondence_metrics(idx, o.score[0].numpy(), p, 32)
    assert m["valid"] > 100 and m["exact"] == 1.0 and m["cos"] > 0.9999
    w = reconstruct(p.r, idx, 4, "block")
    cells = np.kron(p.valid, np.ones((4, 4), bool))
    assert np.array_equal(w[cells], p.x[cells])  # block mode rebuilds x bit-exactly on valid cells


def test_sketch_pairs_are_hard_and_reported_not_asserted() -> None:
    p = make_pair("sketch", 64, np.random.default_rng(5), space_to_depth_window())
    o = match_features(torch.from_numpy(lab_space_to_depth(p.x[None])), torch.from_numpy(lab_space_to_depth(p.r[None])))
    m = correspondence_metrics(o.index[0].numpy(), o.score[0].numpy(), p, 16)
    assert 0.0 <= m["exact"] <= 1.0 and np.isfinite(m["epe"])
