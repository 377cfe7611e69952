"""Procedural faces with CelebA-named attributes, region masks and exact ground-truth translations.

The benchmark checks what LOMIT (and every exemplar/attribute translator)
claims: translating the chosen attributes changes the right region and leaves
everything else (background, face geometry, other attributes) untouched.

Each face is drawn from a parameter vector (:data:`FIELDS`) by a batch-vectorised
renderer with anti-aliased shapes (coverage = clip(0.5 - signed distance / pixel)):
background (flat, gradient, stripes or blobs, two colours), clothes, neck, long
back hair, face ellipse (skin tone), eye shadow, eyes, top hair, eyebrows,
nose, lips, teeth, moustache, goatee.

Attributes (CelebA names, LOMIT's ten) and what they control
-------------------------------------------------------------
``Black_Hair`` / ``Blond_Hair`` / ``Brown_Hair``  hair colour (a fourth, auburn, has all three 0);
                                                  facial hair takes the hair colour
``Smiling``           open smiling mouth with teeth vs closed lips
``Goatee``            chin beard;  ``Mustache``: moustache;  ``No_Beard`` = neither
``Male``              eyebrow thickness (and, when sampling, the odds of the others)
``Heavy_Makeup``      eye shadow (colour drawn per face)
``Wearing_Lipstick``  lip colour (lipstick colour drawn per face; else a skin-derived lip tone)

Sampling follows CelebA's broad correlations: facial hair only on male faces
(p = 0.3 each), make-up and lipstick mostly on female faces, long hair mostly female.

Masks
-----
Per image and attribute, a binary mask (0/255) of the pixels the attribute can
affect: the visible *influence* of the layers it controls, accumulated while
compositing (a layer with coverage a adds a, every later layer multiplies by
1 - a), taken as the union of the face as drawn and the same face with every
optional feature present and the opposite mouth state.  So the ``Goatee`` mask
of a clean-shaven face is where a goatee would be.  Both faces share their
geometry, so they are drawn in one pass: only the five layers those switches
change (eye shadow, mouth, teeth, moustache, goatee) get a second coverage
array, and the background is never composited for an influence map (nothing
tagged lies beneath it).  This gives the same masks, bit for bit, as drawing
the second face separately, at about 2.5x the speed.

Ground-truth pairs
------------------
For a test pair (input, exemplar, chosen attribute group(s)) the truth is the
input's parameters with the exemplar's values for the chosen groups only
(:data:`GROUPS`: hair colour, smile, facial hair, male, make-up, lipstick),
re-rendered.  The stored ``region`` is where the chosen layers are visible in
the input or the truth; outside it the truth equals the input bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Smiling", "Goatee", "Mustache", "No_Beard", "Male",
              "Heavy_Makeup", "Wearing_Lipstick")
HAIR = ("Black_Hair", "Blond_Hair", "Brown_Hair")

# attribute group -> (attributes it labels, parameter fields copied from the exemplar)
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hair": (HAIR, ("hair_cat", "hair_rgb")),
    "smile": (("Smiling",), ("smiling",)),
    "facial_hair": (("Goatee", "Mustache", "No_Beard"), ("goatee", "mustache")),
    "male": (("Male",), ("male",)),
    "makeup": (("Heavy_Makeup",), ("makeup", "shadow_rgb")),
    "lipstick": (("Wearing_Lipstick",), ("lipstick", "lip_rgb")),
}

_HAIR_RGB = np.array([(0.08, 0.07, 0.07), (0.92, 0.80, 0.46), (0.45, 0.28, 0.14), (0.62, 0.22, 0.10)], np.float32)
_SKIN_RGB = np.array([(0.98, 0.84, 0.72), (0.90, 0.72, 0.58), (0.76, 0.57, 0.42), (0.55, 0.38, 0.26),
                      (0.36, 0.24, 0.16)], np.float32)

Params = dict[str, np.ndarray]


def _rgb(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.05, 0.95, (n, 3)).astype(np.float32)


def sample_params(n: int, rng: np.random.Generator) -> Params:
    """``n`` random faces (see the module docstring for the distributions)."""
    male = rng.random(n) < 0.5
    f32 = np.float32
    p: Params = {
        "bg_kind": rng.integers(0, 4, n), "bg1": _rgb(rng, n), "bg2": _rgb(rng, n),
        "bg_freq": rng.uniform(4, 14, n).astype(f32), "bg_angle": rng.uniform(0, np.pi, n).astype(f32),
        "bg_phase": rng.uniform(0, 2 * np.pi, n).astype(f32), "bg_blobs": rng.uniform(-1, 1, (n, 3, 2)).astype(f32),
        "clothes": _rgb(rng, n),
        "cx": rng.uniform(-0.06, 0.06, n).astype(f32), "cy": rng.uniform(-0.02, 0.08, n).astype(f32),
        "rx": rng.uniform(0.40, 0.48, n).astype(f32), "ry": rng.uniform(0.52, 0.60, n).astype(f32),
        "skin": (_SKIN_RGB[rng.integers(0, len(_SKIN_RGB), n)] + rng.uniform(-0.03, 0.03, (n, 3))).astype(f32),
        "long_hair": np.where(male, rng.random(n) < 0.15, rng.random(n) < 0.8),
        "hair_volume": rng.uniform(1.04, 1.16, n).astype(f32), "fringe": rng.uniform(0.40, 0.55, n).astype(f32),
        "eye_dx": rng.uniform(0.16, 0.20, n).astype(f32), "eye_y": rng.uniform(-0.10, -0.04, n).astype(f32),
        "eye_r": rng.uniform(0.045, 0.06, n).astype(f32),
        "iris": np.array([(0.25, 0.15, 0.08), (0.2, 0.35, 0.6), (0.2, 0.45, 0.25)], f32)[rng.integers(0, 3, n)],
        "mouth_y": rng.uniform(0.26, 0.32, n).astype(f32), "mouth_w": rng.uniform(0.12, 0.17, n).astype(f32),
        "hair_cat": rng.choice(4, n, p=[0.3, 0.25, 0.3, 0.15]),
        "smiling": rng.random(n) < 0.5,
        "goatee": male & (rng.random(n) < 0.3), "mustache": male & (rng.random(n) < 0.3),
        "male": male,
        "makeup": np.where(male, rng.random(n) < 0.05, rng.random(n) < 0.6),
        "shadow_rgb": np.array([(0.45, 0.25, 0.55), (0.25, 0.35, 0.65), (0.55, 0.35, 0.25), (0.3, 0.5, 0.4)],
                               f32)[rng.integers(0, 4, n)],
        "lipstick": np.where(male, rng.random(n) < 0.03, rng.random(n) < 0.6),
        "lip_rgb": np.array([(0.80, 0.08, 0.15), (0.60, 0.05, 0.25), (0.90, 0.30, 0.45)], f32)[rng.integers(0, 3, n)],
    }
    p["hair_rgb"] = np.clip(_HAIR_RGB[p["hair_cat"]] + rng.uniform(-0.04, 0.04, (n, 3)), 0, 1).astype(f32)
    return p


def labels_of(p: Params) -> np.ndarray:
    """(B, 10) uint8 CelebA-style labels in {0, 1}, columns = :data:`ATTRIBUTES`."""
    cat = p["hair_cat"]
    cols = [cat == 0, cat == 1, cat == 2, p["smiling"], p["goatee"], p["mustache"], ~(p["goatee"] | p["mustache"]),
            p["male"], p["makeup"], p["lipstick"]]
    return np.stack(cols, 1).astype(np.uint8)


def take(p: Params, index: np.ndarray) -> Params:
    return {k: v[index] for k, v in p.items()}


def with_groups(p: Params, exemplar: Params, groups: np.ndarray) -> Params:
    """``p`` with the fields of the chosen groups (B, n_groups bool) taken from ``exemplar``."""
    out = {k: v.copy() for k, v in p.items()}
    for g, (_, fields) in enumerate(GROUPS.values()):
        rows = groups[:, g]
        for f in fields:
            out[f][rows] = exemplar[f][rows]
    return out


# --------------------------------------------------------------------------- renderer


Window = tuple[slice, slice]
Coord = float | np.ndarray  # one value, or one per face (n,)


Layer = tuple[np.ndarray, Window, tuple[str, ...]]


class _Canvas:
    """Batch compositor over pixel windows; remembers tagged layers for the attributes' visible influence.

    Each shape is evaluated only inside the union of its rows' bounding boxes
    (plus 2 pixels), so small features (eyes, mouth, brows) cost little.

    ``composite``: paint the image (off when only influence maps are wanted).
    ``track``: record every layer's coverage for :func:`_influence`.
    ``potential``: also record the coverage of the *potential* face (every
    optional feature present, the opposite mouth state; see
    :func:`render_with_masks`).  It has the same geometry, so only the few
    layers those switches change get a second coverage (``paint(...,
    potential=...)``); every other layer shares its array with the face as
    drawn, and the face is rendered once instead of twice.
    """

    def __init__(self, n: int, size: int, composite: bool = True, track: bool = False, potential: bool = False):
        lin = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
        self.y, self.x = np.meshgrid(lin, lin, indexing="ij")  # (S, S), y down
        self.n, self.size = n, size
        self.pix = np.float32(2.0 / size)
        self.full: Window = (slice(0, size), slice(0, size))
        # planar: alpha broadcasts without striding
        self.img = np.zeros((3, n, size, size), np.float32) if composite else None
        self.track = track or potential
        self.layers: list[Layer] = []
        self.potential_layers: list[Layer] | None = [] if potential else None

    def window(self, cx: Coord, cy: Coord, rx: Coord, ry: Coord) -> Window:
        """Pixel window covering every row's ellipse (cx, cy, rx, ry) including its anti-aliased edge.

        :meth:`ellipse` scales the normalised radius by min(rx, ry), so the soft
        edge of a thin ellipse reaches ``1 + pix / (2 min(rx, ry))`` radii along
        its long axis; the window grows by that factor (and 2 pixels).
        """
        def span(lo: np.ndarray, hi: np.ndarray) -> slice:
            a = int(np.floor((np.min(lo) + 1) / 2 * self.size)) - 2
            b = int(np.ceil((np.max(hi) + 1) / 2 * self.size)) + 2
            return slice(min(max(a, 0), self.size), min(max(b, 0), self.size))
        cx, cy, rx, ry = (np.asarray(v, np.float32) for v in (cx, cy, rx, ry))
        grow = 1 + 0.5 * self.pix / np.minimum(rx, ry)
        rx, ry = rx * grow, ry * grow
        return span(cy - ry, cy + ry), span(cx - rx, cx + rx)

    def ellipse(self, cx: Coord, cy: Coord, rx: Coord, ry: Coord,
                win: Window | None = None) -> np.ndarray:
        """Anti-aliased coverage (B, h, w) of axis-aligned ellipses (per-row parameters) inside ``win``."""
        win = win or self.full
        x, y = self.x[win], self.y[win]
        cx, cy, rx, ry = (np.asarray(v, np.float32).reshape(-1, 1, 1) for v in (cx, cy, rx, ry))
        r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
        return np.clip(0.5 - (r - 1) * np.minimum(rx, ry) / self.pix, 0, 1)

    def below(self, y0: Coord, win: Window | None = None) -> np.ndarray:
        """Coverage of the half plane y > y0 inside ``win``."""
        y = self.y[win or self.full]
        return np.clip(0.5 + (y - np.asarray(y0, np.float32).reshape(-1, 1, 1)) / self.pix, 0, 1)

    def paint(self, alpha: np.ndarray, colour: np.ndarray, tags: tuple[str, ...] = (),
              win: Window | None = None, potential: Callable[[], np.ndarray] | None = None) -> None:
        """Composite one layer; ``potential`` gives its coverage in the potential face when that differs."""
        win = win or self.full
        if self.img is not None:
            view = self.img[(slice(None), slice(None)) + win]
            # img += alpha * (colour - img), in place
            tmp = np.asarray(colour, np.float32).T.reshape(3, -1, 1, 1) - view
            tmp *= alpha
            view += tmp
        if self.track:
            self.layers.append((alpha, win, tags))
        if self.potential_layers is not None:
            self.potential_layers.append((alpha if potential is None else potential(), win, tags))

    def influence(self) -> dict[str, np.ndarray]:
        """Visible influence of the face as drawn (see :func:`_influence`)."""
        return _influence(self.layers, self.n, self.size)

    def potential_influence(self) -> dict[str, np.ndarray]:
        """Visible influence in the potential face (every optional feature, the opposite mouth)."""
        assert self.potential_layers is not None, "canvas made without potential=True"
        return _influence(self.potential_layers, self.n, self.size)


def _influence(layers: list[Layer], n: int, size: int) -> dict[str, np.ndarray]:
    """Per attribute: sum over its layers of alpha * prod(1 - alpha of every later layer).

    Walks from the top layer down and stops at the lowest tagged layer: the
    layers beneath it (background, clothes, neck) only attenuate what nothing
    reads any more.
    """
    out = {a: np.zeros((n, size, size), np.float32) for a in ATTRIBUTES}
    lowest = next((i for i, (_, _, tags) in enumerate(layers) if tags), len(layers))
    through = np.ones((n, size, size), np.float32)  # transmittance from the top down
    for alpha, win, tags in reversed(layers[lowest:]):
        t = through[(slice(None),) + win]
        if tags:
            visible = alpha * t
            for name in tags:
                out[name][(slice(None),) + win] += visible
        t *= 1 - alpha
    return out


def _background(c: _Canvas, p: Params) -> None:
    kind = p["bg_kind"].reshape(-1, 1, 1)
    ang = p["bg_angle"].reshape(-1, 1, 1)
    t = c.x * np.cos(ang) + c.y * np.sin(ang)  # (B, S, S)
    gradient = (t + 1.5) / 3
    stripes = np.clip(0.5 + 3 * np.sin(p["bg_freq"].reshape(-1, 1, 1) * t + p["bg_phase"].reshape(-1, 1, 1)), 0, 1)
    blobs = np.zeros_like(t)
    for k in range(3):
        bx, by = p["bg_blobs"][:, k, 0].reshape(-1, 1, 1), p["bg_blobs"][:, k, 1].reshape(-1, 1, 1)
        blobs += np.exp(-((c.x - bx) ** 2 + (c.y - by) ** 2) / 0.15)
    blobs = np.clip(blobs, 0, 1)
    mix = np.select([kind == 0, kind == 1, kind == 2], [np.zeros_like(t), gradient, stripes], blobs)
    c.paint(np.ones_like(t), p["bg1"])
    c.paint(mix.astype(np.float32), p["bg2"])


_CHUNK = 32  # faces rendered together: big enough to vectorise, small enough to stay in cache


# --------------------------------------------------------------------------- a second style: "anime"

STYLES = ("photo", "anime")
_ANIME_HAIR_RGB = np.array([(0.16, 0.17, 0.45), (1.00, 0.86, 0.25), (0.80, 0.42, 0.14), (0.92, 0.24, 0.38)],
                           np.float32)


def anime(p: Params) -> Params:
    """The same faces in a flat "anime" style: a pure function of the parameters, so every photo-style face
    has exactly one correct anime rendering (the synthetic selfie2anime of ``i2i prepare synthetic anime``).

    Changes (background, clothes, pose, hair shape, mouth state, facial hair stay): eyes 1.7x larger with a
    vivid iris, pale flat skin, a vivid hair palette per hair colour (the per-face jitter kept), a narrower
    mouth, no nose.  U-GAT-IT's attention should therefore concentrate on the face and hair.
    """
    q = dict(p)
    f32 = np.float32
    q["eye_r"] = (p["eye_r"] * f32(1.7)).astype(f32)
    q["iris"] = np.clip(p["iris"] * f32(1.6) + f32(0.12), 0, 1).astype(f32)
    q["skin"] = (p["skin"] * f32(0.35) + np.array([1.0, 0.93, 0.88], f32) * f32(0.65)).astype(f32)
    q["hair_rgb"] = np.clip(_ANIME_HAIR_RGB[p["hair_cat"]] + (p["hair_rgb"] - _HAIR_RGB[p["hair_cat"]]),
                            0, 1).astype(f32)
    q["mouth_w"] = (p["mouth_w"] * f32(0.7)).astype(f32)
    q["nose"] = np.zeros(len(p["cx"]), f32)
    return q


def in_style(p: Params, style: str) -> Params:
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    return anime(p) if style == "anime" else p


def render(p: Params, size: int, influence: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Images (B, S, S, 3) uint8 and, if asked, per-attribute visible influence (B, S, S) float32."""
    n = len(p["cx"])
    if n > _CHUNK:
        if influence:
            raise ValueError(f"render at most {_CHUNK} faces at a time when asking for influence maps")
        return np.concatenate([render(take(p, np.arange(i, min(i + _CHUNK, n))), size)[0]
                               for i in range(0, n, _CHUNK)]), {}
    c = _Canvas(n, size, track=influence)
    _draw(c, p)
    assert c.img is not None
    return _to_uint8(c.img), (c.influence() if influence else {})


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img.transpose(1, 2, 3, 0) * 255 + 0.5, 0, 255).astype(np.uint8)


