"""``i2i eval``: KID, FID, IS, LPIPS, SSIM and classification accuracy, one command each.

Every command parses its options into a request, calls one core function in
:mod:`i2icli.metrics`, prints a table (or ``--json``) and appends one line per
metric to eval.jsonl (see :mod:`i2icli.metrics.report` for where).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from i2icli.cli.common import DeviceOpt, JsonOpt, cli_errors, console, err_console, rich_progress
from i2icli.metrics import fidelity
from i2icli.metrics.edits import EditsRequest, Mode, evaluate_edits
from i2icli.metrics.evaluate import CARequest, EvalRequest, EvalResult, Metric, evaluate, evaluate_ca

app = typer.Typer(
    help=(
        "Evaluate translations: KID, FID, IS, LPIPS, SSIM, classification accuracy.\n\n"
        "Inputs are folders of images or store selections FILE.h5:SPLIT/DOMAIN. Pretrained networks are never "
        "downloaded: see `i2i weights status`.\n\n"
        "Examples:\n\n"
        "  i2i eval kid --generated out/a2b --real data/selfie2anime.h5:test/anime\n\n"
        "  i2i eval kid --pairs selfie2anime --run runs/ugatit-selfie2anime\n\n"
        "  i2i eval ssim --generated out/ --real gt/ --mask masks/ --mask-region outside\n\n"
        "  i2i eval lpips --mode diversity --generated out/per_input/\n\n"
        "  i2i eval all --generated out/ --real gt/ --paired --json\n\n"
        "  i2i eval edit-accuracy --run runs/bridge --classifier runs/classifier   # BridgeGAN Table 1"
    ),
    no_args_is_help=True,
)

GeneratedOpt = Annotated[str | None, typer.Option("--generated", "-g",
                                                     help="Translated images: a folder or FILE.h5:SPLIT/DOMAIN.")]
RealOpt = Annotated[str | None, typer.Option("--real", "-r",
                                                help="Reference images (target domain, ground truth or exemplars).")]
PairsOpt = Annotated[str | None, typer.Option(
    "--pairs", help="Named direction, e.g. selfie2anime: translate the source domain's test split with the run "
                    "and compare with the target domain's test split.")]
RunOpt = Annotated[Path | None, typer.Option("--run", help="Run directory (default with --pairs: the latest run "
                                                              "on that dataset under --runs-root).")]
RunsRootOpt = Annotated[Path, typer.Option("--runs-root", help="Where runs live.")]
WeightsDirOpt = Annotated[Path | None, typer.Option(
    "--weights-dir", help="Weights directory (default: $I2I_WEIGHTS, else $TORCH_HOME/hub/checkpoints).")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass (results do not depend "
                                                                  "on it).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for KID subsets and IS shuffling.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write cached real-set features.")]
CacheDirOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Feature cache (default: $I2I_CACHE/features "
                                                                         "or ~/.cache/i2i/features).")]
LogOpt = Annotated[Path | None, typer.Option("--log", help="eval.jsonl to append to (default: RUN/eval.jsonl with a "
                                                              "run, else ./eval.jsonl).")]
NoLogOpt = Annotated[bool, typer.Option("--no-log", help="Do not append to eval.jsonl.")]
ExtractorOpt = Annotated[str, typer.Option("--extractor", help="Feature extractor (torch-fidelity name).")]
SubsetSizeOpt = Annotated[int | None, typer.Option("--subset-size", min=2, help="KID: max block size for "
                                                      "--protocol ugatit (default 10), subset size for subsets "
                                                      "(default min(n_generated, n_real, 1000)).")]
ProtocolOpt = Annotated[str, typer.Option("--protocol", help="KID protocol: ugatit (U-GAT-IT authors' script: disjoint "
                                                             "blocks of <= 10, std = standard error) or subsets "
                                                             "(torch-fidelity: random subsets).")]
SubsetsOpt = Annotated[int, typer.Option("--subsets", min=1, help="Number of KID subsets.")]
SplitsOpt = Annotated[int, typer.Option("--splits", min=1, help="IS splits.")]
ModeOpt = Annotated[str, typer.Option("--mode", help="LPIPS mode: diversity, ref or gt (SEGIN Table I).")]
MaskOpt = Annotated[str | None, typer.Option("--mask", help="Mask image (one for all) or folder of masks (one per "
                                                               "pair); white = region.")]
RegionOpt = Annotated[str, typer.Option("--mask-region", help="Score inside or outside the mask.")]


def _fmt(rec: dict) -> tuple[str, str]:
    r = rec["result"]
    m = rec["metric"]
    if m == "kid":
        std = "n/a" if r["kid_x100_std"] is None else f"{r['kid_x100_std']:.3f}"
        unit = "blocks" if r["protocol"] == "ugatit" else "subsets"
        return (f"{r['kid_x100_mean']:.3f} ± {std}  (x100)",
                f"{r['protocol']}: {r['subsets']} {unit} of <= {r['subset_size']}; n_gen {r['n_generated']}, "
                f"n_real {r['n_real']}")
    if m == "fid":
        return f"{r['fid']:.3f}", f"n_gen {r['n_generated']}, n_real {r['n_real']}"
    if m == "is":
        return f"{r['is_mean']:.3f} ± {r['is_std']:.3f}", f"n {r['n_generated']}, {r['splits']} splits"
    if m == "ssim":
        region = f", {r['mask_region']} mask" if r["mask"] else ""
        return f"{r['ssim_mean']:.4f} ± {r['ssim_std']:.4f}", f"{r['n_pairs']} pairs{region}"
    if m == "lpips":
        return f"{r['lpips_mean']:.4f} ± {r['lpips_std']:.4f}", f"{r['mode']}, {r['n_pairs']} pairs"
    if m == "ca":
        return f"{r['accuracy_mean']:.4f}", f"{r['n_images']} images, {len(r['per_attribute'])} attributes"
    return json.dumps(r), ""


def render(result: EvalResult, as_json: bool) -> None:
    for note in result.notes:
        err_console.print(note, highlight=False)
    if as_json:
        typer.echo(json.dumps({"records": result.records, "log": str(result.log_path) if result.log_path else None},
                              indent=2, default=str))
        return
    from rich.table import Table

    if result.records and result.records[0]["metric"].startswith("edit_"):
        console.print(_edits_table(result.records[0]))
        if result.log_path:
            console.print(f"appended to {result.log_path}", highlight=False)
        return
    table = Table()
    for col in ("metric", "value", "details", "extractor / weights"):
        table.add_column(col, overflow="fold")
    for rec in result.records:
        value, details = _fmt(rec)
        weights_col = " / ".join(str(rec[k]) for k in ("extractor", "weights_file") if rec.get(k))
        table.add_row(rec["metric"].upper(), value, details, weights_col)
        if rec["metric"] == "ca":
            for name, acc in rec["result"]["per_attribute"].items():
                table.add_row("", f"{acc:.4f}", name, "")
    console.print(table)
    if result.log_path:
        console.print(f"appended to {result.log_path}", highlight=False)


def _request(metrics: list[Metric], generated: str | None, real: str | None, pairs: str | None, run: Path | None,
             runs_root: Path, weights_dir: Path | None, device: str, batch_size: int, seed: int, no_cache: bool,
             cache_dir: Path | None, log: Path | None, no_log: bool, **extra: Any) -> EvalRequest:
    return EvalRequest(metrics=tuple(metrics), generated=generated, real=real, pairs=pairs, run=run,
                       runs_root=runs_root, weights_dir=weights_dir, device=device, batch_size=batch_size, seed=seed,
                       cache=not no_cache, cache_dir=cache_dir, log=log, write_log=not no_log, **extra)


def _go(req: EvalRequest, as_json: bool) -> None:
    with rich_progress(transient=True) as progress:
        result = evaluate(req, progress=progress)
    render(result, as_json)


@app.command("kid")
@cli_errors
def kid(generated: GeneratedOpt = None, real: RealOpt = None, pairs: PairsOpt = None, run: RunOpt = None,
        runs_root: RunsRootOpt = Path("runs"), protocol: ProtocolOpt = "ugatit", subset_size: SubsetSizeOpt = None,
        subsets: SubsetsOpt = fidelity.KID_SUBSETS, extractor: ExtractorOpt = fidelity.INCEPTION,
        weights_dir: WeightsDirOpt = None, device: DeviceOpt = "auto", batch_size: BatchOpt = 50,
        seed: SeedOpt = fidelity.DEFAULT_SEED, no_cache: NoCacheOpt = False, cache_dir: CacheDirOpt = None,
        log: LogOpt = None, no_log: NoLogOpt = False, as_json: JsonOpt = False) -> None:
    """Kernel Inception Distance x100 ± std x100 (U-GAT-IT Table 3)."""
    _go(_request(["kid"], generated, real, pairs, run, runs_root, weights_dir, device, batch_size, seed, no_cache,
                 cache_dir, log, no_log, extractor=extractor, kid_protocol=protocol, kid_subset_size=subset_size,
                 kid_subsets=subsets),
        as_json)


@app.command("fid")
@cli_errors
def fid(generated: GeneratedOpt = None, real: RealOpt = None, pairs: PairsOpt = None, run: RunOpt = None,
        runs_root: RunsRootOpt = Path("runs"), extractor: ExtractorOpt = fidelity.INCEPTION,
        weights_dir: WeightsDirOpt = None, device: DeviceOpt = "auto", batch_size: BatchOpt = 50,
        seed: SeedOpt = fidelity.DEFAULT_SEED, no_cache: NoCacheOpt = False, cache_dir: CacheDirOpt = None,
        log: LogOpt = None, no_log: NoLogOpt = False, as_json: JsonOpt = False) -> None:
    """Frechet Inception Distance (SEGIN, BridgeGAN)."""
    _go(_request(["fid"], generated, real, pairs, run, runs_root, weights_dir, device, batch_size, seed, no_cache,
                 cache_dir, log, no_log, extractor=extractor), as_json)


@app.command("is")
@cli_errors
def is_(generated: GeneratedOpt = None, pairs: PairsOpt = None, run: RunOpt = None,
        runs_root: RunsRootOpt = Path("runs"), splits: SplitsOpt = fidelity.IS_SPLITS,
        extractor: ExtractorOpt = fidelity.INCEPTION, weights_dir: WeightsDirOpt = None, device: DeviceOpt = "auto",
        batch_size: BatchOpt = 50, seed: SeedOpt = fidelity.DEFAULT_SEED, log: LogOpt = None,
        no_log: NoLogOpt = False, as_json: JsonOpt = False) -> None:
    """Inception Score, mean ± std over splits (LOMIT Table 1)."""
    _go(_request(["is"], generated, None, pairs, run, runs_root, weights_dir, device, batch_size, seed, True, None,
                 log, no_log, extractor=extractor, is_splits=splits), as_json)


@app.command("lpips")
@cli_errors
def lpips(generated: GeneratedOpt = None, real: RealOpt = None, mode: ModeOpt = "gt",
          weights_dir: WeightsDirOpt = None, device: DeviceOpt = "auto", batch_size: BatchOpt = 16,
          log: LogOpt = None, run: RunOpt = None, no_log: NoLogOpt = False, as_json: JsonOpt = False) -> None:
    """LPIPS (AlexNet, v0.1): diversity, ref or gt (SEGIN Table I)."""
    _go(_request(["lpips"], generated, real, None, run, Path("runs"), weights_dir, device, batch_size,
                 fidelity.DEFAULT_SEED, True, None, log, no_log, lpips_mode=mode), as_json)


@app.command("ssim")
@cli_errors
def ssim(generated: GeneratedOpt = None, real: RealOpt = None, mask: MaskOpt = None, mask_region: RegionOpt = "inside",
         log: LogOpt = None, run: RunOpt = None, no_log: NoLogOpt = False, as_json: JsonOpt = False) -> None:
    """SSIM against ground truth, mean ± std (EGSC-IT Table 2); optional --mask."""
    _go(_request(["ssim"], generated, real, None, run, Path("runs"), None, "cpu", 1, fidelity.DEFAULT_SEED, True,
                 None, log, no_log, mask=mask, mask_region=mask_region), as_json)


@app.command("ca")
@cli_errors
def ca(classifier: Annotated[Path, typer.Option("--classifier", help="Run directory of `i2i train classifier`.")],
       generated: GeneratedOpt = None,
       exemplars: Annotated[str | None, typer.Option("--exemplars", help="Exemplars (folder or FILE.h5:SPLIT), "
                                                        "paired with --generated by sorted name.")] = None,
       labels: Annotated[Path | None, typer.Option("--labels", help="CSV 'file,<attr>,...' of requested "
                                                      "labels per generated file.")] = None,
       held_out: Annotated[str | None, typer.Option("--held-out", help="Labelled images for the classifier's "
                                                       "own accuracy (default: its store's test split).")] = None,
       attributes: Annotated[str | None, typer.Option("--attributes", help="Comma-separated attributes to "
                                                         "score (default: all the classifier predicts).")] = None,
       device: DeviceOpt = "auto", batch_size: BatchOpt = 32, log: LogOpt = None, no_log: NoLogOpt = False,
       as_json: JsonOpt = False) -> None:
    """Classification accuracy per attribute (LOMIT Table 1, BridgeGAN Table 1).

    Without --generated: the classifier's own held-out accuracy.
    """
    req = CARequest(classifier=classifier, generated=generated, exemplars=exemplars, labels_csv=labels,
                    held_out=held_out, attributes=tuple(a.strip() for a in attributes.split(",") if a.strip())
                    if attributes else (), device=device, batch_size=batch_size, log=log, write_log=not no_log)
    with rich_progress(transient=True) as progress:
        result = evaluate_ca(req, progress=progress)
    render(result, as_json)


@app.command("all")
@cli_errors
def all_(generated: GeneratedOpt = None, real: RealOpt = None, pairs: PairsOpt = None, run: RunOpt = None,
         runs_root: RunsRootOpt = Path("runs"),
         paired: Annotated[bool, typer.Option("--paired", help="--real is ground truth for --generated (same "
                                                               "order): add SSIM and LPIPS gt.")] = False,
         protocol: ProtocolOpt = "ugatit", extractor: ExtractorOpt = fidelity.INCEPTION,
         weights_dir: WeightsDirOpt = None,
         device: DeviceOpt = "auto", batch_size: BatchOpt = 50, seed: SeedOpt = fidelity.DEFAULT_SEED,
         no_cache: NoCacheOpt = False, cache_dir: CacheDirOpt = None, log: LogOpt = None, no_log: NoLogOpt = False,
         as_json: JsonOpt = False) -> None:
    """KID, FID and IS from one feature pass; with --paired also SSIM and LPIPS gt."""
    metrics: list[Metric] = ["kid", "fid", "is"]
    if paired:
        metrics += ["ssim", "lpips"]
    _go(_request(metrics, generated, real, pairs, run, runs_root, weights_dir, device, batch_size, seed, no_cache,
                 cache_dir, log, no_log, extractor=extractor, kid_protocol=protocol), as_json)


EditRunOpt = Annotated[Path, typer.Option("--run", help="A trained BridgeGAN run (or one of its checkpoint folders).")]
EditDataOpt = Annotated[Path | None, typer.Option("--data", help="The store whose test split is edited (default: "
                                                                 "the run's data.path).")]
EditModeOpt = Annotated[str, typer.Option("--mode", help="label, reference or both.")]
ScaleOpt = Annotated[float | None, typer.Option(
    "--scale", help="Test-time Delta scale (default: the run's model.test_delta_scale, 1.5 as in the authors' code).")]
LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N test images.")]
KeepOpt = Annotated[Path | None, typer.Option("--keep", help="A new folder to keep the edits in: "
                                                             "MODE/ATTRIBUTE/*.png with labels.csv.")]
EditSeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the latents and of the reference draw.")]


def _modes(mode: str) -> tuple[Mode, ...]:
    from i2icli.errors import DataError

    if mode == "both":
        return ("label", "reference")
    if mode == "label":
        return ("label",)
    if mode == "reference":
        return ("reference",)
    raise DataError(f"--mode {mode!r}: choose label, reference or both")


def _edits_table(rec: dict) -> Any:
    """One row per attribute, one column per mode (BridgeGAN Tables 1-2)."""
    from rich.table import Table

    r = rec["result"]
    modes = list(r["per_attribute"])
    ca = rec["metric"] == "edit_ca"
    table = Table(title=("accuracy of the edited attribute (kept: mean over the others)" if ca else
                         f"FID of each attribute's edits vs {rec['real']}") + f"; {r['n_images']} test images")
    table.add_column("attribute")
    for m in modes:
        table.add_column(m, justify="right")
        if ca:
            table.add_column(f"{m} kept", justify="right")
    if ca:
        table.add_column("classifier held-out", justify="right")
    fmt = "{:.4f}" if ca else "{:.2f}"
    for a in r["attributes"]:
        row = [a]
        for m in modes:
            row.append(fmt.format(r["per_attribute"][m][a]))
            if ca:
                row.append(fmt.format(r["kept"][m][a]))
        if ca:
            row.append(fmt.format(r["classifier_held_out"][a]))
        table.add_row(*row)
    mean = ["mean"]
    for m in modes:
        mean.append(fmt.format(r["mean"][m]))
        if ca:
            mean.append(fmt.format(r["kept_mean"][m]))
    if ca:
        mean.append(fmt.format(r["classifier_held_out_mean"]))
    table.add_row(*mean, style="bold")
    return table


@app.command("edit-accuracy")
@cli_errors
def edit_accuracy(run: EditRunOpt,
                  classifier: Annotated[Path, typer.Option("--classifier", help="Run directory of `i2i train "
                                                                                "classifier` on the same store.")],
                  data: EditDataOpt = None, mode: EditModeOpt = "both", scale: ScaleOpt = None,
                  limit: LimitOpt = None, keep: KeepOpt = None, seed: EditSeedOpt = 0, device: DeviceOpt = "auto",
                  batch_size: BatchOpt = 32, log: LogOpt = None, no_log: NoLogOpt = False,
                  as_json: JsonOpt = False) -> None:
    """BridgeGAN Table 1: edit every test image per attribute, then the classifier's accuracy on the edit.

    Label-based: flip the attribute; reference-based: take it from a test image whose value differs. Kept
    attributes' accuracy and the classifier's own held-out accuracy are shown beside it.
    """
    req = EditsRequest(run=run, metric="ca", classifier=classifier, data=data, modes=_modes(mode), scale=scale,
                       limit=limit, keep=keep, seed=seed, device=device, batch_size=batch_size, log=log,
                       write_log=not no_log)
    with rich_progress(transient=True) as progress:
        result = evaluate_edits(req, progress=progress)
    render(result, as_json)


@app.command("edit-fid")
@cli_errors
def edit_fid(run: EditRunOpt, data: EditDataOpt = None, mode: EditModeOpt = "both", scale: ScaleOpt = None,
             limit: LimitOpt = None, keep: KeepOpt = None, seed: EditSeedOpt = 0,
             extractor: ExtractorOpt = fidelity.INCEPTION, weights_dir: WeightsDirOpt = None,
             device: DeviceOpt = "auto", batch_size: BatchOpt = 50, no_cache: NoCacheOpt = False,
             cache_dir: CacheDirOpt = None, log: LogOpt = None, no_log: NoLogOpt = False,
             as_json: JsonOpt = False) -> None:
    """BridgeGAN Table 2: edit every test image per attribute, then FID of each attribute's edits.

    The real set is the store's whole test split at the run's image size.
    """
    req = EditsRequest(run=run, metric="fid", data=data, modes=_modes(mode), scale=scale, limit=limit, keep=keep,
                       seed=seed, extractor=extractor, weights_dir=weights_dir, device=device,
                       batch_size=batch_size, cache=not no_cache, cache_dir=cache_dir, log=log, write_log=not no_log)
    with rich_progress(transient=True) as progress:
        result = evaluate_edits(req, progress=progress)
    render(result, as_json)
