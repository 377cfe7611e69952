"""SSIM equals scikit-image; LPIPS equals the lpips package on the same backbone; paired-input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from skimage.metrics import structural_similarity

from i2i_eval_testing import random_images, write_folder
from i2icli.errors import DataError, WeightsError
from i2icli.metrics import lpips as lp
from i2icli.metrics import ssim as ss
from i2icli.metrics.inputs import from_arrays, from_folder, resolve


def _noisy(images, seed, sigma=20):
    rng = np.random.default_rng(seed)
    return [np.clip(a + rng.normal(0, sigma, a.shape), 0, 255).astype(np.uint8) for a in images]


def test_ssim_equals_skimage_and_reports_mean_std():
    gt = random_images(6, seed=1)
    gen = _noisy(gt, 2)
    r = ss.ssim(from_arrays(gen), from_arrays(gt))
    ref = [structural_similarity(g, t, data_range=255, channel_axis=-1, win_size=7)
           for g, t in zip(gen, gt, strict=True)]
    assert r["ssim_mean"] == pytest.approx(np.mean(ref), rel=1e-12)
    assert r["ssim_std"] == pytest.approx(np.std(ref), rel=1e-9)
    assert r["n_pairs"] == 6 and r["data_range"] == 255 and r["win_size"] == 7
    assert ss.ssim(from_arrays(gt), from_arrays(gt))["ssim_mean"] == pytest.approx(1.0)


def test_ssim_mask_full_equals_unmasked_and_regions_differ():
    gt = random_images(3, seed=3)
    gen = [a.copy() for a in gt]
    for a in gen:  # damage only the left half
        a[:, :16] = 255 - a[:, :16]
    full = np.full((32, 32, 3), 255, np.uint8)
    left = np.zeros((32, 32, 3), np.uint8)
    left[:, :16] = 255
    unmasked = ss.ssim(from_arrays(gen), from_arrays(gt))["ssim_mean"]
    assert ss.ssim(from_arrays(gen), from_arrays(gt), from_arrays([full]))["ssim_mean"] == pytest.approx(unmasked)
    inside = ss.ssim(from_arrays(gen), from_arrays(gt), from_arrays([left]), "inside")["ssim_mean"]
    outside = ss.ssim(from_arrays(gen), from_arrays(gt), from_arrays([left]), "outside")["ssim_mean"]
    assert inside < unmasked < outside
    assert outside > 0.8  # the right half is untouched except within the 7x7 window of the seam


def test_ssim_bad_pairs():
    with pytest.raises(DataError, match="3 images but --real has 2"):
        ss.ssim(from_arrays(random_images(3)), from_arrays(random_images(2)))
    with pytest.raises(DataError, match="same size"):
        ss.ssim(from_arrays(random_images(2, size=32)), from_arrays(random_images(2, size=64)))
    with pytest.raises(DataError, match="one mask for all pairs"):
        ss.ssim(from_arrays(random_images(3)), from_arrays(random_images(3)), from_arrays(random_images(2)))
    empty = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(DataError, match="no pixels"):
        ss.ssim(from_arrays(random_images(1)), from_arrays(random_images(1)), from_arrays([empty]), "inside")


def test_folder_inputs_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        resolve(tmp_path / "empty")
    with pytest.raises(DataError, match="no such folder"):
        resolve(tmp_path / "nope")
    with pytest.raises(DataError, match="needs a selection"):
        resolve(str(tmp_path / "data.h5"))
    mixed = write_folder(tmp_path / "mixed", random_images(2, size=32))
    write_folder(mixed, random_images(1, size=48), prefix="z")
    with pytest.raises(DataError, match="z000.png is 48x48"):
        from_folder(mixed).image_size()
    bad = write_folder(tmp_path / "bad", random_images(2))
    (bad / "img001.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="img001.png"):
        list(from_folder(bad).batches(4))


@pytest.fixture(scope="module")
def alex_state():
    torch.manual_seed(0)
    return torchvision.models.alexnet(weights=None).state_dict()


@pytest.fixture(scope="module")
def model(alex_state):
    return lp.build_lpips(alex_state)


def _reference_lpips(alex_state):
    """The lpips package's model, its trunk filled by assigning torchvision's AlexNet features module-by-module."""
    import warnings

    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    tv = torchvision.models.alexnet(weights=None)
    tv.load_state_dict(alex_state)
    for slice_ in (ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5):
        for name, module in slice_.named_children():
            module.load_state_dict(tv.features[int(name)].state_dict())
    return ref.eval()


def test_lpips_equals_lpips_package_on_same_backbone(alex_state, model):
    ref = _reference_lpips(alex_state)
    a, b = random_images(5, seed=5), random_images(5, seed=6)
    r = lp.lpips_metric(model, "gt", from_arrays(a), from_arrays(b), batch_size=2)
    with torch.no_grad():
        expected = [ref(torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1,
                        torch.from_numpy(y).permute(2, 0, 1)[None].float() / 127.5 - 1).item()
                    for x, y in zip(a, b, strict=True)]
    assert r["lpips_mean"] == pytest.approx(np.mean(expected), rel=1e-5)
    assert r["lpips_std"] == pytest.approx(np.std(expected), rel=1e-4, abs=1e-7)
    assert r["mode"] == "gt" and r["net"] == "alex" and r["version"] == "0.1" and r["n_pairs"] == 5
    # batch-size independence
    r1 = lp.lpips_metric(model, "ref", from_arrays(a), from_arrays(b), batch_size=1)
    assert r1["lpips_mean"] == pytest.approx(r["lpips_mean"], rel=1e-5)
    # identical images are at distance 0
    assert lp.lpips_metric(model, "gt", from_arrays(a), from_arrays(a))["lpips_mean"] == pytest.approx(0, abs=1e-7)


def test_lpips_diversity_consecutive_pairs(tmp_path, model):
    outputs = {f"input{i}": random_images(4, seed=10 + i) for i in range(3)}
    for name, imgs in outputs.items():
        write_folder(tmp_path / "gen" / name, imgs)
    groups = lp.diversity_groups(tmp_path / "gen")
    r = lp.lpips_metric(model, "diversity", groups)
    assert r["n_inputs"] == 3 and r["n_pairs"] == 9 and r["pairing"] == "consecutive"
    expected = []
    for imgs in outputs.values():
        d = lp.paired_distances(model, from_arrays(imgs[:-1]), from_arrays(imgs[1:]))
        expected.extend(d)
    assert r["lpips_mean"] == pytest.approx(np.mean(expected), rel=1e-6)
    assert r["lpips_mean"] > 0
    write_folder(tmp_path / "gen1" / "only", random_images(1))
    with pytest.raises(DataError, match="at least 2 outputs"):
        lp.diversity_groups(tmp_path / "gen1")
    with pytest.raises(DataError, match="sub-folder per input"):
        lp.diversity_groups(write_folder(tmp_path / "flat", random_images(2)))


def test_lpips_bad_pairs(model):
    with pytest.raises(DataError, match="2 images but --real has 3"):
        lp.lpips_metric(model, "gt", from_arrays(random_images(2)), from_arrays(random_images(3)))
    with pytest.raises(DataError, match="unknown LPIPS mode"):
        lp.lpips_metric(model, "nope", from_arrays(random_images(2)), from_arrays(random_images(2)))


def test_lpips_without_alexnet_file_names_it(tmp_path):
    with pytest.raises(WeightsError, match="alexnet-owt-7be5be79.pth.*download.pytorch.org"):
        lp.build_lpips(weights_dir=tmp_path)


@pytest.mark.weights
def test_lpips_real_weights_identical_is_zero():
    from i2icli import weights

    if weights.find("alexnet") is None:
        pytest.skip("alexnet-owt-7be5be79.pth not present")
    model = lp.build_lpips()
    a = random_images(2, seed=1)
    assert lp.lpips_metric(model, "gt", from_arrays(a), from_arrays(a))["lpips_mean"] == pytest.approx(0, abs=1e-7)


def test_store_pairs_selections_for_ssim_with_region_mask(tmp_path):
    """Synthetic-benchmark pairs: truth vs. a translation that only changed inside the region."""
    from i2icli.data.store import StoreWriter

    imgs = random_images(4, seed=30)
    region = np.zeros((32, 32), np.uint8)
    region[8:24, 8:24] = 255
    truths = []
    with StoreWriter(tmp_path / "s.h5", image_size=(32, 32), producer="test") as w:
        for i, a in enumerate(imgs):
            w.add("test", a, name=f"{i}.png")
        for i in range(3):
            t = imgs[i].copy()
            t[8:24, 8:24] = imgs[i + 1][8:24, 8:24]
            truths.append(t)
            w.add_pair("test", i, i + 1, t, region)
    truth = resolve(f"{tmp_path / 's.h5'}:test/pairs-truth")
    inputs = resolve(f"{tmp_path / 's.h5'}:test/pairs-input")
    assert len(truth) == 3 and np.array_equal(truth.load(1), truths[1]) and np.array_equal(inputs.load(2), imgs[2])
    masks = resolve(f"{tmp_path / 's.h5'}:test/pairs-region")
    # the untranslated inputs match the truth exactly outside the region (background preserved), not inside
    outside = ss.ssim(inputs, truth, masks, "outside")
    inside = ss.ssim(inputs, truth, masks, "inside")
    assert outside["ssim_mean"] > 0.8 and inside["ssim_mean"] < outside["ssim_mean"] - 0.2
    with pytest.raises(DataError, match="has no split .train."):
        resolve(f"{tmp_path / 's.h5'}:train/pairs-truth")
