"""Regenerate the example images of the synthetic benchmarks shown in docs/DATA.md.

    python examples/make_data_examples.py

Everything is read back from stores written by the real `prepare` functions
(seed 0), so the pictures show exactly what `i2i prepare synthetic ...` writes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from i2icli.data.store import open_store  # noqa: E402
from i2icli.prepare.synthetic import DigitsRequest, FacesRequest, prepare_digits, prepare_faces  # noqa: E402


def grid(rows: list[list[np.ndarray]], scale: int, gap: int = 2) -> Image.Image:
    h, w = rows[0][0].shape[:2]
    out = np.full((len(rows) * (h + gap) - gap, len(rows[0]) * (w + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            img = np.repeat(img[..., None], 3, 2) if img.ndim == 2 else img
            out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = img
    return Image.fromarray(out).resize((out.shape[1] * scale, out.shape[0] * scale), Image.NEAREST)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = open_store(prepare_digits(DigitsRequest(Path(tmp) / "d.h5", count=64, test_count=8)).out)
        a, b = d.indices("train", "a"), d.indices("train", "b")
        grid([[d.image("train", i) for i in a[:12]], [d.image("train", i) for i in b[:12]]], 3).save(
            HERE / "synthetic_digits_train.png")
        p = d.pairs("test")  # rows: x_A, x_B (exemplar), x_AB, x_BA
        cols = [[d.image("test", p.input[k]), d.image("test", p.exemplar[k]),
                 d.truth("test", k), d.truth("test", k + 1)] for k in range(0, 12, 2)]
        grid([list(c) for c in zip(*cols, strict=True)], 3).save(HERE / "synthetic_digits_test_pairs.png")

        m = open_store(prepare_digits(DigitsRequest(Path(tmp) / "m.h5", layout="multi", count=8, test_count=4)).out)
        p = m.pairs("test")
        grid([[m.image("test", p.input[k]), m.image("test", p.exemplar[k]), m.truth("test", k)] for k in (0, 2)], 2
             ).save(HERE / "synthetic_digits_multi_pairs.png")

        f = open_store(prepare_faces(FacesRequest(Path(tmp) / "f.h5", count=16, test_count=16, pairs=6)).out)
        grid([[f.image("train", i) for i in range(r * 8, r * 8 + 8)] for r in range(2)], 2).save(
            HERE / "synthetic_faces_train.png")
        masks = f.masks("train", 0)
        grid([[f.image("train", 0)] + [masks[j] for j in (0, 3, 4, 5, 6, 7, 8, 9)]], 2).save(
            HERE / "synthetic_faces_masks.png")
        p = f.pairs("test")
        grid([[f.image("test", p.input[k]), f.image("test", p.exemplar[k]), f.truth("test", k), f.region("test", k)]
              for k in range(6)], 2).save(HERE / "synthetic_faces_test_pairs.png")
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("synthetic_*.png"))))


if __name__ == "__main__":
    main()
