"""Root ``i2i`` application: joins the command groups."""

from __future__ import annotations

import importlib

import typer

from i2icli import __version__

app = typer.Typer(
    name="i2i",
    help=(
        "Exemplar-guided and attention-based unpaired image-to-image translation.\n\n"
        "Typical session:\n\n"
        "  i2i prepare synthetic digits --out data/digits.h5\n\n"
        "  i2i train ugatit --recipe tiny --data data/digits.h5\n\n"
        "  i2i translate input.png --checkpoint runs/ugatit-tiny\n\n"
        "  i2i eval kid --generated out/ --real data/digits.h5:test/b"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

# (module, attribute, kind): "group" adds a sub-app, "command" a single command.
# A new command group is one line here.
_COMMANDS = [
    ("i2icli.cli.prepare", "app", "group", "prepare"),
    ("i2icli.cli.train", "app", "group", "train"),
    ("i2icli.cli.translate", "translate", "command", "translate"),
    ("i2icli.cli.eval", "app", "group", "eval"),
    ("i2icli.cli.weights", "app", "group", "weights"),
    ("i2icli.cli.demo", "demo", "command", "demo"),
]

for _module, _attr, _kind, _name in _COMMANDS:
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as _exc:  # group not built yet: absent, not a stub
        if _exc.name != _module:
            raise
        continue
    if _kind == "group":
        app.add_typer(getattr(_mod, _attr), name=_name)
    else:
        app.command(name=_name)(getattr(_mod, _attr))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"i2i {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Exemplar-guided and attention-based unpaired image-to-image translation."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
