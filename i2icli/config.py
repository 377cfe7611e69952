"""Typed run configuration: frozen dataclasses, strict recipe loading, overrides.

A *recipe* is a TOML file ``recipes/<model>/<name>.toml``::

    extends = "default.toml"  # optional: another recipe, relative to this file

    [model]                   # the model's own config dataclass
    name = "ugatit"           # registry name
    light = true

    [data]                    # DataConfig
    image_size = 256

    [train]                   # TrainConfig
    iterations = 1_000_000

Loading is strict: an unknown key, a value of the wrong type or a missing
``extends`` target raises :class:`~i2icli.errors.ConfigError` naming the file,
the key and the valid keys.  ``--set section.key=value`` overrides go through
the same validation (values are parsed as TOML literals, falling back to a
plain string).  The resolved configuration is written next to a run's
checkpoints as ``config.toml`` and reloaded from there on resume/translate.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import tomllib

from i2icli.errors import ConfigError


@dataclass(frozen=True)
class DataConfig:
    """Where the training images come from and how they are augmented.

    ``path`` is a prepared HDF5 store (``i2i prepare ...``) or, for unpaired
    models, a CycleGAN-style folder tree (trainA/ trainB/ testA/ testB).
    """

    path: str = ""
    image_size: int = 256  # crop size fed to the networks
    load_size: int = 286  # resize before random crop (U-GAT-IT App. B.2: 286 -> 256)
    flip: bool = True  # horizontal flip with p = 0.5
    # unpaired: domains A and B (() = the first two); domain_dataset: the N domains (() = all)
    domains: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()  # attribute data: label names to use; () = all in the store
    num_workers: int = 2


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and engine settings shared by every model."""

    iterations: int = 100_000
    batch_size: int = 1  # per process; the effective batch is batch_size * world size
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    # "none": constant lr; "linear_half": constant for the first half, then linear
    # to 0 (U-GAT-IT App. B.2); "linear_from": linear to 0 from ``decay_start``;
    # "step": times ``lr_gamma`` every ``lr_step_every`` iterations from
    # ``decay_start`` (LOMIT: halved every 10k from 100k); "poly": times
    # (1 - it / iterations) ** ``lr_power`` (EGSC-IT: power 0.9).
    lr_schedule: Literal["none", "linear_half", "linear_from", "step", "poly"] = "none"
    decay_start: int = 0
    lr_step_every: int = 10_000
    lr_gamma: float = 0.5
    lr_power: float = 0.9
    # EMA of the networks the family lists in ``Family.ema`` (0: off); averaging
    # starts at ``ema_start`` (a copy before).  Samples and translate use it.
    ema_decay: float = 0.0
    ema_start: int = 0
    seed: int = 0
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    sample_count: int = 4  # rows in a sample grid
    amp: bool = False  # bf16 autocast (CUDA, and CPU: pays off only with bf16 matrix units such as AMX)
    channels_last: bool = False
    compile: bool = False
    detect_anomaly: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if self.lr_step_every < 1:
            raise ValueError(f"lr_step_every must be at least 1, got {self.lr_step_every}")
        if self.lr_gamma <= 0 or self.lr_power < 0:
            raise ValueError("lr_gamma must be positive and lr_power non-negative")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run: model name, model config, data, training."""

    model: str
    model_cfg: Any  # the registered model's config dataclass instance
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    recipe: str = ""  # the file it was loaded from (informational)


# --------------------------------------------------------------------------- coercion


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert lists to tuples."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(repr(a) for a in get_args(tp))}")
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None) and value is None:
                return None
        for arg in get_args(tp):
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not of type {tp}")
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported field type {_type_name(tp)}")


def build_dataclass(cls: type, values: dict[str, Any], where: str) -> Any:
    """Instantiate the frozen dataclass ``cls`` from ``values``, strictly.

    Unknown keys are reported with the valid ones (and a close match, if any).
    """
    hints = typing.get_type_hints(cls)
    valid = [f.name for f in fields(cls) if f.init]
    renamed = renamed_fields(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in valid:
            if key in renamed:
                raise ConfigError(f"{where}: key {key!r} was renamed to {renamed[key]!r}; use {renamed[key]} = ...")
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(valid)}")
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return obj


def renamed_fields(cls: type) -> dict[str, str]:
    """``{old: new}`` names a config class declares in its ``RENAMED`` class variable (none by default).

    Field names follow one convention (docs/ARCHITECTURE.md, "Config field
    names"); when a field is renamed the class keeps the old name here so that
    runs saved before the rename still load (:func:`upgrade_renamed`).
    """
    return dict(getattr(cls, "RENAMED", {}))


def upgrade_renamed(cls: type, table: dict[str, Any], where: str) -> dict[str, Any]:
    """``table`` with ``cls``'s old field names replaced by the new ones (for saved run configs only).

    Recipes and ``--set`` must use the current names (:func:`build_dataclass`
    refuses old ones, naming the new one); a run's own ``config.toml`` written
    before a rename is upgraded here so that resume, translate and eval keep
    working on it.  A table that has both names of one field is an error.
    """
    renamed = renamed_fields(cls)
    out: dict[str, Any] = {}
    for key, value in table.items():
        new = renamed.get(key, key)
        if new in out or (new != key and new in table):
            raise ConfigError(f"{where}: both {key!r} and its new name {new!r} are set; keep only {new!r}")
        out[new] = value
    return out


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as plain TOML-able values (tuples become lists)."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v):
            v = to_dict(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


# --------------------------------------------------------------------------- recipes


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: recipe not found")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read recipe ({exc.strerror})") from None


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def read_recipe(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a recipe and the chain of recipes it ``extends``, merged (child wins)."""
    path = Path(path)
    raw = _read_toml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: 'extends' must be a file name, got {parent!r}")
    ppath = (path.parent / parent).resolve()
    if ppath in _seen:
        raise ConfigError(f"{path}: 'extends' forms a cycle through {ppath}")
    return _merge(read_recipe(ppath, _seen + (ppath,)), raw)


def parse_override(item: str) -> tuple[list[str], Any]:
    """Parse ``section.key=value``; the value is a TOML literal or a bare string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. train.lr=2e-4")
    key, text = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if len(parts) != 2:
        raise ConfigError(f"--set {item!r}: the key must be section.key with section one of model, data, train")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return parts, value


SECTIONS = ("model", "data", "train")


def resolve(raw: dict[str, Any], model_cfg_cls_for: Any, where: str, overrides: Sequence[str] = (),
            model: str | None = None) -> RunConfig:
    """Validate a merged recipe dict (+ ``--set`` overrides) into a :class:`RunConfig`.

    The model name is ``[model] name``; ``model`` (e.g. from ``i2i train NAME``)
    must agree with it when both are given.  ``model_cfg_cls_for(name)`` returns
    the config class of a registered model (raising :class:`ConfigError` that
    lists the registered names otherwise).
    """
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for section in SECTIONS:
        if section in raw and not isinstance(raw[section], dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
    for item in overrides:
        (section, key), value = parse_override(item)
        if section not in SECTIONS:
            raise ConfigError(f"--set {item!r}: unknown section {section!r}; valid sections: {', '.join(SECTIONS)}")
        raw.setdefault(section, {})[key] = value
    recipe = raw.pop("recipe", "")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown top-level key {unknown[0]!r}; valid: extends, [model], [data], [train]")
    model_table = raw.get("model", {})
    name = model_table.pop("name", None)
    if model and name and name != model:
        raise ConfigError(f"{where}: this recipe is for model {name!r}, not {model!r}")
    name = model or name
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: missing [model] name (the registered model name)")
    model_cls = model_cfg_cls_for(name)
    return RunConfig(
        model=name,
        model_cfg=build_dataclass(model_cls, model_table, f"{where} [model]"),
        data=build_dataclass(DataConfig, raw.get("data", {}), f"{where} [data]"),
        train=build_dataclass(TrainConfig, raw.get("train", {}), f"{where} [train]"),
        recipe=str(recipe) or where,
    )


def run_config_to_toml(cfg: RunConfig) -> str:
    """Serialise a resolved config; ``load_run_config`` reads it back exactly."""
    lines = [f"recipe = {toml_value(cfg.recipe)}", ""]
    for section, obj in (("model", cfg.model_cfg), ("data", cfg.data), ("train", cfg.train)):
        lines.append(f"[{section}]")
        if section == "model":
            lines.append(f"name = {toml_value(cfg.model)}")
        for k, v in to_dict(obj).items():
            lines.append(f"{k} = {toml_value(v)}")
        lines.append("")
    return "\n".join(lines)


def toml_value(v: Any) -> str:
    """A value as a TOML literal (used for config.toml and for building ``--set`` overrides)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise ConfigError(f"cannot write {v!r} to TOML")
