"""Edited test images for BridgeGAN's Tables 1-2 (per-attribute accuracy and FID), scored with `i2i eval`.

For every attribute k of the run and every test image of the store (the
authors' protocol, ``test_arch9.py``; /work/shared/specs/bridge.md Sec. 3):

- ``label/<k>/``: l_t = l_s with k flipped, conflicts resolved as the authors
  do, Delta = scale * (l_t - l_s) (1.5 in the code), R ~ N(0, I) (seeded);
- ``reference/<k>/``: a reference drawn (seeded) among the test images whose
  k differs from the source's; l_t = l_s with k taken from the reference,
  conflicts resolved; S = E(x_s, -Delta) + E(x_ref, Delta).  [S] does not say
  how references were chosen; this is the test code's qualitative mode,
  extended to both directions of the flip.

Source labels are the store's (CelebA's annotations), as in the authors'
test code.  Each folder gets ``labels.csv`` (``file,<attr>...``: the full
target vector) for ``i2i eval ca --labels``; ``commands.sh`` lists one
``i2i eval ca`` and one ``i2i eval fid`` per folder (FID against the whole
test split at the same size -- [S] does not give its real set; see
docs/EVAL.md), all logged to ``eval.jsonl``.

    python benchmarks/bridge_tables.py --run runs/bridge-celeba --data data/celeba-bridge.h5 \\
        --classifier runs/classifier-celeba --out tables/bridge [--mode both] [--scale 1.5] [--limit N]
    sh tables/bridge/commands.sh
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from i2icli.data.store import open_store
from i2icli.data.transforms import resize
from i2icli.images import save_png, to_tensor, to_uint8
from i2icli.models.bridge import resolve_conflicts
from i2icli.translate import load_run


@torch.no_grad()
def export(run: Path, data: Path, out: Path, modes: tuple[str, ...], scale: float, limit: int | None,
           device: str = "cpu", batch: int = 32, seed: int = 0) -> list[Path]:
    loaded = load_run(run, device=device)
    fam, size = loaded.family, loaded.image_size
    names = fam.attributes
    store = open_store(data)
    cols = [store.attributes.index(n) for n in names]
    labels = store.labels("test")[:, cols].astype(np.float32)
    file_names = [Path(str(n)).stem for n in store.names("test")]
    n = store.count("test") if limit is None else min(limit, store.count("test"))
    rng = np.random.default_rng(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    folders: list[Path] = []
    for mode in modes:
        for k, attr in enumerate(names):
            folder = out / mode / attr
            folder.mkdir(parents=True, exist_ok=True)
            rows = []
            for start in range(0, n, batch):
                idx = np.arange(start, min(n, start + batch))
                x = torch.stack([to_tensor(resize(store.image("test", int(i)), size)) for i in idx]).to(device)
                ls = torch.from_numpy(labels[idx]).to(device)
                lt = ls.clone()
                ref = None
                if mode == "label":
                    lt[:, k] = 1 - lt[:, k]
                else:
                    other = [np.flatnonzero(labels[:n, k] != labels[i, k]) for i in idx]
                    refs = [int(rng.choice(o)) if len(o) else int(i) for o, i in zip(other, idx, strict=True)]
                    ref = torch.stack([to_tensor(resize(store.image("test", j), size)) for j in refs]).to(device)
                    lt[:, k] = torch.from_numpy(labels[refs, k]).to(device)
                lt, _ = resolve_conflicts(lt, names, [attr], explicit=())
                lat = torch.randn(len(idx), 1, fam.m.latent_dim, generator=gen, device=device)
                y = fam.synthesise(x, ls, lt, reference=ref, mix=0.0 if ref is None else 1.0, latents=lat,
                                   delta_scale=scale)
                for b, i in enumerate(idx):
                    name = f"{file_names[i]}.png"
                    save_png(folder / name, to_uint8(y[b].float()))
                    rows.append([name, *(str(int(v)) for v in lt[b].tolist())])
            with open(folder / "labels.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["file", *names])
                w.writerows(rows)
            folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="a trained BridgeGAN run (or checkpoint folder)")
    ap.add_argument("--data", type=Path, required=True, help="the store it was trained on (its test split is edited)")
    ap.add_argument("--classifier", type=Path, required=True, help="run of `i2i train classifier` on the same store")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--mode", choices=("label", "reference", "both"), default="both")
    ap.add_argument("--scale", type=float, default=1.5, help="test-time Delta scale (the code: 1.5)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N test images")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    modes = ("label", "reference") if args.mode == "both" else (args.mode,)
    folders = export(args.run, args.data, args.out, modes, args.scale, args.limit, args.device, seed=args.seed)
    lines = ["#!/bin/sh", "set -e",
             f"i2i eval ca --classifier {args.classifier}   # the classifier's own held-out accuracy"]
    for f in folders:
        lines.append(f"i2i eval ca --classifier {args.classifier} --generated {f} --labels {f / 'labels.csv'}")
        lines.append(f"i2i eval fid --generated {f} --real {args.data}:test")
    (args.out / "commands.sh").write_text("\n".join(lines) + "\n")
    print(f"{len(folders)} folders under {args.out}; scores: sh {args.out / 'commands.sh'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
