"""Inputs left out of a folder are named with their reason: directories named like images, broken
symlinks, symlink loops, hidden image files (``i2i prepare`` summaries, ``i2i translate``'s skipped list)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from i2icli.cli.main import app
from i2icli.images import list_images, scan_images

runner = CliRunner()
pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")


def _png(path: Path, colour=(200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (24, 24), colour).save(path)
    return path


def odd_entries(folder: Path) -> dict[str, str]:
    """A folder with two good images and one entry of each kind that must be named; name -> reason fragment."""
    _png(folder / "a.png")
    _png(folder / "b.jpg")
    (folder / "x.png").mkdir()  # a directory named like an image
    _png(folder / "x.png" / "inner.png")
    os.symlink(folder / "gone.png.target", folder / "gone.png")  # dangling
    os.symlink("loop.png", folder / "loop.png")  # points at itself
    os.symlink("ping.png", folder / "pong.png")  # a two-link cycle
    os.symlink("pong.png", folder / "ping.png")
    _png(folder / "._a.png")  # macOS resource fork: hidden
    return {"x.png": "a folder named like an image", "gone.png": "broken symlink", "loop.png": "symlink loop",
            "ping.png": "symlink loop", "pong.png": "symlink loop", "._a.png": "hidden file"}


def test_scan_names_every_entry_it_leaves_out(tmp_path):
    folder = tmp_path / "in"
    expected = odd_entries(folder)
    (folder / "README.txt").write_text("not an input")
    (folder / "sub").mkdir()
    os.symlink(folder / "a.png", folder / "link.png")  # a symlink to an image is an image
    scan = scan_images(folder)
    assert [p.name for p in scan.images] == ["a.png", "b.jpg", "link.png"]
    reasons = {p.name: why for p, why in scan.left_out}
    assert set(reasons) == set(expected)
    for name, fragment in expected.items():
        assert fragment in reasons[name], (name, reasons[name])
    assert "gone.png.target" in reasons["gone.png"]  # the missing target is named
    ignored = {p.name: why for p, why in scan.ignored}
    assert set(ignored) == {"README.txt", "sub"}
    assert list_images(folder) == scan.images


def test_recursive_scan_follows_folder_links_and_names_loops_and_duplicates(tmp_path):
    root = tmp_path / "root"
    _png(root / "a" / "1.png")
    _png(root / "b" / "2.png")
    os.symlink("..", root / "a" / "up")  # loops back to root
    os.symlink(root / "b", root / "b-again")  # a second way into b/
    os.symlink(tmp_path / "elsewhere", root / "linked")  # a folder outside the tree, by link
    _png(tmp_path / "elsewhere" / "3.png")
    _png(root / ".cache" / "4.png")
    scan = scan_images(root, recursive=True)
    assert [p.relative_to(root).as_posix() for p in scan.images] == ["a/1.png", "b/2.png", "linked/3.png"]
    reasons = {p.relative_to(root).as_posix(): why for p, why in scan.left_out}
    assert set(reasons) == {"a/up", "b-again"}  # b/ sorts first, so b-again is the second way in
    assert "symlink loop" in reasons["a/up"]
    assert "the same folder as" in reasons["b-again"]
    assert {p.name for p, _ in scan.ignored} == {".cache"}


def test_prepare_unpaired_summary_names_left_out_entries(tmp_path):
    root = tmp_path / "tree"
    expected = odd_entries(root / "trainA")
    _png(root / "trainB" / "b.png", (10, 200, 10))
    (root / "trainB" / "notes.txt").write_text("x")
    res = runner.invoke(app, ["prepare", "unpaired", str(root), "--out", str(tmp_path / "s.h5"), "--size", "16",
                              "-j", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    skipped = {s["input"]: s["reason"] for s in data["skipped"]}
    assert set(skipped) == {f"trainA/{n}" for n in expected}
    for name, fragment in expected.items():
        assert fragment in skipped[f"trainA/{name}"]
    assert data["written"]["train/A"] == 2
    assert any("notes.txt" in n and "no image file extension" in n for n in data["notes"])
    res = runner.invoke(app, ["prepare", "unpaired", str(root), "--out", str(tmp_path / "t.h5"), "--size", "16",
                              "-j", "1", "--strict"])
    assert res.exit_code == 2 and "--strict" in res.output and "Traceback" not in res.output


def test_prepare_sketch_recursive_names_a_loop(tmp_path):
    root = tmp_path / "photos"
    _png(root / "a.png")
    _png(root / "deep" / "b.png")
    os.symlink("..", root / "deep" / "back")
    os.symlink("nowhere.png", root / "deep" / "dangling.png")
    res = runner.invoke(app, ["prepare", "sketch", str(root), "--out", str(tmp_path / "k.h5"), "--size", "16",
                              "-j", "1", "--json"])
    assert res.exit_code == 0, res.output
    skipped = {s["input"]: s["reason"] for s in json.loads(res.output)["skipped"]}
    assert "symlink loop" in skipped["deep/back"] and "broken symlink" in skipped["deep/dangling.png"]
