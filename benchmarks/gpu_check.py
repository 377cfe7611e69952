"""What no CPU can show, in one run of a few minutes on a lent GPU machine.

1. NCCL DDP: a 2-process run of U-GAT-IT's tiny recipe through ``i2i train
   --gpus 0,1`` when two GPUs are visible (else a 1-GPU run through the same
   path), with the replica checksums of ``ddp_check.json``;
2. bf16 autocast and channels_last on CUDA for the U-GAT-IT (256 px, the
   paper's full and light models) and LOMIT (128 px, paper settings) training
   steps: s/iteration, speed-up, finiteness, first-iteration loss agreement
   (``bench_steps.py``), and translate latency of one image.

Results go to docs/BENCHMARKS.md: section "GPU check" (DDP) and "Training steps (cuda)".

    python benchmarks/gpu_check.py                 # about 3-5 minutes on one H100/H200-class GPU
    python benchmarks/gpu_check.py --quick         # tiny sizes, < 1 minute: checks the paths only
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_steps  # noqa: E402
from machine import write_section  # noqa: E402

from i2icli.config import read_recipe, resolve  # noqa: E402
from i2icli.engine import TrainRequest, train  # noqa: E402
from i2icli.prepare.synthetic import DigitsRequest, prepare_digits  # noqa: E402
from i2icli.registry import RECIPES_DIR, config_cls_for  # noqa: E402


def ddp_check(root: Path, iterations: int) -> str:
    n = torch.cuda.device_count()
    gpus = (0, 1) if n >= 2 else (0,)
    store = root / "digits.h5"
    prepare_digits(DigitsRequest(out=store, count=64, test_count=4))
    path = RECIPES_DIR / "ugatit" / "tiny.toml"
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model="ugatit",
                  overrides=[f"data.path={str(store)!r}", f"train.iterations={iterations}",
                             f"train.checkpoint_every={iterations}", f"train.sample_every={iterations}"])
    t0 = time.perf_counter()
    result = train(TrainRequest(cfg=cfg, out=root / "ddp", gpus=gpus))
    seconds = time.perf_counter() - t0
    check = root / "ddp" / "ddp_check.json"
    table = json.loads(check.read_text()) if check.exists() else {}
    spread = max((max(v) - min(v) for v in table.values()), default=0.0)
    backend = "NCCL" if len(gpus) > 1 else "single GPU (no DDP: fewer than 2 GPUs visible)"
    return (f"`i2i train ugatit` tiny recipe, {iterations} iterations, GPUs {list(gpus)} ({backend}): "
            f"{result.iterations} iterations in {seconds:.1f} s including start-up; replica checksum spread "
            f"{spread:.3g} over {len(table)} networks{' (ddp_check.json)' if table else ''}.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks that every path runs")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device visible; run this on a GPU machine", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        ddp = ddp_check(Path(tmp), 20 if args.quick else 200)
    print(ddp, flush=True)
    if not args.no_write:
        write_section("GPU check", ddp, "cuda:0")
    models = ("ugatit:tiny:64,lomit:tiny:64" if args.quick else
              "ugatit:selfie2anime_light:256,ugatit:selfie2anime:256,lomit:celeba:128")
    step_args = ["--device", "cuda", "--models", models, "--variants", "fp32,bf16,bf16+cl",
                 "--repeats", "2" if args.quick else "5"]
    if args.no_write:
        step_args.append("--no-write")
    return bench_steps.main(step_args)


if __name__ == "__main__":
    raise SystemExit(main())
