"""``make demo`` / ``i2i demo``: the main job on the embedded default data, on CPU.

Default (``--model lomit``), exemplar-guided local translation:

1. ``i2i prepare synthetic faces`` — procedural faces with CelebA-named
   attributes, per-attribute region masks and ground truth; no download.
2. ``i2i train lomit --recipe synthetic`` (hair colour, 32 px) for a short
   run (1500 iterations, about 3 minutes on one core): the pipeline on the spot.
3. ``i2i translate INPUTS --exemplar EXEMPLARS --save-masks`` on held-out faces,
   each input paired with an exemplar of a different hair colour, with the
   checkpoint shipped in the package (:mod:`i2icli.pretrained`, the same
   recipe trained for 12k iterations by the documented command and checked
   against the ground-truth benchmark by a test), once as it is and once with
   ``--keep-background``; and with the short run.
4. ``demo/demo_grid.png``: input | exemplar | input mask | output | output,
   background kept | the short run's output.

``--model ugatit`` runs the attention-based counterpart instead: synthetic
digits (MNIST-Single protocol), a tiny U-GAT-IT, and a grid
source | attention heatmap | translation.

Re-running continues the same run (``--resume auto``) instead of starting over.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

from i2icli import pretrained
from i2icli.cli.common import cli_errors, console, rich_progress
from i2icli.data.store import open_store
from i2icli.engine import TrainRequest, train
from i2icli.engine import checkpoint as ckpt
from i2icli.engine.sampling import save_grid
from i2icli.errors import ConfigError
from i2icli.images import load_rgb, save_png, to_tensor
from i2icli.metrics.groundtruth import HAIR
from i2icli.prepare.common import PrepareResult
from i2icli.prepare.synthetic import DigitsRequest, FacesRequest, prepare_digits, prepare_faces
from i2icli.progress import ProgressFn
from i2icli.registry import RECIPES_DIR
from i2icli.runs import saved_config, training_config
from i2icli.translate import TranslateRequest, translate_images

SHIPPED = "lomit-synthetic"


def _prepare(data: Path, make: Callable[[ProgressFn], PrepareResult]) -> None:
    if data.exists():
        console.print(f"using the existing {data}")
        return
    with rich_progress(transient=True) as progress:
        prepared = make(progress)
    console.print(f"wrote {data}: {prepared.written}")


def _train(model: str, recipe_name: str, data: Path, run: Path, iterations: int, threads: int | None) -> None:
    recipe = RECIPES_DIR / model / f"{recipe_name}.toml"
    latest = ckpt.latest_checkpoint(run) if (run / "config.toml").is_file() else None
    if latest is not None:
        cfg = saved_config(run, [f"train.iterations={iterations}"])
        resume: str | None = "auto"
        done = int(latest.name.split("_")[1])
    else:
        cfg = training_config(model, recipe, str(data), [f"train.iterations={iterations}"])
        resume, done = None, 0
    if done >= iterations:
        console.print(f"{run} already has {done} iterations")
        return
    argv = ("i2i", "train", model, "--recipe", recipe_name, "--data", str(data))
    with rich_progress() as progress:
        # a re-run with a larger --iterations extends the run on purpose (the schedule changes: recorded in meta)
        result = train(TrainRequest(cfg=cfg, out=run, resume=resume, device="cpu", argv=argv, threads=threads,
                                    allow_config_change=resume is not None), progress=progress)
    console.print(f"trained {result.iterations} iterations in {result.seconds:.0f}s; "
                  f"metrics {run / 'metrics.jsonl'}, training samples {run / 'samples'}")


def _tensor(path: Path) -> torch.Tensor:
    return to_tensor(load_rgb(path))


def _map(path: Path) -> torch.Tensor:
    return torch.from_numpy(load_rgb(path)[..., 0].astype(np.float32) / 255)[None]


def demo_lomit(out: Path, iterations: int, count: int, images: int, threads: int | None) -> Path:
    data = out / "faces.h5"
    console.rule("1/4  i2i prepare synthetic faces")
    request = FacesRequest(out=data, count=count, test_count=64)
    _prepare(data, lambda progress: prepare_faces(request, progress=progress))

    shipped = pretrained.run_dir(SHIPPED)
    made = pretrained.provenance(SHIPPED)
    console.rule(f"2/4  i2i train lomit --recipe synthetic: a short run ({iterations} iterations)")
    run = out / "run-lomit-synthetic"
    _train("lomit", "synthetic", data, run, iterations, threads)

    console.rule("3/4  i2i translate INPUTS --exemplar EXEMPLARS --save-masks")
    store = open_store(data)
    names = list(store.attributes)
    hair = store.labels("test")[:, [names.index(a) for a in HAIR]]
    colour = hair.argmax(1)
    inputs, exemplars = out / "inputs", out / "exemplars"
    picked = 0
    for i in range(len(colour)):
        if picked == images:
            break
        others = [j for j in range(len(colour)) if colour[j] != colour[i] and hair[j].any() and j != i]
        if not hair[i].any() or not others:
            continue
        j = others[(7 * picked) % len(others)]
        save_png(inputs / f"face_{picked:02d}.png", store.image("test", i))
        save_png(exemplars / f"face_{picked:02d}.png", store.image("test", j))
        picked += 1
    console.print(f"shipped checkpoint {shipped} ({made['iterations']} iterations; made by: {made['train_command']})")
    folders = {"shipped": (shipped, False), "kept": (shipped, True), "short": (run, False)}
    for name, (run_dir, keep) in folders.items():
        result = translate_images(TranslateRequest(
            inputs=(inputs,), exemplars=(exemplars,), pairing="zip", out=out / f"translations-{name}",
            run_dir=run_dir, save_maps=name == "shipped", keep_background=keep, device="cpu"))
        console.print(f"wrote {len(result.written)} files to {out / f'translations-{name}'}")

    console.rule("4/4  sample grid")
    stems = sorted(p.stem for p in inputs.glob("*.png"))

    def outputs(name: str, suffix: str = "") -> list[Path]:
        return [out / f"translations-{name}" / f"{s}__{s}{suffix}.png" for s in stems]

    columns = [
        ("input", torch.stack([_tensor(inputs / f"{s}.png") for s in stems])),
        ("exemplar", torch.stack([_tensor(exemplars / f"{s}.png") for s in stems])),
        ("input mask", torch.stack([_map(p) for p in outputs("shipped", "_mask_input")])),
        ("output", torch.stack([_tensor(p) for p in outputs("shipped")])),
        ("background kept", torch.stack([_tensor(p) for p in outputs("kept")])),
        (f"this run, {iterations} it", torch.stack([_tensor(p) for p in outputs("short")])),
    ]
    return save_grid(out / "demo_grid.png", columns)


def demo_ugatit(out: Path, iterations: int, count: int, images: int, threads: int | None) -> Path:
    data = out / "digits.h5"
    console.rule("1/4  i2i prepare synthetic digits")
    request = DigitsRequest(out=data, count=count, test_count=64)
    _prepare(data, lambda progress: prepare_digits(request, progress=progress))

    console.rule("2/4  i2i train ugatit --recipe tiny")
    run = out / "run-ugatit-tiny"
    _train("ugatit", "tiny", data, run, iterations, threads)

    console.rule("3/4  i2i translate --save-attention")
    inputs = out / "inputs"
    store = open_store(data)
    for n, i in enumerate(store.indices("test", "a")[:images]):
        save_png(inputs / f"digit_{n:02d}.png", store.image("test", int(i)))
    translated = out / "translations"
    result = translate_images(TranslateRequest(inputs=(inputs,), out=translated, run_dir=run, save_maps=True,
                                               device="cpu"))
    console.print(f"wrote {len(result.written)} translations to {translated}")

    console.rule("4/4  sample grid")
    stems = sorted(p.stem for p in inputs.glob("*.png"))
    columns = [
        ("source A", torch.stack([_tensor(inputs / f"{s}.png") for s in stems])),
        ("attention", torch.stack([_map(translated / f"{s}_attention.png") for s in stems])),
        ("A -> B", torch.stack([_tensor(translated / f"{s}.png") for s in stems])),
    ]
    return save_grid(out / "demo_grid.png", columns)


DEMOS = {"lomit": (demo_lomit, 1500), "ugatit": (demo_ugatit, 1000)}


@cli_errors
def demo(
    model: Annotated[str, typer.Option(
        "--model", help="lomit (exemplar-guided, default) or ugatit (attention-based).")] = "lomit",
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for the data, the run and the results.")] = Path("demo"),
    iterations: Annotated[int | None, typer.Option(
        "--iterations", min=1,
        help="Training iterations of the short run (default: 1500 for lomit, 1000 for ugatit).",
        show_default=False)] = None,
    count: Annotated[int, typer.Option(
        "--count", min=10, help="Synthetic training images (per domain for ugatit).")] = 2000,
    images: Annotated[int, typer.Option("--images", min=1, max=32, help="Held-out images to translate.")] = 8,
    threads: Annotated[int, typer.Option("--threads", min=1, help="CPU threads (tiny models run fastest on one).")] = 1,
) -> None:
    """Prepare synthetic data, train a short run on CPU, translate held-out images (with the shipped checkpoint and
    the short run), draw a grid (a few minutes)."""
    if model not in DEMOS:
        raise ConfigError(f"--model {model!r}: choose one of {', '.join(DEMOS)}")
    run_demo, default_iterations = DEMOS[model]
    out = out if model == "lomit" or out != Path("demo") else Path("demo-ugatit")
    out.mkdir(parents=True, exist_ok=True)
    grid = run_demo(out, iterations or default_iterations, count, images, threads)
    console.print(f"[green]open {grid}[/]")


def main() -> None:
    app = typer.Typer(add_completion=False)
    app.command()(demo)
    app()


if __name__ == "__main__":
    main()