def _draw(c: _Canvas, p: Params) -> None:
    """Paint face(s) ``p`` onto ``c``, bottom layer first; the background only when ``c`` composites."""
    n = len(p["cx"])
    cx, cy, rx, ry = p["cx"], p["cy"], p["rx"], p["ry"]
    f32 = np.float32
    if c.img is not None:  # untagged and beneath every tagged layer: no influence map needs it
        _background(c, p)
    w = c.window(cx, cy + ry + 0.45, rx * 1.9, 0.5)
    c.paint(c.ellipse(cx, cy + ry + 0.45, rx * 1.9, 0.5, w), p["clothes"], win=w)
    w = c.window(cx, cy + ry * 0.8, rx * 0.45, ry * 0.6)
    c.paint(c.ellipse(cx, cy + ry * 0.8, rx * 0.45, ry * 0.6, w) * c.below(cy, w), p["skin"] * 0.9, win=w)
    vol = p["hair_volume"]
    w = c.window(cx, cy + ry * 0.25, rx * vol * 1.12, ry * 1.12)
    back = c.ellipse(cx, cy + ry * 0.25, rx * vol * 1.12, ry * 1.12, w) * p["long_hair"].reshape(-1, 1, 1)
    c.paint(back, p["hair_rgb"], HAIR, w)
    w = c.window(cx, cy, rx, ry)
    c.paint(c.ellipse(cx, cy, rx, ry, w), p["skin"], win=w)
    # eye shadow, eyes
    er = p["eye_r"]
    for side in (-1, 1):
        ex, ey = cx + side * p["eye_dx"], cy + p["eye_y"]
        w = c.window(ex, ey - 0.025, er * 2.0, er * 1.3 + 0.025)
        eye_area = c.ellipse(ex, ey - 0.025, er * 2.0, er * 1.3, w)
        shadow = eye_area * p["makeup"].reshape(-1, 1, 1)
        c.paint(shadow * f32(0.85), p["shadow_rgb"], ("Heavy_Makeup",), w,
                potential=lambda: eye_area * f32(0.85))  # noqa: B023 (makeup = 1; paint calls it at once)
        c.paint(c.ellipse(ex, ey, er * 1.5, er, w), np.full((n, 3), 0.97, f32), win=w)
        c.paint(c.ellipse(ex, ey, er * 0.75, er * 0.75, w), p["iris"], win=w)
    # top hair: a cap over the head cut by the fringe line
    w = c.window(cx, cy - ry * 0.2, rx * vol, ry * 0.95)
    cap = c.ellipse(cx, cy - ry * 0.2, rx * vol, ry * 0.95, w) * (1 - c.below(cy - ry * p["fringe"], w))
    c.paint(cap, p["hair_rgb"], HAIR, w)
    # brows after the hair, so Male (brow thickness) is always visible
    thick = np.where(p["male"], 0.032, 0.016).astype(f32)
    for side in (-1, 1):
        ex, ey = cx + side * p["eye_dx"], cy + p["eye_y"] - er * 2.4
        w = c.window(ex, ey, er * 2.0, 0.032)
        c.paint(c.ellipse(ex, ey, er * 2.0, thick, w), np.full((n, 3), 0.18, f32), ("Male",), w)
    w = c.window(cx, cy + 0.1, 0.03, 0.07)
    nose = c.ellipse(cx, cy + 0.1, 0.03, 0.07, w)
    if "nose" in p:  # the anime style has none
        nose = nose * p["nose"].reshape(-1, 1, 1)
    c.paint(nose, p["skin"] * 0.82, win=w)
    # mouth: closed lips, or an open smile (lower half-moon) with teeth
    my, mw = cy + p["mouth_y"], p["mouth_w"]
    smile = p["smiling"].reshape(-1, 1, 1)
    w = c.window(cx, my, mw * 1.5, 0.11)  # covers both mouth shapes (and the closed lips' soft ends) and the teeth
    closed = c.ellipse(cx, my, mw, np.full(n, 0.032, f32), w)
    open_ = c.ellipse(cx, my, mw * 1.1, np.full(n, 0.11, f32), w) * c.below(my, w)
    natural = np.clip(p["skin"] * np.array([0.85, 0.55, 0.55], f32), 0, 1)
    lip_colour = np.where(p["lipstick"][:, None], p["lip_rgb"], natural)
    c.paint(np.where(smile, open_, closed), lip_colour, ("Smiling", "Wearing_Lipstick"), w,
            potential=lambda: np.where(~smile, open_, closed))  # the opposite mouth state
    teeth_area = c.ellipse(cx, my + 0.012, mw * 0.82, np.full(n, 0.05, f32), w) * c.below(my + 0.012, w)
    c.paint(teeth_area * smile, np.full((n, 3), 0.96, f32), ("Smiling",), w, potential=lambda: teeth_area * ~smile)
    # facial hair takes the hair colour
    w = c.window(cx, my - 0.055, mw * 1.05, 0.03)
    must_area = c.ellipse(cx, my - 0.055, mw * 1.05, np.full(n, 0.03, f32), w)
    c.paint(must_area * p["mustache"].reshape(-1, 1, 1), p["hair_rgb"], ("Mustache", "No_Beard") + HAIR, w,
            potential=lambda: must_area)  # mustache = 1 (x * 1 = x exactly)
    w = c.window(cx, cy + ry * 0.86, 0.12, ry * 0.16)
    goat_area = c.ellipse(cx, cy + ry * 0.86, np.full(n, 0.12, f32), ry * 0.16, w)
    c.paint(goat_area * p["goatee"].reshape(-1, 1, 1), p["hair_rgb"], ("Goatee", "No_Beard") + HAIR, w,
            potential=lambda: goat_area)  # goatee = 1


