"""``i2i prepare``: datasets into the i2i HDF5 store (one command per source layout)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer
from rich.table import Table

from i2icli.cli.common import JsonOpt, OutOpt, cli_errors, console, err_console, rich_progress
from i2icli.errors import DataError
from i2icli.prepare.common import PrepareResult, default_workers

app = typer.Typer(
    help=(
        "Prepare datasets into one HDF5 store (see docs/DATA.md).\n\n"
        "Examples:\n\n"
        "  i2i prepare synthetic digits --out data/digits.h5\n\n"
        "  i2i prepare synthetic faces --size 64 --out data/faces.h5\n\n"
        "  i2i prepare unpaired ~/datasets/selfie2anime --out data/selfie2anime.h5\n\n"
        "  i2i prepare celeba --root ~/datasets/celeba --size 128 --out data/celeba128.h5\n\n"
        "  i2i prepare match data/edges2shoes.h5 --split train --pairs self\n\n"
        "  i2i prepare info data/digits.h5"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
synthetic_app = typer.Typer(
    help=(
        "Built-in benchmarks with ground truth (no download, deterministic given --seed and the counts).\n\n"
        "  i2i prepare synthetic digits --layout single --count 2000 --test-count 500\n\n"
        "  i2i prepare synthetic faces --size 64 --count 2000\n\n"
        "  i2i prepare synthetic anime --size 64 --count 2000"
    ),
    no_args_is_help=True,
)
app.add_typer(synthetic_app, name="synthetic")

WorkersOpt = Annotated[int, typer.Option("--workers", "-j", min=1, help="Worker processes for decoding/resizing.")]
DEFAULT_WORKERS = default_workers()  # this machine's default, shown by --help
StrictOpt = Annotated[bool, typer.Option("--strict", help="Stop at the first bad input instead of skipping it.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")]
CompressOpt = Annotated[bool, typer.Option(
    "--lzf", help="lzf-compress images (smaller file, slower reads; see docs/BENCHMARKS.md).")]
SizeOpt = Annotated[int, typer.Option("--size", min=8, help="Output image size (square).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (test split, synthetic data).")]
TestCountOpt = Annotated[int, typer.Option("--test-count", min=0, help="Images held out as the test split.")]
MinSizeOpt = Annotated[int, typer.Option("--min-size", min=1, help="Skip images smaller than this on a side.")]


def _names(values: list[str] | None) -> tuple[str, ...]:
    """Repeated or comma-separated names."""
    return tuple(n.strip() for v in values or () for n in v.split(",") if n.strip())


def _render(result: PrepareResult, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(result.to_json()))
        return
    table = Table(title=f"wrote {result.out}", show_header=True, header_style="bold")
    table.add_column("split / domain")
    table.add_column("images", justify="right")
    for key, n in result.written.items():
        table.add_row(key if "/" not in key else f"  {key}", str(n))
    console.print(table)
    rate = result.total / result.seconds if result.seconds > 0 else 0.0
    console.print(f"{result.total} images in {result.seconds:.1f} s ({rate:.3g} images/s)")
    for note in result.notes[:20]:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if len(result.notes) > 20:
        console.print(f"[yellow]note:[/] ... and {len(result.notes) - 20} more notes (see --json)")
    if result.skipped:
        console.print(f"[yellow]skipped {len(result.skipped)} input(s):[/]")
        for name, reason in result.skipped[:20]:
            console.print(f"  {name}: {reason}", highlight=False, soft_wrap=True)
        if len(result.skipped) > 20:
            console.print(f"  ... and {len(result.skipped) - 20} more (see --json)")


def _run(fn: Callable[..., PrepareResult], request: object, as_json: bool) -> None:
    with rich_progress(transient=True) as progress:
        result = fn(request, progress=progress)
    _render(result, as_json)


# --------------------------------------------------------------------------- synthetic


@synthetic_app.command("digits")
@cli_errors
def synthetic_digits(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output store.")] = Path("data/digits.h5"),
    layout: Annotated[str, typer.Option(
        "--layout", help="single (MNIST-Single) or multi (MNIST-Multiple, 4x4 grid).")] = "single",
    count: Annotated[int, typer.Option("--count", min=1, help="Training images per domain.")] = 2000,
    test_count: Annotated[int, typer.Option(
        "--test-count", min=0, help="Test images per domain (= ground-truth pairs per direction).")] = 500,
    size: Annotated[int | None, typer.Option("--size", help="Image size; default 32 (single) or 64 (multi).")] = None,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    lzf: CompressOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """EGSC-IT's coloured-digit domains A (black/white) and B (RGB) with x_AB / x_BA ground truth."""
    from i2icli.prepare.synthetic import DigitsRequest, prepare_digits

    if layout not in ("single", "multi"):
        raise DataError(f"--layout {layout!r}: use single or multi")
    request = DigitsRequest(out, cast(Literal["single", "multi"], layout), count, test_count, size, seed, force,
                            "lzf" if lzf else None)
    _run(prepare_digits, request, as_json)


