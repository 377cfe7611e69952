"""Training-step and translate timing for any registered model, fp32 vs bf16 autocast vs channels_last.

One generic timer over the engine's own update (:func:`run_iteration`), so
every model is measured the same way: a real batch from the model's built-in
synthetic store (``ModelSpec.synthetic``) at the requested size, the
recipe's batch size, one warm-up iteration, then the median over
``--repeats`` of one full iteration *cycle* (``lcm`` of the phases' ``every``,
e.g. 5 critic + 1 generator update for LOMIT), reported per iteration.

    python benchmarks/bench_steps.py --models ugatit:selfie2anime_light:256,lomit:celeba:128 --device cpu \\
        --variants fp32,bf16
    python benchmarks/bench_steps.py --device cuda --variants fp32,bf16,bf16+cl       (see gpu_check.py)

Writes section "Training steps (<device>)" of docs/BENCHMARKS.md unless
``--no-write``.  bf16 = ``torch.autocast(device, bfloat16)`` around each phase's
loss as ``train.amp = true`` does; ``cl`` = channels_last weights and images.
Also reports whether the bf16 losses stay finite and how far the first
iteration's losses are from fp32's (relative), as a first stability check.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import default_collate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import write_section  # noqa: E402

from i2icli.config import read_recipe, resolve  # noqa: E402
from i2icli.data.keyed import dataset_image_keys  # noqa: E402
from i2icli.engine.iteration import build_optimizers, run_iteration  # noqa: E402
from i2icli.engine.loop import to_device  # noqa: E402
from i2icli.guidance import Guidance, validate  # noqa: E402
from i2icli.models.base import Nets  # noqa: E402
from i2icli.prepare.synthetic import DigitsRequest, FacesRequest, prepare_digits, prepare_faces  # noqa: E402
from i2icli.registry import RECIPES_DIR, config_cls_for, get  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def make_store(kind: str, size: int, root: Path, count: int) -> Path:
    out = root / f"{kind}-{size}.h5"
    if out.exists():
        return out
    if kind == "digits":
        prepare_digits(DigitsRequest(out=out, count=count, test_count=2, size=size))
    else:
        prepare_faces(FacesRequest(out=out, count=count, test_count=2, size=128 if size > 64 else 64))
    return out


def measure(model: str, recipe: str, size: int, device: str, variant: str, repeats: int, root: Path,
            batch: int | None) -> dict:
    spec = get(model)
    path = RECIPES_DIR / model / f"{recipe}.toml"
    cfg0 = resolve(read_recipe(path), config_cls_for, str(path), model=model)
    b = batch or cfg0.train.batch_size
    assert spec.synthetic is not None, f"{model} names no synthetic store"
    store = make_store(spec.synthetic, size, root, max(2 * b, 8))
    over = [f"data.path={str(store)!r}", f"data.image_size={size}", f"data.load_size={size}", "data.num_workers=0",
            f"train.batch_size={b}"]
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model=model, overrides=over)
    torch.manual_seed(0)
    family = spec.build(cfg)
    cl = "cl" in variant
    bf16 = "bf16" in variant
    family.networks.to(device)
    if cl:
        family.networks.to(memory_format=torch.channels_last)
    frozen = family.frozen_networks()
    for m in frozen.values():
        m.to(device).eval().requires_grad_(False)
    ds = spec.dataset(cfg, "train")
    keys = dataset_image_keys(ds)
    data = to_device(default_collate([ds[i] for i in range(b)]), device, cl, keys)
    nets = Nets({**dict(family.networks.items()), **frozen})
    views = {p.name: nets for p in family.phases}
    opts = build_optimizers(family)
    amp = (lambda: torch.autocast("cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16)) \
        if bf16 else contextlib.nullcontext
    cycle = math.lcm(*(p.every for p in family.phases))
    family.networks.train()
    first_logs: dict[str, float] = {}
    times = []
    finite = True
    it = 0
    for rep in range(repeats + 1):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(cycle):
            done = run_iteration(family, views, opts, data, it, amp, check_finite=lambda loss: True)
            if it == 0:
                first_logs = {f"{p.name}.{k}": float(v) for p, logs in done for k, v in logs.items()}
            finite = finite and all(math.isfinite(float(v)) for _, logs in done for v in logs.values())
            it += 1
        _sync(device)
        if rep:
            times.append((time.perf_counter() - t0) / cycle)
    family.networks.eval()
    needs_exemplar = any("exemplar" in r.split("|") for r in spec.requires)
    g = validate(spec, Guidance(exemplar=data[keys[-1]][:1]) if needs_exemplar else Guidance())
    lat = []
    with torch.no_grad(), amp():
        for rep in range(repeats + 1):
            _sync(device)
            t0 = time.perf_counter()
            family.translate(data[keys[0]][:1], g)
            _sync(device)
            if rep:
                lat.append(time.perf_counter() - t0)
    params = sum(p.numel() for p in family.networks.parameters())
    return {"model": model, "recipe": recipe, "size": size, "batch": b, "variant": variant,
            "s_per_it": statistics.median(times), "translate_ms": 1000 * statistics.median(lat),
            "params_m": params / 1e6, "finite": finite, "first_logs": first_logs}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="ugatit:tiny:64,lomit:tiny:64",
                    help="comma-separated MODEL:RECIPE:SIZE (recipe name without .toml)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--variants", default="fp32,bf16", help="comma-separated from fp32, bf16, fp32+cl, bf16+cl")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=0, help="batch size (0: the recipe's)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for item in args.models.split(","):
            model, recipe, size = item.split(":")
            base = None
            for variant in args.variants.split(","):
                r = measure(model, recipe, int(size), args.device, variant, args.repeats, Path(tmp),
                            args.batch or None)
                if base is None:
                    base = r
                r["speedup"] = base["s_per_it"] / r["s_per_it"]
                common = set(base["first_logs"]) & set(r["first_logs"])
                r["loss_rel"] = max((abs(r["first_logs"][k] - base["first_logs"][k]) /
                                     max(abs(base["first_logs"][k]), 1e-3) for k in common), default=0.0)
                print({k: v for k, v in r.items() if k != "first_logs"}, flush=True)
                rows.append(r)
    lines = ["One iteration = every phase due, as the engine runs it (`run_iteration`), averaged over a full "
             "phase cycle; medians over the repeats after one warm-up cycle; Adam steps included.",
             "", "| model | recipe | px | batch | params (M) | variant | s / iteration | speed-up | "
             "translate 1 image (ms) | losses finite | 1st-iteration losses vs first variant (max rel.) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['recipe']} | {r['size']} | {r['batch']} | {r['params_m']:.1f} | "
                     f"{r['variant']} | {r['s_per_it']:.3f} | {r['speedup']:.2f}x | {r['translate_ms']:.1f} | "
                     f"{'yes' if r['finite'] else 'NO'} | {r['loss_rel']:.3f} |")
    if not args.no_write:
        title = "Training steps (" + args.device.split(":")[0] + ")"
        print(f"wrote {write_section(title, chr(10).join(lines), args.device)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
