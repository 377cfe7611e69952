"""BridgeGAN: learning on synthetic faces, the critic's classifier capacity and step speed.

Sections "BridgeGAN learning", "BridgeGAN critic capacity" and "BridgeGAN speed".

``learn``: the claims of the issue, checked against ground truth on
`i2i prepare synthetic faces` (its ten named attributes, per-attribute masks
and held-out pairs with the exact translation):

1. prepare a store (or ``--data``), train the attribute classifier on it
   (recipes/classifier/synthetic.toml: ResNet-18 with the small-input stem,
   same store) and report its held-out accuracy per attribute;
2. for every seed, train the full model and the ablation without the bridge
   (``no-align``: ``lambda_sim = 0``, no interpolated image) with
   recipes/bridge/tiny.toml, a checkpoint every ``--eval-every`` iterations
   (``--variants`` adds the latent-table alternatives ``descent`` and
   ``fresh``); every checkpoint is scored, giving the curves
   (examples/bridge_learning_curves.png: mean line, min-max band over seeds);
3. **label-based**: flip each attribute of each test image (conflicts resolved
   as the authors do; facial hair only on male faces, as in the data), and
   report the classifier's accuracy on the flipped attribute and on the kept
   ones, and the PSNR outside the union of the changed attributes' stored
   masks (pixels the edit must leave alone);
4. **reference-based**: every stored test pair, l_t = l_in with the chosen
   attributes taken from the exemplar; PSNR/SSIM against the truth inside and
   outside its region; plus the classifier's accuracy on the chosen attributes;
5. the bridge itself: mean |S_rand - S_ref| on the pairs, and the label-based
   diversity (mean L1 between outputs for 4 latents).

Targets (the issue): flipped-attribute accuracy >= 90%, kept >= 95%, full model
ahead of the ablation on reference-based fidelity.  Both test-time Delta scales
are reported (1.0 and the code's 1.5).

``speed``: one discriminator and one generator update (Adam included) of the
128 px CelebA configuration (recipes/bridge/celeba.toml, n = 14) on random
images, FLOPs counted with ``torch.utils.flop_counter``, GFLOP/s beside the
machine's measured fp32 matmul rate for scale.

    python benchmarks/bench_bridge.py learn [--iterations 20000] [--seeds 0,1,2] [--count 4000] [--size 32]
    # in parallel, one process per run, then score them all:
    python benchmarks/bench_bridge.py learn --workdir W --seeds 0 --variants full --train-only &
    ...
    python benchmarks/bench_bridge.py learn --workdir W --write
    python benchmarks/bench_bridge.py score RUN [RUN ...] --classifier W/classifier --data faces.h5
    python benchmarks/bench_bridge.py health W/full-s0 W/no-align-s0 [--every 500]
    python benchmarks/bench_bridge.py critic --data faces.h5 [--shapes 8x4,16x3] [--steps 1000]
    python benchmarks/bench_bridge.py speed [--size 128] [--batch 8] [--repeats 3]
    (``--write`` replaces the section of docs/BENCHMARKS.md; ``--json`` writes the raw numbers.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import write_section
from plot import mean_range as cell

from i2icli.config import read_recipe, resolve
from i2icli.data.store import open_store
from i2icli.data.transforms import resize
from i2icli.images import to_tensor
from i2icli.metrics.ssim import ssim_pair
from i2icli.registry import RECIPES_DIR, config_cls_for, get

# --------------------------------------------------------------------------- learning


VARIANTS = {"full": [], "no-align": ["model.lambda_sim=0.0", "model.use_interpolation=false"],
            "descent": ['model.latent_update="descent"'], "fresh": ["model.use_latent_table=false"]}
LABELS = {"full": "full model", "no-align": "no alignment (lambda_sim = 0, no X_int)",
          "descent": "latent table R, descent update", "fresh": "fresh N(0, I) latents (no table)"}


def prepare(out: Path, count: int, test_count: int, pairs: int, seed: int) -> Path:
    from i2icli.prepare.synthetic import FacesRequest, prepare_faces

    prepare_faces(FacesRequest(out=out, count=count, test_count=test_count, pairs=pairs, size=64, seed=seed))
    return out


def train_run(model: str, recipe: str, data: Path, out: Path, overrides: list[str], device: str) -> Path:
    """Train (or resume, when ``out`` already holds checkpoints) one run of ``recipes/<model>/<recipe>``."""
    from i2icli.engine import TrainRequest, train
    from i2icli.engine import checkpoint as ckpt

    path = RECIPES_DIR / model / recipe
    cfg = resolve(read_recipe(path), config_cls_for, str(path), overrides=[f"data.path={str(data)!r}", *overrides],
                  model=model)
    resume = "auto" if ckpt.latest_checkpoint(out) else None
    return train(TrainRequest(cfg=cfg, out=out, device=device, resume=resume)).run_dir


def _images(store, split: str, idx, size: int, device: str) -> torch.Tensor:
    return torch.stack([to_tensor(resize(store.image(split, int(i)), size)) for i in idx]).to(device)


def _masks(store, idx, size: int) -> np.ndarray:
    """(B, A, size, size) bool: the stored per-attribute masks, nearest-resized."""
    out = []
    for i in idx:
        m = store.masks("test", int(i))
        out.append(np.stack([resize(c, size) > 127 for c in m]))
    return np.stack(out)


def _psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """PSNR (data range 2, images in [-1, 1]) over the pixels ``where`` (H, W) bool; inf when equal."""
    if not where.any():
        return float("nan")
    mse = float(((a - b) ** 2)[:, where].mean())
    return float("inf") if mse == 0 else 10 * np.log10(4.0 / mse)


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    return ((t.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def _region_ssim(out: np.ndarray, truth: np.ndarray, region: np.ndarray, where: str) -> float:
    """SSIM map of :func:`ssim_pair` averaged inside / outside ``region``; nan when that part is empty."""
    part = region if where == "inside" else ~region
    if not part.any():
        return float("nan")
    return ssim_pair(out, truth, region, where)


@torch.no_grad()
def evaluate(run_dir: Path, classifier_dir: Path, store_path: Path, device: str, scales: tuple[float, ...],
             max_images: int = 500, batch: int = 50, checkpoint: Path | None = None) -> dict[str, float]:
    from i2icli.models.bridge import resolve_conflicts
    from i2icli.translate import load_run

    bridge = load_run(run_dir, device=device, checkpoint=checkpoint)
    clf = load_run(classifier_dir, device=device)
    fam, size = bridge.family, bridge.image_size
    names = fam.attributes
    store = open_store(store_path)
    cols = [store.attributes.index(n) for n in names]
    labels = store.labels("test")[:, cols].astype(np.float32)
    mask_cols = [list(store.mask_names).index(n) for n in names]
    clf_cols = [clf.family.attributes.index(n) for n in names] if hasattr(clf.family, "attributes") else cols
    n_test = min(store.count("test"), max_images)
    res: dict[str, float] = {}
    g = torch.Generator(device=device).manual_seed(0)
    for scale in scales:
        flipped, kept, psnr_out = [], [], []
        per_attr: dict[str, list[torch.Tensor]] = {n: [] for n in names}
        for start in range(0, n_test, batch):
            idx = np.arange(start, min(n_test, start + batch))
            x = _images(store, "test", idx, size, device)
            ls = torch.from_numpy(labels[idx]).to(device)
            masks = _masks(store, idx, size)[:, mask_cols]
            for k, name in enumerate(names):
                lt = ls.clone()
                lt[:, k] = 1 - lt[:, k]
                lt, _ = resolve_conflicts(lt, names, [name], explicit=())
                lat = torch.randn(len(idx), 1, fam.m.latent_dim, generator=g, device=device)
                y = fam.synthesise(x, ls, lt, latents=lat, delta_scale=scale)
                pred = (clf.family.predict(y)[:, clf_cols] > 0.5).float()
                ok = (pred == lt).float()
                changed = (lt != ls)
                flipped.append(ok[:, k].cpu())
                per_attr[name].append(ok[:, k].cpu())
                kept.append(ok[~changed].cpu())
                yn, xn = y.cpu().numpy(), x.cpu().numpy()
                for b in range(len(idx)):
                    touched = masks[b, changed[b].cpu().numpy()].any(0)
                    psnr_out.append(_psnr(yn[b], xn[b], ~touched))
        res[f"label_acc_flipped@{scale}"] = float(torch.cat(flipped).mean())
        res[f"label_acc_kept@{scale}"] = float(torch.cat(kept).mean())
        for name, oks in per_attr.items():
            res[f"flip@{scale}:{name}"] = float(torch.cat(oks).mean())
        finite = [p for p in psnr_out if np.isfinite(p)]
        res[f"label_psnr_outside@{scale}"] = float(np.mean(finite)) if finite else float("inf")
    pairs = store.pairs("test")
    if pairs is not None and len(pairs):
        n_pairs = min(len(pairs), max_images)
        chosen_all = np.asarray(pairs.chosen, dtype=bool)[:, cols] if pairs.chosen is not None else None
        stats: dict[str, list[float]] = {k: [] for k in ("psnr_in", "psnr_out", "ssim_in", "ssim_out", "acc", "gap")}
        for start in range(0, n_pairs, batch):
            p = np.arange(start, min(n_pairs, start + batch))
            xi, xe = pairs.input[p], pairs.exemplar[p]
            x, ref = _images(store, "test", xi, size, device), _images(store, "test", xe, size, device)
            ls = torch.from_numpy(labels[xi]).to(device)
            le = torch.from_numpy(labels[xe]).to(device)
            chosen = torch.from_numpy(chosen_all[p]).to(device) if chosen_all is not None else torch.ones_like(ls,
                                                                                                                dtype=bool)
            lt = torch.where(chosen, le, ls)
            y = fam.synthesise(x, ls, lt, reference=ref, mix=1.0, latents=torch.zeros(len(p), 1, fam.m.latent_dim,
                                                                                      device=device))
            pred = (clf.family.predict(y)[:, clf_cols] > 0.5).float()
            stats["acc"].extend(((pred == lt).float()[chosen]).cpu().tolist())
            delta = fam.m.test_delta_scale * (lt - ls)
            s_s = fam.networks["encoder"](x, -delta)
            lat = torch.randn(len(p), fam.m.latent_dim, generator=g, device=device)
            s_rand = s_s + fam.networks["mapping"](lat, delta)
            s_ref = s_s + fam.networks["encoder"](ref, delta)
            stats["gap"].append(float((s_rand - s_ref).abs().mean()))
            for b, pi in enumerate(p):
                truth = to_tensor(resize(store.truth("test", int(pi)), size)).numpy()
                region = resize(store.region("test", int(pi)), size) > 127
                yn = y[b].cpu().numpy()
                stats["psnr_in"].append(_psnr(yn, truth, region))
                stats["psnr_out"].append(_psnr(yn, truth, ~region))
                out8, truth8 = _to_uint8(y[b]), _to_uint8(torch.from_numpy(truth))
                stats["ssim_in"].append(_region_ssim(out8, truth8, region, "inside"))
                stats["ssim_out"].append(_region_ssim(out8, truth8, region, "outside"))
        for k, v in stats.items():
            vals = [a for a in v if np.isfinite(a)]
            res[f"ref_{k}"] = float(np.mean(vals)) if vals else float("nan")
    # diversity of label-based outputs over 4 latents (L1, images in [-1, 1])
    idx = np.arange(min(n_test, batch))
    x = _images(store, "test", idx, size, device)
    ls = torch.from_numpy(labels[idx]).to(device)
    lt = ls.clone()
    lt[:, 0] = 1 - lt[:, 0]
    lt, _ = resolve_conflicts(lt, names, [names[0]], explicit=())
    lat = torch.randn(len(idx), 4, fam.m.latent_dim, generator=g, device=device)
    ys = fam.synthesise(x, ls, lt, latents=lat).view(len(idx), 4, 3, size, size)
    res["label_diversity_l1"] = float(sum((ys[:, i] - ys[:, j]).abs().mean() for i in range(4)
                                          for j in range(i + 1, 4)) / 6)
    return res


@torch.no_grad()
def classifier_accuracy(classifier_dir: Path, store_path: Path, names: tuple[str, ...], device: str,
                        max_images: int = 2000) -> dict[str, float]:
    """Held-out accuracy of the judge per attribute (and ``"mean"``) on the store's test split."""
    from i2icli.translate import load_run

    clf = load_run(classifier_dir, device=device)
    store = open_store(store_path)
    cols = [store.attributes.index(n) for n in names]
    n = min(store.count("test"), max_images)
    ok = []
    for start in range(0, n, 100):
        idx = np.arange(start, min(n, start + 100))
        x = _images(store, "test", idx, clf.image_size, device)
        pred = (clf.family.predict(x) > 0.5).float().cpu().numpy()[:, cols]
        ok.append(pred == store.labels("test")[idx][:, cols])
    acc = np.concatenate(ok).mean(0)
    return {"mean": float(acc.mean()), **{n: float(a) for n, a in zip(names, acc, strict=True)}}


