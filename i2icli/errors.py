"""User-facing errors.

Core code raises :class:`I2IError` (or a subclass) for anything a user can fix:
a bad recipe, a missing file, an unreadable image, missing weights.  The CLI
prints ``error: <message>`` on one line and exits with code 2; it never shows
a traceback for these.  Messages name the offending file/key and the fix.
"""

from __future__ import annotations


class I2IError(Exception):
    """An error caused by user input, with a one-line, actionable message."""


class ConfigError(I2IError):
    """A recipe or ``--set`` override is invalid."""


class DataError(I2IError):
    """A dataset, image or store cannot be read or written."""


class WeightsError(I2IError):
    """Pretrained weight files are missing or corrupt."""


class TrainingError(I2IError):
    """Training cannot continue (e.g. a non-finite loss)."""
