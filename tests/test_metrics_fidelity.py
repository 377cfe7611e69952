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
    b_same, b_shift = fidelity.kid(base, same, "ugatit"), fidelity.kid(base, shifted, "ugatit")
    assert abs(b_same["kid_mean"]) < 3 * b_same["kid_std"] and b_shift["kid_mean"] > 3 * b_shift["kid_std"]
    assert b_shift["kid_mean"] > 10 * abs(b_same["kid_mean"])
    f_same = fidelity.fid_from_features(base, same)["fid"]
    f_shift = fidelity.fid_from_features(base, shifted)["fid"]
    assert f_shift > 5 * f_same >= 0


def _tfgan_reference(real, gen, block):
    """Independent re-statement of TF-GAN's block KID (the U-GAT-IT authors' script), with explicit loops."""
    real, gen = real.double().numpy(), gen.double().numpy()
    n_blocks = -(-max(len(real), len(gen)) // block)

    def split(x):
        v, extra = divmod(len(x), n_blocks)
        sizes = [v] * (n_blocks - extra) + [v + 1] * extra
        out, start = [], 0
        for s in sizes:
            out.append(x[start:start + s])
            start += s
        return out

    d = real.shape[1]
    k = lambda a, b: (float(a @ b) / d + 1) ** 3  # noqa: E731
    ests = []
    for r, g in zip(split(real), split(gen), strict=True):
        m, n = len(r), len(g)
        rr = sum(k(r[i], r[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        gg = sum(k(g[i], g[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        rg = sum(k(r[i], g[j]) for i in range(m) for j in range(n)) / (m * n)
        ests.append(rr + gg - 2 * rg)
    mean = sum(ests) / n_blocks
    var = sum((e - mean) ** 2 for e in ests) / (n_blocks - 1)
    return mean, (var / n_blocks) ** 0.5, n_blocks


@pytest.mark.parametrize("n_gen, n_real", [(100, 100), (23, 30)])
def test_kid_ugatit_blocks_equal_reference(n_gen, n_real):
    g = torch.Generator().manual_seed(n_gen)
    gen = torch.randn(n_gen, 8, generator=g)
    real = torch.randn(n_real, 8, generator=g) + 0.3
    r = fidelity.kid(gen, real, protocol="ugatit")
    mean, se, n_blocks = _tfgan_reference(real, gen, 10)
    assert r["kid_mean"] == pytest.approx(mean, rel=1e-10)
    assert r["kid_std"] == pytest.approx(se, rel=1e-10)
    assert r["subsets"] == n_blocks == (10 if n_gen == 100 else 3) and r["protocol"] == "ugatit"
    assert r["kid_x100_std"] == pytest.approx(100 * se)


def test_kid_ugatit_block_equals_torch_fidelity_mmd_on_that_block():
    from torch_fidelity.metric_kid import kernel_mmd

    g = torch.Generator().manual_seed(3)
    gen, real = torch.randn(10, 6, generator=g), torch.randn(10, 6, generator=g)
    one_block = fidelity.kid(gen, real, protocol="ugatit")
    ref = kernel_mmd(gen.double().numpy(), real.double().numpy(), kid_kernel="poly", kid_kernel_poly_degree=3,
                     kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    assert one_block["subsets"] == 1 and one_block["kid_std"] is None
    assert one_block["kid_mean"] == pytest.approx(ref, rel=1e-10)
    with pytest.raises(DataError, match="at least 2 per block"):
        fidelity.kid(torch.randn(30, 6), torch.randn(5, 6), protocol="ugatit")


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


def test_damaged_inception_file_is_a_weights_error(tmp_path):
    (tmp_path / "weights-inception-2015-12-05-6726825d.pth").write_bytes(b"truncated download")
    with pytest.raises(WeightsError, match="damaged or not torch-fidelity's Inception"):
        fidelity.create_extractor(fidelity.INCEPTION, ("fid",), weights_dir=tmp_path, device="cpu")


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