def learn(args: argparse.Namespace) -> dict:
    """Train (or resume) every variant x seed in ``--workdir``, then score every checkpoint (the curves)."""
    from i2icli.engine import checkpoint as ckpt

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_bridge_"))
    work.mkdir(parents=True, exist_ok=True)
    data = Path(args.data) if args.data else work / "faces.h5"
    if not data.exists():
        prepare(data, args.count, args.test_count, args.pairs, 0)
    size_over = [f"data.image_size={args.size}", f"data.load_size={args.size}"]
    out: dict = {"runs": [], "curves": {}, "iterations": args.iterations, "batch": args.batch, "size": args.size,
                 "set": list(args.set)}
    for seed in args.seeds if not args.score_only else []:
        for v in args.variants:
            run = work / f"{v}-s{seed}"
            train_run("bridge", "tiny.toml", data, run,
                      [*size_over, f"train.iterations={args.iterations}", f"train.seed={seed}",
                       f"train.checkpoint_every={args.eval_every}", "train.keep_checkpoints=0",
                       f"train.sample_every={args.eval_every}", f"train.batch_size={args.batch}", *args.set,
                       *VARIANTS[v]],
                      args.device)
    if args.train_only:
        return out
    clf_dir = work / "classifier"
    if ckpt.latest_checkpoint(clf_dir) is None:
        train_run("classifier", "synthetic.toml", data, clf_dir,
                  [*size_over, f"train.iterations={args.classifier_iterations}", "train.checkpoint_every=1000000",
                   "train.sample_every=1000000"], args.device)
    names = resolve(read_recipe(RECIPES_DIR / "bridge" / "tiny.toml"), config_cls_for, "tiny", model="bridge"
                    ).data.attributes
    out["classifier_heldout"] = classifier_accuracy(clf_dir, data, names, args.device)
    out["attributes"] = list(names)
    for seed in args.seeds:
        for v in args.variants:
            run = work / f"{v}-s{seed}"
            checkpoints = [c for c in ckpt.list_checkpoints(run / "checkpoints")
                           if args.until is None or int(c.name.split("_")[1]) <= args.until]
            for c in checkpoints:
                last = c == checkpoints[-1]
                step = int(c.name.split("_")[1])
                scores = evaluate(run, clf_dir, data, args.device, (1.0, 1.5) if last else (1.5,),
                                  args.max_images if last else min(args.max_images, 200), checkpoint=c)
                out["curves"].setdefault(v, {}).setdefault(step, []).append(scores)
                print(v, seed, step, json.dumps({k: round(x, 4) for k, x in scores.items()}), flush=True)
            out["runs"].append({"variant": v, "seed": seed, "step": step, "seconds": trained_seconds(run), **scores})
    (work / "bridge_learning.json").write_text(json.dumps(out, indent=1))
    return out