def render_with_masks(p: Params, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (B, S, S, 3) uint8 and masks (B, 10, S, S) uint8 (0/255) of where each attribute can change the image.

    A mask is the union of the attribute's visible influence in the face as
    drawn and in the same face with every optional feature present and the
    opposite mouth state (so it covers where an absent goatee would be).
    """
    n = len(p["cx"])
    images = np.empty((n, size, size, 3), np.uint8)
    out = np.empty((n, len(ATTRIBUTES), size, size), np.uint8)
    for start in range(0, n, _CHUNK):
        q = take(p, np.arange(start, min(start + _CHUNK, n)))
        rows = slice(start, start + len(q["cx"]))
        c = _Canvas(len(q["cx"]), size, potential=True)  # one pass: the potential face shares the geometry
        _draw(c, q)
        assert c.img is not None
        images[rows] = _to_uint8(c.img)
        seen, potential = c.influence(), c.potential_influence()
        for j, a in enumerate(ATTRIBUTES):
            out[rows, j] = np.maximum(seen[a], potential[a]) > 1e-3
    out *= 255
    return images, out


def attribute_masks(p: Params, size: int) -> np.ndarray:
    """(B, 10, S, S) uint8 masks, see :func:`render_with_masks`."""
    return render_with_masks(p, size)[1]


def choose_pairs(p: Params, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test pairs: (input index, exemplar index, chosen groups (P, n_groups) bool).

    One or two groups per pair; the exemplar is drawn among faces whose labels
    differ from the input's in the chosen groups when there is one (so the
    truth is a real change), else any other face.
    """
    n = len(p["cx"])
    labels = labels_of(p)
    names = list(GROUPS)
    cols = {g: [ATTRIBUTES.index(a) for a in GROUPS[g][0]] for g in names}
    inputs = rng.integers(0, n, count)
    exemplars = np.empty(count, np.int64)
    chosen = np.zeros((count, len(names)), bool)
    for k, i in enumerate(inputs):
        gs = rng.choice(len(names), size=1 + int(rng.random() < 0.3), replace=False)
        chosen[k, gs] = True
        c = [col for g in gs for col in cols[names[g]]]
        differ = np.flatnonzero((labels[:, c] != labels[i, c]).any(1))
        pool = differ if len(differ) else np.setdiff1d(np.arange(n), [i])
        exemplars[k] = rng.choice(pool) if len(pool) else i
    return inputs, exemplars, chosen


def chosen_attributes(groups: np.ndarray) -> np.ndarray:
    """(P, n_groups) bool -> (P, 10) uint8: the attributes the chosen groups label."""
    out = np.zeros((len(groups), len(ATTRIBUTES)), np.uint8)
    for g, (attrs, _) in enumerate(GROUPS.values()):
        for a in attrs:
            out[groups[:, g], ATTRIBUTES.index(a)] = 1
    return out


def ground_truth(p: Params, inputs: np.ndarray, exemplars: np.ndarray, groups: np.ndarray, size: int,
                 input_images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Truth translations (P, S, S, 3) uint8 and their regions (P, S, S) uint8 (0/255).

    Outside the region the truth is the input image itself (bit-identical).
    """
    m = len(inputs)
    truth = np.empty((m, size, size, 3), np.uint8)
    region = np.zeros((m, size, size), bool)
    attrs = chosen_attributes(groups).astype(bool)
    for start in range(0, m, _CHUNK):
        sl = slice(start, min(start + _CHUNK, m))
        src, ex = take(p, inputs[sl]), take(p, exemplars[sl])
        rendered, infl_truth = render(with_groups(src, ex, groups[sl]), size, influence=True)
        c = _Canvas(len(src["cx"]), size, composite=False, track=True)  # the input image is given: influence only
        _draw(c, src)
        infl_src = c.influence()
        for j, a in enumerate(ATTRIBUTES):
            rows = attrs[sl, j][:, None, None]
            region[sl] |= rows & ((infl_truth[a] > 1e-4) | (infl_src[a] > 1e-4))
        truth[sl] = np.where(region[sl][..., None], rendered, input_images[inputs[sl]])
    return truth, (region * 255).astype(np.uint8)