@synthetic_app.command("faces")
@cli_errors
def synthetic_faces(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output store.")] = Path("data/faces.h5"),
    count: Annotated[int, typer.Option("--count", min=1, help="Training faces.")] = 2000,
    test_count: Annotated[int, typer.Option("--test-count", min=0, help="Test faces.")] = 500,
    pairs: Annotated[int | None, typer.Option(
        "--pairs", min=0, help="Ground-truth test pairs (default: --test-count).")] = None,
    size: Annotated[int, typer.Option("--size", help="64 or 128.")] = 64,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    lzf: CompressOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Procedural faces with LOMIT's ten CelebA attributes, region masks and ground-truth translations."""
    from i2icli.prepare.synthetic import FacesRequest, prepare_faces

    _run(prepare_faces, FacesRequest(out, count, test_count, pairs, size, seed, force, "lzf" if lzf else None), as_json)


@synthetic_app.command("anime")
@cli_errors
def synthetic_anime(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output store.")] = Path("data/anime.h5"),
    count: Annotated[int, typer.Option("--count", min=1, help="Training faces per domain (unpaired).")] = 2000,
    test_count: Annotated[int, typer.Option(
        "--test-count", min=0, help="Test faces per domain (= ground-truth pairs per direction).")] = 500,
    size: Annotated[int, typer.Option("--size", help="64 or 128.")] = 64,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    lzf: CompressOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """A synthetic selfie2anime with ground truth: photo-style and anime-style faces (domains photo, anime).

    Every test image comes with its exact translation and the region where the two styles differ, so
    U-GAT-IT (and its ablations) can be scored by SSIM/PSNR to the truth and its attention against the region.
    """
    from i2icli.prepare.synthetic import AnimeRequest, prepare_anime

    _run(prepare_anime, AnimeRequest(out, count, test_count, size, seed, force, "lzf" if lzf else None), as_json)


# --------------------------------------------------------------------------- folders


@app.command("unpaired")
@cli_errors
def unpaired(
    root: Annotated[Path, typer.Argument(help="Folder with trainA/ trainB/ [testA/ testB/].")],
    out: OutOpt = None,
    size: SizeOpt = 256,
    crop: Annotated[str, typer.Option(
        "--crop", help="none: squash to a square (U-GAT-IT loader); center: crop a square first.")] = "none",
    domains: Annotated[list[str] | None, typer.Option(
        "--domains", help="Names for A and B, e.g. --domains selfie,anime.")] = None,
    min_size: MinSizeOpt = 16,
    workers: WorkersOpt = DEFAULT_WORKERS,
    strict: StrictOpt = False,
    force: ForceOpt = False,
    lzf: CompressOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """CycleGAN/U-GAT-IT layout (selfie2anime, horse2zebra, cat2dog, ...) -> two domains.

    Example: i2i prepare unpaired ~/data/selfie2anime --domains selfie,anime --out data/selfie2anime.h5
    """
    from i2icli.prepare.folders import FolderRequest, prepare_unpaired

    _check_crop(crop)
    _run(prepare_unpaired, FolderRequest(root, out, size, crop, _names(domains), min_size, workers, strict, force,  # type: ignore[arg-type]
                                         "lzf" if lzf else None), as_json)


@app.command("afhq")
@cli_errors
def afhq(
    root: Annotated[Path, typer.Argument(
        help="AFHQ folder with train/ and val/ (or test/), each with cat/ dog/ wild/.")],
    out: OutOpt = None,
    size: SizeOpt = 256,
    crop: Annotated[str, typer.Option("--crop", help="none or center.")] = "none",
    domains: Annotated[list[str] | None, typer.Option("--domains", help="Rename the class domains.")] = None,
    min_size: MinSizeOpt = 16,
    workers: WorkersOpt = DEFAULT_WORKERS,
    strict: StrictOpt = False,
    force: ForceOpt = False,
    lzf: CompressOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """AFHQ (cat / dog / wild) -> one domain per class.

    Example: i2i prepare afhq ~/data/afhq --out data/afhq.h5
    """
    from i2icli.prepare.folders import FolderRequest, prepare_afhq

    _check_crop(crop)
    _run(prepare_afhq, FolderRequest(root, out, size, crop, _names(domains), min_size, workers, strict, force,  # type: ignore[arg-type]
                                     "lzf" if lzf else None), as_json)


def _check_crop(crop: str) -> None:
    if crop not in ("none", "center"):
        raise DataError(f"--crop {crop!r}: use none or center")


# --------------------------------------------------------------------------- celeba / faces / sketch


@app.command("celeba")
@cli_errors
def celeba(
    root: Annotated[Path, typer.Option(
        "--root", help="CelebA folder: img_align_celeba/ (or img_celeba/), list_attr_celeba.txt.")],
    attributes: Annotated[list[str] | None, typer.Option(
        "--attributes", help="Labels to keep (comma-separated or repeated); default: the preset's.")] = None,
    preset: Annotated[str, typer.Option("--preset", help="lomit (10 attributes), bridge (14) or all (40).")] = "lomit",
    size: SizeOpt = 128,
    split: Annotated[str, typer.Option(
        "--split", help="random (--test-count images) or official (list_eval_partition.txt).")] = "random",
    test_count: TestCountOpt = 2000,
    release: Annotated[str, typer.Option(
        "--release", help="auto, aligned (img_align_celeba) or wild (img_celeba, face-box crops).")] = "auto",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N images (quick trials).")] = None,
    domains_by: Annotated[str | None, typer.Option(
        "--domains-by", help="Also split into two domains by this attribute: ATTR (A) and not_ATTR (B); "
        "EGSC-IT's face gender: --domains-by Male.")] = None,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    min_size: MinSizeOpt = 32,
    workers: WorkersOpt = DEFAULT_WORKERS,
    strict: StrictOpt = False,
    force: ForceOpt = False,
    lzf: CompressOpt = False,
    as_json: JsonOpt = False,
    crop: Annotated[str, typer.Option(
        "--crop", help="Aligned images: auto (attgan for --preset bridge, else stargan), stargan (centre 178, "
        "bilinear) or attgan (170 at top 26, left 3, bicubic; BridgeGAN's code).")] = "auto",
) -> None:
    """CelebA: crop (StarGAN's centre 178, or the AttGAN/BridgeGAN 170 window for --preset bridge), resize, keep labels.

    Example: i2i prepare celeba --root ~/data/celeba --preset bridge --size 128 --out data/celeba128.h5
    """
    from i2icli.prepare.celeba import CelebARequest, prepare_celeba

    if preset not in ("lomit", "bridge", "all"):
        raise DataError(f"--preset {preset!r}: use lomit, bridge or all")
    if split not in ("random", "official"):
        raise DataError(f"--split {split!r}: use random or official")
    if release not in ("auto", "aligned", "wild"):
        raise DataError(f"--release {release!r}: use auto, aligned or wild")
    if crop not in ("auto", "stargan", "attgan"):
        raise DataError(f"--crop {crop!r}: use auto, stargan or attgan")
    req = CelebARequest(root=root, out=out, attributes=_names(attributes), preset=preset, size=size,  # type: ignore[arg-type]
                        split=split, test_count=test_count, seed=seed, release=release, limit=limit,  # type: ignore[arg-type]
                        domains_by=domains_by, min_size=min_size, workers=workers, strict=strict, force=force,
                        compression="lzf" if lzf else None, crop=crop)  # type: ignore[arg-type]
    _run(prepare_celeba, req, as_json)


@app.command("faces")
@cli_errors
def faces(
    folders: Annotated[list[Path], typer.Argument(help="Folders of photos; each becomes a domain.")],
    out: OutOpt = None,
    domains: Annotated[list[str] | None, typer.Option(
        "--domains", help="Domain names (default: folder names).")] = None,
    size: SizeOpt = 256,
    margin: Annotated[float, typer.Option(
        "--margin", min=0.0, help="Extra border around the face box (fraction of its side).")] = 0.6,
    detector: Annotated[str, typer.Option(
        "--detector",
        help="cascade (scikit-image, default) or mtcnn (extra: pip install 'i2icli[faces]').")] = "cascade",
    multiple: Annotated[str, typer.Option(
        "--multiple", help="Photos with several faces: largest, all or skip.")] = "largest",
    align: Annotated[bool, typer.Option(
        "--align", help="Level the eyes using MTCNN's landmarks (needs --detector mtcnn).")] = False,
    test_count: TestCountOpt = 0,
    seed: SeedOpt = 0,
    min_size: MinSizeOpt = 32,
    workers: WorkersOpt = DEFAULT_WORKERS,
    strict: StrictOpt = False,
    force: ForceOpt = False,
    lzf: CompressOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Detect, crop and resize faces in photos (EmotioNet, selfies).

    Example: i2i prepare faces ~/photos/selfies --size 256 --test-count 100 --out data/selfies.h5
    """
    from i2icli.prepare.faces import FacesRequest, prepare_faces

    if detector not in ("cascade", "mtcnn"):
        raise DataError(f"--detector {detector!r}: use cascade or mtcnn")
    if multiple not in ("largest", "all", "skip"):
        raise DataError(f"--multiple {multiple!r}: use largest, all or skip")
    req = FacesRequest(folders=tuple(folders), out=out, domains=_names(domains), size=size, margin=margin,
                       detector=detector, multiple=multiple, align=align, test_count=test_count, seed=seed,  # type: ignore[arg-type]
                       min_size=min_size, workers=workers, strict=strict, force=force,
                       compression="lzf" if lzf else None)
    _run(prepare_faces, req, as_json)


@app.command("sketch")
@cli_errors
def sketch(
    root: Annotated[Path, typer.Argument(help="Folder of images (or train/ and val/ subfolders).")],
    out: OutOpt = None,
    method: Annotated[str, typer.Option(
        "--method", help="xdog, canny, or ab (pix2pix side-by-side edges|photo files).")] = "xdog",
    size: SizeOpt = 256,
    sigma: Annotated[float, typer.Option("--sigma", help="XDoG: Gaussian sigma.")] = 0.8,
    k: Annotated[float, typer.Option("--k", help="XDoG: ratio of the second Gaussian.")] = 1.6,
    tau: Annotated[float, typer.Option("--tau", help="XDoG: weight of the second Gaussian.")] = 0.98,
    eps: Annotated[float, typer.Option("--eps", help="XDoG: threshold.")] = -0.01,
    phi: Annotated[float, typer.Option("--phi", help="XDoG: softness of the threshold.")] = 200.0,
    canny_sigma: Annotated[float, typer.Option("--canny-sigma", help="Canny: Gaussian sigma.")] = 2.0,
    low: Annotated[float | None, typer.Option(
        "--low", help="Canny: low threshold (a quantile if in (0, 1) with --high).")] = None,
    high: Annotated[float | None, typer.Option("--high", help="Canny: high threshold.")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="ab: the right half is the sketch.")] = False,
    fg_mask: Annotated[str, typer.Option(
        "--fg-mask", help="none, or white: store a 'foreground' mask = not the near-white region touching the "
                          "border (SEGIN's y_seg).")] = "none",
    fg_threshold: Annotated[int, typer.Option(
        "--fg-threshold", min=0, max=255, help="--fg-mask white: min RGB of 'white'.")] = 240,
    test_count: TestCountOpt = 0,
    seed: SeedOpt = 0,
    min_size: MinSizeOpt = 16,
    workers: WorkersOpt = DEFAULT_WORKERS,
    strict: StrictOpt = False,
    force: ForceOpt = False,
    lzf: CompressOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Paired (sketch, image) data: XDoG or Canny sketches, or pix2pix AB files.

    Example: i2i prepare sketch ~/data/edges2shoes --method ab --fg-mask white --out data/edges2shoes.h5
    """
    from i2icli.prepare.sketch import CannyParams, SketchRequest, XDoGParams, prepare_sketch

    if method not in ("xdog", "canny", "ab"):
        raise DataError(f"--method {method!r}: use xdog, canny or ab")
    req = SketchRequest(root=root, out=out, method=method, size=size, xdog=XDoGParams(sigma, k, tau, eps, phi),  # type: ignore[arg-type]
                        canny=CannyParams(canny_sigma, low, high), reverse=reverse, test_count=test_count, seed=seed,
                        min_size=min_size, workers=workers, strict=strict, force=force,
                        compression="lzf" if lzf else None, fg_mask=fg_mask,  # type: ignore[arg-type]
                        fg_threshold=fg_threshold)
    _run(prepare_sketch, req, as_json)


# --------------------------------------------------------------------------- match


@app.command("match")
@cli_errors
def match(
    store: Annotated[Path, typer.Argument(
        help="A store written by `i2i prepare` (paired for --input-field sources).")],
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "train",
    pairs: Annotated[str, typer.Option(
        "--pairs", help="self (training: each input with its own target), random, store (the store's ground-truth "
                        "pairs) or file:PAIRS.csv.")] = "self",
    inputs: Annotated[int, typer.Option("--inputs", min=1, help="random: number of inputs.")] = 100,
    per_input: Annotated[int, typer.Option("--per-input", min=1, help="random: exemplars per input.")] = 20,
    seed: SeedOpt = 0,
    layer: Annotated[str, typer.Option("--layer", help="VGG-19 layer of the match (Eq. 1's Phi).")] = "relu3_2",
    patch: Annotated[int, typer.Option("--patch", help="Patch size k (odd) in feature cells.")] = 3,
    precision: Annotated[str, typer.Option(
        "--precision", help="fp32 (exact), bf16-certified (bf16 GEMM, certified equal to fp32), bf16 (approximate), "
                            "fp64.")] = "fp32",
    features: Annotated[str, typer.Option(
        "--features", help="imagenet (needs the VGG-19 file) or random (seeded random VGG-19: "
                           "'not ImageNet VGG').")] = "imagenet",
    feature_seed: Annotated[int, typer.Option("--feature-seed", help="Seed of --features random.")] = 0,
    input_field: Annotated[str, typer.Option(
        "--input-field", help="auto (sources if paired, else gray), sources, gray (luma of images) or "
                              "images.")] = "auto",
    topk: Annotated[int, typer.Option(
        "--topk", min=0, help="Also store the K best matches (alternatives for the random-match "
                              "perturbation).")] = 0,
    no_scores: Annotated[bool, typer.Option("--no-scores", help="Do not store the match cosines.")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1, ...")] = "auto",
    batch: Annotated[int, typer.Option("--batch", min=1, help="Pairs per batch (VGG once per distinct image).")] = 8,
    block_rows: Annotated[int | None, typer.Option(
        "--block-rows", min=1, help="Feature rows per matching block (default: about 8 MiB per block on CPU, all "
                                    "rows on GPU).")] = None,
    out: OutOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Semantic match (SEGIN Eq. 1) of store pairs into a keyed, resumable warp cache (.match.h5).

    Example: i2i prepare match data/edges2shoes.h5 --split train --pairs self --out data/edges2shoes.match.h5
    """
    from i2icli.prepare.match import MatchRequest, prepare_match

    req = MatchRequest(store=store, split=split, pairs=pairs, inputs=inputs, per_input=per_input, seed=seed,
                       layer=layer, patch=patch, precision=precision, features=features, feature_seed=feature_seed,
                       input_field=input_field, topk=topk, scores=not no_scores, device=device, batch=batch,
                       block_rows=block_rows, out=out, force=force)
    with rich_progress(transient=True) as progress:
        result = prepare_match(req, progress=progress)
    if as_json:
        console.print_json(json.dumps(result.to_json()))
        return
    console.print(f"wrote {result.out}: {result.pairs} pairs ({result.computed} computed"
                  + (f", resumed at {result.resumed_from}" if result.resumed_from else "")
                  + f") in {result.seconds:.1f} s ({result.pairs_per_s:.3g} pairs/s), {result.method}, "
                  f"features: {result.feature_label}", highlight=False)
    if result.stats.get("bf16_fallback_rate") is not None:
        console.print(f"bf16 rows recomputed in fp32: {100 * result.stats['bf16_fallback_rate']:.2f}%")
    for note in result.stats.get("notes", []):
        console.print(f"[yellow]note:[/] {note}", highlight=False)


# --------------------------------------------------------------------------- info


@app.command("info")
@cli_errors
def info(
    path: Annotated[Path, typer.Argument(help="A store written by `i2i prepare`.")],
    verify: Annotated[bool, typer.Option("--verify", help="Recompute the content checksum.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Counts per split and domain/attribute, image size and provenance of a store."""
    from i2icli.match.cache import is_warp_cache
    from i2icli.prepare.info import cache_info, store_info

    if is_warp_cache(path):
        data = cache_info(path, verify=verify)
        if as_json:
            console.print_json(json.dumps(data))
            return
        _render_cache_info(data)
        return
    data = store_info(path, verify=verify)
    if as_json:
        console.print_json(json.dumps(data))
        return
    _render_info(data)


def _render_cache_info(data: dict[str, Any]) -> None:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    k = data["key_fields"]
    head.add_row("file", data["path"] + "  (warp cache, schema " + str(data["schema_version"]) + ")")
    head.add_row("store", f"{data['store']}  ({k['store_checksum'][:19]}...)")
    head.add_row("pairs", f"{data['pairs']} ({k['split']}, {k['pairing']}), input field {k['input_field']}")
    head.add_row("match", f"{k['features']['net']} {k['features']['layer']} ({data['feature_label']}), "
                          f"{data['patch']}x{data['patch']} patches, {k['similarity']}, {data['method']}")
    head.add_row("grid", f"{data['grid'][0]}x{data['grid'][1]} cells of {data['cell']} px "
                         f"({data['image_size'][0]}x{data['image_size'][1]} images)")
    stored = "index" + (", score" if data["scores"] else "") + (f", top-{data['topk']}" if data["topk"] else "")
    head.add_row("stored", stored)
    stats = data["stats"]
    if stats.get("pairs_per_s"):
        head.add_row("speed", f"{stats['pairs_per_s']:.3g} pairs/s on {stats.get('device', '?')}"
                              + (f", bf16 fallback {100 * stats['bf16_fallback_rate']:.2f}%"
                                 if stats.get("bf16_fallback_rate") is not None else ""))
    head.add_row("produced by", f"{data['producer']} (i2i {data['package_version']}, {data['created']})")
    head.add_row("key", data["key"][:16] + "...")
    verdict = "" if "checksum_ok" not in data else (
        "  [green]verified[/]" if data["checksum_ok"] else "  [red]MISMATCH[/]")
    head.add_row("checksum", data["checksum"] + verdict)
    head.add_row("size", f"{data['size_bytes'] / 1e6:.1f} MB")
    console.print(head)
    if "checksum_ok" in data and not data["checksum_ok"]:
        err_console.print("[red]error:[/] the cache does not match its checksum: the file was modified or damaged")
        raise typer.Exit(1)


def _render_info(data: dict[str, Any]) -> None:
    h, w = data["image_size"]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("file", data["path"])
    head.add_row("images", f"{h}x{w} RGB uint8" + (", paired sources" if data["paired"] else ""))
    head.add_row("schema", str(data["schema_version"]))
    head.add_row("produced by", f"{data['producer']} (i2i {data['package_version']}, {data['created']})")
    head.add_row("parameters", json.dumps(data["parameters"], sort_keys=True))
    verified = "  [green]verified[/]" if data.get("checksum_ok") else "  [red]MISMATCH[/]"
    head.add_row("checksum", data["checksum"] + (verified if "checksum_ok" in data else ""))
    if data["mask_names"]:
        head.add_row("masks", ", ".join(data["mask_names"]))
    head.add_row("size", f"{data['size_bytes'] / 1e6:.1f} MB")
    console.print(head)
    splits = data["splits"]
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    for s in splits:
        table.add_column(s, justify="right")
    table.add_row("images", *[str(splits[s]["images"]) for s in splits])
    for d in data["domains"]:
        table.add_row(f"domain {d}", *[str(splits[s].get("domains", {}).get(d, 0)) for s in splits])
    for a in data["attributes"]:
        table.add_row(a, *[f"{splits[s]['attributes'][a]} "
                           f"({100 * splits[s]['attributes'][a] / max(1, splits[s]['images']):.0f}%)"
                           for s in splits])
    if any("pairs" in splits[s] for s in splits):
        table.add_row("ground-truth pairs", *[str(splits[s].get("pairs", 0)) for s in splits])
    console.print(table)
    if "checksum_ok" in data and not data["checksum_ok"]:
        err_console.print("[red]error:[/] the content does not match its checksum: the file was modified or damaged")
        raise typer.Exit(1)
