"""Shared CLI plumbing: error reporting, consoles and option aliases.

Every command is wrapped with :func:`cli_errors`: a user error
(:class:`~i2icli.errors.I2IError`) becomes one line ``error: ...`` on stderr
and exit code 2; Ctrl-C becomes exit 130.  Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from i2icli.errors import I2IError

if TYPE_CHECKING:
    from rich.progress import TaskID

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def cli_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except I2IError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


# Option aliases shared by several commands.
DeviceOpt = Annotated[str, typer.Option(
    "--device", help="torch device: auto (cuda if available, else cpu), cpu, cuda, cuda:1, ...")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Output path.")]


# --------------------------------------------------------------------------- progress
# Core functions never import rich.  Long-running ones accept
# ``progress: ProgressFn | None`` and call ``progress(description, completed, total, **fields)``
# (total may be None when unknown; fields are extra numbers to show, e.g. losses).
# The CLI renders that callback as a rich progress bar:
#
#     with rich_progress() as progress:
#         core.prepare_celeba(..., progress=progress)


class _RichProgress:
    def __init__(self, transient: bool = False):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
            console=err_console, transient=transient,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        return self._progress.__exit__(*exc)

    def __call__(self, description: str, completed: int, total: int | None = None, **fields: object) -> None:
        if description == "warning":  # a one-line message, printed above the bars (i2icli.progress)
            self._progress.console.print(f"[yellow]warning:[/] {escape(str(fields.get('message', '')))}")
            return
        task = self._tasks.get(description)
        if task is None:
            task = self._progress.add_task(description, total=total, rate="", info="")
            self._tasks[description] = task
        t = self._progress.tasks[task]
        speed = t.speed
        rate = f"{speed:.2f} it/s" if speed else ""
        info = "  ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
        self._progress.update(task, completed=completed, total=total, rate=rate, info=info)


def rich_progress(transient: bool = False) -> _RichProgress:
    """A progress callback (see above) drawn with rich on stderr."""
    return _RichProgress(transient=transient)
