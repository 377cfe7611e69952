"""``make demo`` / ``i2i demo``: the main job on the embedded default data.

1. ``i2i prepare synthetic digits`` — MNIST-Single-style unpaired domains A
   (black/white digits) and B (coloured digits), made from the real handwritten
   digits shipped inside scikit-learn; no download.
2. ``i2i train ugatit --recipe recipes/ugatit/tiny.toml`` for a few minutes on CPU.
3. ``i2i translate`` a handful of held-out domain-A digits, with attention maps.
4. A sample grid ``demo/demo_grid.png``: source | attention heatmap | translation.

Re-running continues the same run (``--resume auto``) instead of starting over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

from i2icli.cli.common import cli_errors, console, rich_progress
from i2icli.data.store import open_store
from i2icli.engine import TrainRequest, train
from i2icli.engine import checkpoint as ckpt
from i2icli.engine.sampling import save_grid
from i2icli.images import load_rgb, save_png, to_tensor
from i2icli.prepare.synthetic import DigitsRequest, prepare_digits
from i2icli.registry import RECIPES_DIR
from i2icli.runs import saved_config, training_config
from i2icli.translate import TranslateRequest, translate_images


@cli_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the data, the run and the results.")] = Path("demo"),
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="Training iterations (the tiny recipe's batch is 1).")] = 400,
    count: Annotated[int, typer.Option("--count", min=10, help="Synthetic training images per domain.")] = 2000,
    images: Annotated[int, typer.Option("--images", min=1, max=64, help="Held-out images to translate.")] = 8,
) -> None:
    """Prepare synthetic digits, train a tiny U-GAT-IT on CPU, translate held-out digits, draw a grid."""
    out.mkdir(parents=True, exist_ok=True)
    data = out / "digits.h5"
    if not data.exists():
        console.rule("1/4  i2i prepare synthetic digits")
        with rich_progress(transient=True) as progress:
            prepared = prepare_digits(DigitsRequest(out=data, count=count, test_count=64), progress=progress)
        console.print(f"wrote {data}: {prepared.written}")
    else:
        console.print(f"1/4  using the existing {data}")

    console.rule("2/4  i2i train ugatit --recipe recipes/ugatit/tiny.toml")
    run = out / "run-ugatit-tiny"
    if (run / "config.toml").is_file() and ckpt.latest_checkpoint(run) is not None:
        cfg = saved_config(run, [f"train.iterations={iterations}"])
        resume: str | None = "auto"
    else:
        cfg = training_config("ugatit", RECIPES_DIR / "ugatit" / "tiny.toml", str(data),
                              [f"train.iterations={iterations}", "train.sample_every=100", "train.checkpoint_every=100"])
        resume = None
    done = int(ckpt.latest_checkpoint(run).name.split("_")[1]) if resume else 0
    if done < iterations:
        with rich_progress() as progress:
            result = train(TrainRequest(cfg=cfg, out=run, resume=resume, device="cpu",
                                        argv=("i2i", "train", "ugatit", "--recipe", "recipes/ugatit/tiny.toml",
                                              "--data", str(data))), progress=progress)
        console.print(f"trained {result.iterations} iterations in {result.seconds:.0f}s; samples in {run / 'samples'}")
    else:
        console.print(f"{run} already has {done} iterations")

    console.rule("3/4  i2i translate --save-attention")
    inputs = out / "inputs"
    store = open_store(data)
    indices = [int(i) for i in store.indices("test", "a")[:images]]
    for n, i in enumerate(indices):
        save_png(inputs / f"digit_{n:02d}.png", store.image("test", int(i)))
    translated = out / "translations"
    result = translate_images(TranslateRequest(inputs=(inputs,), out=translated, run_dir=run, save_maps=True,
                                               device="cpu"))
    console.print(f"wrote {len(result.written)} translations to {translated}")

    console.rule("4/4  sample grid")
    names = sorted(p.stem for p in inputs.glob("*.png"))
    src = torch.stack([to_tensor(load_rgb(inputs / f"{n}.png")) for n in names])
    att = torch.stack([torch.from_numpy(load_rgb(translated / f"{n}_attention.png")[..., 0].astype(np.float32) / 255)[None]
                       for n in names])
    dst = torch.stack([to_tensor(load_rgb(translated / f"{n}.png")) for n in names])
    grid = save_grid(out / "demo_grid.png", [("source A", src), ("attention", att), ("A -> B", dst)])
    console.print(f"[green]open {grid}[/] (rows: held-out digits; columns: source | attention | translation)")


def main() -> None:
    app = typer.Typer(add_completion=False)
    app.command()(demo)
    app()


if __name__ == "__main__":
    main()
