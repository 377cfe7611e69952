"""``i2i prepare`` on real folder layouts made here, including every kind of broken input."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from i2icli.cli.main import app
from i2icli.data.store import open_store
from i2icli.errors import DataError
from i2icli.prepare.folders import FolderRequest, prepare_afhq, prepare_unpaired

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, ["prepare", *map(str, args)])


def solid(path: Path, colour=(200, 30, 30), size=(40, 30), mode="RGB", fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).convert(mode).save(path, format=fmt)
    return path


def broken_files(folder: Path) -> dict[str, str]:
    """Write one file per kind of bad input; returns name -> expected reason fragment."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "good.png"
    solid(good)
    data = good.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    solid(folder / "photo.jpg", size=(64, 48))
    jpg = (folder / "photo.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(jpg[: len(jpg) // 3])
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is not an image\n")
    solid(folder / "tiny.png", size=(4, 4))
    good.unlink()
    (folder / "photo.jpg").unlink()
    return {"truncated.png": "corrupt or truncated", "truncated.jpg": "corrupt or truncated",
            "empty.png": "empty file", "notes.jpg": "not an image", "tiny.png": "too small"}


def odd_but_valid(folder: Path) -> list[str]:
    """Images that must be read correctly: CMYK, 16-bit, grey, RGBA, EXIF-rotated, big, odd names."""
    folder.mkdir(parents=True, exist_ok=True)
    solid(folder / "cmyk.jpg", mode="CMYK")
    Image.fromarray(np.full((30, 40), 40000, np.uint16)).save(folder / "sixteen bit.png")
    solid(folder / "grey.png", mode="L")
    rgba = Image.new("RGBA", (40, 30), (0, 0, 255, 0))
    rgba.save(folder / "transparent.png")
    rot = Image.new("RGB", (40, 20), (255, 0, 0))
    rot.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    rot.save(folder / "exif.jpg", exif=exif.tobytes(), quality=95)
    solid(folder / "big.jpg", size=(3000, 2000))
    solid(folder / "ünïcödé näme.png")
    return ["cmyk.jpg", "sixteen bit.png", "grey.png", "transparent.png", "exif.jpg", "big.jpg", "ünïcödé näme.png"]


@pytest.fixture
def unpaired_tree(tmp_path):
    root = tmp_path / "selfie2anime"
    good = odd_but_valid(root / "trainA")
    bad = broken_files(root / "trainA")
    for i in range(3):
        solid(root / "trainB" / f"b{i}.png", colour=(10, 200, 10))
    solid(root / "testA" / "t.png")
    solid(root / "testB" / "t.png", colour=(10, 200, 10))
    return root, good, bad


def test_unpaired_skips_bad_files_and_reads_odd_ones(unpaired_tree, tmp_path):
    root, good, bad = unpaired_tree
    out = tmp_path / "out.h5"
    res = prepare_unpaired(FolderRequest(root, out, size=16, workers=1))
    assert res.written == {"train": len(good) + 3, "train/A": len(good), "train/B": 3, "test": 2, "test/A": 1,
                           "test/B": 1}
    reasons = dict(res.skipped)
    assert set(reasons) == {f"trainA/{n}" for n in bad}
    for name, fragment in bad.items():
        assert fragment in reasons[f"trainA/{name}"], reasons
    s = open_store(out)
    names = list(s.names("train"))
    by_name = {n: s.image("train", i) for i, n in enumerate(names)}
    assert "trainA/ünïcödé näme.png" in names
    assert tuple(by_name["trainA/transparent.png"][8, 8]) == (255, 255, 255)  # alpha over white
    assert tuple(by_name["trainA/sixteen bit.png"][8, 8]) == (156, 156, 156)  # 40000 / 257
    assert tuple(by_name["trainA/grey.png"][8, 8]) == tuple([int(by_name["trainA/grey.png"][8, 8, 0])] * 3)
    exif = by_name["trainA/exif.jpg"].astype(int)
    assert exif[2, 8, 0] > 200 and exif[2, 8, 2] < 60  # red on top after rotation
    assert exif[13, 8, 2] > 200 and exif[13, 8, 0] < 60  # blue at the bottom


def test_workers_do_not_change_the_store(unpaired_tree, tmp_path):
    root, _, _ = unpaired_tree
    a = prepare_unpaired(FolderRequest(root, tmp_path / "a.h5", size=16, workers=1))
    b = prepare_unpaired(FolderRequest(root, tmp_path / "b.h5", size=16, workers=2))
    assert open_store(a.out).provenance["checksum"] == open_store(b.out).provenance["checksum"]
    assert a.skipped == b.skipped


def test_strict_stops_at_the_first_bad_file(unpaired_tree, tmp_path):
    root, _, _ = unpaired_tree
    r = cli("unpaired", root, "--out", tmp_path / "s.h5", "--size", "16", "--workers", "1", "--strict")
    assert r.exit_code == 2 and "error:" in r.output and "--strict" in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "s.h5").exists() and list(tmp_path.glob(".s.h5*")) == []


def test_cli_summary_lists_skipped(unpaired_tree, tmp_path):
    root, _, bad = unpaired_tree
    r = cli("unpaired", root, "--out", tmp_path / "s.h5", "--size", "16", "-j", "1", "--domains", "selfie,anime")
    assert r.exit_code == 0, r.output
    assert f"skipped {len(bad)} input(s)" in r.output and "truncated.jpg" in r.output
    assert open_store(tmp_path / "s.h5").domains == ("selfie", "anime")
    r = cli("unpaired", root, "--out", tmp_path / "s.h5", "--size", "16", "-j", "1", "--json", "--force")
    data = json.loads(r.output)
    assert data["skipped_count"] == len(bad) and data["written"]["train/A"] == 7


