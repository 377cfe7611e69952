"""BridgeGAN's Tables 1-2, one command each: edit every test image per attribute, then score the edits.

``i2i eval edit-accuracy`` (Table 1) and ``i2i eval edit-fid`` (Table 2) call
:func:`evaluate_edits`.  For every attribute k the run was trained on and
every test image of the store (the authors' protocol, ``test_arch9.py``;
../shared/specs/bridge.md Sec. 3):

- **label** mode: l_t = l_s with k flipped, conflicts resolved as the authors
  do (:func:`i2icli.models.bridge.resolve_conflicts`), Delta = scale * (l_t -
  l_s) with the run's ``test_delta_scale`` (1.5 in the code) unless given,
  one latent R ~ N(0, I) per image from a seeded generator;
- **reference** mode: a reference drawn (seeded) among the test images whose
  k differs from the source's; l_t = l_s with k taken from the reference,
  conflicts resolved; S = E(x_s, -Delta) + E(x_ref, Delta).  The
  supplementary does not say how references were chosen; this is the test
  code's qualitative mode, extended to both directions of the flip.

Source labels are the store's annotations, as in the authors' test code.

Scores:

- ``ca``: the classifier's accuracy on the edited attribute (the table's
  number) and, beside it, its mean accuracy on the attributes that had to
  stay (kept), plus the classifier's own held-out accuracy on the same test
  split at the same size (a ceiling for both);
- ``fid``: FID of each attribute's edits against the store's test images
  resized to the run's image size with the same resize the edits' inputs got
  ([S] does not name its real set; the whole test split is the closest
  reading), real features computed once.

The edited images go to a temporary folder unless ``keep`` names one (then
each ``<mode>/<attribute>/`` holds the PNGs and a ``labels.csv`` of the full
target vectors, usable with ``i2i eval ca --labels``).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from i2icli.errors import DataError
from i2icli.metrics import fidelity, report
from i2icli.metrics import inputs as inputs_mod
from i2icli.metrics.evaluate import EvalResult
from i2icli.progress import OptionalProgress
from i2icli.progress import report as report_progress

Mode = Literal["label", "reference"]
MODES: tuple[Mode, ...] = ("label", "reference")


@dataclass(frozen=True)
class EditsRequest:
    """What ``i2i eval edit-accuracy`` / ``edit-fid`` score; every field ends up in the eval.jsonl record."""

    run: Path
    metric: Literal["ca", "fid"]
    classifier: Path | None = None  # ca: run of `i2i train classifier` on the same store
    data: Path | None = None  # default: the run's data.path
    modes: tuple[Mode, ...] = MODES
    scale: float | None = None  # default: the run's model.test_delta_scale
    limit: int | None = None  # only the first N test images
    keep: Path | None = None  # keep the edited images here
    extractor: str = fidelity.INCEPTION
    weights_dir: Path | None = None
    device: str = "auto"
    batch_size: int = 32
    seed: int = 0
    cache: bool = True
    cache_dir: Path | None = None
    log: Path | None = None
    write_log: bool = True


@dataclass(frozen=True)
class EditFolder:
    mode: Mode
    attribute: str
    folder: Path
    count: int


def _load_editor(run: Path, device: str) -> Any:
    from i2icli.translate import load_run

    loaded = load_run(run, device=device)
    if not hasattr(loaded.family, "synthesise") or not hasattr(loaded.family, "attributes"):
        raise DataError(f"{run}: a {loaded.cfg.model} run; the edit tables score models that edit attributes by "
                        "label and reference (bridge)")
    return loaded


@torch.no_grad()
def export_edits(loaded: Any, data: Path, out: Path, modes: tuple[Mode, ...], scale: float,
                 limit: int | None = None, batch: int = 32, seed: int = 0,
                 progress: OptionalProgress = None) -> list[EditFolder]:
    """Write ``out/<mode>/<attribute>/*.png`` and ``labels.csv`` for every mode and attribute of the run."""
    from i2icli.data.store import open_store
    from i2icli.data.transforms import resize
    from i2icli.images import save_png, to_tensor, to_uint8
    from i2icli.models.bridge import resolve_conflicts

    fam, size, device = loaded.family, loaded.image_size, loaded.device
    names = list(fam.attributes)
    store = open_store(data)
    missing = [n for n in names if n not in store.attributes]
    if missing:
        raise DataError(f"{data}: has no labels for {', '.join(missing)} (the run was trained on "
                        f"{', '.join(names)}); give the store the run was trained on with --data")
    cols = [store.attributes.index(n) for n in names]
    n = store.count("test") if limit is None else min(limit, store.count("test"))
    if n == 0:
        raise DataError(f"{data}: the test split is empty; prepare the store with a test split")
    labels = store.labels("test")[:n, cols].astype(np.float32)
    stems = [Path(str(s)).stem for s in store.names("test")[:n]]

    def images(idx: Any) -> torch.Tensor:
        return torch.stack([to_tensor(resize(store.image("test", int(i)), size)) for i in idx]).to(device)

    rng = np.random.default_rng(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    folders: list[EditFolder] = []
    total, done = len(modes) * len(names) * n, 0
    for mode in modes:
        for k, attr in enumerate(names):
            folder = out / mode / attr
            folder.mkdir(parents=True, exist_ok=True)
            rows = []
            for start in range(0, n, batch):
                idx = np.arange(start, min(n, start + batch))
                x = images(idx)
                ls = torch.from_numpy(labels[idx]).to(device)
                lt = ls.clone()
                ref = None
                if mode == "label":
                    lt[:, k] = 1 - lt[:, k]
                else:
                    other = [np.flatnonzero(labels[:, k] != labels[i, k]) for i in idx]
                    refs = [int(rng.choice(o)) if len(o) else int(i) for o, i in zip(other, idx, strict=True)]
                    ref = images(refs)
                    lt[:, k] = torch.from_numpy(labels[refs, k]).to(device)
                lt, _ = resolve_conflicts(lt, names, [attr], explicit=())
                lat = torch.randn(len(idx), 1, fam.m.latent_dim, generator=gen, device=device)
                y = fam.synthesise(x, ls, lt, reference=ref, mix=0.0 if ref is None else 1.0, latents=lat,
                                   delta_scale=scale)
                for b, i in enumerate(idx):
                    save_png(folder / f"{stems[i]}.png", to_uint8(y[b].float()))
                    rows.append([f"{stems[i]}.png", *(str(int(v)) for v in lt[b].tolist())])
                done += len(idx)
                report_progress(progress, "editing test images", done, total)
            with open(folder / "labels.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["file", *names])
                w.writerows(rows)
            folders.append(EditFolder(mode, attr, folder, n))
    return folders


def _real_set(data: Path, size: int) -> inputs_mod.ImageSet:
    """The store's test images at the run's size, resized (lazily) as the edits' inputs were."""
    from i2icli.data.transforms import resize

    base = inputs_mod.from_store(f"{data}:test")
    key = hashlib.sha256(f"{base.fingerprint()}|resized to {size}".encode()).hexdigest()
    return dataclasses.replace(base, source=f"{data}:test at {size} px", _load=lambda i: resize(base.load(i), size),
                               _fingerprint=lambda: key, _size=None)


def evaluate_edits(req: EditsRequest, progress: OptionalProgress = None) -> EvalResult:
    """Edit the test split per attribute and mode, then score every folder: one record, one table."""
    from i2icli import weights

    if not req.modes:
        raise DataError("no mode requested; choose label, reference or both")
    if req.metric == "fid" and req.extractor == fidelity.INCEPTION:
        weights.require("inception-fidelity", directory=req.weights_dir)
    clf = None
    if req.metric == "ca":
        from i2icli.metrics import classification as ca

        if req.classifier is None:
            raise DataError("edit accuracy needs --classifier RUN (`i2i train classifier` on the same store)")
        clf = ca.load_classifier(req.classifier, req.device)
    loaded = _load_editor(req.run, req.device)
    names = tuple(loaded.family.attributes)
    if clf is not None:
        missing = [a for a in names if a not in clf.attributes]
        if missing:
            raise DataError(f"{req.classifier}: the classifier does not predict {', '.join(missing)}; train it on "
                            "the run's store (`i2i train classifier --data STORE`)")
    data = Path(req.data or loaded.cfg.data.path)
    scale = float(req.scale if req.scale is not None else loaded.family.m.test_delta_scale)
    notes = [f"run: {req.run} ({loaded.checkpoint.name}); test-time Delta scale {scale}"]
    settings: dict[str, Any] = {"run": str(req.run), "checkpoint": loaded.checkpoint.name, "data": str(data),
                                "modes": list(req.modes), "delta_scale": scale, "seed": req.seed,
                                "image_size": loaded.image_size, "limit": req.limit}
    if req.keep is not None and Path(req.keep).exists():
        raise DataError(f"{req.keep}: already exists; give --keep a new folder (the edits are written there whole, "
                        "once scored)")
    parent = Path(req.keep).parent if req.keep is not None else None
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".i2i_edits_", dir=parent) as tmp:
        out = Path(tmp) / "edits"
        folders = export_edits(loaded, data, out, req.modes, scale, req.limit, req.batch_size, req.seed, progress)
        table: dict[str, dict[str, float]] = {m: {} for m in req.modes}
        extra: dict[str, Any] = {}
        if clf is not None:
            from i2icli.metrics import classification as ca

            kept: dict[str, dict[str, float]] = {m: {} for m in req.modes}
            for f in folders:
                r = ca.attribute_accuracy(clf, inputs_mod.from_folder(f.folder), labels_csv=f.folder / "labels.csv",
                                          attributes=names, batch_size=req.batch_size, progress=progress)
                per = r["per_attribute"]
                table[f.mode][f.attribute] = float(per[f.attribute])
                kept[f.mode][f.attribute] = float(np.mean([v for a, v in per.items() if a != f.attribute]))
            real = _real_set(data, loaded.image_size)
            own = ca.held_out_accuracy(clf, real, names, req.batch_size, progress)
            extra = {"kept": kept, "kept_mean": {m: float(np.mean(list(v.values()))) for m, v in kept.items()},
                     "classifier_held_out": own["per_attribute"],
                     "classifier_held_out_mean": own["accuracy_mean"]}
            settings.update(classifier=str(clf.run_dir), classifier_checkpoint=clf.checkpoint.name,
                            threshold=clf.threshold)
        else:
            extractor = fidelity.create_extractor(req.extractor, ("fid", "kid", "isc"), req.weights_dir, req.device)
            cache = fidelity.FeatureCache(req.cache_dir) if req.cache else None
            real = _real_set(data, loaded.image_size)
            layer = fidelity.feature_layer(req.extractor, "fid")
            f_real, hit = fidelity.cached_features(real, extractor, cache, req.batch_size, progress, "real features")
            for f in folders:
                f_gen, _ = fidelity.cached_features(inputs_mod.from_folder(f.folder), extractor, None,
                                                    req.batch_size, progress, f"{f.mode}/{f.attribute}")
                table[f.mode][f.attribute] = float(fidelity.fid_from_features(f_gen[layer], f_real[layer])["fid"])
            extra = {"n_real": len(real)}
            settings.update(**extractor.identity(), feature_layer=layer, real_features_cached=hit,
                            real=f"{data}:test resized to {loaded.image_size} px")
        if req.keep is not None:
            out.rename(req.keep)  # same file system: the folder appears whole or not at all
            settings["edits"] = str(req.keep)
    result = {"per_attribute": table, "mean": {m: float(np.mean(list(v.values()))) for m, v in table.items()},
              "n_images": folders[0].count, "attributes": list(names), **extra}
    rec = report.make_record(f"edit_{req.metric}", result, device=fidelity.resolve_device(req.device), **settings)
    log = None
    if req.write_log:
        log = report.log_path(req.log, Path(req.run))
        report.append_record(log, rec)
    return EvalResult([rec], log, notes)
