"""The progress-callback type used by long-running core functions.

``progress(description, completed, total, **fields)``; ``total`` may be None.
The CLI draws it with rich (:func:`i2icli.cli.common.rich_progress`); tests
and library users may pass any callable or None.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[..., None]
OptionalProgress = ProgressFn | None


def report(progress: OptionalProgress, description: str, completed: int, total: int | None = None,
           **fields: object) -> None:
    if progress is not None:
        progress(description, completed, total, **fields)
