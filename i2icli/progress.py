"""The progress-callback type used by long-running core functions.

``progress(description, completed, total, **fields)``; ``total`` may be None.
The CLI draws it with rich (:func:`i2icli.cli.common.rich_progress`); tests
and library users may pass any callable or None.

One description is reserved: ``"warning"`` carries a one-line message in
``fields["message"]`` (e.g. a family's :meth:`~i2icli.models.base.Family.diagnose`
during training); the CLI prints it above the bars instead of drawing a bar.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[..., None]
OptionalProgress = ProgressFn | None


def report(progress: OptionalProgress, description: str, completed: int, total: int | None = None,
           **fields: object) -> None:
    """Call ``progress`` when there is one (see the module docstring for the ``"warning"`` description)."""
    if progress is not None:
        progress(description, completed, total, **fields)
