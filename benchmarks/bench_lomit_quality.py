"""LOMIT vs a global-AdaIN ablation on synthetic faces (writes section "LOMIT quality" of docs/BENCHMARKS.md).

The paper's claim (Sections 1, 6.3): local masks + highway AdaIN translate the
relevant region and leave the rest of the image (the background) intact,
whereas applying the exemplar's style globally distorts it.  We check it on
`i2i prepare synthetic faces`, whose held-out test pairs come with the exact
translation and the region where it may differ from the input:

1. prepare a synthetic-faces store (or use ``--data``);
2. train LOMIT and the ablation ``model.global_adain = true`` (the mask forced
   to one: plain AdaIN with the exemplar's foreground code over the whole
   image) with the same recipe (recipes/lomit/synthetic.toml), data and budget
   over several seeds through :func:`i2icli.engine.train`, a checkpoint every
   ``--eval-every`` iterations;
3. score every checkpoint on the test pairs whose chosen attributes are hair
   colour only (:mod:`i2icli.metrics.groundtruth`: background PSNR/SSIM, hair
   colour error, input-mask IoU with the true hair region, and the same with
   the background kept as ``translate --keep-background`` does), giving the
   curves (examples/lomit_quality_curves.png: mean line, min-max band over
   seeds) and the table (mean [min, max] at the last checkpoint).

The "identity" row (output = input) bounds background preservation from
above and its hair error is the size of the edit.

    python benchmarks/bench_lomit_quality.py --workdir runs/bench_lomit            # 3 seeds x 2 variants
    # in parallel, one process per run, then score them all:
    python benchmarks/bench_lomit_quality.py --workdir W --variants lomit --seeds 0 --train-only &
    ...
    python benchmarks/bench_lomit_quality.py --workdir W
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
from i2icli.engine import TrainRequest, train  # noqa: E402
from i2icli.engine import checkpoint as ckpt  # noqa: E402
from i2icli.metrics.groundtruth import HAIR, best_fixed_mask_iou, pairs_changing_only, score_exemplar_run  # noqa: E402
from i2icli.registry import RECIPES_DIR, config_cls_for  # noqa: E402
from i2icli.translate import load_run  # noqa: E402

VARIANTS = {"lomit": [], "global": ["model.global_adain=true"]}
LABELS = {"lomit": "LOMIT (co-segmentation masks + HAdaIN)", "global": "global AdaIN ablation (mask = 1)"}


def prepare(out: Path, count: int, test_count: int, pairs: int, seed: int) -> Path:
    from i2icli.prepare.synthetic import FacesRequest, prepare_faces

    prepare_faces(FacesRequest(out=out, count=count, test_count=test_count, pairs=pairs, size=64, seed=seed))
    return out


def evaluate(run_dir: Path | None, store, pairs: list[int], size: int, device: str,
             checkpoint: Path | None = None) -> dict[str, float]:
    """Mean scores over the hair-only test pairs; ``run_dir = None`` scores the identity (output = input)."""
    loaded = load_run(run_dir, device=device, checkpoint=checkpoint) if run_dir else None
    return score_exemplar_run(loaded, store, pairs, size)


def train_run(data: Path, out: Path, variant: str, seed: int, args) -> float:
    """Train (or resume, when ``out`` holds checkpoints) one variant/seed; checkpoints every ``--eval-every``."""
    path = RECIPES_DIR / "lomit" / f"{args.recipe}.toml"
    over = [f"data.path={str(data)!r}", f"data.image_size={args.size}", f"data.load_size={args.size}",
            f"data.attributes={json.dumps(list(HAIR))}", "data.num_workers=0",
            f"train.iterations={args.iterations}", f"train.batch_size={args.batch}", f"train.seed={seed}",
            f"train.checkpoint_every={args.eval_every}", "train.keep_checkpoints=0",
            f"train.sample_every={args.iterations}", f"train.log_every={max(1, args.eval_every // 5)}",
            *VARIANTS[variant], *args.set]
    cfg = resolve(read_recipe(path), config_cls_for, str(path), overrides=over, model="lomit")
    t0 = time.perf_counter()
    train(TrainRequest(cfg=cfg, out=out, device=args.device, resume="auto" if ckpt.latest_checkpoint(out) else None))
    return time.perf_counter() - t0


def trained_seconds(run: Path) -> float:
    """Training wall time of a run, as its metrics log recorded it (also for runs finished earlier)."""
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").is_file() else []
    return float(json.loads(lines[-1]).get("elapsed_s", 0.0)) if lines else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an existing `i2i prepare synthetic faces` store (default: prepare one)")
    ap.add_argument("--count", type=int, default=4000, help="training faces when preparing")
    ap.add_argument("--pairs", type=int, default=1500, help="test pairs when preparing (about 1 in 8 is hair-only)")
    ap.add_argument("--recipe", default="synthetic", help="recipes/lomit/<name>.toml")
    ap.add_argument("--iterations", type=int, default=20_000)
    ap.add_argument("--eval-every", type=int, default=2_000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=32, help="training/evaluation resolution (faces are drawn at 64)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default="lomit,global", help=f"comma-separated, from {', '.join(VARIANTS)}")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads "
                         "(1 is fastest on a shared machine: spinning OpenMP threads stall otherwise)")
    ap.add_argument("--set", action="append", default=[], help="extra recipe override, e.g. model.channels=16")
    ap.add_argument("--workdir", type=Path,
                    help="keep the store and runs here; runs found there are resumed, finished ones only scored "
                         "(so several processes, one per seed or variant, can fill one workdir in parallel)")
    ap.add_argument("--train-only", action="store_true", help="train the runs, score nothing (for parallel workers)")
    ap.add_argument("--no-write", action="store_true", help="print only; touch neither docs/ nor examples/")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")

    with tempfile.TemporaryDirectory(prefix="bench_lomit_") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = args.data or work / "faces.h5"
        if not data.exists():
            prepare(data, args.count, 300, args.pairs, 0)
        seconds: dict[str, list[float]] = {}
        for v in variants:
            for seed in seeds:
                run = work / f"{v}-s{seed}"
                train_run(data, run, v, seed, args)
                seconds.setdefault(v, []).append(trained_seconds(run))
        if args.train_only:
            return 0
        store = open_store(data)
        pairs = pairs_changing_only(store, HAIR)
        print(f"{len(pairs)} hair-only test pairs", flush=True)
        identity = evaluate(None, store, pairs, args.size, args.device)
        identity["best_fixed_iou"] = best_fixed_mask_iou(store, pairs, args.size)
        curves: dict[str, dict[int, list[dict[str, float]]]] = {}
        for v in variants:
            for seed in seeds:
                run = work / f"{v}-s{seed}"
                for c in ckpt.list_checkpoints(run / "checkpoints"):
                    step = int(c.name.split("_")[1])
                    r = evaluate(run, store, pairs, args.size, args.device, checkpoint=c)
                    curves.setdefault(v, {}).setdefault(step, []).append(r)
                    print(v, seed, step, {k: round(x, 3) for k, x in r.items()}, flush=True)
        (work / "lomit_quality.json").write_text(json.dumps({"identity": identity, "curves": curves}, indent=1))

    panels_keys = {"bg_psnr": "background PSNR (dB)", "hair_err": "hair colour error (0-255)",
                   "iou": "input-mask IoU with the hair", "bg_psnr_kept": "background PSNR, --keep-background"}
    if not args.no_write:
        try:
            from plot import plot_curves

            png = Path(__file__).resolve().parent.parent / "examples" / "lomit_quality_curves.png"
            panels = {title: {LABELS[v]: [(s, [r[k] for r in rs]) for s, rs in sorted(curves[v].items())]
                              for v in variants if k != "iou" or v != "global"}
                      for k, title in panels_keys.items()}
            plot_curves(png, panels, f"LOMIT vs global AdaIN on synthetic faces ({args.size} px, seeds {args.seeds})")
        except SystemExit as exc:
            print(exc)
    last = {v: curves[v][max(curves[v])] for v in variants}

    lines = [f"Recipe recipes/lomit/{args.recipe}.toml at {args.size} px with the hair-colour attributes "
             f"({', '.join(HAIR)}), batch {args.batch}, {args.iterations} iterations per run (critic updates; the "
             f"generator every n_critic-th), seeds {args.seeds}, device {args.device}"
             + (f", overrides {' '.join(args.set)}" if args.set else "") + ". Data: synthetic faces "
             f"({'given store' if args.data else f'{args.count} training faces, {args.pairs} test pairs'}); scored "
             f"on the {len(pairs)} held-out pairs whose chosen attributes are hair colour only, against the exact "
             "translation. Mean [min, max] over seeds at the last checkpoint.",
             "",
             "| model | background PSNR (dB) | background SSIM | hair colour error | SSIM to truth | "
             "input-mask IoU | IoU of the average mask | mean mask | background PSNR, kept | hair error, kept | "
             "train s / run |",
             "|---|---|---|---|---|---|---|---|---|---|---|",
             f"| identity (output = input) | {identity['bg_psnr']:.2f} | {identity['bg_ssim']:.4f} | "
             f"{identity['hair_err']:.1f} | {identity['ssim']:.4f} | - | - | - | - | - | - |"]
    for v in variants:
        rs = last[v]
        lines.append(f"| {LABELS[v]} | {cell(rs, 'bg_psnr', '.2f')} | {cell(rs, 'bg_ssim', '.4f')} | "
                     f"{cell(rs, 'hair_err', '.1f')} | {cell(rs, 'ssim', '.4f')} | "
                     f"{cell(rs, 'iou', '.3f') if v != 'global' else '-'} | "
                     f"{cell(rs, 'iou_avg_mask', '.3f') if v != 'global' and 'iou_avg_mask' in rs[0] else '-'} | "
                     f"{cell(rs, 'mask_mean', '.3f')} | "
                     f"{cell(rs, 'bg_psnr_kept', '.2f')} | {cell(rs, 'hair_err_kept', '.1f')} | "
                     f"{np.mean(seconds[v]):.0f} |")
    lines += ["", "![LOMIT curves](../examples/lomit_quality_curves.png)", "",
              "Columns: background = pixels outside the truth's region (everything but the hair); hair colour "
              "error = mean absolute difference to the truth inside the region, on the 0-255 scale (the identity "
              "row's value is the size of the edit); IoU of the predicted input mask (> 0.5) with the region; "
              "IoU of the average mask = the same for one fixed mask, the predicted masks averaged over all test "
              "inputs (a mask that follows each face scores well above it, a position prior about the same); the "
              f"best any fixed mask can score on these pairs is {identity.get('best_fixed_iou', float('nan')):.3f} "
              "(the pixels inside at least half of the regions). "
              "\"kept\" = the same translation pasted over the input outside the predicted mask "
              "(`i2i translate --keep-background`, out = m y + (1 - m) x); for the ablation m = 1, so it equals "
              "the raw output. Identity's background SSIM is below 1 because near the region the 7x7 SSIM window "
              "overlaps translated pixels; its PSNR shows the background itself is untouched. Train time is "
              "wall-clock on a shared CPU."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        print(f"wrote {write_section('LOMIT quality', text, args.device)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
