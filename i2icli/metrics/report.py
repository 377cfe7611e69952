"""eval.jsonl: one JSON line per evaluation, with everything needed to reproduce it.

Where the line goes (first that applies):

1. ``--log FILE`` when given;
2. ``RUN_DIR/eval.jsonl`` when the evaluation is of a run (``--run`` or
   ``--pairs``, or ``--classifier`` for ``ca``);
3. ``./eval.jsonl`` in the current directory.

``--no-log`` writes nothing.  A line is written with a single ``write`` of the
whole record (plus newline) on a file opened for appending, then fsync'ed, so
a crash never leaves half a record followed by more records.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from i2icli.errors import DataError

PACKAGES = ("i2icli", "torch", "torchvision", "torch-fidelity", "lpips", "scikit-image", "numpy", "pillow", "h5py")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def make_record(metric: str, result: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """A record: metric, its result keys, the settings that produced it, versions and a UTC timestamp."""
    return {
        "metric": metric,
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "result": result,
        **settings,
        "cwd": str(Path.cwd()),  # relative paths in the record are relative to this
        "versions": package_versions(),
    }


def log_path(log: Path | None, run_dir: Path | None) -> Path:
    if log is not None:
        return Path(log)
    if run_dir is not None:
        return Path(run_dir) / "eval.jsonl"
    return Path.cwd() / "eval.jsonl"


def _jsonable(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy / torch scalars
        return v.item()
    return v


def append_record(path: Path, record: dict[str, Any]) -> Path:
    line = (json.dumps(_jsonable(record), sort_keys=False) + "\n").encode()
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DataError(f"{path}: cannot append the evaluation record ({exc.strerror or exc}); "
                        "use --log FILE or --no-log") from None
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise DataError(f"{path}:{n}: not a JSON line") from None
    return out
