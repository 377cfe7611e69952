"""How well can LOMIT's generator reconstruct a face at all?  (Section "LOMIT autoencoder ceiling".)

The background of a LOMIT translation is decoded, not copied: ``G(h(m, Ec(x), s_f, s_b))``.  Its
PSNR to the input is therefore bounded by how well the content encoder + style encoders + decoder
reconstruct an image.  This trains exactly those networks of a recipe (``recipes/lomit/<recipe>.toml``)
on the intra-domain reconstruction alone (Eq. 9, ``x -> x11`` with the image as its own partner, L1,
no adversary, no classifier, no cycle) with the recipe's optimiser settings, and reports the PSNR of
the reconstructions of held-out synthetic faces every ``--eval-every`` steps.  Run it for as many
steps as the full model makes generator updates (iterations / n_critic) to get the ceiling of the
background PSNR at that budget.

    python benchmarks/bench_lomit_autoencoder.py --data faces.h5 --steps 2400
"""

from __future__ import annotations

import argparse
import sys
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
from i2icli.images import to_tensor  # noqa: E402
from i2icli.models.lomit import GENERATOR_MODULES, LOMIT  # noqa: E402
from i2icli.registry import RECIPES_DIR, config_cls_for  # noqa: E402


def reconstruct(fam: LOMIT, x: torch.Tensor) -> torch.Tensor:
    nets = fam.networks
    c = nets["content_encoder"](x)
    m = fam._masks(nets, c, c)  # noqa: SLF001 - the model's own intra-domain pass
    s_f, s_b, _ = fam._styles(nets, x, m)  # noqa: SLF001
    return nets["decoder"](c, m, s_f, s_b)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="an `i2i prepare synthetic faces` store")
    ap.add_argument("--recipe", default="synthetic")
    ap.add_argument("--steps", type=int, default=2400)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="recipe override, e.g. model.channels=32")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    path = RECIPES_DIR / "lomit" / f"{args.recipe}.toml"
    cfg = resolve(read_recipe(path), config_cls_for, str(path), overrides=list(args.set), model="lomit")
    size, batch = cfg.data.image_size, cfg.train.batch_size
    torch.manual_seed(args.seed)
    fam = LOMIT(cfg)
    store = open_store(args.data)
    n = store.count("train")
    train_x = torch.stack([to_tensor(resize(store.image("train", i), size)) for i in range(n)])
    held_out = range(min(200, store.count("test")))
    test_x = torch.stack([to_tensor(resize(store.image("test", i), size)) for i in held_out])
    params = [p for name in GENERATOR_MODULES if name in fam.networks for p in fam.networks[name].parameters()]
    opt = torch.optim.Adam(params, lr=cfg.train.lr, betas=cfg.train.betas)
    gen = torch.Generator().manual_seed(args.seed)

    def psnr() -> float:
        fam.networks.eval()
        with torch.no_grad():
            y = reconstruct(fam, test_x)
        fam.networks.train()
        mse = float(((y - test_x) * 127.5).pow(2).mean())
        return float(10 * np.log10(255.0 ** 2 / mse))

    curve: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        x = train_x[torch.randint(0, n, (batch,), generator=gen)]
        loss = (reconstruct(fam, x) - x).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            curve.append((step, psnr()))
            print(f"step {step}: reconstruction PSNR {curve[-1][1]:.2f} dB ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    text = (f"recipes/lomit/{args.recipe}.toml ({size} px, batch {batch}, lr {cfg.train.lr}, Adam "
            f"{cfg.train.betas}{', overrides ' + ' '.join(args.set) if args.set else ''}), seed {args.seed}: "
            f"the generator's networks trained on the intra-domain reconstruction alone (Eq. 9) for {args.steps} "
            f"steps; PSNR of the reconstructions of {len(test_x)} held-out faces (whole image). "
            f"Train time {time.perf_counter() - t0:.0f} s.\n\n"
            "| steps | " + " | ".join(str(s) for s, _ in curve) + " |\n"
            "|---|" + "---|" * len(curve) + "\n"
            "| PSNR (dB) | " + " | ".join(f"{p:.2f}" for _, p in curve) + " |")
    print(text)
    if not args.no_write:
        print(f"wrote {write_section('LOMIT autoencoder ceiling', text, 'cpu')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
