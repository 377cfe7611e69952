"""KID / FID / IS: equal to torch-fidelity with the same extractor, batch-size independent, cached, sane."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch_fidelity
from i2i_eval_testing import TINY, random_images, register_tiny, write_folder

from i2icli.errors import DataError, I2IError, WeightsError
from i2icli.metrics import fidelity
from i2icli.metrics.inputs import from_arrays, from_folder


@pytest.fixture(scope="module")
def tiny():
    register_tiny()
    return fidelity.create_extractor(TINY, ("fid", "kid", "isc"), device="cpu")


class _Uint8Set(torch.utils.data.Dataset):
    def __init__(self, arrays):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, i):
        return torch.from_numpy(self.arrays[i]).permute(2, 0, 1).contiguous()


def test_equals_torch_fidelity_calculate_metrics(tiny):
    gen, real = random_images(40, seed=1), random_images(30, seed=2, shift=30)
    fg = fidelity.extract_features(from_arrays(gen), tiny, batch_size=16)
    fr = fidelity.extract_features(from_arrays(real), tiny, batch_size=16)
    ours_kid = fidelity.kid_from_features(fg["feat"], fr["feat"], subsets=20, seed=7)
    ours_fid = fidelity.fid_from_features(fg["feat"], fr["feat"])
    ours_is = fidelity.inception_score(fg["logits"], splits=10, seed=7)
    ref = torch_fidelity.calculate_metrics(
        input1=_Uint8Set(gen), input2=_Uint8Set(real), feature_extractor=TINY, cuda=False, isc=True, fid=True,
        kid=True, kid_subsets=20, kid_subset_size=30, rng_seed=7, batch_size=9, save_cpu_ram=True, cache=False,
        verbose=False)
    assert ours_kid["subset_size"] == 30  # min(40, 30, 1000)
    assert ours_kid["kid_mean"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-6, abs=1e-9)
    assert ours_kid["kid_std"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-6, abs=1e-9)
    assert ours_kid["kid_x100_mean"] == pytest.approx(100 * ours_kid["kid_mean"])
    assert ours_fid["fid"] == pytest.approx(ref["frechet_inception_distance"], rel=1e-5)
    assert ours_is["is_mean"] == pytest.approx(ref["inception_score_mean"], rel=1e-6)
    assert ours_is["is_std"] == pytest.approx(ref["inception_score_std"], rel=1e-6, abs=1e-9)


def test_features_independent_of_batch_size(tiny):
    imgs = from_arrays(random_images(13, seed=3))
    a = fidelity.extract_features(imgs, tiny, batch_size=1)
    b = fidelity.extract_features(imgs, tiny, batch_size=5)
    c = fidelity.extract_features(imgs, tiny, batch_size=64)
    for k in ("feat", "logits"):
        assert a[k].shape == (13, b[k].shape[1])
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a[k], c[k], rtol=1e-5, atol=1e-6)
    other = fidelity.extract_features(from_arrays(random_images(13, seed=4)), tiny, batch_size=3)["feat"]
    k1 = fidelity.kid_from_features(a["feat"], other, subsets=10)
    k64 = fidelity.kid_from_features(c["feat"], other, subsets=10)
    # torch-fidelity computes the kernel in float32: equal up to float32 round-off of O(1) kernel sums
    assert k1["kid_mean"] == pytest.approx(k64["kid_mean"], abs=1e-5)


def test_kid_near_zero_same_distribution_positive_when_shifted(tiny):
    base = fidelity.extract_features(from_arrays(random_images(100, seed=10)), tiny)["feat"]
    same = fidelity.extract_features(from_arrays(random_images(100, seed=11)), tiny)["feat"]
    shifted = fidelity.extract_features(from_arrays(random_images(100, seed=12, shift=70)), tiny)["feat"]
    k_same = fidelity.kid_from_features(base, same, subset_size=50, subsets=50)
    k_shift = fidelity.kid_from_features(base, shifted, subset_size=50, subsets=50)
    assert k_shift["kid_mean"] > 10 * abs(k_same["kid_mean"])
    assert k_shift["kid_mean"] > 3 * k_shift["kid_std"]
    assert abs(k_same["kid_mean"]) < 2 * k_same["kid_std"]
    f_same = fidelity.fid_from_features(base, same)["fid"]
    f_shift = fidelity.fid_from_features(base, shifted)["fid"]
    assert f_shift > 5 * f_same >= 0


def test_kid_subset_size_rules():
    assert fidelity.kid_subset_size(100, 100) == 100  # U-GAT-IT-sized test sets
    assert fidelity.kid_subset_size(5000, 3000) == 1000
    assert fidelity.kid_subset_size(100, 80, 50) == 50
    with pytest.raises(DataError, match="exceeds"):
        fidelity.kid_subset_size(10, 20, 15)
    with pytest.raises(DataError, match="at least 2"):
        fidelity.kid_subset_size(1, 20)


def test_is_needs_enough_images(tiny):
    logits = torch.randn(5, 10)
    with pytest.raises(DataError, match="at least 10"):
        fidelity.inception_score(logits)


def test_feature_cache_hits_and_invalidates_on_content(tmp_path, tiny):
    folder = write_folder(tmp_path / "real", random_images(8, seed=4))
    cache = fidelity.FeatureCache(tmp_path / "cache")
    f1, hit1 = fidelity.cached_features(from_folder(folder), tiny, cache)
    f2, hit2 = fidelity.cached_features(from_folder(folder), tiny, cache)
    assert (hit1, hit2) == (False, True)
    torch.testing.assert_close(f1["feat"], f2["feat"])
    from PIL import Image

    Image.fromarray(random_images(1, seed=99)[0]).save(folder / "img003.png")
    f3, hit3 = fidelity.cached_features(from_folder(folder), tiny, cache)
    assert hit3 is False
    assert not torch.allclose(f3["feat"][3], f1["feat"][3])
    # a damaged entry is recomputed, not trusted
    for p in (tmp_path / "cache").glob("*.pt"):
        p.write_bytes(b"garbage")
    _, hit4 = fidelity.cached_features(from_folder(folder), tiny, cache)
    assert hit4 is False


def test_inception_without_weights_is_one_clear_error(tmp_path):
    with pytest.raises(WeightsError) as exc:
        fidelity.create_extractor(fidelity.INCEPTION, ("kid",), weights_dir=tmp_path, device="cpu")
    msg = str(exc.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in msg and "github.com/toshas/torch-fidelity" in msg
    assert str(tmp_path) in msg and "\n" not in msg


def test_unknown_extractor_refused():
    with pytest.raises(I2IError, match="never downloads|download"):
        fidelity.create_extractor("vgg16", ("fid",), device="cpu")


@pytest.mark.weights
def test_real_inception_kid_on_identical_sets_is_zero():
    from i2icli import weights

    if weights.find("inception-fidelity") is None:
        pytest.skip("weights-inception-2015-12-05-6726825d.pth not present")
    ext = fidelity.create_extractor(fidelity.INCEPTION, ("kid", "isc"), device="cpu")
    f = fidelity.extract_features(from_arrays(random_images(12, size=64, seed=5)), ext, batch_size=4)
    assert f["2048"].shape == (12, 2048) and f["logits_unbiased"].shape == (12, 1008)
    assert fidelity.kid_from_features(f["2048"], f["2048"], subsets=5)["kid_mean"] == pytest.approx(0, abs=1e-6)
    assert np.isfinite(fidelity.inception_score(f["logits_unbiased"], splits=2)["is_mean"])