def trained_seconds(run: Path) -> float:
    """Training wall time of a run, as its metrics log recorded it."""
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").is_file() else []
    return float(json.loads(lines[-1]).get("elapsed_s", 0.0)) if lines else 0.0


CURVE_KEYS = {"label_acc_flipped@1.5": "flipped attribute accuracy (label-based)",
              "label_acc_kept@1.5": "kept attributes accuracy (label-based)",
              "label_psnr_outside@1.5": "PSNR outside the edited masks (dB)",
              "ref_psnr_in": "reference-based PSNR in region (dB)", "ref_ssim_out": "reference-based SSIM outside"}


def plot_learning(out: dict, path: Path) -> None:
    from plot import plot_curves

    panels = {title: {LABELS[v]: [(s, [r[k] for r in rs]) for s, rs in sorted(curve.items(), key=lambda i: int(i[0]))]
                      for v, curve in out["curves"].items()}
              for k, title in CURVE_KEYS.items()}
    seeds = sorted({r["seed"] for r in out["runs"]})
    plot_curves(path, panels, f"BridgeGAN on synthetic faces ({out['size']} px, batch {out['batch']}, seeds "
                              f"{','.join(map(str, seeds))}; checkpoints before the last scored on 200 images)")


def learn_table(out: dict) -> str:
    keys = [("label_acc_flipped@1.5", "flipped acc (x1.5)"), ("label_acc_kept@1.5", "kept acc (x1.5)"),
            ("label_acc_flipped@1.0", "flipped acc (x1)"), ("label_acc_kept@1.0", "kept acc (x1)"),
            ("label_psnr_outside@1.5", "label PSNR outside masks"), ("ref_psnr_in", "ref PSNR in"),
            ("ref_psnr_out", "ref PSNR out"), ("ref_ssim_in", "ref SSIM in"), ("ref_ssim_out", "ref SSIM out"),
            ("ref_acc", "ref acc (chosen)"), ("ref_gap", "\\|S_rand - S_ref\\|"),
            ("label_diversity_l1", "diversity L1")]
    variants = list(dict.fromkeys(r["variant"] for r in out["runs"]))
    lines = ["| variant | seeds | iterations | " + " | ".join(t for _, t in keys) + " |",
             "|---|---|---|" + "---|" * len(keys)]
    for v in variants:
        rs = [r for r in out["runs"] if r["variant"] == v]
        steps = sorted({r["step"] for r in rs})
        lines.append(f"| {LABELS[v]} | {len(rs)} | {'/'.join(map(str, steps))} | "
                     + " | ".join(cell(rs, k, ".3f") for k, _ in keys) + " |")
    extra = f" with {' '.join(out['set'])}" if out.get("set") else ""
    clf = out["classifier_heldout"]["mean"]
    return (f"recipes/bridge/tiny.toml{extra} at {out['size']} px, batch {out['batch']}, engine iterations as "
            "listed (one critic update each, the generator every 5th). Attribute classifier "
            f"(recipes/classifier/synthetic.toml, same store), held-out accuracy: {clf:.3f}. Mean [min, max] over "
            "seeds at the last checkpoint; x1.5 / x1 = the test-time Delta scale (the code's 1.5, the plain 1).\n\n"
            + "\n".join(lines) + "\n\n![BridgeGAN curves](../examples/bridge_learning_curves.png)\n\n"
            + per_attribute_table(out, variants))


