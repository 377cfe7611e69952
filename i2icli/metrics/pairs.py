"""Named translation directions (``--pairs selfie2anime``): translate a run's test split, then compare.

Pair names come from the run's dataset: with domains A and B (``data.domains``
of the run, else the store's first two), the valid names are ``A2B`` and
``B2A``.  For ``A2B`` we translate the *test* split of domain A with the run's
latest checkpoint and compare the results with the test split of domain B, as
U-GAT-IT Table 3 does (100 test images per domain there).

- Datasets: a prepared store (test split of each domain), or a CycleGAN
  folder tree (``testA/``, ``testB/``) whose domains are named by
  ``data.domains``, else by the folder name when it reads ``X2Y``
  (``selfie2anime/`` -> selfie, anime), else ``A`` and ``B``.
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

from i2icli.config import RunConfig
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


@dataclass(frozen=True)
class PairData:
    """The two test domains of a run's dataset: a store, or a CycleGAN folder tree (testA/ testB/)."""

    path: Path
    domains: tuple[str, str]
    kind: str  # "store" or "folder"

    def test_set(self, domain: str) -> ImageSet:
        if self.kind == "store":
            return from_store(f"{self.path}:test/{domain}")
        return from_folder(self.path / f"test{'AB'[self.domains.index(domain)]}")

    def describe(self, domain: str) -> str:
        if self.kind == "store":
            return f"{self.path}:test/{domain}"
        return str(self.path / f"test{'AB'[self.domains.index(domain)]}")


def _folder_domain_names(cfg: RunConfig, path: Path) -> tuple[str, str]:
    """``data.domains``, else the two halves of a folder named like ``selfie2anime``, else ("A", "B")."""
    if len(cfg.data.domains) == 2:
        return cfg.data.domains[0], cfg.data.domains[1]
    parts = path.name.split("2")
    if len(parts) == 2 and all(parts) and parts[0] != parts[1]:
        return parts[0], parts[1]
    return "A", "B"


def _domains(cfg: RunConfig) -> PairData:
    from i2icli.data.store import open_store

    path = Path(cfg.data.path)
    if path.is_dir():
        if not ((path / "testA").is_dir() and (path / "testB").is_dir()):
            raise DataError(f"{path}: --pairs needs testA/ and testB/ in a folder dataset")
        return PairData(path, _folder_domain_names(cfg, path), "folder")
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise DataError(f"the run's dataset {cfg.data.path!r} is neither a prepared store nor a folder with "
                        "testA/ testB/; compare folders with --generated/--real instead")
    with open_store(path) as store:
        domains = tuple(store.domains)
    chosen = tuple(cfg.data.domains) or domains[:2]
    if len(chosen) != 2:
        raise DataError(f"{path}: --pairs needs two domains, the store has {', '.join(domains) or 'none'}")
    return PairData(path, chosen, "store")


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
            domains = _domains(saved_config(run)).domains
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
    from i2icli.engine import checkpoint as ckpt
    from i2icli.runs import saved_config

    notes = []
    if run is None:
        run = find_run(name, runs_root)
        notes.append(f"run: {run} (latest run under {runs_root}/ with pair {name})")
    run = Path(run)
    cfg = saved_config(run)
    data = _domains(cfg)
    src, dst, direction = parse_pair(name, data.domains, f"run {run} (dataset {data.path})")
    real = data.test_set(dst)
    sources = data.test_set(src)

    checkpoint = ckpt.latest_checkpoint(run)
    if checkpoint is None:
        raise DataError(f"{run}: no checkpoint yet (checkpoints/ is empty); train longer or pick another run")
    cache = run / "eval" / f"{name}-{checkpoint.name}"
    marker = cache / "complete.json"
    if marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("count") == len(sources) and info.get("checkpoint") == checkpoint.name:
            notes.append(f"using cached translations in {cache} ({checkpoint.name})")
            return PairInputs(from_folder(cache), real, run, direction, checkpoint.name, notes)
    _translate_to(cache, run, checkpoint, sources, real, data.describe(src), direction, device, batch_size, progress)
    notes.append(f"translated {len(sources)} test images of {src} with {checkpoint.name} -> {cache}")
    return PairInputs(from_folder(cache), real, run, direction, checkpoint.name, notes)


@torch.no_grad()
def _translate_to(cache: Path, run: Path, checkpoint: Path, sources: ImageSet, targets: ImageSet, source_desc: str,
                  direction: str, device: str, batch_size: int, progress: OptionalProgress) -> None:
    from i2icli.images import save_png, to_uint8
    from i2icli.translate import load_run, prepare_image

    loaded = load_run(run, device=device, checkpoint=checkpoint)
    from i2icli.guidance import Guidance, validate

    spec = loaded.spec
    exemplar_guided = "exemplar" in spec.requires or ("exemplar" in spec.accepts and "direction" not in spec.accepts)
    if not exemplar_guided and "direction" not in spec.accepts:
        raise DataError(f"--pairs translates with direction or exemplar models; {spec.name} takes "
                        f"{', '.join(spec.accepts) or 'no guidance'} -- "
                        "translate with `i2i translate` and pass --generated")
    size = loaded.image_size
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        n = len(sources)
        for start in range(0, n, batch_size):
            chunk = range(start, min(start + batch_size, n))
            x = torch.stack([prepare_image(sources.load(i), size) for i in chunk]).to(loaded.device)
            e = None
            if exemplar_guided or "exemplar" in spec.requires:
                e = torch.stack([prepare_image(targets.load(i % len(targets)), size) for i in chunk]).to(loaded.device)
            g = validate(spec, Guidance(direction=direction if "direction" in spec.accepts else None,  # type: ignore[arg-type]
                                        exemplar=e))
            out = loaded.family.translate(x, g)["output"]
            for k, i in enumerate(chunk):
                save_png(tmp / f"{i:06d}_{Path(sources.names[i]).stem}.png", to_uint8(out[k]))
            report(progress, f"translating {direction}", chunk[-1] + 1, n)
        (tmp / "complete.json").write_text(json.dumps({"checkpoint": checkpoint.name, "count": n,
                                                       "source": source_desc, "direction": direction}))
        if cache.exists():
            shutil.rmtree(cache)
        os.replace(tmp, cache)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
