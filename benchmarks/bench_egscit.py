"""EGSC-IT: Table 2's ablation on synthetic digits (MNIST-Single protocol) and training speed.

Writes sections "EGSC-IT MNIST-Single ablation" and "EGSC-IT speed" of docs/BENCHMARKS.md.

Quality (``--quality``): for every seed, stage 1 (per-domain VAE-GANs, whose
encoders become F_A/F_B) is trained once through :func:`i2icli.engine.train`
and shared by the variants of that seed; then stage 2 is trained for each
variant with the same data, seed and budget:

- ``full``: EGSC-IT (feature mask eta = 0.5, exemplar AdaIN);
- ``no_mask``: ``model.mask_eta = 1`` (w/o feature mask);
- ``no_adain``: ``model.use_adain = false`` (w/o AdaIN).

All three run **without L_P** (``lambda_style = lambda_content = 0``): there is
no ImageNet VGG-19 on the benchmark machines, so these rows correspond to the
paper's protocol with the perceptual loss removed, which the table says.  Every
checkpoint (``--eval-every``) is scored on the store's held-out ground-truth
pairs (`i2i prepare synthetic digits`: pair 2k translates a_k with exemplar b_k
to x_AB, pair 2k+1 b_k with exemplar a_k to x_BA) with
:func:`i2icli.metrics.ssim.ssim_pair` (the function behind `i2i eval ssim`:
scikit-image, 7x7 window, data range 255, per channel), giving the learning
curve; the final row is the last checkpoint, mean over pairs, then mean and
[min, max] over seeds.

Full protocol (GPU; Table 6 budget: 60k paper iterations = 300k engine
iterations at batch 8, lr 1e-5; stage 1: 60k iterations)::

    python benchmarks/bench_egscit.py --quality --seeds 0 1 2 --stage1-iterations 60000 \\
        --iterations 300000 --eval-every 20000 --device cuda --workdir runs/bench_egscit

Speed (``--speed``): one generator step and one discriminator step of the
MNIST-Single model (n1 = 1, 32 px, batch 8) and of the CelebA model (n1 = 3,
128 px, batch 8), without L_P, timed on random batches after warm-up; FLOPs of
forward + backward counted with ``torch.utils.flop_counter.FlopCounterMode``;
the machine's fp32 matmul peak (a 2048^3 sgemm at the same thread count) for
scale.  An engine iteration is one generator step plus a discriminator step
every 5th iteration.
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

from i2icli.config import read_recipe, resolve  # noqa: E402
from i2icli.data.store import open_store  # noqa: E402
from i2icli.data.transforms import resize  # noqa: E402
from i2icli.engine import TrainRequest, train  # noqa: E402
from i2icli.engine import checkpoint as ckpt  # noqa: E402
from i2icli.guidance import Guidance  # noqa: E402
from i2icli.images import to_tensor, to_uint8  # noqa: E402
from i2icli.metrics.ssim import ssim_pair  # noqa: E402
from i2icli.registry import RECIPES_DIR, config_cls_for, get  # noqa: E402
from i2icli.translate import load_run  # noqa: E402

RECIPE = RECIPES_DIR / "egscit" / "mnist_single.toml"
VARIANTS = {
    "full": ["model.mask_eta=0.5", "model.use_adain=true"],
    "no_mask": ["model.mask_eta=1.0", "model.use_adain=true"],
    "no_adain": ["model.mask_eta=0.5", "model.use_adain=false"],
}
LABEL = {"full": "EGSC-IT (full, w/o L_P)", "no_mask": "w/o feature mask (w/o L_P)",
         "no_adain": "w/o AdaIN (w/o L_P)"}
PAPER = {"full": (0.478, 0.232), "no_mask": (0.395, 0.133), "no_adain": (0.208, 0.080)}
NO_LP = ["model.lambda_style=0", "model.lambda_content=0"]


def config(over: list[str], recipe: Path = RECIPE):
    return resolve(read_recipe(recipe), config_cls_for, str(recipe), overrides=over, model="egscit")


def common(args, data: Path, seed: int, iterations: int) -> list[str]:
    return [f"data.path={data}", f"data.image_size={args.size}", f"data.load_size={args.load_size or args.size + 4}",
            "data.num_workers=0", f"train.iterations={iterations}", f"train.batch_size={args.batch}",
            f"train.seed={seed}", f"train.lr={args.lr}", f"train.checkpoint_every={args.eval_every}",
            f"train.keep_checkpoints={iterations // args.eval_every + 2}", f"train.sample_every={iterations}",
            f"train.log_every={max(1, min(100, iterations // 20))}", *NO_LP, *args.set]


def train_stage1(args, data: Path, work: Path, seed: int) -> Path:
    out = work / f"stage1-seed{seed}"
    if ckpt.latest_checkpoint(out) is not None:
        return out
    over = common(args, data, seed, args.stage1_iterations) + ["model.stage=pretrain",
                                                                f"train.checkpoint_every={args.stage1_iterations}"]
    train(TrainRequest(cfg=config(over), out=out, device=args.device))
    return out


def train_variant(args, data: Path, work: Path, seed: int, variant: str, stage1: Path) -> Path:
    out = work / f"{variant}-seed{seed}"
    if ckpt.latest_checkpoint(out) is not None and ckpt.latest_checkpoint(out).name.endswith(f"{args.iterations:08d}"):
        return out
    over = common(args, data, seed, args.iterations) + [f"model.stage1_run={stage1}", *VARIANTS[variant]]
    train(TrainRequest(cfg=config(over), out=out, device=args.device))
    return out


def test_pairs(store) -> list[tuple[int, int, int, str]]:
    """(pair, input index, exemplar index, "a2b"|"b2a") for every ground-truth test pair."""
    p = store.pairs("test")
    if p is None:
        raise SystemExit(f"{store.path}: no ground-truth test pairs; prepare it with `i2i prepare synthetic digits`")
    dom = store.domain_ids("test")
    a = store.domain_index("a")
    return [(k, int(p.input[k]), int(p.exemplar[k]), "a2b" if int(dom[int(p.input[k])]) == a else "b2a")
            for k in range(len(p.input))]


def score_pairs(fn, store, pairs, size: int, batch: int = 64) -> dict[str, tuple[float, float]]:
    """SSIM to the ground truth per direction, (mean, std) over pairs, of ``fn(x, exemplar, direction) -> y``."""
    scores: dict[str, list[float]] = {"a2b": [], "b2a": []}
    for direction in ("a2b", "b2a"):
        rows = [r for r in pairs if r[3] == direction]
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            x = torch.stack([to_tensor(resize(store.image("test", i), size)) for _, i, _, _ in chunk])
            e = torch.stack([to_tensor(resize(store.image("test", j), size)) for _, _, j, _ in chunk])
            out = fn(x, e, direction)
            for (k, _, _, _), y in zip(chunk, out.cpu(), strict=True):
                scores[direction].append(ssim_pair(to_uint8(y), resize(store.truth("test", k), size)))
    return {d: (float(np.mean(v)), float(np.std(v))) for d, v in scores.items()}


def evaluate(run: Path, checkpoint: Path, store, pairs, size: int, device: str) -> dict[str, tuple[float, float]]:
    """A checkpoint's translations (input, exemplar, direction of each ground-truth pair) scored by SSIM."""
    loaded = load_run(run, device=device, checkpoint=checkpoint)

    def fn(x: torch.Tensor, e: torch.Tensor, direction: str) -> torch.Tensor:
        with torch.no_grad():
            g = Guidance(direction=direction, exemplar=e.to(loaded.device))  # type: ignore[arg-type]
            return loaded.family.translate(x.to(loaded.device), g)["output"]

    return score_pairs(fn, store, pairs, size)