def per_attribute_table(out: dict, variants: list[str]) -> str:
    """Label-based flips per attribute (x1.5) beside the judge's own held-out accuracy on that attribute."""
    lines = ["Label-based flips per attribute (x1.5; mean [min, max] over seeds), beside the classifier's held-out "
             "accuracy on the unedited test images (the ceiling of what it can confirm):", "",
             "| attribute | classifier held-out | " + " | ".join(LABELS[v] for v in variants) + " |",
             "|---|---|" + "---|" * len(variants)]
    for name in out["attributes"]:
        cells = [cell([r for r in out["runs"] if r["variant"] == v], f"flip@1.5:{name}", ".3f") for v in variants]
        lines.append(f"| {name} | {out['classifier_heldout'][name]:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- scoring named runs

SCORE_KEYS = (("label_acc_flipped@1.5", "flipped acc (x1.5)"), ("label_acc_kept@1.5", "kept acc (x1.5)"),
              ("flip@1.5:Black_Hair", "Black_Hair flips"), ("flip@1.5:Blond_Hair", "Blond_Hair flips"),
              ("flip@1.5:Brown_Hair", "Brown_Hair flips"), ("flip@1.5:Smiling", "Smiling flips"),
              ("label_psnr_outside@1.5", "label PSNR outside masks"),
              ("ref_psnr_in", "ref PSNR in"), ("ref_ssim_out", "ref SSIM out"), ("ref_gap", "\\|S_rand - S_ref\\|"),
              ("label_diversity_l1", "diversity L1"))


def score_runs(runs: list[Path], classifier: Path, data: Path, max_images: int, device: str) -> dict:
    """Every checkpoint of each run (any run directory of `i2i train bridge`), scored as ``learn`` scores its own."""
    from i2icli.engine import checkpoint as ckpt

    for path, what in ((classifier, "the judge: a run of `i2i train classifier --recipe synthetic` on the store"),
                       (data, "the store the runs were trained on")):
        if not path.exists():
            raise SystemExit(f"{path}: not found; pass {what}")
    if ckpt.latest_checkpoint(classifier) is None:
        raise SystemExit(f"{classifier}: no checkpoint; train the judge first (`i2i train classifier --recipe "
                         "synthetic`)")
    out: dict = {"max_images": max_images, "runs": {}}
    for run in runs:
        checkpoints = ckpt.list_checkpoints(run / "checkpoints") if (run / "checkpoints").is_dir() else []
        if not checkpoints:
            raise SystemExit(f"{run}: no checkpoints; pass run directories of `i2i train bridge`")
        if "judge" not in out:
            names = resolve(read_recipe(run / "config.toml"), config_cls_for, str(run), model="bridge").data.attributes
            out["judge"] = classifier_accuracy(classifier, data, tuple(names), device)
        for c in checkpoints:
            scores = evaluate(run, classifier, data, device, (1.5,), max_images, checkpoint=c)
            out["runs"].setdefault(run.name, {})[int(c.name.split("_")[1])] = scores
            print(run.name, c.name, json.dumps({k: round(v, 4) for k, v in scores.items()}), flush=True)
    return out


def score_table(res: dict) -> str:
    lines = ["| run | iteration | " + " | ".join(t for _, t in SCORE_KEYS) + " |",
             "|---|---|" + "---|" * len(SCORE_KEYS)]
    for name, by_step in res["runs"].items():
        for step, r in sorted(by_step.items(), key=lambda i: int(i[0])):
            lines.append(f"| {name} | {step} | " + " | ".join(f"{r[k]:.3f}" if k in r else "-" for k, _ in SCORE_KEYS)
                         + " |")
    judge = res.get("judge", {})
    held = ", ".join(f"{k} {v:.3f}" for k, v in judge.items())
    return (f"Label-based edits of {res['max_images']} held-out faces (every attribute flipped in turn, Delta x 1.5), "
            f"judged by the classifier trained on the same store (its held-out accuracy: {held}); reference-based "
            "edits of the stored pairs against their ground truth.\n\n" + "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- code health

HEALTH_KEYS = (("code_e_abs", "mean \\|E(x, -Delta)\\|"), ("code_m_abs", "mean \\|M(R, Delta)\\|"),
               ("code_m_spread", "M's spread over the batch"), ("g_sim", "alignment \\|S_rand - S_ref\\|"),
               ("g_ms", "mode seeking"), ("g_rec", "reconstruction L1"), ("d_cls_acc", "critic's accuracy on real"),
               ("g_cls_acc", "critic's accuracy on fakes (target labels)"))


def code_health(runs: list[Path], every: int, data: Path | None = None) -> dict:
    """The code-health logs of training runs (their metrics.jsonl) every ``every`` iterations, and where they died.

    A run's codes are dead from the first record whose code means are both
    below :data:`i2icli.models.bridge.DEAD_CODE` (what ``BridgeGAN.diagnose``
    warns about during training).
    """
    from i2icli.models.bridge import DEAD_CODE

    out: dict = {"every": every, "runs": {}}
    for run in runs:
        log = run / "metrics.jsonl"
        if not log.is_file():
            raise SystemExit(f"{run}: no metrics.jsonl; pass run directories made by `i2i train bridge`")
        recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        recs = [r for r in recs if "code_e_abs" in r]
        if not recs:
            raise SystemExit(f"{log}: no code-health logs (code_e_abs); the run predates them, retrain it")
        dead = next((r["iteration"] for r in recs if max(r["code_e_abs"], r["code_m_abs"]) < DEAD_CODE), None)
        rows = [r for r in recs if r["iteration"] % every == 0 or r is recs[-1]]
        out["runs"][run.name] = {"dead_at": dead, "rows": [{k: r.get(k) for k in ("iteration", *dict(HEALTH_KEYS))}
                                                           for r in rows]}
        if data is not None:
            out["runs"][run.name]["heads"] = head_activity(run, data)
    return out


@torch.no_grad()
def head_activity(run: Path, data: Path, n: int = 32) -> list[dict]:
    """Per checkpoint of ``run``: the share of positive values before the final ReLU of E's and M's heads, and
    their IN bias, on ``n`` test faces (E with Delta = +1 on the first attribute, M with R ~ N(0, I)).

    A share of 0 is a dead code: the final ReLU then passes no gradient back.
    The values are caught by a forward hook on each head's instance norm (the
    layer before that ReLU) during the networks' own forward passes.
    """
    from i2icli.engine import checkpoint as ckpt
    from i2icli.translate import load_run

    store = open_store(data)
    out = []
    for c in ckpt.list_checkpoints(run / "checkpoints"):
        fam = load_run(run, checkpoint=c).family
        enc, mapping = fam.networks["encoder"], fam.networks["mapping"]
        x = _images(store, "test", range(min(n, store.count("test"))), fam.cfg.data.image_size, "cpu")
        delta = torch.zeros(x.shape[0], len(fam.attributes))
        delta[:, 0] = 1
        r = torch.randn(x.shape[0], fam.m.latent_dim, generator=torch.Generator().manual_seed(0))
        caught: dict[str, torch.Tensor] = {}
        hooks = [net.head[2].register_forward_hook(lambda _m, _i, o, k=k, caught=caught: caught.__setitem__(k, o))
                 for k, net in (("e", enc), ("m", mapping))]  # head = ReLU, conv1x1, IN, ReLU
        try:
            enc(x, delta)
            mapping(r, delta)
        finally:
            for h in hooks:
                h.remove()
        out.append({"iteration": int(c.name.split("_")[1]), "e_positive": float((caught["e"] > 0).float().mean()),
                    "m_positive": float((caught["m"] > 0).float().mean()), "e_bias": float(enc.head[2].bias.mean()),
                    "m_bias": float(mapping.head[2].bias.mean())})
    return out


def _along(rows: list[dict], key: str, with_iteration: bool = False) -> str:
    return " / ".join((f"{row['iteration']}: " if with_iteration else "") + f"{row[key]:.3g}"
                      for row in rows if row.get(key) is not None) or "-"


def _value(row: dict, key: str) -> str:
    return "-" if row.get(key) is None else f"{row[key]:.3f}"


def health_table(res: dict, details: bool = False) -> str:
    """One row per run (the code means along training, where they died, the critic at the end); ``details``
    adds each run's full table."""
    names = list(res["runs"])
    lines = ["| run | codes dead from | mean \\|E(x, -Delta)\\| at the rows' iterations | mean \\|M(R, Delta)\\| | "
             "mode seeking | critic's accuracy on real, last | on fakes (target labels), last |",
             "|---|---|---|---|---|---|---|"]
    for name in names:
        r = res["runs"][name]
        rows, last = r["rows"], r["rows"][-1]
        lines.append(f"| {name} | {r['dead_at'] if r['dead_at'] is not None else 'alive'} | "
                     f"{_along(rows, 'code_e_abs', True)} | {_along(rows, 'code_m_abs')} | {_along(rows, 'g_ms')} | "
                     f"{_value(last, 'd_cls_acc')} | {_value(last, 'g_cls_acc')} |")
    heads = [(name, h) for name in names for h in res["runs"][name].get("heads", [])]
    if heads:
        lines += ["", "Before the final ReLU of the code heads, per checkpoint (32 test faces; share of positive "
                  "values, and the heads' IN bias):", "",
                  "| run | checkpoint | E positive | E's IN bias | M positive | M's IN bias |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {h['iteration']} | {h['e_positive']:.3f} | {h['e_bias']:.3f} | {h['m_positive']:.3f} | "
                  f"{h['m_bias']:.3f} |" for name, h in heads]
    if details:
        for name in names:
            r = res["runs"][name]
            lines += ["", f"**{name}**:", "", "| iteration | " + " | ".join(t for _, t in HEALTH_KEYS) + " |",
                      "|---|" + "---|" * len(HEALTH_KEYS)]
            lines += [f"| {row['iteration']} | " + " | ".join("-" if row.get(k) is None else f"{row[k]:.3g}"
                                                               for k, _ in HEALTH_KEYS) + " |" for row in r["rows"]]
    return ("Code health from each run's metrics.jsonl (training-batch means averaged over `train.log_every`, every "
            f"{res['every']} iterations and the last record); codes are dead once both means fall below 1e-2 (about "
            "0.37 at initialisation), which `BridgeGAN.diagnose` reports during training.\n\n" + "\n".join(lines)
            + "\n")


# --------------------------------------------------------------------------- critic capacity


def critic_capacity(args: argparse.Namespace) -> dict:
    """D/C's attribute head trained alone on the real images (BCE, no adversarial term), per critic shape.

    The ceiling of what the critic's classifier can tell the generator in a
    joint run: an attribute this head cannot learn alone can never be learnt
    by the generator's classification loss.  Each shape ``CHxBLOCKS`` is
    ``model.disc_channels`` x ``model.n_disc_blocks``; same seed, batches,
    Adam (0.5, 0.999) and lr as the recipe's critic.
    """
    from i2icli.models.bridge import CriticClassifier
    from i2icli.nn.init import init_glorot_uniform_

    store = open_store(Path(args.data))
    names = resolve(read_recipe(RECIPES_DIR / "bridge" / "tiny.toml"), config_cls_for, "tiny", model="bridge"
                    ).data.attributes
    missing = [n for n in names if n not in store.attributes]
    if missing:
        raise SystemExit(f"{args.data}: no labels for {', '.join(missing)}; make the store with "
                         "`i2i prepare synthetic faces`")
    cols = [store.attributes.index(n) for n in names]
    n_train, n_test = min(store.count("train"), args.count), min(store.count("test"), 500)
    x_tr = _images(store, "train", range(n_train), args.size, "cpu")
    y_tr = torch.tensor(store.labels("train")[:n_train][:, cols], dtype=torch.float32)
    x_te = _images(store, "test", range(n_test), args.size, "cpu")
    y_te = torch.tensor(store.labels("test")[:n_test][:, cols], dtype=torch.float32)
    prior = torch.maximum(y_te.mean(0), 1 - y_te.mean(0))
    out: dict = {"attributes": list(names), "prior": prior.tolist(), "steps": args.steps, "lr": args.lr,
                 "batch": args.batch, "size": args.size, "shapes": {}}
    for shape in args.shapes:
        ch, blocks = (int(v) for v in shape.split("x"))
        torch.manual_seed(0)
        critic = CriticClassifier(len(names), args.size, ch, blocks)
        init_glorot_uniform_(critic)
        opt = torch.optim.Adam(critic.parameters(), args.lr, betas=(0.5, 0.999))
        gen = torch.Generator().manual_seed(0)
        curve, t0 = {}, time.perf_counter()
        for step in range(1, args.steps + 1):
            i = torch.randint(0, n_train, (args.batch,), generator=gen)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(critic(x_tr[i])[1], y_tr[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % max(1, args.steps // 4) == 0 or step == args.steps:
                with torch.no_grad():
                    acc = ((critic(x_te)[1] > 0).float() == y_te).float().mean(0)
                curve[step] = float(acc.mean())
        out["shapes"][shape] = {"params": sum(p.numel() for p in critic.parameters()), "curve": curve,
                                "per_attribute": acc.tolist(), "seconds": time.perf_counter() - t0}
        print(shape, json.dumps({k: round(v, 3) for k, v in curve.items()}), flush=True)
    return out


def critic_table(res: dict) -> str:
    names = res["attributes"]
    shapes = list(res["shapes"])
    steps = sorted({int(s) for r in res["shapes"].values() for s in r["curve"]})
    lines = ["| critic (disc_channels x n_disc_blocks) | params | held-out mean at " + " / ".join(map(str, steps))
             + " | " + " | ".join(names) + " | s |", "|---|---|---|" + "---|" * len(names) + "---|",
             f"| label prior (majority class) | - | {sum(res['prior']) / len(names):.3f} | "
             + " | ".join(f"{p:.2f}" for p in res["prior"]) + " | - |"]
    for shape in shapes:
        r = res["shapes"][shape]
        lines.append(f"| {shape} | {r['params']:,} | " + " / ".join(f"{r['curve'][s]:.3f}" for s in
                                                                     sorted(r["curve"], key=int))
                     + " | " + " | ".join(f"{a:.2f}" for a in r["per_attribute"]) + f" | {r['seconds']:.0f} |")
    return (f"BridgeGAN's critic/classifier (`CriticClassifier`, recipes/bridge/tiny.toml's attributes) with its "
            f"attribute head trained alone on real {res['size']} px images: BCE, no adversarial term, batch "
            f"{res['batch']}, Adam (0.5, 0.999), lr {res['lr']:g}, {res['steps']} steps, seed 0; accuracy on 500 "
            "held-out faces. What this head cannot learn alone, the generator's classification loss cannot be "
            "taught in a joint run.\n\n" + "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- speed


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def _global_flop_counter():
    """``FlopCounterMode`` without its per-module tracker.

    The tracker's backward hooks refuse ``torch.autograd.grad`` on a leaf,
    which the gradient penalty and the latent-table step both call; the
    totals are the same without it.
    """
    from torch.utils.flop_counter import FlopCounterMode, _FlopCounterMode

    class GlobalFlops(FlopCounterMode):
        def __enter__(self):
            self.flop_counts.clear()
            self.mode = _FlopCounterMode(self)
            self.mode.__enter__()
            return self

        def __exit__(self, *args):
            b = self.mode.__exit__(*args)
            self.mode = None
            return b

    return GlobalFlops(display=False)


def speed(args: argparse.Namespace) -> dict:

    from i2icli.engine.iteration import build_optimizers
    from i2icli.models.base import Nets

    path = RECIPES_DIR / "bridge" / "celeba.toml"
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model="bridge",
                  overrides=[f"data.image_size={args.size}", f"data.load_size={args.size}",
                             f"train.batch_size={args.batch}"])
    torch.manual_seed(0)
    fam = get("bridge").build(cfg)
    fam.networks.to(args.device).train()
    n = len(cfg.data.attributes)
    b = args.batch
    batch = {"image": torch.rand(b, 3, args.size, args.size, device=args.device) * 2 - 1,
             "labels": torch.randint(0, 2, (b, n), device=args.device).float(),
             "index": torch.arange(b, device=args.device)}
    nets = Nets(fam.networks)
    opts = build_optimizers(fam)

    def one(phase) -> float:
        for name, module in fam.networks.items():
            module.requires_grad_(name in phase.modules)
        t0 = time.perf_counter()
        loss, _ = fam.step(phase.name, nets, batch, 0)
        opts[phase.optimizer_name].zero_grad(set_to_none=True)
        loss.backward()
        opts[phase.optimizer_name].step()
        fam.after_update(phase.name)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    res: dict = {"size": args.size, "batch": b, "peak_matmul_gflops": matmul_gflops(),
                 "load_average": os.getloadavg()[0], "cores": os.cpu_count()}
    for ph in fam.phases:
        with _global_flop_counter() as fc:
            one(ph)
        times = [one(ph) for _ in range(args.repeats)]
        res[ph.name] = {"seconds": statistics.median(times), "all": times, "gflop": fc.get_total_flops() / 1e9}
        res[ph.name]["gflops"] = res[ph.name]["gflop"] / res[ph.name]["seconds"]
    d, g = res["discriminator"], res["generator"]
    every = fam.phases[1].every
    res["iteration_seconds"] = d["seconds"] + g["seconds"] / every  # one engine iteration on average
    return res


def speed_table(res: dict) -> str:
    d, g = res["discriminator"], res["generator"]
    return (f"{res['size']} px, batch {res['batch']}, n = 14 (recipes/bridge/celeba.toml):\n\n"
            "| update | s (median) | GFLOP | GFLOP/s |\n|---|---|---|---|\n"
            f"| discriminator (every iteration) | {d['seconds']:.3f} | {d['gflop']:.1f} | {d['gflops']:.1f} |\n"
            f"| generator side (every 5th) | {g['seconds']:.3f} | {g['gflop']:.1f} | {g['gflops']:.1f} |\n\n"
            f"Average engine iteration (one D update + 1/5 G update): {res['iteration_seconds']:.3f} s.\n"
            f"For scale: fp32 2048x2048 matmul on this machine reaches {res['peak_matmul_gflops']:.0f} GFLOP/s "
            f"(same threads, same moment).\nLoad average when it started: {res['load_average']:.1f} on "
            f"{res['cores']} cores: seconds scale with the share of the CPU the run got; the GFLOP/s-to-matmul "
            "ratio is the portable number.\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    lp = sub.add_parser("learn")
    lp.add_argument("--iterations", type=int, default=20_000, help="engine iterations per run (G every 5th)")
    lp.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1, 2])
    lp.add_argument("--count", type=int, default=4000)
    lp.add_argument("--test-count", type=int, default=500)
    lp.add_argument("--pairs", type=int, default=300)
    lp.add_argument("--size", type=int, default=32)
    lp.add_argument("--batch", type=int, default=16)
    lp.add_argument("--classifier-iterations", type=int, default=1000)
    lp.add_argument("--max-images", type=int, default=500)
    lp.add_argument("--eval-every", type=int, default=2000, help="a checkpoint (a point of the curves) this often")
    lp.add_argument("--variants", type=lambda s: s.split(","), default=["full", "no-align"],
                    help=f"comma-separated, from {', '.join(VARIANTS)}")
    lp.add_argument("--data", default=None)
    lp.add_argument("--workdir", "--work", dest="workdir", default=None,
                    help="folder for the store, the classifier and the runs (default: a temporary one); runs "
                         "found there are resumed, so several --train-only processes can fill it in parallel")
    lp.add_argument("--train-only", action="store_true", help="train the runs, score nothing (parallel workers)")
    lp.add_argument("--score-only", action="store_true",
                    help="score the checkpoints already in --workdir, train nothing (runs stopped early)")
    lp.add_argument("--until", type=int, default=None,
                    help="score checkpoints up to this iteration only (compare variants stopped at different steps)")
    lp.add_argument("--set", action="append", default=[],
                    help="extra override of recipes/bridge/tiny.toml for every variant, e.g. model.n_gen_down=2")
    lp.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a shared machine)")
    cp = sub.add_parser("critic", help="the critic's attribute head trained alone, per critic shape")
    cp.add_argument("--data", required=True, help="a store from `i2i prepare synthetic faces`")
    cp.add_argument("--shapes", type=lambda s: s.split(","), default=["8x4", "8x3", "16x3", "32x3"],
                    help="comma-separated disc_channels x n_disc_blocks, e.g. 8x4,16x3")
    cp.add_argument("--steps", type=int, default=1000)
    cp.add_argument("--lr", type=float, default=2e-4)
    cp.add_argument("--batch", type=int, default=16)
    cp.add_argument("--size", type=int, default=32)
    cp.add_argument("--count", type=int, default=4000, help="training images used")
    op = sub.add_parser("score", help="score every checkpoint of named runs against the ground truth")
    op.add_argument("runs", nargs="+", type=Path, help="run directories of `i2i train bridge`")
    op.add_argument("--classifier", type=Path, required=True, help="the judge (`i2i train classifier` run)")
    op.add_argument("--data", type=Path, required=True, help="the store the runs were trained on")
    op.add_argument("--max-images", type=int, default=200)
    op.add_argument("--title", default="BridgeGAN: scores of the code-death probe",
                    help="section of docs/BENCHMARKS.md")
    hp = sub.add_parser("health", help="code-health logs of trained runs, and where their codes died")
    hp.add_argument("runs", nargs="+", type=Path, help="run directories of `i2i train bridge`")
    hp.add_argument("--every", type=int, default=500, help="one row this often (iterations)")
    hp.add_argument("--title", default="BridgeGAN: the style codes die", help="section of docs/BENCHMARKS.md")
    hp.add_argument("--details", action="store_true", help="each run's full table under the summary")
    hp.add_argument("--data", type=Path, default=None,
                    help="the runs' store: also measure, per checkpoint, how much of the code heads is still alive")
    sp = sub.add_parser("speed")
    sp.add_argument("--size", type=int, default=128)
    sp.add_argument("--batch", type=int, default=8)
    sp.add_argument("--repeats", type=int, default=3)
    for p in (lp, cp, op, hp, sp):
        p.add_argument("--device", default="cpu")
        p.add_argument("--write", action="store_true", help="replace the section of docs/BENCHMARKS.md")
        p.add_argument("--json", default=None, help="write the raw numbers here")
    args = ap.parse_args(argv)
    if args.what == "learn":
        unknown = [v for v in args.variants if v not in VARIANTS]
        if unknown:
            raise SystemExit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
        torch.set_num_threads(args.threads)
        out = learn(args)
        if args.train_only:
            return 0
        if args.write:
            plot_learning(out, Path(__file__).resolve().parent.parent / "examples" / "bridge_learning_curves.png")
        text = learn_table(out)
        title = "BridgeGAN learning"
    elif args.what == "score":
        torch.set_num_threads(1)
        out = score_runs(args.runs, args.classifier, args.data, args.max_images, args.device)
        text = score_table(out)
        title = args.title
    elif args.what == "health":
        out = code_health(args.runs, args.every, args.data)
        text = health_table(out, args.details)
        title = args.title
    elif args.what == "critic":
        torch.set_num_threads(1)
        out = critic_capacity(args)
        text = critic_table(out)
        title = "BridgeGAN critic capacity"
    else:
        out = speed(args)
        text = speed_table(out)
        title = "BridgeGAN speed"
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if args.write:
        write_section(title, text, args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
