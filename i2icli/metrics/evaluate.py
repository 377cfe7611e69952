"""One core call per ``i2i eval`` command: resolve inputs, compute, record.

``evaluate(EvalRequest(...))`` returns an :class:`EvalResult` holding one
record per metric (the same dicts that are appended to eval.jsonl, see
:mod:`i2icli.metrics.report`).  Weight files are checked before any image is
read, so a missing file stops the command at once with the download list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from i2icli.errors import DataError
from i2icli.metrics import fidelity, report
from i2icli.metrics import inputs as inputs_mod
from i2icli.metrics import lpips as lpips_mod
from i2icli.metrics import ssim as ssim_mod
from i2icli.progress import OptionalProgress

Metric = Literal["kid", "fid", "is", "lpips", "ssim"]
FIDELITY_METRICS = ("kid", "fid", "is")
_LAYER_METRIC = {"kid": "kid", "fid": "fid", "is": "isc"}
RESIZE_POLICY = "none by i2i; the Inception extractor resizes to 299x299 (TF1.x-compatible bilinear)"


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate and how; every field ends up in the eval.jsonl record."""

    metrics: tuple[Metric, ...]
    generated: str | None = None  # folder or FILE.h5:SPLIT/DOMAIN
    real: str | None = None
    pairs: str | None = None  # e.g. "selfie2anime": translate a run's test split first
    run: Path | None = None
    runs_root: Path = Path("runs")
    lpips_mode: lpips_mod.Mode = "gt"
    mask: str | None = None
    mask_region: Literal["inside", "outside"] = "inside"
    extractor: str = fidelity.INCEPTION
    weights_dir: Path | None = None
    device: str = "auto"
    batch_size: int = 50
    kid_protocol: str = "ugatit"
    kid_subset_size: int | None = None  # ugatit: max block size (10); subsets: subset size (min(n, 1000))
    kid_subsets: int = fidelity.KID_SUBSETS
    is_splits: int = fidelity.IS_SPLITS
    seed: int = fidelity.DEFAULT_SEED
    cache: bool = True
    cache_dir: Path | None = None
    log: Path | None = None
    write_log: bool = True


@dataclass
class EvalResult:
    records: list[dict[str, Any]]
    log_path: Path | None
    notes: list[str] = field(default_factory=list)  # e.g. which run was picked


def _check_weights(req: EvalRequest) -> None:
    from i2icli import weights

    needed = []
    if any(m in FIDELITY_METRICS for m in req.metrics) and req.extractor == fidelity.INCEPTION:
        needed.append("inception-fidelity")
    if "lpips" in req.metrics:
        needed.append("alexnet")
    if needed:
        weights.require(*needed, directory=req.weights_dir)


def _input_record(images: inputs_mod.ImageSet | None) -> dict | None:
    if images is None:
        return None
    h, w = images.image_size()
    return {**images.describe(), "image_size": [h, w]}


def evaluate(req: EvalRequest, progress: OptionalProgress = None) -> EvalResult:
    if not req.metrics:
        raise DataError("no metric requested")
    _check_weights(req)
    notes: list[str] = []
    run_dir = req.run
    pair_info: dict[str, Any] = {}
    generated: inputs_mod.ImageSet | None
    real: inputs_mod.ImageSet | None
    if req.pairs is not None:
        from i2icli.metrics.pairs import translate_pair

        pair = translate_pair(req.pairs, run=req.run, runs_root=req.runs_root, device=req.device,
                              batch_size=req.batch_size, progress=progress)
        notes.extend(pair.notes)
        run_dir = pair.run_dir
        generated, real = pair.generated, pair.real
        pair_info = {"checkpoint": pair.checkpoint, "direction": pair.direction}
    else:
        if req.generated is None:
            raise DataError("give --generated (a folder or FILE.h5:SPLIT/DOMAIN), or --pairs NAME")
        generated = inputs_mod.resolve(req.generated) if not (
            "lpips" in req.metrics and req.lpips_mode == "diversity") else None
        real = inputs_mod.resolve(req.real) if req.real is not None else None

    common = {"seed": req.seed, "device": fidelity.resolve_device(req.device), "batch_size": req.batch_size,
              "resize_policy": RESIZE_POLICY, "pairs": req.pairs, "run": str(run_dir) if run_dir else None, **pair_info}
    records: list[dict[str, Any]] = []
    same_size = {**common, "resize_policy": "none: image pairs compared at their stored size"}

    fid_metrics = [m for m in req.metrics if m in FIDELITY_METRICS]
    if fid_metrics:
        records.extend(_fidelity(req, fid_metrics, generated, real, common, progress))
    if "ssim" in req.metrics:
        if real is None or generated is None:
            raise DataError("SSIM needs --generated and --real (ground truth), paired by sorted name")
        masks = inputs_mod.resolve_mask(req.mask) if req.mask else None
        r = ssim_mod.ssim(generated, real, masks, req.mask_region, progress)
        records.append(report.make_record("ssim", r, generated=_input_record(generated), real=_input_record(real),
                                          pairing="by sorted name", **same_size))
    if "lpips" in req.metrics:
        model = lpips_mod.build_lpips(weights_dir=req.weights_dir, device=common["device"])
        gen_rec: dict[str, Any] | None
        real_rec: dict[str, Any] | None
        if req.lpips_mode == "diversity":
            if req.generated is None:
                raise DataError("LPIPS diversity needs --generated FOLDER with one sub-folder per input")
            groups = lpips_mod.diversity_groups(Path(req.generated))
            r = lpips_mod.lpips_metric(model, "diversity", groups, batch_size=req.batch_size, progress=progress)
            gen_rec = {"source": req.generated, "kind": "folder-of-groups", "count": sum(len(g) for g in groups)}
            real_rec = None
        else:
            if real is None or generated is None:
                raise DataError(f"LPIPS {req.lpips_mode} needs --generated and --real "
                                f"({'ground truth' if req.lpips_mode == 'gt' else 'the exemplars'}), paired by name")
            r = lpips_mod.lpips_metric(model, req.lpips_mode, generated, real, req.batch_size, progress)
            gen_rec, real_rec = _input_record(generated), _input_record(real)
        from i2icli import weights

        records.append(report.make_record("lpips", r, generated=gen_rec, real=real_rec,
                                          weights_file=weights.MANIFEST["alexnet"].filename,
                                          linear_weights="lpips package v0.1 alex.pth", **same_size))

    log = None
    if req.write_log:
        log = report.log_path(req.log, run_dir)
        for rec in records:
            report.append_record(log, rec)
    return EvalResult(records, log, notes)


