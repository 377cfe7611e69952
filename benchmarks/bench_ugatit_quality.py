"""U-GAT-IT and its Table 1 / Fig. 3 ablations on a synthetic selfie2anime whose right answer is known.

Writes section "U-GAT-IT quality (ground truth)" of docs/BENCHMARKS.md and the
curves to examples/ugatit_quality_curves.png.

The data (``i2i prepare synthetic anime``): photo-style and anime-style faces
of one renderer, unpaired for training; every held-out face has its exact
translation in the other style and the region where the styles differ.  So,
unlike KID on selfie2anime, we can score a translation against the truth:

- SSIM and PSNR to the truth, photo -> anime (A2B) and anime -> photo (B2A);
- the same split by the renderer's region: mean absolute error to the truth
  inside the region where the styles differ (did it translate?) and PSNR
  outside it (did it keep the background?);
- attention concentration: the share of the generator's attention map
  (min-max normalised, as displayed) inside the region where the styles
  differ, divided by the region's share of the image (1 = no preference,
  higher = attention where the translation has to act).  The paper's claim
  (Sec. 2.1.1, Fig. 2) is that the CAM attention "focuses on the regions that
  distinguish source and target domain".

Each variant is trained with the same recipe, data and budget over several
seeds; every ``--eval-every`` iterations a checkpoint is scored, giving the
curves (mean line, min-max band over seeds).  Variants: the full model, w/o
CAM (``model.cam = "none"``) and the decoder normalisations IN, LN, LIN
(``model.norm``), as Table 1 / Fig. 3; beyond the paper, ``cam=no_g`` /
``cam=no_d`` (the CAM of one network only) and ``cam_loss=0`` (the
generator's CAM attention kept, its auxiliary loss L_cam weighted 0), which
separate the attention from its loss.  A variant's own settings override
``--set``.

    python benchmarks/bench_ugatit_quality.py --iterations 6000 --eval-every 500 --seeds 0,1,2
    python benchmarks/bench_ugatit_quality.py --iterations 40 --eval-every 20 --seeds 0 \\
        --variants full,cam=none --no-write   # smoke
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

from machine import write_section  # noqa: E402
from plot import mean_range as cell  # noqa: E402

from i2icli.config import read_recipe, resolve  # noqa: E402
from i2icli.data.store import open_store  # noqa: E402
from i2icli.data.transforms import resize  # noqa: E402
from i2icli.engine import TrainRequest, train  # noqa: E402
from i2icli.engine import checkpoint as ckpt  # noqa: E402
from i2icli.guidance import Guidance  # noqa: E402
from i2icli.images import to_tensor, to_uint8  # noqa: E402
from i2icli.metrics.groundtruth import score_pair  # noqa: E402
from i2icli.prepare.synthetic import AnimeRequest, prepare_anime  # noqa: E402
from i2icli.registry import RECIPES_DIR, config_cls_for  # noqa: E402
from i2icli.translate import load_run  # noqa: E402

VARIANTS = {
    "full": [],
    "cam=none": ["model.cam='none'"],
    "cam=no_g": ["model.cam='no_g'"],
    "cam=no_d": ["model.cam='no_d'"],
    "cam_loss=0": ["model.lambda_cam=0"],
    "norm=in": ["model.norm='in'"],
    "norm=ln": ["model.norm='ln'"],
    "norm=lin": ["model.norm='lin'"],
    "norm=adain": ["model.norm='adain'"],
    "norm=gn": ["model.norm='gn'"],
}
LABELS = {"full": "U-GAT-IT (CAM + AdaLIN)", "cam=none": "w/o CAM", "cam=no_g": "w/o G_CAM", "cam=no_d": "w/o D_CAM",
          "cam_loss=0": "CAM attention, lambda_cam = 0",
          "norm=in": "w/ IN", "norm=ln": "w/ LN",
          "norm=lin": "w/ LIN", "norm=adain": "w/ AdaIN", "norm=gn": "w/ GN"}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


def evaluate(run: Path, checkpoint: Path | None, store, size: int, device: str, limit: int) -> dict[str, float]:
    """SSIM/PSNR to the truth and attention concentration, per direction, on the test pairs."""
    loaded = load_run(run, device=device, checkpoint=checkpoint) if checkpoint is not None else None
    pairs = store.pairs("test")
    t = len(pairs.input) // 2
    out: dict[str, float] = {}
    for name, ks, direction in (("a2b", range(min(t, limit)), "a2b"), ("b2a", range(t, t + min(t, limit)), "b2a")):
        rows = []
        for start in range(0, len(ks), 32):
            chunk = list(ks)[start:start + 32]
            xs = [resize(store.image("test", int(pairs.input[k])), size) for k in chunk]
            truths = [resize(store.truth("test", k), size) for k in chunk]
            regions = [resize(store.region("test", k), size) > 127 for k in chunk]
            if loaded is None:  # identity: output = input
                outs, atts = xs, [None] * len(chunk)
            else:
                x = torch.stack([to_tensor(a) for a in xs]).to(loaded.device)
                with torch.no_grad():
                    r = loaded.family.translate(x, Guidance(direction=direction))  # type: ignore[arg-type]
                outs = [to_uint8(y) for y in r["output"].cpu()]
                atts = [a[0].numpy() for a in r["attention"].cpu()]
            for x0, o, tr, reg, att in zip(xs, outs, truths, regions, atts, strict=True):
                gt = score_pair(o, tr, x0, reg, None)
                row = {"ssim": gt["ssim"], "psnr": psnr(o, tr), "out_psnr": gt["bg_psnr"],
                       "in_err": gt["hair_err"]}
                if att is not None and reg.any():
                    share = float(att[reg].sum() / max(att.sum(), 1e-12))
                    row["attention"] = share / float(reg.mean())
                rows.append(row)
        for key in rows[0]:
            out[f"{name}_{key}"] = float(np.mean([r[key] for r in rows]))
    return out


def train_variant(data: Path, out: Path, overrides: list[str], seed: int, args) -> float:
    path = RECIPES_DIR / "ugatit" / f"{args.recipe}.toml"
    over = [f"data.path={str(data)!r}", f"data.image_size={args.size}", f"data.load_size={args.size + args.size // 8}",
            "data.num_workers=0", f"train.iterations={args.iterations}", f"train.seed={seed}",
            f"train.checkpoint_every={args.eval_every}", "train.keep_checkpoints=0",
            f"train.sample_every={args.iterations}", f"train.log_every={max(1, args.eval_every // 5)}",
            *args.set, *overrides]  # the variant's own settings win over --set
    cfg = resolve(read_recipe(path), config_cls_for, str(path), overrides=over, model="ugatit")
    t0 = time.perf_counter()
    train(TrainRequest(cfg=cfg, out=out, device=args.device, resume="auto" if ckpt.latest_checkpoint(out) else None))
    return max(time.perf_counter() - t0, logged_seconds(out))


def logged_seconds(run: Path) -> float:
    """Training wall time over every session of ``run`` (``elapsed_s`` restarts at 0 in each resumed process)."""
    total, last = 0.0, 0.0
    path = run / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.exists() else []:
        e = float(json.loads(line).get("elapsed_s", last))
        if e < last:
            total += last
        last = e
    return total + last


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an `i2i prepare synthetic anime` store (default: prepare one)")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--test-count", type=int, default=200)
    ap.add_argument("--recipe", default="tiny", help="recipes/ugatit/<name>.toml")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=6000)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-limit", type=int, default=200, help="test pairs per direction")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default="full,cam=none,norm=in,norm=ln,norm=lin")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], help="extra recipe override for every variant")
    ap.add_argument("--workdir", type=Path, help="keep store and runs here (resumes runs found there)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")

    with tempfile.TemporaryDirectory(prefix="bench_ugatit_q_") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = args.data or work / "anime.h5"
        if not data.exists():
            prepare_anime(AnimeRequest(out=data, count=args.count, test_count=args.test_count, size=64))
        store = open_store(data)
        identity = evaluate(work, None, store, args.size, args.device, args.eval_limit)
        print("identity", identity, flush=True)
        curves: dict[str, dict[int, list[dict[str, float]]]] = {}
        seconds: dict[str, list[float]] = {}
        for v in variants:
            for seed in seeds:
                run = work / f"{v.replace('=', '-')}-s{seed}"
                secs = train_variant(data, run, VARIANTS[v], seed, args)
                seconds.setdefault(v, []).append(secs)
                for c in ckpt.list_checkpoints(run / "checkpoints"):
                    step = int(c.name.split("_")[1])
                    r = evaluate(run, c, store, args.size, args.device, args.eval_limit)
                    curves.setdefault(v, {}).setdefault(step, []).append(r)
                    print(v, seed, step, {k: round(x, 4) for k, x in r.items()}, flush=True)
        (work / "ugatit_quality.json").write_text(json.dumps({"identity": identity, "curves": curves}, indent=1))

    metrics = ["a2b_ssim", "a2b_in_err", "a2b_out_psnr", "b2a_in_err", "a2b_attention"]
    try:
        from plot import plot_curves

        png = Path(__file__).resolve().parent.parent / "examples" / "ugatit_quality_curves.png"
        panels = {m: {LABELS[v]: [(s, [r[m] for r in rs]) for s, rs in sorted(curves[v].items())] for v in variants}
                  for m in metrics}
        if not args.no_write:
            plot_curves(png, panels, f"U-GAT-IT on synthetic selfie2anime ({args.size} px, seeds {args.seeds})")
    except SystemExit as exc:
        print(exc)
    last = {v: curves[v][max(curves[v])] for v in variants}

    lines = [f"Recipe recipes/ugatit/{args.recipe}.toml at {args.size} px, {args.iterations} iterations per run, "
             f"seeds {args.seeds}, overrides {' '.join(args.set) or 'none'}; store: synthetic anime ({args.count} "
             f"training faces per domain); scores on {min(args.eval_limit, args.test_count)} held-out faces per "
             f"direction; mean [min, max] over seeds at the last checkpoint. Region = where the two styles differ "
             f"(face and hair); error in region = mean |output - truth| there (0-255; the identity row's value is "
             f"the size of the translation); PSNR outside = background and clothes, which the translation must "
             f"keep. Attention = share of the attention map inside the region / the region's share of the image "
             f"(1 = no preference; without CAM: the channel sum of the encoder features).",
             "", "| model | A2B SSIM | A2B PSNR (dB) | A2B error in region | A2B PSNR outside (dB) | B2A SSIM | "
             "B2A PSNR (dB) | B2A error in region | B2A PSNR outside (dB) | A2B attention | B2A attention | "
             "train s / run |", "|---|---|---|---|---|---|---|---|---|---|---|---|",
             f"| identity (output = input) | {identity['a2b_ssim']:.4f} | {identity['a2b_psnr']:.2f} | "
             f"{identity['a2b_in_err']:.1f} | {identity['a2b_out_psnr']:.2f} | {identity['b2a_ssim']:.4f} | "
             f"{identity['b2a_psnr']:.2f} | {identity['b2a_in_err']:.1f} | {identity['b2a_out_psnr']:.2f} | "
             f"- | - | - |"]
    for v in variants:
        rs = last[v]
        lines.append(f"| {LABELS[v]} | {cell(rs, 'a2b_ssim', '.4f')} | {cell(rs, 'a2b_psnr', '.2f')} | "
                     f"{cell(rs, 'a2b_in_err', '.1f')} | {cell(rs, 'a2b_out_psnr', '.2f')} | "
                     f"{cell(rs, 'b2a_ssim', '.4f')} | {cell(rs, 'b2a_psnr', '.2f')} | "
                     f"{cell(rs, 'b2a_in_err', '.1f')} | {cell(rs, 'b2a_out_psnr', '.2f')} | "
                     f"{cell(rs, 'a2b_attention', '.2f')} | {cell(rs, 'b2a_attention', '.2f')} | "
                     f"{np.mean(seconds[v]):.0f} |")
    lines += ["", "![U-GAT-IT curves](../examples/ugatit_quality_curves.png)"]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        print(f"wrote {write_section('U-GAT-IT quality (ground truth)', text, args.device)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
