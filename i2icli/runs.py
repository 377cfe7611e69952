"""Run directories: building a run's config, naming runs, finding them again.

A run directory (``runs/<model>-<recipe>-<timestamp>/`` by default) holds
``config.toml`` (the resolved :class:`~i2icli.config.RunConfig`), ``meta.json``,
``checkpoints/``, ``metrics.jsonl`` and ``samples/``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

from i2icli.config import RunConfig, read_recipe, resolve, toml_value, upgrade_renamed
from i2icli.engine import checkpoint as ckpt
from i2icli.errors import ConfigError, DataError
from i2icli.registry import config_cls_for, get

DEFAULT_RUNS_ROOT = Path("runs")


def training_config(model: str, recipe: Path | None = None, data: str | None = None,
                    overrides: Sequence[str] = ()) -> RunConfig:
    """The config for ``i2i train MODEL``: the recipe (a file, the name of a
    shipped recipe, or the model's default; see :meth:`ModelSpec.find_recipe`),
    then ``--data``, then ``--set`` overrides, validated strictly."""
    spec = get(model)
    path = spec.find_recipe(recipe)
    raw = read_recipe(path)
    extra = list(overrides)
    if data is not None:
        extra.insert(0, f"data.path={toml_value(str(data))}")
    return resolve(raw, config_cls_for, str(path), overrides=extra, model=model)


def saved_config(run_dir: Path, overrides: Sequence[str] = ()) -> RunConfig:
    """The config a run was trained with (``RUN/config.toml``), plus overrides."""
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        raise DataError(f"{run_dir}: not a run directory (no config.toml); pass the folder `i2i train` wrote")
    raw = read_recipe(path)
    model = raw.get("model")
    if isinstance(model, dict) and isinstance(model.get("name"), str):
        # a run saved before a config field was renamed: read its old names as the new ones
        raw["model"] = upgrade_renamed(config_cls_for(model["name"]), model, f"{path} [model]")
    return resolve(raw, config_cls_for, str(path), overrides=list(overrides))


def default_run_dir(cfg: RunConfig, root: Path = DEFAULT_RUNS_ROOT) -> Path:
    stem = Path(cfg.recipe).stem if cfg.recipe else "run"
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{cfg.model}-{stem}-{stamp}"


def list_runs(model: str | None = None, root: Path = DEFAULT_RUNS_ROOT, guidance: str | None = None) -> list[Path]:
    """Run directories under ``root`` that have a checkpoint, oldest first (by mtime of the latest).

    ``model`` keeps runs of one model; ``guidance`` keeps runs of models that
    accept that guidance field (e.g. "exemplar" for ``i2i translate --exemplar``).
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        if not (d / "config.toml").is_file():
            continue
        latest = ckpt.latest_checkpoint(d)
        if latest is None:
            continue
        if model is not None or guidance is not None:
            try:
                name = saved_config(d).model
            except ConfigError:
                continue  # a run of a model this version does not know
            if (model is not None and name != model) or (guidance is not None and guidance not in get(name).accepts):
                continue
        found.append((latest.stat().st_mtime, d))
    return [d for _, d in sorted(found)]


def latest_run(model: str | None = None, runs_root: Path = DEFAULT_RUNS_ROOT, guidance: str | None = None) -> Path:
    runs = list_runs(model, runs_root, guidance)
    if not runs:
        what = f"{model} runs" if model else f"{guidance}-guided runs" if guidance else "runs"
        raise DataError(f"no trained {what} with a checkpoint under {runs_root}/; "
                        "train one first or pass --checkpoint RUN_DIR")
    return runs[-1]