def _fidelity(req: EvalRequest, metrics: Sequence[str], generated: inputs_mod.ImageSet | None,
              real: inputs_mod.ImageSet | None, common: dict, progress: OptionalProgress) -> list[dict]:
    if generated is None:
        raise DataError("give --generated")
    needs_real = [m for m in metrics if m in ("kid", "fid")]
    if needs_real and real is None:
        raise DataError(f"{'/'.join(m.upper() for m in needs_real)} compare --generated with --real")
    # Always all three layers: the cached real-set features then serve KID, FID and IS alike.
    extractor = fidelity.create_extractor(req.extractor, ("fid", "kid", "isc"), req.weights_dir, req.device)
    cache = fidelity.FeatureCache(req.cache_dir) if req.cache else None
    # generated images change with every run; only the real set is worth caching
    f_gen, _ = fidelity.cached_features(generated, extractor, None, req.batch_size, progress, "generated features")
    f_real, hit = (fidelity.cached_features(real, extractor, cache, req.batch_size, progress, "real features")
                   if real is not None and needs_real else (None, False))
    ident = {**extractor.identity(), "real_features_cached": hit}
    out = []
    for m in metrics:
        layer = fidelity.feature_layer(req.extractor, _LAYER_METRIC[m])
        if m == "kid":
            assert f_real is not None
            r = fidelity.kid(f_gen[layer], f_real[layer], req.kid_protocol, req.kid_subset_size, req.kid_subsets,
                             req.seed)
            r["subset_size_rule"] = "given" if req.kid_subset_size else (
                "blocks of <= 10 (U-GAT-IT authors' script)" if req.kid_protocol == "ugatit"
                else "min(n_generated, n_real, 1000)")
        elif m == "fid":
            assert f_real is not None
            r = fidelity.fid_from_features(f_gen[layer], f_real[layer])
        else:
            r = fidelity.inception_score(f_gen[layer], req.is_splits, req.seed)
        out.append(report.make_record(m, r, generated=_input_record(generated),
                                      real=_input_record(real) if m != "is" else None,
                                      feature_layer=layer, **ident, **common))
    return out


@dataclass(frozen=True)
class CARequest:
    """Classification accuracy with a trained classifier run.

    Without ``generated``: the classifier's own held-out accuracy on ``held_out``
    (default: the test split of the store it was trained on).  With
    ``generated``: per-attribute accuracy that the images carry the targets of
    ``exemplars`` or ``labels_csv``.
    """

    classifier: Path
    generated: str | None = None
    exemplars: str | None = None
    labels_csv: Path | None = None
    held_out: str | None = None
    attributes: tuple[str, ...] = ()
    device: str = "auto"
    batch_size: int = 32
    log: Path | None = None
    write_log: bool = True


def evaluate_ca(req: CARequest, progress: OptionalProgress = None) -> EvalResult:
    from i2icli.metrics import classification as ca

    clf = ca.load_classifier(req.classifier, req.device)
    notes = [f"classifier: {clf.run_dir} ({clf.checkpoint.name}; {clf.family.init_note})"]
    common = {"classifier": str(clf.run_dir), "checkpoint": clf.checkpoint.name, "backbone":
              clf.family.cfg.model_cfg.backbone, "classifier_init": clf.family.init_note,
              "image_size": clf.image_size, "resize_policy": "bilinear to the classifier's data.image_size",
              "device": clf.device}
    if req.generated is None:
        spec = req.held_out or f"{clf.family.cfg.data.path}:test"
        images = inputs_mod.resolve(spec)
        r = ca.held_out_accuracy(clf, images, req.attributes, req.batch_size, progress)
        rec = report.make_record("ca", r, mode="held_out", generated=None, real=_input_record(images), **common)
    else:
        generated = inputs_mod.resolve(req.generated)
        exemplars = inputs_mod.resolve(req.exemplars) if req.exemplars else None
        r = ca.attribute_accuracy(clf, generated, exemplars, req.labels_csv, req.attributes, req.batch_size, progress)
        rec = report.make_record("ca", r, mode="exemplar" if exemplars is not None else "labels",
                                 generated=_input_record(generated), real=_input_record(exemplars), **common)
    log = None
    if req.write_log:
        log = report.log_path(req.log, clf.run_dir)
        report.append_record(log, rec)
    return EvalResult([rec], log, notes)
