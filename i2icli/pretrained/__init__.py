"""Small checkpoints shipped inside the package, each made by a documented command.

``lomit-synthetic``: LOMIT trained on the built-in synthetic faces (hair-colour
transfer, 32 px) -- seed 0 of ``benchmarks/bench_lomit_quality.py``, i.e.::

    i2i prepare synthetic faces --out data/faces.h5 --count 4000 --test-count 300 --pairs 1500
    i2i train lomit --recipe synthetic --data data/faces.h5 --threads 1 --set train.seed=0

Each folder is a run folder as ``i2i train`` writes it (``config.toml``,
``meta.json``, ``checkpoints/step_N/weights.safetensors``) plus
``provenance.json`` (the commands, iterations and the benchmark scores it was
checked against by tests/test_shipped_checkpoint.py), so
``i2i translate in.png --exemplar ref.png --checkpoint <folder>`` and
:func:`i2icli.translate.load_run` take it like any run.  ``make demo`` shows
it next to a short run trained on the spot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from i2icli.errors import DataError

ROOT = Path(__file__).resolve().parent
NAMES = ("lomit-synthetic",)


def run_dir(name: str) -> Path:
    """The shipped run folder ``name``; a one-line error if the installation lacks it."""
    if name not in NAMES:
        raise DataError(f"no shipped checkpoint {name!r}; shipped: {', '.join(NAMES)}")
    path = ROOT / name
    if not (path / "config.toml").is_file() or not any(path.glob("checkpoints/*/weights.safetensors")):
        raise DataError(f"{path}: the shipped checkpoint is missing from this installation; reinstall i2icli "
                        "or remake it with the command in i2icli/pretrained/__init__.py")
    return path


def provenance(name: str) -> dict[str, Any]:
    """The shipped run's ``provenance.json``: how it was made and what it scored."""
    return json.loads((run_dir(name) / "provenance.json").read_text())