BASELINES = {"identity (output = input)": lambda x, e, d: x, "exemplar (output = exemplar)": lambda x, e, d: e}


def quality(args) -> str:
    with tempfile.TemporaryDirectory(prefix="bench_egscit_") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = args.data
        if data is None:
            from i2icli.prepare.synthetic import DigitsRequest, prepare_digits

            data = work / "digits.h5"
            if not data.exists():
                prepare_digits(DigitsRequest(out=data, count=args.count, test_count=args.test_count, seed=0))
        store = open_store(data)
        pairs = test_pairs(store)
        baselines = {name: score_pairs(fn, store, pairs, args.size) for name, fn in BASELINES.items()}
        curves: dict[str, dict[int, list[dict]]] = {v: {} for v in args.variants}
        for seed in args.seeds:
            t0 = time.perf_counter()
            stage1 = train_stage1(args, data, work, seed)
            print(f"seed {seed}: stage 1 in {time.perf_counter() - t0:.0f} s", flush=True)
            for variant in args.variants:
                t0 = time.perf_counter()
                run = train_variant(args, data, work, seed, variant, stage1)
                seconds = time.perf_counter() - t0
                for c in ckpt.list_checkpoints(run / "checkpoints"):
                    it = int(c.name.split("_")[1])
                    r = evaluate(run, c, store, pairs, args.size, args.device)
                    curves[variant].setdefault(it, []).append(r)
                    print(f"seed {seed} {variant} it {it}: A2B {r['a2b'][0]:.4f}  B2A {r['b2a'][0]:.4f} "
                          f"({seconds:.0f} s training)", flush=True)
        (work / "curves.json").write_text(json.dumps({"curves": curves, "baselines": baselines}, indent=1))
    if args.plot:
        plot(args.plot, curves, baselines, args.seeds)
    return report(args, curves, baselines, len(pairs) // 2)


def plot(path: Path, curves, baselines, seeds: list[int]) -> None:
    """SSIM-to-truth curves per direction: mean over seeds as a line, the seeds' range as a band."""
    from plot import plot_curves

    panels = {}
    for d, title in (("a2b", "A→B SSIM to truth"), ("b2a", "B→A SSIM to truth")):
        series = {LABEL[v]: [(it, [r[d][0] for r in by_it[it]]) for it in sorted(by_it)]
                  for v, by_it in curves.items() if by_it}
        its = sorted({it for by_it in curves.values() for it in by_it})
        for name, r in baselines.items():
            series[name] = [(it, [r[d][0]]) for it in its]
        panels[title] = series
    plot_curves(path, panels, f"EGSC-IT on synthetic digits, w/o L_P (seeds {' '.join(map(str, seeds))}; "
                "line: mean, band: min-max)")
    print(f"wrote {path}")


def ordering(curves) -> str:
    """Does Table 2's A→B ordering full > w/o mask > w/o AdaIN hold at the last checkpoint, seeds' ranges apart?"""
    last = {v: [r["a2b"][0] for r in by_it[max(by_it)]] for v, by_it in curves.items() if by_it}
    if not all(v in last for v in ("full", "no_mask", "no_adain")):
        return ""
    verdicts = []
    for hi, lo in (("full", "no_mask"), ("no_mask", "no_adain")):
        gap = min(last[hi]) - max(last[lo])
        verdicts.append(f"{LABEL[hi]} > {LABEL[lo]}: {'yes, ranges apart' if gap > 0 else 'NO'} "
                        f"(worst seed of the first - best of the second: {gap:+.4f})")
    return "Table 2's A→B ordering at the last checkpoint: " + "; ".join(verdicts) + "."


def report(args, curves, baselines, n_pairs: int) -> str:
    lines = [f"Synthetic digits (`i2i prepare synthetic digits`, {args.size} px; {n_pairs} test pairs per direction), "
             f"seeds {' '.join(map(str, args.seeds))}; stage 1 {args.stage1_iterations} iterations, stage 2 "
             f"{args.iterations} engine iterations (= {args.iterations // 5} paper iterations of 1 D + 5 G updates), "
             f"batch {args.batch}, lr {args.lr}, poly decay, recipe recipes/egscit/mnist_single.toml"
             f"{' with ' + ', '.join(args.set) if args.set else ''}, device {args.device}.",
             "**All rows are without L_P** (style and content weights 0): no ImageNet VGG-19 on this machine, "
             "so no VGG was loaded; the paper's columns are given for reference only (its rows use L_P, "
             "28 px MNIST and 60k paper iterations).",
             "",
             "| variant | A→B SSIM mean over seeds [min, max] | B→A SSIM mean over seeds [min, max] | "
             "pair std (A→B / B→A) | paper A→B / B→A |",
             "|---|---|---|---|---|"]
    for v, by_it in curves.items():
        if not by_it:
            continue
        last = by_it[max(by_it)]
        cells = []
        for d in ("a2b", "b2a"):
            means = [r[d][0] for r in last]
            cells.append(f"{np.mean(means):.4f} [{min(means):.4f}, {max(means):.4f}]")
        stds = "/".join(f"{np.mean([r[d][1] for r in last]):.3f}" for d in ("a2b", "b2a"))
        pa, pb = PAPER[v]
        lines.append(f"| {LABEL[v]} | {cells[0]} | {cells[1]} | {stds} | {pa:.3f} / {pb:.3f} (with L_P) |")
    for name, r in baselines.items():
        lines.append(f"| {name} (no model) | {r['a2b'][0]:.4f} | {r['b2a'][0]:.4f} | "
                     f"{r['a2b'][1]:.3f}/{r['b2a'][1]:.3f} | - |")
    lines += ["", "Learning curve (A→B SSIM, mean over seeds, at each checkpoint):", "",
              "| iteration | " + " | ".join(LABEL[v] for v in curves) + " |",
              "|---|" + "---|" * len(curves)]
    its = sorted({it for by_it in curves.values() for it in by_it})
    for it in its:
        row = [f"{np.mean([r['a2b'][0] for r in curves[v][it]]):.4f}" if it in curves[v] else "-" for v in curves]
        lines.append(f"| {it} | " + " | ".join(row) + " |")
    verdict = ordering(curves)
    if verdict:
        lines += ["", verdict]
    return "\n".join(lines)


# --------------------------------------------------------------------------- speed


def peak_gflops(threads: int, n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def time_step(fam, phase: str, batch: dict, reps: int) -> tuple[float, float]:
    """(seconds per step, GFLOP per step) of one forward + backward + Adam update of ``phase``."""
    from torch.utils.flop_counter import FlopCounterMode

    from i2icli.engine.iteration import build_optimizers, set_trainable
    from i2icli.models.base import Nets

    ph = next(p for p in fam.phases if p.name == phase)
    opt = build_optimizers(fam)[ph.optimizer_name]
    nets = Nets(dict(fam.networks.items()))

    def once() -> None:
        set_trainable(fam, ph)
        loss, _ = fam.step(phase, nets, batch, 0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    with FlopCounterMode(display=False) as counter:
        once()
    flops = counter.get_total_flops()
    once()
    t0 = time.perf_counter()
    for _ in range(reps):
        once()
    return (time.perf_counter() - t0) / reps, flops / 1e9


def speed(args) -> str:
    rows = []
    peak = peak_gflops(torch.get_num_threads())
    for name, over, size in (("MNIST-Single (n1 = 1, 32 px)", ["model.n1=1"], 32),
                             ("CelebA (n1 = 3, 128 px)", ["model.n1=3"], 128)):
        cfg = config([*NO_LP, *over, f"data.image_size={size}", f"train.batch_size={args.speed_batch}",
                      "model.stage1_run=unused"], RECIPES_DIR / "egscit" / "mnist_single.toml")
        torch.manual_seed(0)
        fam = get("egscit").build(cfg)
        g = torch.Generator().manual_seed(0)
        batch = {k: torch.rand(args.speed_batch, 3, size, size, generator=g) * 2 - 1 for k in ("a", "b")}
        reps = args.speed_reps if size <= 32 else max(1, args.speed_reps // 4)
        g_s, g_f = time_step(fam, "generator", batch, reps)
        d_s, d_f = time_step(fam, "discriminator", batch, reps)
        it_s = g_s + d_s / 5
        rows.append(f"| {name} | {args.speed_batch} | {g_s * 1000:.0f} | {g_f:.1f} | {g_f / g_s:.1f} | "
                    f"{d_s * 1000:.0f} | {d_f:.1f} | {d_f / d_s:.1f} | {it_s * 1000:.0f} |")
        print(rows[-1], flush=True)
    lines = [f"One training step on random batches, without L_P, {torch.get_num_threads()} torch thread(s), "
             f"after one warm-up step; GFLOP counted by torch's FlopCounterMode (forward + backward; the Adam "
             f"update is not counted). Machine fp32 matmul peak for scale: **{peak:.1f} GFLOP/s** "
             "(2048^3 sgemm, same threads).", "",
             "| model | batch | G step (ms) | G GFLOP | G GFLOP/s | D step (ms) | D GFLOP | D GFLOP/s | "
             "engine iteration (G + D/5, ms) |",
             "|---|---|---|---|---|---|---|---|---|", *rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quality", action="store_true", help="train and score the ablation")
    ap.add_argument("--speed", action="store_true", help="time the training steps")
    ap.add_argument("--data", type=Path, help="an `i2i prepare synthetic digits` store (default: prepare one)")
    ap.add_argument("--count", type=int, default=2000, help="training digits per domain when preparing")
    ap.add_argument("--test-count", type=int, default=500, help="test pairs per direction when preparing")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--stage1-iterations", type=int, default=60_000)
    ap.add_argument("--iterations", type=int, default=300_000, help="stage-2 engine iterations (5 per paper iteration)")
    ap.add_argument("--eval-every", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--load-size", type=int, default=0, help="resize before the random crop (default size + 4)")
    ap.add_argument("--speed-batch", type=int, default=8)
    ap.add_argument("--speed-reps", type=int, default=8)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], help="extra override for both stages, e.g. model.channels=16")
    ap.add_argument("--workdir", type=Path, help="keep the store and runs here (default: a temporary folder)")
    ap.add_argument("--note", default="", help="a paragraph appended to the quality section (e.g. budget caveats)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch docs/BENCHMARKS.md")
    ap.add_argument("--plot", type=Path, default=None, help="learning curves as a PNG (needs the bench extra)")
    args = ap.parse_args(argv)
    if not (args.quality or args.speed):
        ap.error("choose --quality and/or --speed")
    if args.eval_every < 1 or args.iterations % args.eval_every:
        ap.error("--iterations must be a multiple of --eval-every")
    torch.set_num_threads(args.threads)
    if args.speed:
        text = speed(args)
        print(text)
        if not args.no_write:
            print(f"wrote {write_section('EGSC-IT speed', text, args.device)}")
    if args.quality:
        text = quality(args) + (f"\n\n{args.note.strip()}" if args.note.strip() else "")
        print(text)
        if not args.no_write:
            print(f"wrote {write_section('EGSC-IT MNIST-Single ablation', text, args.device)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
