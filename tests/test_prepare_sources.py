"""``i2i prepare celeba|faces|sketch`` on fixture trees in the real layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata
from typer.testing import CliRunner

from i2icli.cli.main import app
from i2icli.data.store import open_store
from i2icli.errors import DataError
from i2icli.prepare.celeba import BRIDGE_ATTRIBUTES, LOMIT_ATTRIBUTES, CelebARequest, prepare_celeba
from i2icli.prepare.faces import FacesRequest, detect_faces, mtcnn_available, prepare_faces
from i2icli.prepare.sketch import CannyParams, SketchRequest, canny, prepare_sketch, xdog

runner = CliRunner()

CELEBA_40 = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
             "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
             "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
             "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
             "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()


def aligned_face(i: int) -> Image.Image:
    """178x218 like img_align_celeba; 20-px red bands at top and bottom are outside the 178 center crop."""
    img = Image.new("RGB", (178, 218), (0, 0, 10 * i))
    img.paste((255, 0, 0), (0, 0, 178, 20))
    img.paste((255, 0, 0), (0, 198, 178, 218))
    return img


def make_celeba(root: Path, n: int = 8, bad_rows: bool = False) -> Path:
    (root / "img_align_celeba").mkdir(parents=True)
    rows = []
    for i in range(1, n + 1):
        name = f"{i:06d}.jpg"
        aligned_face(i).save(root / "img_align_celeba" / name, quality=95)
        values = [1 if (i + k) % 3 == 0 else -1 for k in range(40)]
        rows.append(name + " " + " ".join(f"{v:2d}" for v in values))  # the release pads with spaces
    if bad_rows:
        rows[2] = rows[2].rsplit(" ", 1)[0]  # 39 values
        rows[4] = rows[4].replace(" 1", " x", 1)
        rows.append(f"{n + 1:06d}.jpg " + " ".join(["-1"] * 40))  # listed but the image is missing
    text = f"{len(rows)}\n" + " ".join(CELEBA_40) + " \n" + "\n".join(rows) + "\n"
    (root / "list_attr_celeba.txt").write_text(text)
    part = "\n".join(f"{i:06d}.jpg {0 if i <= n - 2 else 2}" for i in range(1, n + 1))
    (root / "list_eval_partition.txt").write_text(part + "\n")
    return root


def test_celeba_aligned(tmp_path):
    root = make_celeba(tmp_path / "celeba")
    res = prepare_celeba(CelebARequest(root, tmp_path / "c.h5", size=32, test_count=3, workers=1))
    s = open_store(res.out)
    assert s.attributes == LOMIT_ATTRIBUTES and s.count("train") == 5 and s.count("test") == 3
    img = s.image("train", 0)
    assert img.shape == (32, 32, 3) and img[..., 0].max() < 40  # the red bands were cropped away
    names = list(s.names("train")) + list(s.names("test"))
    i = names.index("000004.jpg")
    split, idx = ("train", i) if i < 5 else ("test", i - 5)
    row = s.labels(split)[idx]
    expected = [1 if (4 + CELEBA_40.index(a)) % 3 == 0 else 0 for a in LOMIT_ATTRIBUTES]
    assert list(row) == expected
    assert s.provenance["parameters"]["split"] == "random"


def test_celeba_presets_official_split_and_attributes(tmp_path):
    root = make_celeba(tmp_path / "celeba")
    s = open_store(prepare_celeba(CelebARequest(root, tmp_path / "b.h5", preset="bridge", split="official", size=16,
                                                workers=1)).out)
    assert s.attributes == BRIDGE_ATTRIBUTES and list(s.names("test")) == ["000007.jpg", "000008.jpg"]
    s = open_store(prepare_celeba(CelebARequest(root, tmp_path / "a.h5", attributes=("Male", "Young"), size=16,
                                                test_count=0, limit=4, workers=1)).out)
    assert s.attributes == ("Male", "Young") and s.count("train") == 4 and s.splits == ("train",)
    with pytest.raises(DataError, match="no attribute 'Happy'"):
        prepare_celeba(CelebARequest(root, tmp_path / "x.h5", attributes=("Happy",)))


def test_celeba_malformed_and_missing_rows(tmp_path):
    root = make_celeba(tmp_path / "celeba", bad_rows=True)
    res = prepare_celeba(CelebARequest(root, tmp_path / "c.h5", size=16, test_count=2, workers=1))
    reasons = dict(res.skipped)
    assert "expected a file name and 40 values, got 39" in reasons["list_attr_celeba.txt:5"]
    assert "values must be 1 or -1" in reasons["list_attr_celeba.txt:7"]
    assert "cannot read" in reasons["000009.jpg"]
    assert res.total == 6
    aligned_face(1).save(root / "img_align_celeba" / "999999.jpg")  # an image without a label row
    res = prepare_celeba(CelebARequest(root, tmp_path / "d.h5", size=16, test_count=2, workers=1))
    # 000003 and 000005 have malformed rows, 999999 none
    assert any("3 image(s) in img_align_celeba/ have no usable row in list_attr_celeba.txt" in n for n in res.notes)
    r = runner.invoke(app, ["prepare", "celeba", "--root", str(root), "--out", str(tmp_path / "s.h5"), "--strict"])
    assert r.exit_code == 2 and "list_attr_celeba.txt:5: malformed row" in r.output


def test_celeba_layout_errors(tmp_path):
    r = runner.invoke(app, ["prepare", "celeba", "--root", str(tmp_path)])
    assert r.exit_code == 2 and "list_attr_celeba.txt" in r.output
    (tmp_path / "list_attr_celeba.txt").write_text("1\n")
    (tmp_path / "img_align_celeba").mkdir()
    r = runner.invoke(app, ["prepare", "celeba", "--root", str(tmp_path)])
    assert r.exit_code == 2 and "too short" in r.output


def test_celeba_in_the_wild_uses_official_boxes(tmp_path):
    root = tmp_path / "celeba"
    (root / "img_celeba").mkdir(parents=True)
    img = Image.new("RGB", (300, 200), (255, 0, 0))
    img.paste((0, 0, 255), (100, 50, 160, 110))  # the "face" box is blue
    img.save(root / "img_celeba" / "000001.jpg", quality=95)
    (root / "list_attr_celeba.txt").write_text("1\n" + " ".join(CELEBA_40) + "\n000001.jpg " + " ".join(["1"] * 40))
    (root / "list_bbox_celeba.txt").write_text("1\nimage_id x_1 y_1 width height\n"
                                               "000001.jpg    100    50     60     60\n")
    res = prepare_celeba(CelebARequest(root, tmp_path / "w.h5", size=16, test_count=0, margin=0.0, workers=1))
    s = open_store(res.out)
    assert s.image("train", 0)[2:-2, 2:-2, 2].min() > 200
    assert "list_bbox_celeba.txt" in res.notes[0]


# -- faces


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos") / "selfies"
    root.mkdir()
    face = skdata.astronaut()
    Image.fromarray(face).save(root / "astronaut.jpg", quality=92)
    Image.fromarray(np.concatenate([face, face[:, ::-1]], 1)).save(root / "two people.jpg", quality=92)
    Image.fromarray(skdata.coffee()).save(root / "coffee.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    return root


def test_detector_finds_the_face():
    boxes = detect_faces(skdata.astronaut())
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert 150 < x + w / 2 < 260 and 80 < y + h / 2 < 160  # the astronaut's face
    assert detect_faces(skdata.coffee()) == []


def test_prepare_faces_reports_none_and_several(photos, tmp_path):
    res = prepare_faces(FacesRequest((photos,), tmp_path / "f.h5", size=64, workers=1))
    assert res.written["train/selfies"] == 2
    reasons = dict(res.skipped)
    assert reasons["selfies/coffee.png"] == "no face found" and "not an image" in reasons["selfies/broken.jpg"]
    assert any("two people.jpg: 2 faces, kept the largest" in n for n in res.notes)
    res = prepare_faces(FacesRequest((photos,), tmp_path / "all.h5", size=64, multiple="all", workers=1))
    assert res.written["train"] == 3
    assert "selfies/two people.jpg#face1" in list(open_store(res.out).names("train"))
    res = prepare_faces(FacesRequest((photos,), tmp_path / "skip.h5", size=64, multiple="skip", workers=1))
    assert res.written["train"] == 1 and "2 faces (--multiple skip)" in dict(res.skipped)["selfies/two people.jpg"]


def test_face_crop_is_centred_on_the_face(photos, tmp_path):
    res = prepare_faces(FacesRequest((photos,), tmp_path / "f.h5", size=64, margin=0.0, workers=1))
    s = open_store(res.out)
    i = list(s.names("train")).index("selfies/astronaut.jpg")
    crop = s.image("train", i).astype(float)
    full = np.asarray(Image.fromarray(skdata.astronaut()).resize((64, 64))).astype(float)
    assert np.abs(crop - full).mean() > 20  # a real crop, not the whole photo
    assert crop[28:36, 28:36].mean(axis=(0, 1))[0] > crop[28:36, 28:36].mean(axis=(0, 1))[2]  # skin: red > blue


def test_faces_cli_and_missing_mtcnn_extra(photos, tmp_path, monkeypatch):
    r = runner.invoke(app, ["prepare", "faces", str(photos), "--out", str(tmp_path / "f.h5"), "--size", "32",
                            "-j", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["skipped_count"] == 2
    import sys

    import i2icli.prepare.faces as faces_mod

    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)  # as if the extra were not installed
    monkeypatch.setattr(faces_mod, "_DETECTORS", {})
    r = runner.invoke(app, ["prepare", "faces", str(photos), "--detector", "mtcnn", "--out", str(tmp_path / "m.h5")])
    assert r.exit_code == 2 and "pip install 'facenet-pytorch==2.5.3'" in r.output
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.skipif(not mtcnn_available(), reason="optional extra facenet-pytorch not installed")
def test_mtcnn_detector_and_alignment(tmp_path):
    from i2icli.prepare.faces import detect_landmarks, level_eyes

    boxes = detect_faces(skdata.astronaut(), "mtcnn")
    assert len(boxes) >= 1 and 150 < boxes[0][0] + boxes[0][2] / 2 < 260
    tilted = np.asarray(Image.fromarray(skdata.astronaut()).rotate(-20, resample=Image.BILINEAR, center=(220, 110)))
    box, points = detect_landmarks(tilted)[0]
    assert points[1, 1] - points[0, 1] > 10  # the right eye is clearly lower
    level = detect_landmarks(level_eyes(tilted, box, points))[0][1]
    assert abs(level[1, 1] - level[0, 1]) < 3
    folder = tmp_path / "tilted"
    folder.mkdir()
    Image.fromarray(tilted).save(folder / "t.png")
    res = prepare_faces(FacesRequest((folder,), tmp_path / "a.h5", size=32, detector="mtcnn", align=True, workers=1))
    assert res.total == 1


def test_align_needs_mtcnn(tmp_path):
    with pytest.raises(DataError, match="--align needs --detector mtcnn"):
        prepare_faces(FacesRequest((tmp_path,), tmp_path / "a.h5", align=True))


# -- sketch


def test_xdog_and_canny_draw_edges():
    img = np.full((64, 64, 3), 230, np.uint8)
    img[16:48, 16:48] = 20  # a dark square
    for sk in (xdog(img), canny(img, CannyParams(sigma=1.0))):
        assert sk.shape == (64, 64, 3) and sk.dtype == np.uint8
        assert sk[2:10, 2:10].min() > 240 and sk[28:36, 28:36].min() > 240  # flat regions stay white
        assert sk[14:18, 20:44].min() < 60  # the edge is drawn dark


def test_prepare_sketch_xdog(tmp_path):
    root = tmp_path / "anime"
    root.mkdir()
    for i in range(4):
        Image.fromarray(skdata.astronaut()[::4, ::4]).rotate(10 * i).save(root / f"{i}.png")
    (root / "bad.png").write_bytes(b"")
    res = prepare_sketch(SketchRequest(root, tmp_path / "s.h5", size=32, test_count=2, workers=1))
    s = open_store(res.out)
    assert s.paired and res.total == 4 and res.skipped == [("bad.png", "empty file (0 bytes)")]
    src = s.source("train", 0)
    assert (src[..., 0] == src[..., 1]).all() and src.min() < 100 and np.median(src) > 200


def test_prepare_sketch_ab(tmp_path):
    root = tmp_path / "edges2shoes"
    for split, n in (("train", 3), ("val", 2)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            ab = Image.new("RGB", (64, 32), (255, 255, 255))
            ab.paste((200, 40, 40), (32, 0, 64, 32))  # B (photo) on the right
            ab.save(root / split / f"{i}_AB.jpg", quality=95)
    Image.new("RGB", (32, 32)).save(root / "train" / "square.jpg")
    r = runner.invoke(app, ["prepare", "sketch", str(root), "--method", "ab", "--size", "16", "-j", "1",
                            "--out", str(tmp_path / "e.h5")])
    assert r.exit_code == 0, r.output
    s = open_store(tmp_path / "e.h5")
    assert s.count("train") == 3 and s.count("test") == 2
    assert s.source("train", 0).min() > 240 and abs(int(s.image("train", 0)[8, 8, 0]) - 200) < 10
    assert "not a side-by-side AB image" in r.output
    r = runner.invoke(app, ["prepare", "sketch", str(root), "--method", "ab", "--size", "16", "-j", "1", "--reverse",
                            "--out", str(tmp_path / "r.h5")])
    assert open_store(tmp_path / "r.h5").image("train", 0).min() > 240


def test_celeba_bridge_preset_uses_the_attgan_crop(tmp_path):
    """--preset bridge: the 170x170 window at (top 26, left 3), bicubic, as BridgeGAN's TF code (not the 178 centre)."""
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    img = np.zeros((218, 178, 3), np.uint8)
    img[:] = (255, 0, 0)
    img[26:196, 3:173] = (0, 200, 0)  # exactly the AttGAN window is green
    img[26:196, 3:4] = (0, 0, 255)  # its first column blue: a centre crop would start at column 0 and miss it
    Image.fromarray(img).save(root / "img_align_celeba" / "000001.png")
    (root / "list_attr_celeba.txt").write_text("1\n" + " ".join(CELEBA_40) + "\n000001.png " + " ".join(["1"] * 40))
    s = open_store(prepare_celeba(CelebARequest(root, tmp_path / "b.h5", preset="bridge", size=170, test_count=0,
                                                workers=1)).out)
    out = s.image("train", 0)
    assert (out[:, 1:] == (0, 200, 0)).all() and (out[:, 0] == (0, 0, 255)).all()  # pixel-exact window
    assert "attgan" in s.provenance["parameters"]["crop"]
    s = open_store(prepare_celeba(CelebARequest(root, tmp_path / "c.h5", preset="bridge", size=32, test_count=0,
                                                workers=1)).out)
    assert s.image("train", 0)[2:-2, 2:-2, 0].max() < 30  # no red from outside the window
    s = open_store(prepare_celeba(CelebARequest(root, tmp_path / "d.h5", preset="bridge", crop="stargan", size=32,
                                                test_count=0, workers=1)).out)
    assert s.image("train", 0)[0, 2:-2, 0].min() > 150  # the centre 178 square keeps red rows above the window
