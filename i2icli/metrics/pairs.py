"""Named translation directions (``--pairs selfie2anime``): translate a run's test split, then compare.

Pair names come from the run's dataset: with domains A and B (``data.domains``
of the run, else the store's first two), the valid names are ``A2B`` and
``B2A``.  For ``A2B`` we translate the *test* split of domain A with the run's
latest checkpoint and compare the results with the test split of domain B, as
U-GAT-IT Table 3 does (100 test images per domain there).

- Run: ``--run RUN_DIR``, or else the most recent run under ``--runs-root``
  whose dataset has those domains (the CLI prints which one).
- Inputs are resized/cropped to the run's ``data.image_size`` exactly as
  ``i2i translate`` does (:func:`i2icli.translate.prepare_image`).
- Direction models get ``direction="a2b"|"b2a"``.  Exemplar models get, for
  source image i, target test image ``i mod n_target`` as exemplar (a fixed,
  documented pairing so the number is reproducible).
- Translations are cached as PNG in ``RUN_DIR/eval/<pair>-<checkpoint>/``
  with a ``complete.json`` marker written last; a cache without the marker (an
  interrupted run) is rebuilt, never used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from i2icli.errors import ConfigError, DataError
from i2icli.metrics.inputs import ImageSet, from_folder, from_store
from i2icli.progress import OptionalProgress, report


@dataclass
class PairInputs:
    generated: ImageSet
    real: ImageSet
    run_dir: Path
    direction: str
    checkpoint: str  # e.g. "step_00100000"
    notes: list[str] = field(default_factory=list)


def _domains(cfg) -> tuple[Path, tuple[str, ...]]:
    from i2icli.data.store import open_store

    path = Path(cfg.data.path)
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise DataError(f"the run's dataset {cfg.data.path!r} is not a prepared store; --pairs needs one "
                        "(i2i prepare ...); compare folders with --generated/--real instead")
    with open_store(path) as store:
        domains = tuple(store.domains)
    chosen = tuple(cfg.data.domains) or domains[:2]
    if len(chosen) != 2:
        raise DataError(f"{path}: --pairs needs two domains, the store has {', '.join(domains) or 'none'}")
    return path, chosen


def pair_names(domains: tuple[str, str]) -> list[str]:
    a, b = domains
    return [f"{a}2{b}", f"{b}2{a}"]


def parse_pair(name: str, domains: tuple[str, str], where: str) -> tuple[str, str, str]:
    """(source domain, target domain, direction) of a pair name; DataError listing the valid names."""
    a, b = domains
    valid = pair_names(domains)
    if name == valid[0]:
        return a, b, "a2b"
    if name == valid[1]:
        return b, a, "b2a"
    raise DataError(f"unknown pair {name!r} for {where}; valid pairs: {', '.join(valid)}")


def find_run(name: str, runs_root: Path) -> Path:
    """The most recent run under ``runs_root`` whose dataset defines the pair ``name``."""
    from i2icli.runs import list_runs, saved_config

    seen: list[str] = []
    for run in reversed(list_runs(None, runs_root)):
        try:
            _, domains = _domains(saved_config(run))
        except (DataError, ConfigError):
            continue
        if name in pair_names(domains):
            return run
        seen.extend(n for n in pair_names(domains) if n not in seen)
    if not seen:
        raise DataError(f"no trained run on a prepared store with two domains under {runs_root}/; "
                        "train one first or pass --run RUN_DIR")
    raise DataError(f"no run under {runs_root}/ defines the pair {name!r}; valid pairs: {', '.join(seen)}")


def translate_pair(name: str, run: Path | None = None, runs_root: Path = Path("runs"), device: str = "auto",
                   batch_size: int = 16, progress: OptionalProgress = None) -> PairInputs:
    from i2icli.data.store import open_store
    from i2icli.runs import saved_config

    notes = []
    if run is None:
        run = find_run(name, runs_root)
        notes.append(f"run: {run} (latest run under {runs_root}/ with pair {name})")
    run = Path(run)
    cfg = saved_config(run)
    store_path, domains = _domains(cfg)
    src, dst, direction = parse_pair(name, domains, f"run {run} (dataset {store_path})")
    real = from_store(f"{store_path}:test/{dst}")

    from i2icli.engine import checkpoint as ckpt

    checkpoint = ckpt.latest_checkpoint(run)
    if checkpoint is None:
        raise DataError(f"{run}: no checkpoint yet (checkpoints/ is empty); train longer or pick another run")
    cache = run / "eval" / f"{name}-{checkpoint.name}"
    with open_store(store_path) as store:
        n_src = store.count("test", src)
    marker = cache / "complete.json"
    if marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("count") == n_src and info.get("checkpoint") == checkpoint.name:
            notes.append(f"using cached translations in {cache} ({checkpoint.name})")
            return PairInputs(from_folder(cache), real, run, direction, checkpoint.name, notes)
    _translate_to(cache, run, checkpoint, store_path, src, dst, direction, device, batch_size, progress)
    notes.append(f"translated {n_src} test images of {src} with {checkpoint.name} -> {cache}")
    return PairInputs(from_folder(cache), real, run, direction, checkpoint.name, notes)


@torch.no_grad()
def _translate_to(cache: Path, run: Path, checkpoint: Path, store_path: Path, src: str, dst: str, direction: str,
                  device: str, batch_size: int, progress: OptionalProgress) -> None:
    from i2icli.data.store import open_store
    from i2icli.images import save_png, to_uint8
    from i2icli.translate import load_run, prepare_image

    loaded = load_run(run, device=device, checkpoint=checkpoint)
    guidance = loaded.spec.guidance
    if guidance not in ("direction", "exemplar"):
        raise DataError(f"--pairs translates with direction or exemplar models; {loaded.spec.name} is a "
                        f"{guidance!r} model -- translate with `i2i translate` and pass --generated")
    size = loaded.image_size
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        with open_store(store_path) as store:
            src_idx = store.indices("test", src)
            dst_idx = store.indices("test", dst)
            if len(src_idx) == 0 or len(dst_idx) == 0:
                raise DataError(f"{store_path}: the test split has no images of {src if len(src_idx) == 0 else dst}")
            names = store.names("test")
            for start in range(0, len(src_idx), batch_size):
                chunk = src_idx[start:start + batch_size]
                x = torch.stack([prepare_image(store.image("test", int(i)), size) for i in chunk]).to(loaded.device)
                if guidance == "direction":
                    out = loaded.family.translate(x, direction=direction)["output"]
                else:
                    ex = [dst_idx[(start + k) % len(dst_idx)] for k in range(len(chunk))]
                    e = torch.stack([prepare_image(store.image("test", int(i)), size) for i in ex]).to(loaded.device)
                    out = loaded.family.translate(x, exemplar=e)["output"]
                for k, i in enumerate(chunk):
                    stem = Path(str(names[int(i)])).stem
                    save_png(tmp / f"{start + k:06d}_{stem}.png", to_uint8(out[k]))
                report(progress, f"translating {src}->{dst}", start + len(chunk), len(src_idx))
        (tmp / "complete.json").write_text(json.dumps({"checkpoint": checkpoint.name, "count": len(src_idx),
                                                       "source": f"{store_path}:test/{src}", "direction": direction}))
        if cache.exists():
            shutil.rmtree(cache)
        os.replace(tmp, cache)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
