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
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

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
RANDOM_LP = "L_P on a random VGG-19, not ImageNet VGG"
LABEL_RANDOM_LP = {"full": f"EGSC-IT (full, {RANDOM_LP})", "no_mask": f"w/o feature mask ({RANDOM_LP})",
                   "no_adain": f"w/o AdaIN ({RANDOM_LP})"}
LABEL_IMAGENET_LP = {"full": "EGSC-IT (full)", "no_mask": "w/o feature mask", "no_adain": "w/o AdaIN"}
PAPER = {"full": (0.478, 0.232), "no_mask": (0.395, 0.133), "no_adain": (0.208, 0.080)}
NO_LP = ["model.lambda_style=0", "model.lambda_content=0"]


def config(over: list[str], recipe: Path = RECIPE):
    return resolve(read_recipe(recipe), config_cls_for, str(recipe), overrides=over, model="egscit")


def common(args, data: Path, seed: int, iterations: int) -> list[str]:
    return [f"data.path={data}", f"data.image_size={args.size}", f"data.load_size={args.load_size or args.size + 4}",
            "data.num_workers=0", f"train.iterations={iterations}", f"train.batch_size={args.batch}",
            f"train.seed={seed}", f"train.lr={args.lr}", f"train.checkpoint_every={args.eval_every}",
            f"train.keep_checkpoints={iterations // args.eval_every + 2}", f"train.sample_every={iterations}",
            f"train.log_every={max(1, min(100, iterations // 20))}",
            *{"random": ["model.vgg='random'"], "imagenet": ["model.vgg='imagenet'"]}.get(args.lp, NO_LP), *args.set]


def train_stage1(args, data: Path, work: Path, seed: int) -> Path:
    out = work / f"stage1-seed{seed}"
    if ckpt.latest_checkpoint(out) is not None:
        return out
    over = common(args, data, seed, args.stage1_iterations) + ["model.stage=pretrain",
                                                                f"train.checkpoint_every={args.stage1_iterations}"]
    train(TrainRequest(cfg=config(over), out=out, device=args.device))
    return out


def train_variant(args, data: Path, work: Path, seed: int, variant: str, stage1: Path) -> Path:
    out = work / (f"{variant}-seed{seed}" if args.lp == "off" else f"{variant}-lp{args.lp}-seed{seed}")
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


