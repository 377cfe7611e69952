"""``i2i translate``: translate images with a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from i2icli.cli.common import DeviceOpt, cli_errors, console, err_console, rich_progress
from i2icli.errors import ConfigError
from i2icli.translate import TranslateRequest, translate_images


@cli_errors
def translate(
    inputs: Annotated[list[Path], typer.Argument(
        help="Images and/or folders of images to translate.", show_default=False)],
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", "-c",
        help="Run directory (or one checkpoint directory in it). Default: the most recent run.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="With no --checkpoint: the most recent run of this model.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Output folder, or a .png file for a single image. Default: translations/.")] = None,
    direction: Annotated[str | None, typer.Option(
        "--direction", help="Two-domain models (U-GAT-IT, EGSC-IT): a2b (default) or b2a.", show_default=False)] = None,
    exemplar: Annotated[list[Path] | None, typer.Option(
        "--exemplar", "-e",
        help="Exemplar-guided models (LOMIT, EGSC-IT, SEGIN, BridgeGAN): reference image(s) or folder(s).")] = None,
    attr: Annotated[list[str] | None, typer.Option(
        "--attr",
        help="Attribute models (BridgeGAN): NAME=1 or NAME=0 sets a target attribute; NAME alone takes it from the "
             "exemplar. Repeat for several.")] = None,
    domain: Annotated[str | None, typer.Option("--domain", help="N-domain models: the target domain's name.")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Multi-modal models: seed of the latent draws (same seed, same outputs).")] = None,
    outputs: Annotated[int | None, typer.Option(
        "--outputs", min=1,
        help="Multi-modal models: outputs per input, written as NAME_0.png, NAME_1.png, ...")] = None,
    mix: Annotated[float | None, typer.Option(
        "--mix", help="BridgeGAN: blend label-based (0) and reference-based (1) style codes.")] = None,
    pairing: Annotated[str, typer.Option(
        "--pairing", help="With folders of inputs and exemplars: all (every pair) or zip (i-th with i-th).")] = "all",
    save_maps: Annotated[bool, typer.Option(
        "--save-attention", "--save-masks", "--save-warp",
        help="Also write attention maps / masks / auxiliary images (SEGIN: the warped exemplar, NAME_warp.png) "
             "as PNGs next to each output.")] = False,
    mask_threshold: Annotated[float | None, typer.Option(
        "--mask-threshold", help="Binarise the input mask at this value in [0, 1].")] = None,
    region: Annotated[Path | None, typer.Option(
        "--region", help="A mask PNG (white = translate) replacing the predicted input mask.")] = None,
    keep_background: Annotated[bool, typer.Option(
        "--keep-background", help="Paste the untouched input back outside the mask.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")] = 8,
    device: DeviceOpt = "auto",
) -> None:
    """Translate images with a trained model.

    Examples:

      i2i translate photo.png --checkpoint runs/ugatit-tiny --save-attention

      i2i translate selfies/ --direction b2a --out anime2selfie/

      i2i translate in.png --exemplar ref.png --out out.png --save-masks --keep-background

      i2i translate in.png --exemplar ref.png --direction b2a           (EGSC-IT)

      i2i translate in.png --attr Blond_Hair=1 --outputs 4 --seed 0     (BridgeGAN)

    Each option is checked against what the run's model takes; one it does not
    take stops with a one-line error before any image is read.

    Exits with code 1 if any input could not be read (the others are still written).
    """
    if direction is not None and direction not in ("a2b", "b2a"):
        raise ConfigError(f"--direction {direction!r}: expected a2b or b2a")
    if pairing not in ("all", "zip"):
        raise ConfigError(f"--pairing {pairing!r}: expected all or zip")
    req = TranslateRequest(
        inputs=tuple(inputs), out=out or Path("translations"), run_dir=checkpoint, model=model,
        direction=direction,  # type: ignore[arg-type]
        exemplars=tuple(exemplar or ()), pairing=pairing,  # type: ignore[arg-type]
        attrs=tuple(attr or ()), domain=domain, seed=seed, outputs=outputs, mix=mix,
        save_maps=save_maps, mask_threshold=mask_threshold, region=region, keep_background=keep_background,
        batch_size=batch_size, device=device,
    )
    with rich_progress(transient=True) as progress:
        result = translate_images(req, progress=progress)
    if checkpoint is None:
        console.print(f"using the most recent {result.model} run: {result.run_dir}")
    console.print(f"checkpoint {result.checkpoint}")
    console.print(f"[green]wrote {len(result.written)} image(s)[/] to {req.out}")
    for path, why in result.ignored:
        err_console.print(f"[dim]ignored[/] {path}: {why}")
    for _path, why in result.failed:
        err_console.print(f"[yellow]skipped[/] {why}")
    if result.failed:
        err_console.print(f"[red]{len(result.failed)} input(s) failed[/]")
        raise typer.Exit(1)
