"""Copy a finished LOMIT run into i2icli/pretrained/lomit-synthetic/ (the checkpoint `make demo` shows).

    python benchmarks/bench_lomit_quality.py --workdir runs/bench_lomit          # trains lomit-s0 among others
    python benchmarks/ship_lomit_checkpoint.py runs/bench_lomit/lomit-s0 --data runs/bench_lomit/faces.h5

Copies ``config.toml`` (with ``data.path`` set to the documented ``data/faces.h5``), ``meta.json`` and the
last checkpoint's ``weights.safetensors`` (no optimiser state: the shipped run is for translation), and
writes ``provenance.json``: the commands that made it, its iterations, and its scores on the store's
hair-only ground-truth test pairs (:mod:`i2icli.metrics.groundtruth`).  tests/test_shipped_checkpoint.py
checks the shipped weights against the benchmark's targets on freshly drawn faces.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from i2icli.config import toml_value  # noqa: E402
from i2icli.data.store import open_store  # noqa: E402
from i2icli.engine import checkpoint as ckpt  # noqa: E402
from i2icli.metrics.groundtruth import HAIR, pairs_changing_only, score_exemplar_run  # noqa: E402
from i2icli.pretrained import ROOT  # noqa: E402
from i2icli.runs import saved_config  # noqa: E402
from i2icli.translate import load_run  # noqa: E402

NAME = "lomit-synthetic"
DATA_COMMAND = "i2i prepare synthetic faces --out data/faces.h5 --count 4000 --test-count 300 --pairs 1500"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a finished run of recipes/lomit/synthetic.toml")
    ap.add_argument("--data", type=Path, required=True, help="the store it was trained on (its test pairs score it)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    last = ckpt.latest_checkpoint(args.run)
    if last is None:
        raise SystemExit(f"{args.run}: no checkpoint")
    cfg = saved_config(args.run)
    store = open_store(args.data)
    pairs = pairs_changing_only(store, HAIR)
    scores = score_exemplar_run(load_run(args.run, device="cpu"), store, pairs, cfg.data.image_size)
    dest = ROOT / NAME
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "checkpoints" / last.name).mkdir(parents=True)
    shutil.copy2(last / ckpt.WEIGHTS, dest / "checkpoints" / last.name / ckpt.WEIGHTS)
    text = (args.run / "config.toml").read_text()
    portable = {"path = ": f"path = {toml_value('data/faces.h5')}",  # no paths of the machine it was made on
                "recipe = ": f"recipe = {toml_value('recipes/lomit/synthetic.toml')}"}
    lines = [next((new for key, new in portable.items() if line.startswith(key)), line) for line in text.splitlines()]
    (dest / "config.toml").write_text("\n".join(lines) + "\n")
    shutil.copy2(args.run / "meta.json", dest / "meta.json")
    iterations = int(last.name.split("_")[1])
    provenance = {
        "name": NAME, "model": cfg.model, "recipe": "recipes/lomit/synthetic.toml", "seed": cfg.train.seed,
        "iterations": iterations, "image_size": cfg.data.image_size,
        "data_command": DATA_COMMAND,
        "train_command": f"i2i train lomit --recipe synthetic --data data/faces.h5 --threads 1 "
                         f"--set train.seed={cfg.train.seed}",
        "benchmark": "python benchmarks/bench_lomit_quality.py (seed 0 of its LOMIT runs)",
        "scores": {"pairs": len(pairs), **{k: round(v, 4) for k, v in scores.items()}},
    }
    (dest / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")
    print(json.dumps(provenance, indent=1))
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
