"""LOMIT speed: training iterations/s and translation latency (writes section "LOMIT speed" of docs/BENCHMARKS.md).

Measures the family's own steps the way the engine drives them (one
discriminator update per iteration, one generator update every ``n_critic``
iterations; Adam steps included) on random images, at the paper's 128 px
CelebA configuration (recipes/lomit/celeba.toml: batch 8, 64 base channels,
10 attributes) and at the tiny recipe's 32 px, plus single-image translation
latency.  No data store is needed.  ``--batch`` overrides the recipes' batch
size (one paper-size generator step at batch 8 is several TFLOP, minutes on a
small CPU).

    python benchmarks/bench_lomit_speed.py [--device cpu|cuda] [--repeats 3] [--sizes 32,128] [--batch N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import write_section  # noqa: E402

from i2icli.config import read_recipe, resolve  # noqa: E402
from i2icli.engine.iteration import build_optimizers  # noqa: E402
from i2icli.guidance import Guidance  # noqa: E402
from i2icli.models.base import Nets  # noqa: E402
from i2icli.registry import RECIPES_DIR, config_cls_for, get  # noqa: E402


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _cfg(recipe: str, size: int, batch: int | None):
    path = RECIPES_DIR / "lomit" / recipe
    over = [f"data.image_size={size}", f"data.load_size={size}"]
    if batch:
        over.append(f"train.batch_size={batch}")
    return resolve(read_recipe(path), config_cls_for, str(path), overrides=over, model="lomit")


def measure(recipe: str, size: int, device: str, repeats: int, batch: int | None = None) -> dict[str, float]:
    torch.manual_seed(0)
    cfg = _cfg(recipe, size, batch)
    family = get("lomit").build(cfg)
    family.networks.to(device).train()
    b, n_attr = cfg.train.batch_size, len(cfg.data.attributes)
    batch_t = {"x": torch.rand(b, 3, size, size, device=device) * 2 - 1,
               "y": torch.rand(b, 3, size, size, device=device) * 2 - 1,
               "x_labels": torch.randint(0, 2, (b, n_attr), device=device).float(),
               "y_labels": torch.randint(0, 2, (b, n_attr), device=device).float()}
    nets = Nets(family.networks)
    optims = build_optimizers(family)

    def run_phase(phase) -> float:
        for name, module in family.networks.items():
            module.requires_grad_(name in phase.modules)
        _sync(device)
        t0 = time.perf_counter()
        loss, _ = family.step(phase.name, nets, batch_t, 0)
        optims[phase.name].zero_grad(set_to_none=True)
        loss.backward()
        optims[phase.name].step()
        _sync(device)
        return time.perf_counter() - t0

    times: dict[str, list[float]] = {ph.name: [] for ph in family.phases}
    for rep in range(repeats + 1):  # the first round warms up
        for ph in family.phases:
            t = run_phase(ph)
            if rep:
                times[ph.name].append(t)
    d = statistics.median(times["discriminator"])
    g = statistics.median(times["generator"])
    every = family.phases[1].every
    family.networks.eval()
    x1, e1 = batch_t["x"][:1], batch_t["y"][:1]
    lat = []
    with torch.no_grad():
        for rep in range(repeats + 1):
            _sync(device)
            t0 = time.perf_counter()
            family.translate(x1, Guidance(exemplar=e1))
            _sync(device)
            if rep:
                lat.append(time.perf_counter() - t0)
    params = sum(p.numel() for p in family.networks.parameters())
    return {"recipe": recipe, "size": size, "batch": b, "d_step_s": d, "g_step_s": g, "every": every,
            "it_per_s": 1.0 / (d + g / every), "translate_ms": 1000 * statistics.median(lat), "params_m": params / 1e6}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--sizes", default="32,128", help="< 128 uses recipes/lomit/tiny.toml, "
                                                      "128 recipes/lomit/celeba.toml")
    ap.add_argument("--batch", type=int, default=0, help="batch size (0: the recipe's)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch docs/BENCHMARKS.md")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        recipe = "celeba.toml" if size >= 128 else "tiny.toml"
        r = measure(recipe, size, args.device, args.repeats, args.batch or None)
        print(r, flush=True)
        rows.append(r)
    lines = ["Training iteration = one critic update, plus one generator update every 5th iteration "
             "(Section 5.2); times are medians over the repeats after one warm-up round, Adam steps included, "
             "random images, fp32.",
             "",
             "| recipe | px | batch | params (M) | D step (s) | G step (s) | iterations/s | translate 1 image (ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['size']} | {r['batch']} | {r['params_m']:.1f} | {r['d_step_s']:.3f} | "
                     f"{r['g_step_s']:.3f} | {r['it_per_s']:.3f} | {r['translate_ms']:.1f} |")
    lines += ["", f"Repeats: {args.repeats}. On a shared CPU the numbers vary by 2x or more between runs; "
              "compare only runs on the same device."]
    if not args.no_write:
        print(f"wrote {write_section('LOMIT speed', chr(10).join(lines), args.device)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