def stroke_regions(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(background, stroke) boolean masks of a two-colour digit image: the background colour is the median of
    the border pixels, strokes are the pixels farther from it than half the largest distance."""
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]]).astype(np.float64)
    dist = np.abs(x.astype(np.float64) - np.median(border, axis=0)).sum(-1)
    stroke = dist > 0.5 * max(dist.max(), 1.0)
    return ~stroke, stroke


def region_errors(y: np.ndarray, truth: np.ndarray, x: np.ndarray) -> tuple[float, float, bool]:
    """Mean |y - truth| (0-255) on the input's background and on its strokes, and whether y's background is
    nearer the truth's stroke colour than the truth's background colour (foreground and background swapped)."""
    bg, fg = stroke_regions(x)
    err = np.abs(y.astype(np.float64) - truth).mean(-1)
    y_bg, t_bg = y[bg].astype(np.float64).mean(0), truth[bg].astype(np.float64).mean(0)
    t_fg = truth[fg].astype(np.float64).mean(0) if fg.any() else t_bg
    swapped = bool(np.abs(y_bg - t_fg).sum() < np.abs(y_bg - t_bg).sum())
    return float(err[bg].mean()), float(err[fg].mean()) if fg.any() else 0.0, swapped


PALETTE = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255)], np.float64)  # domain B's colours: red, green, blue


def digit_class(name: str) -> int | None:
    """The digit of a single-digit store image, from its name (``"a/test/000001 digit 4"``)."""
    word = str(name).rsplit("digit ", 1)[-1].strip()
    return int(word) if word.isdigit() else None


class Colours(NamedTuple):
    """Which of domain B's colours an A→B output takes, region by region (regions from the input)."""

    background: bool  # the output's background has the exemplar's background colour
    strokes: bool  # the output's strokes have the exemplar's stroke colour
    erased: bool  # the output's strokes have the exemplar's *background* colour: the digit is gone
    red_on_green: bool  # the output is red strokes on green, B's training rule for digits 5-9
    truth_red_on_green: bool  # the truth itself is red on green


def colour_choice(y: np.ndarray, truth: np.ndarray, x: np.ndarray) -> Colours:
    """Name each region's mean colour in ``y`` and ``truth`` by the nearest of B's red, green and blue.

    Domain B's *training* digits 5-9 are always red on green (Section 4), its test digits never follow that
    rule, so red-on-green outputs where the exemplar is not measure how much a model paints B's training bias
    instead of the exemplar's colours.
    """
    bg, fg = stroke_regions(x)

    def name(img: np.ndarray, region: np.ndarray) -> int:
        return int(np.abs(PALETTE - img[region].astype(np.float64).mean(0)).sum(-1).argmin())

    (y_fg, y_bg), (t_fg, t_bg) = (name(y, fg), name(y, bg)), (name(truth, fg), name(truth, bg))
    return Colours(y_bg == t_bg, y_fg == t_fg, y_fg == t_bg, (y_fg, y_bg) == (0, 1), (t_fg, t_bg) == (0, 1))


def colour_rates(rows: list[tuple[int | None, Colours]]) -> dict[str, float]:
    """Shares over A→B pairs (digit, :class:`Colours`): background and strokes right, strokes erased, strokes
    in another colour; and red-on-green outputs among pairs whose exemplar is not red on green, for digits 5-9
    (B's biased classes) and 0-4 (the control), with the number of such pairs under ``<key>_n``."""
    def share(vals: list[bool]) -> float:
        return float(np.mean(vals)) if vals else float("nan")

    out = {"background": share([c.background for _, c in rows]), "strokes": share([c.strokes for _, c in rows]),
           "erased": share([c.erased for _, c in rows]),
           "other": share([not (c.strokes or c.erased) for _, c in rows])}
    for key, classes in (("rog_59", range(5, 10)), ("rog_04", range(0, 5))):
        sel = [c.red_on_green for d, c in rows if d in classes and not c.truth_red_on_green]
        out[key], out[key + "_n"] = share(sel), len(sel)
    return out


def score_pairs(fn, store, pairs, size: int, batch: int = 64) -> dict:
    """SSIM to the ground truth per direction, (mean, std) over pairs, of ``fn(x, exemplar, direction) -> y``;
    under ``"regions"`` the colour error on the input's background and strokes and the swap rate
    (:func:`region_errors`), which say *where* an SSIM difference comes from."""
    scores: dict[str, list[float]] = {"a2b": [], "b2a": []}
    regions: dict[str, list[tuple[float, float, bool]]] = {"a2b": [], "b2a": []}
    names = store.names("test")
    colours: list[tuple[int | None, Colours]] = []
    for direction in ("a2b", "b2a"):
        rows = [r for r in pairs if r[3] == direction]
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            xs = [resize(store.image("test", i), size) for _, i, _, _ in chunk]
            x = torch.stack([to_tensor(v) for v in xs])
            e = torch.stack([to_tensor(resize(store.image("test", j), size)) for _, _, j, _ in chunk])
            out = fn(x, e, direction)
            for (k, i, _, _), y, xi in zip(chunk, out.cpu(), xs, strict=True):
                truth = resize(store.truth("test", k), size)
                y8 = to_uint8(y)
                scores[direction].append(ssim_pair(y8, truth))
                regions[direction].append(region_errors(y8, truth, xi))
                if direction == "a2b":
                    colours.append((digit_class(names[i]), colour_choice(y8, truth, xi)))
    res: dict = {d: (float(np.mean(v)), float(np.std(v))) for d, v in scores.items()}
    res["regions"] = {d: {"bg": float(np.mean([r[0] for r in v])), "fg": float(np.mean([r[1] for r in v])),
                          "swap": float(np.mean([r[2] for r in v]))} for d, v in regions.items()}
    res["colours"] = colour_rates(colours)
    return res


def evaluate(run: Path, checkpoint: Path, store, pairs, size: int, device: str,
             mask_eta: float | None = None) -> dict:
    """A checkpoint's translations (input, exemplar, direction of each ground-truth pair) scored by SSIM;
    ``mask_eta`` replaces the run's eta at test time (1 = the trained model with its feature mask switched off)."""
    loaded = load_run(run, device=device, checkpoint=checkpoint)
    if mask_eta is not None:
        loaded.family.mcfg = dataclasses.replace(loaded.family.mcfg, mask_eta=mask_eta)  # type: ignore[attr-defined]

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
        plot(args.plot, curves, baselines, args.seeds, args.lp)
    return report(args, curves, baselines, len(pairs) // 2)


def mask_off(args) -> str:
    """The trained full models of ``--workdir`` scored as trained and with the feature mask switched off at test
    time (eta = 1): does the model draw the digit from its own content or from the frozen F's mask?"""
    store = open_store(args.data or args.workdir / "digits.h5")
    pairs = test_pairs(store)
    lines = ["| seed | eta | A→B SSIM | strokes right | strokes erased | strokes another colour |",
             "|---|---|---|---|---|---|"]
    for seed in args.seeds:
        run = args.workdir / (f"full-seed{seed}" if args.lp == "off" else f"full-lp{args.lp}-seed{seed}")
        last = ckpt.latest_checkpoint(run)
        if last is None:
            raise SystemExit(f"{run}: no checkpoint; train it first (--quality with the same --workdir)")
        for eta in (None, 1.0):
            r = evaluate(run, last, store, pairs, args.size, args.device, mask_eta=eta)
            c = r["colours"]
            lines.append(f"| {seed} | {'trained' if eta is None else eta} | {r['a2b'][0]:.4f} | "
                         f"{c['strokes']:.0%} | {c['erased']:.0%} | {c['other']:.0%} |")
    return "\n".join(lines)


def labels(lp: str) -> dict[str, str]:
    return {"random": LABEL_RANDOM_LP, "imagenet": LABEL_IMAGENET_LP}.get(lp, LABEL)


def plot(path: Path, curves, baselines, seeds: list[int], lp: str = "off") -> None:
    """SSIM-to-truth curves per direction: mean over seeds as a line, the seeds' range as a band."""
    from plot import plot_curves

    lab = labels(lp)

    panels = {}
    for d, title in (("a2b", "A→B SSIM to truth"), ("b2a", "B→A SSIM to truth")):
        series = {lab[v]: [(it, [r[d][0] for r in by_it[it]]) for it in sorted(by_it)]
                  for v, by_it in curves.items() if by_it}
        its = sorted({it for by_it in curves.values() for it in by_it})
        for name, r in baselines.items():
            series[name] = [(it, [r[d][0]]) for it in its]
        panels[title] = series
    loss = {"off": "w/o L_P", "random": RANDOM_LP}.get(lp, "L_P on ImageNet VGG-19")
    plot_curves(path, panels, f"EGSC-IT on synthetic digits, {loss} (seeds {' '.join(map(str, seeds))}; "
                "line: mean, band: min-max)")
    print(f"wrote {path}")


def ordering(curves, lp: str = "off") -> str:
    """Does Table 2's A→B ordering full > w/o mask > w/o AdaIN hold at the last checkpoint, seeds' ranges apart?"""
    last = {v: [r["a2b"][0] for r in by_it[max(by_it)]] for v, by_it in curves.items() if by_it}
    if not all(v in last for v in ("full", "no_mask", "no_adain")):
        return ""
    verdicts = []
    for hi, lo in (("full", "no_mask"), ("no_mask", "no_adain")):
        gap = min(last[hi]) - max(last[lo])
        verdicts.append(f"{labels(lp)[hi]} > {labels(lp)[lo]}: {'yes, ranges apart' if gap > 0 else 'NO'} "
                        f"(worst seed of the first - best of the second: {gap:+.4f})")
    return "Table 2's A→B ordering at the last checkpoint: " + "; ".join(verdicts) + "."


def report(args, curves, baselines, n_pairs: int) -> str:
    lines = [f"Synthetic digits (`i2i prepare synthetic digits`, {args.size} px; {n_pairs} test pairs per direction), "
             f"seeds {' '.join(map(str, args.seeds))}; stage 1 {args.stage1_iterations} iterations, stage 2 "
             f"{args.iterations} engine iterations (= {args.iterations // 5} paper iterations of 1 D + 5 G updates), "
             f"batch {args.batch}, lr {args.lr}, poly decay, recipe recipes/egscit/mnist_single.toml"
             f"{' with ' + ', '.join(args.set) if args.set else ''}, device {args.device}.",
             ("**All rows are without L_P** (style and content weights 0): no ImageNet VGG-19 on this machine, "
              "so no VGG was loaded; the paper's columns are given for reference only (its rows use L_P, "
              "28 px MNIST and 60k paper iterations)." if args.lp == "off" else
              "**All rows use L_P on a seeded random VGG-19 (not ImageNet VGG)** with the recipe's weights "
              "(lambda_s, lambda_c): it tests the loss's mechanism (Gram statistics of random filters still "
              "carry colour), not the paper's numbers, which use ImageNet VGG-19 and 28 px MNIST."
              if args.lp == "random" else
              "All rows use L_P on the ImageNet VGG-19 with the recipe's weights (lambda_s, lambda_c), as the "
              "paper's Table 2 (which uses 28 px MNIST and 60k paper iterations)."),
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
        lines.append(f"| {labels(args.lp)[v]} | {cells[0]} | {cells[1]} | {stds} | {pa:.3f} / {pb:.3f} (with L_P) |")
    for name, r in baselines.items():
        lines.append(f"| {name} (no model) | {r['a2b'][0]:.4f} | {r['b2a'][0]:.4f} | "
                     f"{r['a2b'][1]:.3f}/{r['b2a'][1]:.3f} | - |")
    lines += ["", "Learning curve (A→B SSIM, mean over seeds, at each checkpoint):", "",
              "| iteration | " + " | ".join(labels(args.lp)[v] for v in curves) + " |",
              "|---|" + "---|" * len(curves)]
    its = sorted({it for by_it in curves.values() for it in by_it})
    for it in its:
        row = [f"{np.mean([r['a2b'][0] for r in curves[v][it]]):.4f}" if it in curves[v] else "-" for v in curves]
        lines.append(f"| {it} | " + " | ".join(row) + " |")
    verdict = ordering(curves, args.lp)
    if verdict:
        lines += ["", verdict]
    lines += ["", "Where the error is (last checkpoint, mean over seeds): mean |output - truth| (0-255) on the "
              "input's background and on its strokes, and the share of pairs whose output background is nearer "
              "the truth's stroke colour (foreground and background swapped):", "",
              "| variant | A→B background | A→B strokes | A→B swapped | B→A background | B→A strokes | B→A swapped |",
              "|---|---|---|---|---|---|---|"]
    rows = {labels(args.lp)[v]: by_it[max(by_it)] for v, by_it in curves.items() if by_it}
    rows.update({name: [r] for name, r in baselines.items()})
    for name, runs in rows.items():
        if not all("regions" in r for r in runs):
            continue
        cells = [f"{np.mean([r['regions'][d][k] for r in runs]):{'.0%' if k == 'swap' else '.1f'}}"
                 for d in ("a2b", "b2a") for k in ("bg", "fg", "swap")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    colour_rows = {name: runs for name, runs in rows.items() if all("colours" in r for r in runs)}
    if colour_rows:
        some = next(iter(colour_rows.values()))[0]["colours"]
        lines += ["", "Which colours the A→B outputs take (last checkpoint, mean over seeds). "
                  "Each region's mean colour "
                  "is named by the nearest of B's red, green and blue; \"erased\" = strokes in the exemplar's "
                  "background colour (the digit is gone). B's training digits 5-9 are always red on green, its "
                  "test exemplars are not, so red-on-green outputs there would be B's training bias "
                  f"({some['rog_59_n']} such pairs with digits 5-9, {some['rog_04_n']} with digits 0-4):", "",
                  "| variant | background right | strokes right | strokes erased | strokes another colour "
                  "| red on green, digits 5-9 | red on green, digits 0-4 |", "|---|---|---|---|---|---|---|"]
        for name, runs in colour_rows.items():
            cells = [f"{np.mean([r['colours'][k] for r in runs]):.0%}"
                     for k in ("background", "strokes", "erased", "other", "rog_59", "rog_04")]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
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
    ap.add_argument("--mask-off", action="store_true",
                    help="probe: score the full runs of --workdir as trained and with the feature mask switched "
                         "off at test time (printed, not written)")
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
    ap.add_argument("--lp", choices=("off", "random", "imagenet"), default="off",
                    help="perceptual loss of stage 2: off (w/o L_P, the default: no ImageNet VGG here), on a "
                         "seeded random VGG-19 (labelled 'not ImageNet VGG' everywhere), or on the ImageNet "
                         "VGG-19 as in the paper (`i2i weights import` first; checked before any training)")
    args = ap.parse_args(argv)
    if not (args.quality or args.speed or args.mask_off):
        ap.error("choose --quality, --speed and/or --mask-off")
    if args.mask_off and args.workdir is None:
        ap.error("--mask-off scores the full runs of a --workdir")
    if args.eval_every < 1 or args.iterations % args.eval_every:
        ap.error("--iterations must be a multiple of --eval-every")
    torch.set_num_threads(args.threads)
    if args.quality and args.lp == "imagenet":
        from i2icli.errors import I2IError
        from i2icli.weights import require

        try:
            require("vgg19")
        except I2IError as exc:
            raise SystemExit(f"--lp imagenet: {exc}") from None
    if args.speed:
        text = speed(args)
        print(text)
        if not args.no_write:
            print(f"wrote {write_section('EGSC-IT speed', text, args.device)}")
    if args.quality:
        text = quality(args) + (f"\n\n{args.note.strip()}" if args.note.strip() else "")
        print(text)
        if not args.no_write:
            title = "EGSC-IT MNIST-Single ablation" + {"random": ", L_P on a random VGG-19",
                                                       "imagenet": ", L_P on ImageNet VGG-19"}.get(args.lp, "")
            print(f"wrote {write_section(title, text, args.device)}")
    if args.mask_off:
        print(mask_off(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
