"""i2icli.metrics.groundtruth: the scores of the LOMIT ground-truth benchmark on hand-made arrays."""

from __future__ import annotations

import numpy as np
import pytest

from i2icli.data.store import open_store
from i2icli.errors import DataError
from i2icli.metrics.groundtruth import (
    HAIR,
    average_mask_iou,
    best_fixed_mask_iou,
    pairs_changing_only,
    score_exemplar_run,
    score_pair,
)
from i2icli.prepare.synthetic import FacesRequest, prepare_faces

PERFECT = 10 * np.log10(255.0 ** 2 / 1e-10)  # the 1e-10 MSE floor of a perfect background


def _arrays():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    region = np.zeros((16, 16), bool)
    region[:5, 3:12] = True
    truth = x.copy()
    truth[region] = 200
    return x, truth, region


def test_perfect_translation_and_mask():
    x, truth, region = _arrays()
    r = score_pair(truth, truth, x, region, region.astype(np.float32))
    assert r["hair_err"] == 0 and r["bg_psnr"] == pytest.approx(PERFECT)
    assert r["iou"] == 1 and r["mask_mean"] == pytest.approx(region.mean())
    assert r["bg_psnr_kept"] == pytest.approx(PERFECT) and r["hair_err_kept"] == 0


def test_identity_error_is_the_edit_and_kept_background_is_the_input():
    x, truth, region = _arrays()
    r = score_pair(x, truth, x, region, None)
    edit = np.abs(x[region].astype(float) - 200).mean()
    assert r["hair_err"] == pytest.approx(edit) and r["bg_psnr"] == pytest.approx(PERFECT) and "iou" not in r
    wrong = np.zeros_like(x)  # everything wrong; a zero mask pastes the input back everywhere
    r = score_pair(wrong, truth, x, region, np.zeros((16, 16), np.float32))
    assert r["bg_psnr"] < 10 and r["bg_psnr_kept"] == pytest.approx(PERFECT)
    assert r["hair_err_kept"] == pytest.approx(edit) and r["iou"] == 0


def test_average_mask_iou_separates_a_position_prior_from_masks_that_follow_the_image():
    regions = np.zeros((4, 8, 8), bool)
    for i in range(4):  # each image's region in another quadrant
        regions[i, (i // 2) * 4:(i // 2) * 4 + 4, (i % 2) * 4:(i % 2) * 4 + 4] = True
    # masks that follow each region: no single mask fits all of them
    assert average_mask_iou(regions.astype(np.float32), regions) == 0.0
    # the same mask for every image (a position prior): the average mask is that mask
    prior = np.repeat(regions[:1].astype(np.float32), 4, axis=0)
    assert average_mask_iou(prior, regions) == pytest.approx(0.25)  # right for 1 of the 4 images
    assert average_mask_iou(prior, np.repeat(regions[:1], 4, axis=0)) == 1.0


def test_pairs_and_identity_on_a_synthetic_store(tmp_path):
    data = tmp_path / "faces.h5"
    prepare_faces(FacesRequest(out=data, count=4, test_count=40, pairs=120, seed=3))
    store = open_store(data)
    pairs = pairs_changing_only(store, HAIR)
    chosen = store.pairs("test").chosen.astype(bool)
    cols = [store.attributes.index(a) for a in HAIR]
    assert pairs and all(chosen[k, cols].any() and chosen[k].sum() == chosen[k, cols].sum() for k in pairs)
    identity = score_exemplar_run(None, store, pairs, 32)
    assert identity["hair_err"] > 10 and identity["bg_psnr"] > 30 and "iou_avg_mask" not in identity
    assert 0.2 < best_fixed_mask_iou(store, pairs, 32) < 0.9  # hair sits in similar places, never the same


def test_store_without_pairs_is_one_line(tmp_path):
    data = tmp_path / "faces.h5"
    prepare_faces(FacesRequest(out=data, count=4, test_count=4, pairs=0, seed=3))
    with pytest.raises(DataError, match="no ground-truth test pairs; prepare it with"):
        pairs_changing_only(open_store(data))
