"""Synthetic benchmarks: the EGSC-IT digit protocol, procedural faces, ground truth and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from i2icli.data.store import open_store
from i2icli.data.synthetic import faces as FA
from i2icli.prepare.synthetic import DigitsRequest, FacesRequest, prepare_digits, prepare_faces

RED, GREEN = (255, 0, 0), (0, 255, 0)
PURE = {(0, 0, 0), (255, 255, 255), RED, GREEN, (0, 0, 255)}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("d") / "digits.h5"
    prepare_digits(DigitsRequest(out, count=200, test_count=60, seed=1))
    return open_store(out)


def corner(img) -> tuple[int, ...]:
    return tuple(int(v) for v in img[0, 0])


def digit_of(name: str) -> int:
    return int(name.rsplit(" ", 1)[1])


def test_digits_layout(digits):
    assert digits.domains == ("a", "b") and digits.image_size == (32, 32)
    assert digits.count("train", "a") == 200 and digits.count("test", "b") == 60
    assert len(digits.pairs("test")) == 120


def test_domain_a_is_black_and_white(digits):
    for i in digits.indices("train", "a")[:50]:
        img = digits.image("train", i)
        assert np.all(img == img[..., :1])  # grey
        bg = corner(img)
        assert bg in {(0, 0, 0), (255, 255, 255)}
        assert np.abs(img.astype(int) - bg).max() == 255  # foreground is the other one


def test_domain_b_train_colours_follow_the_protocol(digits):
    names = digits.names("train")
    seen_low = set()
    for i in digits.indices("train", "b"):
        img = digits.image("train", i)
        bg = corner(img)
        assert bg in PURE - {(0, 0, 0), (255, 255, 255)}
        fg = tuple(int(v) for v in img.reshape(-1, 3)[np.abs(img.reshape(-1, 3).astype(int) - bg).sum(1).argmax()])
        assert fg != bg and fg in PURE
        if digit_of(names[i]) >= 5:
            assert (fg, bg) == (RED, GREEN)
        else:
            seen_low.add((fg, bg))
    assert len(seen_low) >= 4  # digits 0-4: random pairs from {r, g, b}


def test_domain_b_test_digits_are_all_random(digits):
    names = digits.names("test")
    combos = {corner(digits.image("test", i)) for i in digits.indices("test", "b") if digit_of(names[i]) >= 5}
    assert len(combos) >= 2  # not only green backgrounds


def test_digit_ground_truth(digits):
    pairs = digits.pairs("test")
    for k in range(0, 40, 2):
        a, b = digits.image("test", pairs.input[k]), digits.image("test", pairs.exemplar[k])
        x_ab = digits.truth("test", k).astype(float)
        # A's shape: the fraction of foreground per pixel is the same in x_A and x_AB
        bg_a, bg_b = np.array(corner(a), float), np.array(corner(b), float)
        fg_b = b.reshape(-1, 3)[np.abs(b.reshape(-1, 3) - bg_b).sum(1).argmax()].astype(float)
        m_a = np.abs(a - bg_a).max(-1) / 255.0
        ch = int(np.abs(fg_b - bg_b).argmax())
        m_ab = (x_ab[..., ch] - bg_b[ch]) / (fg_b[ch] - bg_b[ch])
        assert np.abs(m_a - m_ab).max() < 0.02
        assert corner(digits.truth("test", k)) == corner(b)
        # the reverse pair: B's shape in A's colours
        assert pairs.input[k + 1] == pairs.exemplar[k] and corner(digits.truth("test", k + 1)) == corner(a)
        assert digits.region("test", k).min() == 255


def test_digits_multi(tmp_path):
    out = tmp_path / "m.h5"
    prepare_digits(DigitsRequest(out, layout="multi", count=20, test_count=6))
    s = open_store(out)
    assert s.image_size == (64, 64) and len(s.pairs("test")) == 12
    img = s.image("train", int(s.indices("train", "b")[0]))
    colours = {tuple(int(v) for v in c) for c in img.reshape(-1, 3)}
    assert len(colours) > 20  # ten class colours plus anti-aliased edges
    assert corner(img) in {(0, 0, 0), (255, 255, 255)}


def test_digits_deterministic(tmp_path):
    a = prepare_digits(DigitsRequest(tmp_path / "a.h5", count=30, test_count=10, seed=5))
    b = prepare_digits(DigitsRequest(tmp_path / "b.h5", count=30, test_count=10, seed=5))
    c = prepare_digits(DigitsRequest(tmp_path / "c.h5", count=40, test_count=10, seed=5))
    d = prepare_digits(DigitsRequest(tmp_path / "d.h5", count=30, test_count=10, seed=6))
    sa, sb, sc, sd = (open_store(r.out) for r in (a, b, c, d))
    assert sa.provenance["checksum"] == sb.provenance["checksum"]
    assert sd.provenance["checksum"] != sa.provenance["checksum"]
    # the test set does not depend on the training count
    for i in range(20):
        assert np.array_equal(sa.image("test", i), sc.image("test", i))


# -- faces


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    out = tmp_path_factory.mktemp("f") / "faces.h5"
    prepare_faces(FacesRequest(out, count=64, test_count=48, pairs=60, seed=2))
    return open_store(out)


def test_faces_layout(faces):
    assert faces.attributes == FA.ATTRIBUTES and faces.mask_names == FA.ATTRIBUTES
    assert faces.count("train") == 64 and faces.count("test") == 48 and len(faces.pairs("test")) == 60
    assert faces.masks("train", 0).shape == (10, 64, 64)


def test_face_labels_are_consistent(faces):
    lab = faces.labels("train").astype(bool)
    col = {a: i for i, a in enumerate(FA.ATTRIBUTES)}
    assert (lab[:, :3].sum(1) <= 1).all()
    assert np.array_equal(lab[:, col["No_Beard"]], ~(lab[:, col["Goatee"]] | lab[:, col["Mustache"]]))
    for a in FA.ATTRIBUTES:
        assert 0 < lab[:, col[a]].sum() < len(lab) or a in ("Goatee", "Mustache")


def test_face_masks_cover_features(faces):
    col = {a: i for i, a in enumerate(FA.ATTRIBUTES)}
    for i in range(20):
        m = faces.masks("train", i) > 0
        assert m[col["Smiling"]].any() and m[col["Goatee"]].any()  # potential region even when absent
        assert not m[col["Goatee"]][:10].any()  # the chin area is not at the top of the image
        assert m[col["Black_Hair"]].sum() > m[col["Smiling"]].sum()
        assert np.array_equal(m[col["Black_Hair"]], m[col["Blond_Hair"]])


def test_face_ground_truth_changes_only_the_region(faces):
    pairs = faces.pairs("test")
    labels = faces.labels("test")
    changed = 0
    for k in range(len(pairs)):
        x = faces.image("test", pairs.input[k])
        t = faces.truth("test", k)
        region = faces.region("test", k) > 0
        assert np.array_equal(x[~region], t[~region])  # background and everything else untouched
        chosen = pairs.chosen[k].astype(bool)
        assert chosen.any()
        want = np.where(chosen, labels[pairs.exemplar[k]], labels[pairs.input[k]])
        if not np.array_equal(want, labels[pairs.input[k]]):
            assert (x != t).any() and region.any()
            changed += 1
    assert changed > len(pairs) // 2


def test_faces_ground_truth_is_a_rerender():
    rng = np.random.default_rng(0)
    p = FA.sample_params(8, rng)
    images, _ = FA.render(p, 64)
    groups = np.zeros((8, len(FA.GROUPS)), bool)
    groups[:, list(FA.GROUPS).index("smile")] = True
    p["smiling"] = np.arange(8) % 2 == 0
    images, _ = FA.render(p, 64)
    inputs, exemplars = np.arange(0, 8, 2), np.arange(1, 8, 2)
    truth, region = FA.ground_truth(p, inputs, exemplars, groups[:4], 64, images)
    q = dict(p)
    q["smiling"] = p["smiling"].copy()
    q["smiling"][inputs] = False
    expected, _ = FA.render(q, 64)
    assert np.array_equal(truth, expected[inputs])
    assert (region > 0).sum() < 0.1 * region.size  # the mouth is a small part of the face


def test_faces_deterministic(tmp_path):
    a = prepare_faces(FacesRequest(tmp_path / "a.h5", count=8, test_count=4, seed=9))
    b = prepare_faces(FacesRequest(tmp_path / "b.h5", count=8, test_count=4, seed=9))
    assert open_store(a.out).provenance["checksum"] == open_store(b.out).provenance["checksum"]


def test_synthetic_anime_store_has_exact_translations_both_ways(tmp_path):
    from i2icli.prepare.synthetic import AnimeRequest, prepare_anime

    out = tmp_path / "anime.h5"
    prepare_anime(AnimeRequest(out=out, count=6, test_count=3))
    s = open_store(out)
    assert s.domains == ("photo", "anime")
    pairs = s.pairs("test")
    assert pairs is not None and list(pairs.input) == [0, 1, 2, 3, 4, 5]
    # pair k < 3: photo test image k -> its anime rendering; the truth is the anime style of the same parameters
    rng = np.random.default_rng([0, 0, 1, 4])
    p = FA.sample_params(3, rng)
    photo, _ = FA.render(p, 64)
    want, _ = FA.render(FA.anime(p), 64)
    for k in range(3):
        assert np.array_equal(s.image("test", k), photo[k])
        assert np.array_equal(s.truth("test", k), want[k])
        region = s.region("test", k) > 0
        same = np.abs(s.truth("test", k).astype(int) - photo[k].astype(int)).max(-1) <= 2
        assert region.any() and (~region <= same).all()  # outside the region the styles agree
        assert 0.05 < region.mean() < 0.6  # the face, not the background
    # anime test image k (index 3 + k) -> the photo style of its own parameters
    q = FA.sample_params(3, np.random.default_rng([0, 1, 1, 4]))
    back, _ = FA.render(q, 64)
    assert np.array_equal(s.truth("test", 3), back[0])
    assert np.array_equal(s.image("test", 3), FA.render(FA.anime(q), 64)[0][0])


def test_cli_prepare_synthetic_anime_and_its_bad_input(tmp_path):
    from typer.testing import CliRunner

    from i2icli.cli.main import app

    runner = CliRunner()
    out = tmp_path / "anime.h5"
    res = runner.invoke(app, ["prepare", "synthetic", "anime", "--out", str(out), "--count", "4", "--test-count", "2"])
    assert res.exit_code == 0, res.output
    s = open_store(out)
    assert s.domains == ("photo", "anime") and s.pairs("test") is not None
    res = runner.invoke(app, ["prepare", "synthetic", "anime", "--out", str(out), "--count", "4"])
    assert res.exit_code != 0 and "--force" in res.output and "Traceback" not in res.output  # no silent overwrite
    bad = tmp_path / "bad.h5"
    res = runner.invoke(app, ["prepare", "synthetic", "anime", "--out", str(bad), "--size", "32"])
    assert res.exit_code != 0 and "64 or 128" in res.output and not bad.exists()
