"""Atomic, safe checkpoints.

Layout of one checkpoint (a directory)::

    checkpoints/step_00001000/
        weights.safetensors   # every network, keys "<network>.<param>"
        state.pt              # optimisers, iteration, RNG states: tensors and
                              # plain containers only, read with weights_only=True

A checkpoint is written into ``checkpoints/.tmp-step_<iteration, 8 digits>``, each file
fsync'ed, then the directory is renamed into place and the parent fsync'ed; a
killed write leaves only a ``.tmp-*`` folder that readers ignore.  The last
``keep`` checkpoints are kept.  Network weights never go through pickle.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from i2icli.errors import DataError

WEIGHTS = "weights.safetensors"
STATE = "state.pt"
_STEP_RE = re.compile(r"^step_(\d{8,})$")


def step_dir(root: Path, iteration: int) -> Path:
    return Path(root) / f"step_{iteration:08d}"


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under ``root`` (a run's ``checkpoints/``), oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _STEP_RE.match(p.name)
        if m and (p / WEIGHTS).is_file() and (p / STATE).is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    ckpts = list_checkpoints(Path(run_dir) / "checkpoints")
    return ckpts[-1] if ckpts else None


def latest_weights(run_dir: Path) -> Path | None:
    """The newest checkpoint with weights, for translation: a complete one, else a weights-only export
    (a run folder shipped without optimiser state, such as :mod:`i2icli.pretrained`'s; it cannot be resumed)."""
    found = latest_checkpoint(run_dir)
    if found is not None:
        return found
    root = Path(run_dir) / "checkpoints"
    steps = [(int(m.group(1)), p) for p in (root.iterdir() if root.is_dir() else ())
             if (m := _STEP_RE.match(p.name)) and (p / WEIGHTS).is_file()]
    return max(steps)[1] if steps else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems do not support fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def network_state(networks: nn.ModuleDict) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for name, module in networks.items():
        for k, v in module.state_dict().items():
            out[f"{name}.{k}"] = v.detach().to("cpu").contiguous().clone()
    return out


def save_checkpoint(root: Path, iteration: int, networks: nn.ModuleDict, state: dict[str, Any], keep: int = 3,
                    extra_weights: dict[str, torch.Tensor] | None = None) -> Path:
    """Write checkpoint ``iteration`` atomically under ``root``; prune to ``keep``.

    ``extra_weights`` (e.g. the EMA copies, keys ``ema.<net>.<param>``) go
    into the same safetensors file.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = step_dir(root, iteration)
    tmp = root / f".tmp-{final.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        tensors = network_state(networks)
        for k, v in (extra_weights or {}).items():
            tensors[k] = v.detach().to("cpu").contiguous().clone()
        save_file(tensors, str(tmp / WEIGHTS), metadata={"iteration": str(iteration)})
        torch.save(state, tmp / STATE)
        for f in (WEIGHTS, STATE):
            _fsync_file(tmp / f)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep > 0:
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of checkpoint ``path``'s ``weights.safetensors`` (networks and ``ema.*``)."""
    path = Path(path)
    file = path / WEIGHTS if path.is_dir() else path
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"{file}: cannot read checkpoint weights ({exc}); pick another checkpoint") from None


def load_weights(path: Path, networks: nn.ModuleDict, strict: bool = True, use_ema: bool = False) -> list[str]:
    """Load ``weights.safetensors`` of checkpoint dir ``path`` into ``networks``.

    ``use_ema``: networks that have EMA weights in the file (``ema.<net>.*``)
    get those instead of their live weights.  Returns the names loaded from EMA.
    """
    path = Path(path)
    file = path / WEIGHTS if path.is_dir() else path
    tensors = read_weights(path)
    grouped: dict[str, dict[str, torch.Tensor]] = {}
    ema: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, rest = key.partition(".")
        if name == "ema":
            net, _, param = rest.partition(".")
            ema.setdefault(net, {})[param] = value
            continue
        grouped.setdefault(name, {})[rest] = value
    from_ema = [n for n in networks.keys() if use_ema and n in ema]
    for n in from_ema:
        grouped[n] = ema[n]
    missing = sorted(set(networks.keys()) - set(grouped))
    if missing and strict:
        raise DataError(f"{file}: checkpoint has no weights for "
                        f"{', '.join(missing)} (was it written by another model?)")
    for name, module in networks.items():
        if name not in grouped:
            continue
        try:
            module.load_state_dict(grouped[name], strict=strict)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise DataError(f"{file}: weights of {name!r} do not fit this model's config ({first})") from None
    return from_ema


def load_state(path: Path) -> dict[str, Any]:
    file = Path(path) / STATE
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{file}: missing; the checkpoint is incomplete") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt/unsafe pickles
        raise DataError(f"{file}: cannot read training state ({type(exc).__name__}: {exc})") from None
