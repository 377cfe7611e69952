"""Inference: load a trained run and translate images, folders or image pairs.

Every model goes through its family's ``translate(x, guidance)`` with one
:class:`~i2icli.guidance.Guidance` value, validated against the model's spec
before any image is read (a field the model does not take is a one-line error
naming the option).  The checkpoint's ``config.toml`` says which model it is;
EMA weights are used when the checkpoint has them.

Input images of any size, mode or orientation are read with
:func:`i2icli.images.load_rgb`, resized so the shorter side equals the model's
``data.image_size`` and centre-cropped to a square (the models were trained on
square crops; U-GAT-IT's full generator needs exactly that size).  Unreadable
files, and folder entries that look like inputs but are not readable files (a
folder named ``x.png``, a broken symlink, a symlink loop), are reported by name
with their reason and skipped.

Mask controls for exemplar models that return ``mask_input`` (LOMIT):

- ``region``: a user mask (white = translate) replaces the predicted input mask;
- ``mask_threshold``: binarise the input mask at this value;
- ``keep_background``: paste the untouched input back outside the mask, so the
  background is preserved exactly: ``out = m * y + (1 - m) * x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from i2icli.config import RunConfig
from i2icli.engine import checkpoint as ckpt
from i2icli.engine.distributed import resolve_device
from i2icli.errors import ConfigError, DataError
from i2icli.guidance import Direction, Guidance, parse_attr, validate
from i2icli.images import load_rgb, save_png, scan_images, to_tensor, to_uint8
from i2icli.models.base import Family
from i2icli.progress import OptionalProgress, report
from i2icli.registry import ModelSpec, get
from i2icli.runs import latest_run, saved_config

__all__ = ["LoadedRun", "TranslateRequest", "TranslateResult", "latest_run", "load_run", "prepare_image",
           "translate_images"]


@dataclass
class LoadedRun:
    family: Family
    cfg: RunConfig
    spec: ModelSpec
    run_dir: Path
    checkpoint: Path
    device: str
    ema: tuple[str, ...] = ()  # networks loaded from their EMA weights

    @property
    def image_size(self) -> int:
        return self.cfg.data.image_size


def load_run(run_dir: Path, device: str = "auto", checkpoint: Path | None = None, use_ema: bool = True) -> LoadedRun:
    """Build the run's model from its ``config.toml`` and load its latest (or the given) checkpoint.

    ``use_ema``: networks with EMA weights in the checkpoint get those.
    """
    run_dir = Path(run_dir)
    if (run_dir / ckpt.WEIGHTS).is_file():  # a checkpoint directory was passed
        checkpoint, run_dir = run_dir, run_dir.parent.parent
    cfg = saved_config(run_dir)
    spec = get(cfg.model)
    ck = Path(checkpoint) if checkpoint else ckpt.latest_weights(run_dir)
    if ck is None:
        raise DataError(f"{run_dir}: no checkpoint yet (checkpoints/ is empty); train longer or pick another run")
    dev = resolve_device(device)
    family = spec.build(cfg)
    from_ema = ckpt.load_weights(ck, family.networks, use_ema=use_ema)
    family.networks.to(dev).eval()
    return LoadedRun(family=family, cfg=cfg, spec=spec, run_dir=run_dir, checkpoint=ck, device=dev,
                     ema=tuple(from_ema))


def request_guidance(spec: ModelSpec, *, direction: str | None = None, exemplar: bool = False,
                     attrs: tuple[str, ...] = (), domain: str | None = None, seed: int | None = None,
                     outputs: int | None = None, region: bool = False, mix: float | None = None) -> Guidance:
    """Validate what a request asks against ``spec`` before any image is read (tensors filled in later)."""
    placeholder = torch.empty(0)
    g = Guidance(direction=direction,  # type: ignore[arg-type]
                 exemplar=placeholder if exemplar else None, attributes=parse_attr(attrs) if attrs else None,
                 domain=domain, seed=seed, outputs=outputs, region=placeholder if region else None, mix=mix)
    return validate(spec, g)


def prepare_image(array: np.ndarray, size: int) -> torch.Tensor:
    """(H,W,3) uint8 -> (3,size,size) in [-1,1]: shorter side to ``size``, centre crop."""
    h, w = array.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    img = Image.fromarray(array)
    if (nh, nw) != (h, w):
        img = img.resize((nw, nh), Image.Resampling.BICUBIC)
    top, left = (nh - size) // 2, (nw - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return to_tensor(np.asarray(img))


def _load_mask(path: Path, size: int) -> torch.Tensor:
    arr = load_rgb(path).astype(np.float32).mean(axis=2) / 255.0
    t = torch.from_numpy(arr)[None, None]
    h, w = arr.shape
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    t = torch.nn.functional.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False)
    top, left = (nh - size) // 2, (nw - size) // 2
    return t[:, :, top : top + size, left : left + size].clamp(0, 1)


@dataclass(frozen=True)
class TranslateRequest:
    inputs: tuple[Path, ...]
    out: Path
    run_dir: Path | None = None  # None: the most recent run (of ``model`` when given)
    checkpoint: Path | None = None
    model: str | None = None
    direction: Direction | None = None  # None: the model's default (a2b)
    exemplars: tuple[Path, ...] = ()
    attrs: tuple[str, ...] = ()  # "NAME=0|1" or "NAME" (take it from the exemplar)
    domain: str | None = None
    seed: int | None = None
    outputs: int | None = None
    mix: float | None = None
    pairing: Literal["all", "zip"] = "all"
    save_maps: bool = False
    mask_threshold: float | None = None
    region: Path | None = None
    keep_background: bool = False
    batch_size: int = 8
    device: str = "auto"
    runs_root: Path = Path("runs")


@dataclass
class TranslateResult:
    run_dir: Path
    checkpoint: Path
    model: str
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)  # entries of input folders that are not inputs


def _expand(paths: tuple[Path, ...], what: str, result: TranslateResult) -> list[Path]:
    """The image files of ``paths`` (files, or folders read non-recursively).

    Entries of a folder that look like inputs but cannot be read (a folder
    named ``x.png``, a broken symlink, a symlink loop) go to ``result.failed``
    with their reason, like unreadable images; other entries to ``result.ignored``.
    """
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            scan = scan_images(p)
            if not scan.images:
                why = f"; left out: {scan.left_out[0][0].name} ({scan.left_out[0][1]})" if scan.left_out else ""
                raise DataError(f"{p}: no images in this folder ({what}){why}")
            files.extend(scan.images)
            result.failed.extend((q, f"{q}: {why}") for q, why in scan.left_out)
            result.ignored.extend(scan.ignored)
        elif p.is_file():
            files.append(p)
        elif p.is_symlink():
            raise DataError(f"{p}: broken symlink or symlink loop ({what})")
        else:
            raise DataError(f"{p}: no such file or folder ({what})")
    return files


def _jobs(req: TranslateRequest, inputs: list[Path], exemplars: list[Path]) -> list[tuple[Path, Path | None]]:
    if not exemplars:
        return [(x, None) for x in inputs]
    if req.pairing == "zip":
        if len(inputs) != len(exemplars):
            raise ConfigError(f"--pairing zip needs as many exemplars as inputs ({len(exemplars)} vs {len(inputs)})")
        return list(zip(inputs, exemplars, strict=True))
    return [(x, e) for x in inputs for e in exemplars]


def _out_path(req: TranslateRequest, x: Path, e: Path | None, single: bool, k: int | None = None) -> Path:
    """``OUT/x.png``, ``OUT/x__e.png``; with several outputs per input ``..._k.png``."""
    if single and req.out.suffix.lower() == ".png":
        return req.out if k is None else req.out.with_name(f"{req.out.stem}_{k}.png")
    name = x.stem if e is None else f"{x.stem}__{e.stem}"
    return req.out / (f"{name}.png" if k is None else f"{name}_{k}.png")


def translate_images(req: TranslateRequest, progress: OptionalProgress = None) -> TranslateResult:
    """Translate every input (x every exemplar, or zipped) and write PNGs under ``req.out``."""
    # With --exemplar and no run named, the most recent exemplar-guided run (e.g. LOMIT).
    wanted = "exemplar" if req.exemplars and req.model is None else None
    run_dir = req.run_dir or latest_run(req.model, req.runs_root, wanted)
    loaded = load_run(run_dir, req.device, req.checkpoint)
    spec = loaded.spec
    template = request_guidance(spec, direction=req.direction, exemplar=bool(req.exemplars), attrs=req.attrs,
                                domain=req.domain, seed=req.seed, outputs=req.outputs, region=req.region is not None,
                                mix=req.mix)
    if (req.keep_background or req.mask_threshold is not None) and "region" not in spec.accepts:
        raise ConfigError(f"{spec.name} predicts no input mask; --keep-background/--mask-threshold apply to "
                          "mask-predicting models (LOMIT)")
    if req.mask_threshold is not None and not 0.0 <= req.mask_threshold <= 1.0:
        raise ConfigError(f"--mask-threshold {req.mask_threshold}: must lie in [0, 1]")
    result = TranslateResult(run_dir=loaded.run_dir, checkpoint=loaded.checkpoint, model=spec.name)
    inputs = _expand(req.inputs, "inputs", result)
    exemplars = _expand(req.exemplars, "exemplars", result)
    jobs = _jobs(req, inputs, exemplars)
    single = len(jobs) == 1
    size = loaded.image_size
    region = _load_mask(req.region, size).to(loaded.device) if req.region else None
    cache: dict[Path, torch.Tensor | str] = {}

    def tensor_of(p: Path) -> torch.Tensor | str:
        if p not in cache:
            try:
                cache[p] = prepare_image(load_rgb(p), size)
            except DataError as exc:
                cache[p] = str(exc)
        return cache[p]

    done = 0
    report(progress, "translate", 0, len(jobs))
    for start in range(0, len(jobs), req.batch_size):
        chunk = jobs[start : start + req.batch_size]
        ok: list[tuple[Path, Path | None, torch.Tensor, torch.Tensor | None]] = []
        for x, e in chunk:
            tx = tensor_of(x)
            te = tensor_of(e) if e is not None else None
            bad = tx if isinstance(tx, str) else te if isinstance(te, str) else None
            if bad is not None:
                result.failed.append((x if isinstance(tx, str) else e, bad))  # type: ignore[arg-type]
                continue
            ok.append((x, e, tx, te))  # type: ignore[arg-type]
        if ok:
            xb = torch.stack([o[2] for o in ok]).to(loaded.device)
            g = replace(template,
                        exemplar=torch.stack([o[3] for o in ok]).to(loaded.device) if req.exemplars else None,  # type: ignore[misc]
                        region=region.expand(len(ok), -1, -1, -1) if region is not None else None)
            with torch.no_grad():
                outs = loaded.family.translate(xb, g)
            y = outs["output"].float()
            mask = outs.get("mask_input")
            if mask is not None:
                mask = mask.float()
                if region is not None:
                    mask = region.expand_as(mask)
                if req.mask_threshold is not None:
                    mask = (mask > req.mask_threshold).float()
                if req.keep_background:
                    y = mask * y + (1 - mask) * xb.float()
            n_out = g.n_outputs
            for i, (x, e, _, _) in enumerate(ok):
                for k in range(n_out):
                    path = _out_path(req, x, e, single, k if n_out > 1 else None)
                    save_png(path, to_uint8(y[i * n_out + k]))
                    result.written.append(path)
                if req.save_maps:
                    path = _out_path(req, x, e, single)
                    for key, value in outs.items():
                        if key == "output" or value.dim() != 4 or value.shape[0] != len(ok):
                            continue
                        if value.shape[1] == 1:
                            v = mask[i] if key == "mask_input" and mask is not None else value[i].float()
                            arr = (v[0].clamp(0, 1) * 255).round().byte().cpu().numpy()
                            save_png(path.with_name(f"{path.stem}_{key}.png"), arr)
                        elif value.shape[1] == 3:  # auxiliary images (e.g. SEGIN's warped exemplar)
                            save_png(path.with_name(f"{path.stem}_{key}.png"), to_uint8(value[i].float()))
        done += len(chunk)
        report(progress, "translate", done, len(jobs))
    return result