def test_very_large_images_are_refused_politely(tmp_path, monkeypatch):
    import i2icli.images as images

    root = tmp_path / "d"
    solid(root / "trainA" / "huge.png", size=(300, 200))
    solid(root / "trainA" / "ok.png", size=(20, 20))
    solid(root / "trainB" / "b.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 50_000)
    res = prepare_unpaired(FolderRequest(root, tmp_path / "o.h5", size=16, workers=1))
    assert res.skipped == [("trainA/huge.png", "image too large (300x200)")]


def test_no_usable_images_exits_non_zero(tmp_path):
    root = tmp_path / "d"
    broken_files(root / "trainA")
    broken_files(root / "trainB")
    r = cli("unpaired", root, "--out", tmp_path / "o.h5", "-j", "1")
    assert r.exit_code == 2 and "no usable images found (10 skipped" in r.output
    assert list(tmp_path.glob("*.h5")) == [] and list(tmp_path.glob(".o.h5*")) == []


def test_empty_folders(tmp_path):
    (tmp_path / "d" / "trainA").mkdir(parents=True)
    (tmp_path / "d" / "trainB").mkdir()
    (tmp_path / "d" / "trainB" / "readme.txt").write_text("x")
    r = cli("unpaired", tmp_path / "d", "--out", tmp_path / "o.h5")
    assert r.exit_code == 2 and "no image files found" in r.output
    r = cli("unpaired", tmp_path / "nothing")
    assert r.exit_code == 2 and "not a folder" in r.output
    (tmp_path / "e").mkdir()
    r = cli("unpaired", tmp_path / "e")
    assert r.exit_code == 2 and "expected trainA/ and trainB/" in r.output


def test_existing_output_needs_force(unpaired_tree, tmp_path):
    root, _, _ = unpaired_tree
    out = tmp_path / "o.h5"
    out.write_text("precious")
    r = cli("unpaired", root, "--out", out, "-j", "1")
    assert r.exit_code == 2 and "--force" in r.output and out.read_text() == "precious"


def test_unwritable_output(unpaired_tree, tmp_path):
    root, _, _ = unpaired_tree
    (tmp_path / "file").write_text("x")
    r = cli("unpaired", root, "--out", tmp_path / "file" / "o.h5", "-j", "1")
    assert r.exit_code == 2 and "cannot write" in r.output and "Traceback" not in r.output


def test_disk_full_during_prepare(tmp_path):
    """RLIMIT_FSIZE makes the store's writes fail mid-way, like a full disk."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    out = tmp_path / "d.h5"
    proc = subprocess.run([sys.executable, "-m", "i2icli.cli.main", "prepare", "synthetic", "digits", "--count", "3000",
                           "--test-count", "10", "--out", str(out)], capture_output=True, text=True, cwd=REPO,
                          preexec_fn=limit, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "error:" in proc.stderr and "disk full" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_afhq(tmp_path):
    root = tmp_path / "afhq"
    for split in ("train", "val"):
        for c, colour in (("cat", (200, 0, 0)), ("dog", (0, 200, 0)), ("wild", (0, 0, 200))):
            for i in range(2 if split == "train" else 1):
                solid(root / split / c / f"{c}{i}.jpg", colour=colour, size=(64, 64))
    res = prepare_afhq(FolderRequest(root, tmp_path / "a.h5", size=32, workers=1))
    s = open_store(res.out)
    assert s.domains == ("cat", "dog", "wild") and s.count("train", "dog") == 2 and s.count("test", "wild") == 1
    assert s.image("test", s.indices("test", "wild")[0])[..., 2].mean() > 180
    with pytest.raises(DataError, match="train/"):
        prepare_afhq(FolderRequest(tmp_path, tmp_path / "b.h5"))


def test_center_crop_option(tmp_path):
    root = tmp_path / "d"
    img = Image.new("RGB", (60, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))  # the central square is blue
    (root / "trainA").mkdir(parents=True)
    img.save(root / "trainA" / "wide.png")
    solid(root / "trainB" / "b.png")
    s = open_store(prepare_unpaired(FolderRequest(root, tmp_path / "c.h5", size=16, crop="center", workers=1)).out)
    assert s.image("train", 0)[..., 2].min() > 200
    s = open_store(prepare_unpaired(FolderRequest(root, tmp_path / "n.h5", size=16, workers=1)).out)
    assert s.image("train", 0)[8, 0, 0] > 200  # squashed: red stays at the left


def test_info_cli(tmp_path):
    out = tmp_path / "d.h5"
    assert cli("synthetic", "digits", "--count", "20", "--test-count", "4", "--out", out).exit_code == 0
    r = cli("info", out, "--json", "--verify")
    data = json.loads(r.output)
    assert data["checksum_ok"] and data["splits"]["test"]["pairs"] == 8 and data["domains"] == ["a", "b"]
    r = cli("info", f"{out}:test/b")
    assert r.exit_code == 0 and "ground-truth pairs" in r.output and "i2i prepare synthetic digits" in r.output
    import h5py

    with h5py.File(out, "a") as f:
        f["train/images"][3, 0, 0, 0] ^= 1
    r = cli("info", out, "--verify")
    assert r.exit_code == 1 and "MISMATCH" in r.output and "modified or damaged" in r.output
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    r = cli("info", tmp_path / "bad.h5")
    assert r.exit_code == 2 and "bad.h5" in r.output and "Traceback" not in r.output


def test_synthetic_cli_errors(tmp_path):
    r = cli("synthetic", "digits", "--layout", "triple", "--out", tmp_path / "x.h5")
    assert r.exit_code == 2 and "single or multi" in r.output
    r = cli("synthetic", "faces", "--size", "100", "--out", tmp_path / "x.h5")
    assert r.exit_code == 2 and "64 or 128" in r.output
