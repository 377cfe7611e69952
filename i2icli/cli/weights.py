"""``i2i weights``: which pretrained files are present, and importing them offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from i2icli import weights as core
from i2icli.cli.common import JsonOpt, cli_errors, console

app = typer.Typer(
    help=(
        "Pretrained weight files (Inception for KID/FID/IS, AlexNet for LPIPS, VGG-19 for perceptual losses, "
        "Inception-v3 / ResNet-18 for the attribute classifier). i2i never downloads them.\n\n"
        "Examples:\n\n"
        "  i2i weights status\n\n"
        "  i2i weights import ~/Downloads/alexnet-owt-7be5be79.pth\n\n"
        "  i2i weights shipped      (the small trained checkpoints that come with i2i)\n\n"
        f"  {core.ENV_VAR}=/data/weights i2i weights status --json"
    ),
    no_args_is_help=True,
)

WeightsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--weights-dir", help=f"Weights directory (default: ${core.ENV_VAR}, else $TORCH_HOME/hub/checkpoints)."),
]


def _human(n: float | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


@app.command("status")
@cli_errors
def status(weights_dir: WeightsDirOpt = None, as_json: JsonOpt = False) -> None:
    """List every weight file i2i knows, present or missing, and where it goes."""
    folder = core.weights_dir(weights_dir)
    rows = core.status(weights_dir)
    if as_json:
        typer.echo(json.dumps({"weights_dir": str(folder), "files": [
            {"key": r.key, "file": r.filename, "present": r.present, "path": str(r.path), "size": r.size,
             "url": r.url, "used_by": r.used_by} for r in rows]}, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"weights directory: {folder}", title_justify="left")
    for col in ("file", "status", "size", "used by", "get it from (if missing)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        size = _human(r.size) if r.present else core.MANIFEST[r.key].size_text
        table.add_row(r.filename, "[green]present[/]" if r.present else "[red]missing[/]", size,
                      r.used_by, "" if r.present else r.url)
    console.print(table)
    if not all(r.present for r in rows):
        console.print(f"Put missing files in {folder} (or run `i2i weights import FILE...`).", highlight=False)


@app.command("import")
@cli_errors
def import_(
    files: Annotated[list[Path], typer.Argument(help="Downloaded weight files (checked before copying).")],
    weights_dir: WeightsDirOpt = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Copy even when an identical file is already in place.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check each file's hash (or structure) and copy it into the weights directory under its proper name."""
    results = core.import_files(files, weights_dir, force)
    if as_json:
        typer.echo(json.dumps([{"key": r.key, "source": str(r.source), "target": str(r.target), "action": r.action}
                               for r in results], indent=2))
        return
    for r in results:
        console.print(f"{r.action}: {r.source} -> {r.target}", highlight=False)


@app.command("shipped")
@cli_errors
def shipped(
    path_of: Annotated[str | None, typer.Option(
        "--path", metavar="NAME",
        help="Print only the run folder of this shipped checkpoint (for --checkpoint).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the small trained checkpoints shipped in the package, where they are and how they were made.

    Use one with `i2i translate in.png --exemplar ref.png --checkpoint "$(i2i weights shipped --path NAME)"`.
    """
    from i2icli import pretrained

    if path_of is not None:
        typer.echo(str(pretrained.run_dir(path_of)))
        return

    rows = [{"name": name, "path": str(pretrained.run_dir(name)), **pretrained.provenance(name)}
            for name in pretrained.NAMES]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        scores = ", ".join(f"{k} {v}" for k, v in r["scores"].items())
        console.print(f"[bold]{r['name']}[/]: {r['model']}, {r['iterations']} iterations of {r['recipe']}, "
                      f"{r['image_size']} px\n  path   {r['path']}\n  data   {r['data_command']}\n"
                      f"  train  {r['train_command']}\n  scores {scores}", highlight=False)
