"""Sample grids: a titled PNG with one row per example and one column per view.

Images (C=3, [-1, 1]) are shown as they are; maps (C=1, [0, 1]: attention,
masks) are shown with a perceptual colour map (dark blue -> yellow, close to
viridis) so that a person can read them at a glance.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from i2icli.images import save_png

# Five anchor colours of viridis; intermediate values are linearly interpolated.
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64)


def colorize(map01: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8 with a viridis-like colour map."""
    x = np.clip(np.nan_to_num(map01, nan=0.0), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    lo = np.floor(x).astype(int).clip(0, len(_VIRIDIS) - 2)
    frac = (x - lo)[..., None]
    rgb = _VIRIDIS[lo] * (1 - frac) + _VIRIDIS[lo + 1] * frac
    return rgb.round().astype(np.uint8)


def tile(t: torch.Tensor, size: int) -> np.ndarray:
    """One (C,H,W) tensor -> (size, size, 3) uint8 tile."""
    t = t.detach().float().cpu()
    if t.shape[-1] != size or t.shape[-2] != size:
        t = torch.nn.functional.interpolate(t[None], size=(size, size), mode="nearest")[0]
    if t.shape[0] == 1:
        return colorize(t[0].numpy())
    arr = t.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return arr


def make_grid(columns: list[tuple[str, torch.Tensor]], tile_size: int | None = None, pad: int = 2) -> np.ndarray:
    """Compose ``[(title, (B,C,H,W)), ...]`` into an (H, W, 3) uint8 grid with a title row."""
    if not columns:
        raise ValueError("no columns to draw")
    rows = min(t.shape[0] for _, t in columns)
    size = tile_size or max(t.shape[-1] for _, t in columns)
    size = max(size, 48)  # keep titles readable for 32 px models
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    titles = [wrap_title(title, size, lambda s: measure.textlength(s, font=font)) for title, _ in columns]
    line_h = 12
    header = 2 + line_h * max(len(t) for t in titles)
    width = len(columns) * (size + pad) + pad
    height = header + rows * (size + pad) + pad
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for c, (_, t) in enumerate(columns):
        for r in range(rows):
            y = header + pad + r * (size + pad)
            x = pad + c * (size + pad)
            canvas[y : y + size, x : x + size] = tile(t[r], size)
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    for c, lines in enumerate(titles):
        x = pad + c * (size + pad)
        for i, line in enumerate(lines):
            draw.text((x + 1, 1 + i * line_h), line, fill=(0, 0, 0), font=font)
    return np.asarray(img)


def wrap_title(title: str, width: float, length: Callable[[str], float]) -> list[str]:
    """Break ``title`` at spaces into lines no wider than ``width``.

    A word wider than that is split, after its last underscore that fits when
    it has one (``Black_`` / ``Hair``), else at the widest prefix that fits.
    """
    lines: list[str] = []
    current = ""
    for word in title.split():
        candidate = f"{current} {word}".strip()
        if length(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while length(word) > width and len(word) > 1:
            cut = len(word)
            while cut > 1 and length(word[:cut]) > width:
                cut -= 1
            joint = word.rfind("_", 0, cut)  # attribute names (Black_Hair) break after an underscore
            cut = joint + 1 if joint > 0 else cut
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current or not lines:
        lines.append(current)
    return lines


def save_grid(path: Path, columns: list[tuple[str, torch.Tensor]]) -> Path:
    return save_png(path, make_grid(columns))
