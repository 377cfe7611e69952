"""SEGIN learning benchmark with ground truth: does the warp input help colour fidelity?

Without ImageNet weights sketch-to-photo matching cannot be judged here, so the network is tested apart from
the matcher, on synthetic faces (:mod:`i2icli.data.synthetic.faces`) where the right output is known:

* input x   = XDoG line drawing of face A;
* exemplar r = face B (another geometry, other colours);
* truth     = face A's geometry rendered with B's colours (skin, hair, iris, lips, eye shadow, clothes,
  background colours: every colour field of the renderer's parameters);
* test warp W(x, r) from the correspondence the renderer knows: the face frame of A mapped affinely onto
  B's (centre and radii of the face ellipse), reconstructed by Eq. 2 (vote);
* training: self pairs (x_i, y_i) with the oracle (identity) match of x_i to y_i, perturbed by Section III-B
  (shift, repeat, random matches, noise) - exactly what a perfect matcher plus the cache would give.

Variants: SEGIN, its "no warp input" ablation (pix2pix-like), and optionally the Table II ablations
(``--ablations``).  Each is trained ``--iterations`` steps for each of ``--seeds`` through the engine's own
update (:func:`i2icli.engine.iteration.run_iteration`) and scored on the test pairs: PSNR, SSIM, and the
per-region colour error (|mean colour of output - mean colour of truth| in 0-255 units over the face, hair
and the rest).  L_F uses a random VGG-19 (**not ImageNet VGG**).

    python benchmarks/bench_segin_quality.py --iterations 300 --seeds 3          # tiny, minutes on CPU
    python benchmarks/bench_segin_quality.py --iterations 20000 --seeds 3 --train 4000 --channels 32  # full

Runs split over processes (one core each) and merged into one section and one curve plot::

    python benchmarks/bench_segin_quality.py --only SEGIN --iterations 3000 --curve 250 --threads 1 \
        --no-write --json segin.json &
    python benchmarks/bench_segin_quality.py --only "no warp input" --iterations 3000 --curve 250 \
        --threads 1 --no-write --json nowarp.json &
    wait; python benchmarks/bench_segin_quality.py --merge segin.json nowarp.json \
        --plot examples/segin_quality_curves.png
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import write_section

from i2icli.config import read_recipe, resolve
from i2icli.data.keyed import images_to_float, keyed_rng
from i2icli.data.store import StoreWriter
from i2icli.data.synthetic import faces as FA
from i2icli.engine.iteration import build_optimizers, run_iteration
from i2icli.match.reconstruct import reconstruct
from i2icli.metrics.ssim import ssim_pair
from i2icli.models.base import Nets
from i2icli.models.segin import SEGIN, segin_dataset
from i2icli.prepare.sketch import xdog
from i2icli.registry import RECIPES_DIR, config_cls_for

COLOUR_FIELDS = ("bg1", "bg2", "clothes", "skin", "hair_rgb", "iris", "shadow_rgb", "lip_rgb")
HAIR = [FA.ATTRIBUTES.index(a) for a in ("Black_Hair", "Blond_Hair", "Brown_Hair")]
CELL = 4


def _face_mask(p: dict, size: int) -> np.ndarray:
    lin = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    y, x = np.meshgrid(lin, lin, indexing="ij")
    return ((x[None] - p["cx"][:, None, None]) / p["rx"][:, None, None]) ** 2 + \
        ((y[None] - p["cy"][:, None, None]) / p["ry"][:, None, None]) ** 2 <= 1


def known_field(pa: dict, pb: dict, i: int, j: int, size: int) -> np.ndarray:
    """Cell field of x = face i onto r = face j: A's face frame mapped affinely onto B's (normalised coords)."""
    g = size // CELL
    centres = ((np.arange(g) + 0.5) * CELL) / size * 2 - 1
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    qx = pb["cx"][j] + (xx - pa["cx"][i]) * pb["rx"][j] / pa["rx"][i]
    qy = pb["cy"][j] + (yy - pa["cy"][i]) * pb["ry"][j] / pa["ry"][i]
    cx = np.clip(np.floor((qx + 1) / 2 * size / CELL), 0, g - 1).astype(np.int64)
    cy = np.clip(np.floor((qy + 1) / 2 * size / CELL), 0, g - 1).astype(np.int64)
    return cy * g + cx


def build(args: argparse.Namespace, root: Path) -> tuple[Path, dict]:
    rng = np.random.default_rng(args.data_seed)
    n, t, size = args.train, args.test, args.size
    p = FA.sample_params(n + 2 * t, rng)
    imgs, masks = FA.render_with_masks(p, size)
    face = _face_mask(p, size)
    fg = (face | (masks[:, HAIR].max(axis=1) > 0)).astype(np.uint8) * 255
    store = root / "faces-segin.h5"
    with StoreWriter(store, image_size=(size, size), producer="bench_segin_quality", paired=True,
                     mask_names=("foreground",)) as w:
        for i in range(n):
            w.add("train", imgs[i], f"train{i}", source=xdog(imgs[i]), masks=fg[i][None])
        for i in range(n, n + t):
            w.add("test", imgs[i], f"test{i}", source=xdog(imgs[i]), masks=fg[i][None])
    a_idx, b_idx = np.arange(n, n + t), np.arange(n + t, n + 2 * t)
    pa, pb = FA.take(p, a_idx), FA.take(p, b_idx)
    mixed = {k: v.copy() for k, v in pa.items()}
    for f in COLOUR_FIELDS:
        mixed[f] = pb[f].copy()
    truth, _ = FA.render_with_masks(mixed, size)
    x = np.stack([xdog(im) for im in imgs[a_idx]])
    r = imgs[b_idx]
    warps = np.stack([reconstruct(r[k], known_field(pa, pb, k, k, size), CELL, "vote", 3) for k in range(t)])
    regions = {"face": face[a_idx], "hair": (masks[a_idx][:, HAIR].max(axis=1) > 0) & ~face[a_idx]}
    regions["rest"] = ~(regions["face"] | regions["hair"])
    return store, {"x": x, "r": r, "truth": truth, "warp": warps, "regions": regions}


def _cfg(args: argparse.Namespace, store: Path, seed: int, extra: list[str]):
    path = RECIPES_DIR / "segin" / "tiny.toml"
    over = [f"data.path={str(store)!r}", f"data.image_size={args.size}", f"data.load_size={args.size}",
            "data.num_workers=0", f"train.seed={seed}", f"train.batch_size={args.batch}",
            f"model.channels={args.channels}", f"model.max_channels={8 * args.channels}",
            f"model.n_down={args.n_down}", f"model.disc_channels={args.channels}",
            "model.input_field='sources'", "model.seg_mask='foreground'", "model.oracle_warps=true", *extra]
    if args.no_feat:
        over.append("model.lambda_feat=0")
    return resolve(read_recipe(path), config_cls_for, str(path), model="segin", overrides=over)


def _u8(t: torch.Tensor) -> np.ndarray:
    return ((t.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def train_and_score(args: argparse.Namespace, store: Path, test: dict, seed: int, extra: list[str]) -> dict:
    cfg = _cfg(args, store, seed, extra)
    torch.manual_seed(seed)
    fam = SEGIN(cfg)
    ds = segin_dataset(cfg, "train")
    frozen = fam.frozen_networks()
    for mod in frozen.values():
        mod.eval().requires_grad_(False)
    nets = Nets({**dict(fam.networks.items()), **frozen})
    opts = build_optimizers(fam)
    fam.networks.train()
    n = len(ds)
    t0 = time.perf_counter()
    curve = []
    for it in range(args.iterations):
        keys = [it * args.batch + k for k in range(args.batch)]
        items = [ds.item(k % n, keyed_rng(seed, k)) for k in keys]
        batch = images_to_float({key: torch.stack([i[key] for i in items]) for key in items[0]}, ds.image_keys)
        run_iteration(fam, {p.name: nets for p in fam.phases}, opts, batch, it)
        if args.curve and (it + 1) % args.curve == 0:
            curve.append((it + 1, score(fam, test)))
            fam.networks.train()
    secs = time.perf_counter() - t0
    out = score(fam, test)
    out["seconds"] = secs
    out["seed"] = seed
    if curve:
        out["curve"] = curve
    return out


@torch.no_grad()
def score(fam: SEGIN, test: dict) -> dict:
    fam.networks.eval()
    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).permute(0, 3, 1, 2).float().div(127.5).sub(1)

    x, w = to_t(test["x"]), to_t(test["warp"])
    out = []
    for s in range(0, len(x), 16):
        y, _ = fam.networks["generator"](fam._net_input(x[s:s + 16], w[s:s + 16]))
        out.append(_u8(y))
    pred = np.concatenate(out)
    truth = test["truth"]
    mse = ((pred.astype(np.float64) - truth) ** 2).reshape(len(pred), -1).mean(1)
    psnr = float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))))
    ssim = float(np.mean([ssim_pair(a, b) for a, b in zip(pred, truth, strict=True)]))
    res = {"psnr": psnr, "ssim": ssim}
    for name, reg in test["regions"].items():
        errs = [np.abs(pred[k][reg[k]].mean(0) - truth[k][reg[k]].astype(np.float64).mean(0)).mean()
                for k in range(len(pred)) if reg[k].sum() > 8]
        res[f"colour_{name}"] = float(np.mean(errs))
    return res


VARIANTS = {"SEGIN": [], "no warp input": ["model.warp_input=false"]}
ABLATIONS = {"w/o GAN": ["model.lambda_gan=0"], "w/o L_recon": ["model.lambda_recon=0"],
             "w/o L_F": ["model.lambda_feat=0"], "w/o L_tv": ["model.lambda_tv=0"],
             "w/o NL": ["model.use_nonlocal=false"], "w/o MT": ["model.multitask=false"]}


def run_variants(args: argparse.Namespace, variants: dict[str, list[str]]) -> dict:
    """Train and score every (variant, seed); the result also carries what the report needs to describe it."""
    seeds = args.seed_list if args.seed_list is not None else list(range(args.seeds))
    with tempfile.TemporaryDirectory() as tmp:
        store, test = build(args, Path(tmp))
        warp_psnr = float(np.mean([10 * np.log10(255.0 ** 2 / max(1e-10, ((w.astype(np.float64) - t) ** 2).mean()))
                                   for w, t in zip(test["warp"], test["truth"], strict=True)]))
        results: dict[str, list[dict]] = {}
        for name, extra in variants.items():
            for seed in seeds:
                r = train_and_score(args, store, test, seed, extra)
                results.setdefault(name, []).append(r)
                print(name, seed, json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                              for k, v in r.items() if k != "curve"}), flush=True)
    meta = {k: getattr(args, k) for k in ("iterations", "train", "test", "size", "batch", "channels", "n_down",
                                          "data_seed", "no_feat")}
    return {"meta": dict(meta, warp_psnr=warp_psnr), "results": results}


def merge(paths: list[Path]) -> dict:
    """Several ``--json`` files of one protocol (same meta) as one result."""
    docs = [json.loads(p.read_text()) for p in paths]
    for p, d in zip(paths, docs, strict=True):
        if d["meta"] != docs[0]["meta"]:
            raise SystemExit(f"{p}: made with other settings than {paths[0]} ({d['meta']} vs {docs[0]['meta']})")
    results: dict[str, list[dict]] = {}
    for d in docs:
        for name, runs in d["results"].items():
            results.setdefault(name, []).extend(runs)
    return {"meta": docs[0]["meta"], "results": results}


CURVE_PANELS = {"psnr": "PSNR to truth (dB)", "ssim": "SSIM to truth", "colour_face": "face colour error (0-255)"}


def plot(doc: dict, path: Path) -> None:
    from plot import plot_curves

    panels = {}
    for key, title in CURVE_PANELS.items():
        series = {}
        for name, runs in doc["results"].items():
            cs = [r["curve"] for r in runs if "curve" in r]
            if cs:
                steps = [it for it, _ in cs[0]]
                series[name] = [(it, [c[i][1][key] for c in cs]) for i, it in enumerate(steps)]
        panels[title] = series
    panels["PSNR to truth (dB)"]["the test warp itself"] = [
        (it, [doc["meta"]["warp_psnr"]]) for it, _ in next(iter(panels["PSNR to truth (dB)"].values()))]
    n = len(next(iter(doc["results"].values())))
    plot_curves(path, panels, f"SEGIN on synthetic faces with ground truth ({n} seeds; line: mean, band: min-max)")
    print(f"wrote {path}")


def report(doc: dict) -> str:
    m, results = doc["meta"], doc["results"]
    keys = ["psnr", "ssim", "colour_face", "colour_hair", "colour_rest"]
    rows = []
    for name, runs in results.items():
        cells = []
        for k in keys:
            v = np.array([r[k] for r in runs])
            cells.append(f"{v.mean():.3f} +- {v.std():.3f}" if k == "ssim" else f"{v.mean():.2f} +- {v.std():.2f}")
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {np.mean([r['seconds'] for r in runs]):.0f} |")
    seg = sorted(results["SEGIN"], key=lambda r: r.get("seed", 0))
    base = sorted(results.get("no warp input", []), key=lambda r: r.get("seed", 0))
    n_seeds = len(seg)
    wins = sum(a["colour_face"] < b["colour_face"] and a["psnr"] > b["psnr"] for a, b in zip(seg, base, strict=False))
    apart = ""
    if base:
        gap = min(r["psnr"] for r in seg) - max(r["psnr"] for r in base)
        apart = (f"The seeds' PSNR ranges are {'apart' if gap > 0 else 'NOT apart'} "
                 f"(worst SEGIN seed - best no-warp seed: {gap:+.2f} dB).  ")
    body = (f"Synthetic faces at {m['size']} px: {m['train']} training faces (self pairs, oracle identity match + "
            f"Section III-B perturbations), {m['test']} test pairs (x = XDoG of face A, r = face B, truth = A's "
            f"geometry in B's colours, warp from the renderer's face-frame correspondence).  {m['iterations']} "
            f"iterations, batch {m['batch']}, channels {m['channels']}, n_down {m['n_down']}, "
            f"{n_seeds} seeds; "
            + ("L_F off (--no-feat; its VGG-19 would be random here)" if m["no_feat"]
               else "L_F with a random VGG-19 (**not ImageNet VGG**)")
            + f".  The test warp itself (used as the output) scores {m['warp_psnr']:.2f} dB PSNR against the truth.\n\n"
            + "| variant | PSNR (dB) | SSIM | colour error face | hair | rest | s/run |\n"
            + "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            + (f"SEGIN beats its no-warp ablation on both PSNR and face colour error in {wins} of {n_seeds} seeds.  "
               + apart if base else "Table II's ablations, as measured.  ")
            + "Colour error: |mean colour of the output - mean colour of the truth| per region, 0-255 units.\n")
    curves = {name: [r["curve"] for r in runs if "curve" in r] for name, runs in results.items()}
    if any(curves.values()):
        body += "\nTest PSNR (dB) during training, mean over seeds (is it still moving?):\n\n"
        for name, cs in curves.items():
            if cs:
                steps = [it for it, _ in cs[0]]
                means = np.mean([[v["psnr"] for _, v in c] for c in cs], axis=0)
                body += f"- {name}: " + ", ".join(f"{it}: {v:.2f}" for it, v in zip(steps, means, strict=True)) + "\n"
    return body


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    ap.add_argument("--seed-list", type=int, nargs="+", default=None, help="these seeds instead of --seeds")
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--test", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--n-down", type=int, default=3, help="stride-2 encoder convs (model.n_down)")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--ablations", action="store_true", help="also train Table II's ablations")
    ap.add_argument("--ablations-only", action="store_true",
                    help="SEGIN and Table II's ablations only (own section of docs/BENCHMARKS.md)")
    ap.add_argument("--only", action="append", default=None, metavar="VARIANT",
                    help="train only this variant (repeatable), e.g. SEGIN or 'no warp input'")
    ap.add_argument("--no-feat", action="store_true", help="drop L_F (its VGG is random here anyway)")
    ap.add_argument("--curve", type=int, default=0, help="score every N iterations (convergence check)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write the runs here (input of --merge)")
    ap.add_argument("--merge", type=Path, nargs="+", default=None,
                    help="no training: report the runs of these --json files together")
    ap.add_argument("--plot", type=Path, default=None, help="learning curves as a PNG (needs --curve runs)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.merge:
        doc = merge(args.merge)
    else:
        variants = dict(VARIANTS, **(ABLATIONS if args.ablations else {}))
        if args.ablations_only:
            variants = {"SEGIN": [], **ABLATIONS}
        if args.only:
            every = {**VARIANTS, **ABLATIONS}
            unknown = [v for v in args.only if v not in every]
            if unknown:
                raise SystemExit(f"--only {unknown[0]!r}: not a variant; choose from {', '.join(every)}")
            variants = {v: every[v] for v in args.only}
        doc = run_variants(args, variants)
        if args.json:
            args.json.write_text(json.dumps(doc, indent=1, default=float))
    ablations_only = "no warp input" not in doc["results"] and len(doc["results"]) > 1
    body = report(doc)
    print(body)
    if args.plot:
        plot(doc, args.plot)
    if not args.no_write:
        write_section("SEGIN quality: " + ("Table II ablations on synthetic faces" if ablations_only
                                           else "synthetic faces with ground truth"), body)


if __name__ == "__main__":
    main()
