"""``i2i prepare sketch --fg-mask white``: SEGIN's foreground segmentation target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from i2icli.cli.main import app
from i2icli.data.store import open_store
from i2icli.images import save_png
from i2icli.prepare.sketch import foreground_white


def test_foreground_is_the_complement_of_border_connected_white_with_holes_filled() -> None:
    img = np.full((20, 20, 3), 255, np.uint8)
    img[4:16, 4:16] = (200, 30, 30)  # the object
    img[8:12, 8:12] = 255  # a white hole inside it
    img[0:2, 18:20] = 250  # near-white at the border: still background
    m = foreground_white(img)
    assert m.dtype == np.uint8 and set(np.unique(m)) == {0, 255}
    assert (m[4:16, 4:16] == 255).all()  # object and its enclosed white hole
    assert (m[:4] == 0).all() and (m[:, :4] == 0).all()
    assert foreground_white(np.full((8, 8, 3), 255, np.uint8)).max() == 0


def test_cli_sketch_with_fg_mask(tmp_path: Path) -> None:
    src = tmp_path / "shoes" / "train"
    src.mkdir(parents=True)
    for i in range(3):
        photo = np.full((32, 32, 3), 255, np.uint8)
        photo[8:24, 6 + i:26] = (40 * i, 90, 160)
        edges = np.full((32, 32, 3), 255, np.uint8)
        save_png(src / f"{i}.png", np.concatenate([edges, photo], axis=1))  # pix2pix A|B
    out = tmp_path / "s.h5"
    res = CliRunner().invoke(app, ["prepare", "sketch", str(tmp_path / "shoes"), "--method", "ab", "--size", "32",
                                   "--fg-mask", "white", "--out", str(out), "-j", "1"])
    assert res.exit_code == 0, res.output
    s = open_store(out)
    assert s.mask_names == ("foreground",) and s.paired
    m = s.masks("train", 1)[0]
    assert m[16, 16] == 255 and m[0, 0] == 0
