"""Data benchmark: training-time read throughput (HDF5 store vs PNG folder) and `prepare` throughput.

Writes its results to docs/BENCHMARKS.md under the "## Data" heading with
``benchmarks/machine.py`` (the section is replaced, the rest of the file kept).  Run from the repository root::

    python benchmarks/bench_data.py            # 1,000 images of 128 px
    python benchmarks/bench_data.py --count 300 --no-write

What is measured (images per second, best of ``--repeat`` runs):

- random single-image reads: PNG folder (decode with PIL), store (one chunk per
  image), store with lzf, and h5py fancy indexing with a sorted list of 32
  indices (the pattern to avoid);
- a DataLoader over the training dataset (``unpaired_dataset``: two images
  per item, keyed flip, ``image_size = load_size`` so no resize) on each
  source, random batches of 32, ``--workers`` persistent worker processes
  (the engine's settings; steady state after one untimed epoch), images as
  uint8 (the batch contract of :mod:`i2icli.data.keyed`; the engine converts
  them on the device), i.e. what training sees; plus the store with the
  float conversion done in the workers (the contract before uint8 batches);
- ``i2i prepare unpaired`` (PNG folder -> store), ``synthetic digits`` and
  ``synthetic faces``, and the faces renderer alone (images + masks).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from i2icli.config import DataConfig, RunConfig, TrainConfig  # noqa: E402
from i2icli.data.datasets import unpaired_dataset  # noqa: E402
from i2icli.data.keyed import images_to_float  # noqa: E402
from i2icli.data.store import StoreWriter, open_store  # noqa: E402
from i2icli.data.synthetic import faces as FA  # noqa: E402
from i2icli.data.synthetic.digits import handwritten_digits  # noqa: E402
from i2icli.images import list_images, load_rgb  # noqa: E402
from i2icli.prepare.folders import FolderRequest, prepare_unpaired  # noqa: E402
from i2icli.prepare.synthetic import DigitsRequest, FacesRequest, prepare_digits, prepare_faces  # noqa: E402


class _FloatItems(Dataset):
    """A training dataset whose items are converted to float32 in [-1, 1] in the worker (the old contract)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        return images_to_float(self.dataset[key], self.dataset.image_keys)


def _training_config(path: Path, size: int) -> RunConfig:
    return RunConfig(model="bench", model_cfg=None, train=TrainConfig(seed=0),
                     data=DataConfig(path=str(path), image_size=size, load_size=size, flip=True))


def photo_crops(n: int, size: int) -> np.ndarray:
    """Photo-like test images: random crops of the photos shipped with scikit-image (PNG-realistic entropy)."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea()]
    rng = np.random.default_rng(0)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.integers(size, min(h, w) + 1))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(crop)[:, :: 1 if rng.random() < 0.5 else -1]
    return out


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = ap.parse_args()
    n, size = args.count, args.size
    tmp = Path(tempfile.mkdtemp(prefix="i2i-bench-"))
    rows: list[tuple[str, str, str]] = []
    try:
        # the same images three ways: PNG folder (CycleGAN layout), store, lzf store
        images = photo_crops(n, size)
        for sub in ("trainA", "trainB"):
            (tmp / "png" / sub).mkdir(parents=True)
        for i, img in enumerate(images):
            Image.fromarray(img).save(tmp / "png" / ("trainA" if i % 2 == 0 else "trainB") / f"{i:05d}.png")
        paths = list_images(tmp / "png" / "trainA") + list_images(tmp / "png" / "trainB")
        for name, comp in (("store", None), ("lzf", "lzf")):
            with StoreWriter(tmp / f"{name}.h5", image_size=(size, size), domains=("A", "B"), producer="bench",
                             compression=comp) as w:
                for i, img in enumerate(images):
                    w.add("train", img, str(i), domain=i % 2)
        png_mb = sum(p.stat().st_size for p in paths) / 1e6
        order = np.random.default_rng(1).permutation(n)

        def read_png():
            for i in order:
                load_rgb(paths[i])

        def reader(path):
            s = open_store(path)

            def run():
                for i in order:
                    s.image("train", int(i))
            return run

        def fancy():
            import h5py

            with h5py.File(tmp / "store.h5", "r") as f:
                ds = f["train/images"]
                for b in range(0, n, 32):
                    ds[np.sort(order[b:b + 32]).tolist()]

        png_rate = n / _best(read_png, args.repeat)
        rows.append(("random reads, PNG folder (PIL decode)", f"{png_rate:,.0f}", f"{png_mb:.1f} MB"))
        for label, path in (("random reads, store (1 chunk / image)", tmp / "store.h5"),
                            ("random reads, store with lzf", tmp / "lzf.h5")):
            rate = n / _best(reader(path), args.repeat)
            rows.append((label, f"{rate:,.0f} ({rate / png_rate:.0f}x PNG)", f"{path.stat().st_size / 1e6:.1f} MB"))
        rows.append(("h5py fancy indexing, 32 sorted indices (avoid)", f"{n / _best(fancy, 1):,.0f}", ""))

        folder_ds = unpaired_dataset(_training_config(tmp / "png", size), "train")
        store_ds = unpaired_dataset(_training_config(tmp / "store.h5", size), "train")
        png_loader_rate = 0.0
        for label, ds in (("DataLoader, PNG folder, uint8 images", folder_ds),
                          ("DataLoader, store, uint8 images", store_ds),
                          ("DataLoader, store, float32 images made in the workers (before)", _FloatItems(store_ds))):
            # the engine's loader settings: persistent workers, prefetch 4; the first epoch (worker start) is not timed
            loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=args.workers, drop_last=True,
                                generator=torch.Generator().manual_seed(0), persistent_workers=args.workers > 0,
                                prefetch_factor=4 if args.workers > 0 else None)
            per_epoch = 2 * 32 * (len(ds) // 32)  # two images (a, b) per item

            def epoch():
                for _ in loader:
                    pass
            epoch()
            rate = per_epoch / _best(epoch, args.repeat)
            del loader
            png_loader_rate = png_loader_rate or rate
            ratio = f" ({rate / png_loader_rate:.1f}x PNG)" if rate != png_loader_rate else ""
            rows.append((f"{label} (unpaired training dataset, batch 32, {args.workers} workers)",
                         f"{rate:,.0f}{ratio}", ""))

        res = prepare_unpaired(FolderRequest(tmp / "png", tmp / "prep.h5", size=size, workers=args.workers))
        rows.append((f"prepare unpaired ({size} px PNG -> store, {args.workers} workers)",
                     f"{res.total / res.seconds:,.0f}", ""))
        t = time.perf_counter()
        handwritten_digits()  # one-time: imports scikit-learn and reads its digits
        load = time.perf_counter() - t
        res = prepare_digits(DigitsRequest(tmp / "digits.h5", count=n, test_count=n // 4))
        rows.append((f"prepare synthetic digits (32 px, incl. ground truth; after a one-time {load:.1f} s load "
                     "of the scikit-learn digits)", f"{res.total / res.seconds:,.0f}", ""))
        res = prepare_faces(FacesRequest(tmp / "faces.h5", count=n // 2, test_count=n // 8))
        rows.append((f"prepare synthetic faces (64 px, incl. masks, {n // 8} ground-truth pairs and the store)",
                     f"{res.total / res.seconds:,.0f}", ""))
        p = FA.sample_params(n // 2, np.random.default_rng(0))
        rate = (n // 2) / _best(lambda: FA.render_with_masks(p, 64), args.repeat)
        rows.append(("synthetic faces renderer alone (64 px images + 10 masks, one process)", f"{rate:,.0f}", ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [f"{n} photo crops of {size} px (random crops of scikit-image's sample photos); images per second, "
             f"best of {args.repeat}; DataLoader rows use {args.workers} workers.", "",
             "| what | images/s | on disk |", "|---|---:|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "Reads go through `Store.image` (one HDF5 chunk per image, a plain integer index).  "
              "lzf saves little on photos and costs decompression on every read, "
              "so stores are written uncompressed unless `--lzf` is given (masks are always lzf: they are binary).  "
              "Fancy indexing with a list of indices is the slow path the store never uses.  "
              "The DataLoader rows read through the real training dataset (keyed flip, two images per item) and "
              "include collation and worker IPC; images travel as uint8 and become floats on the training device, "
              "so the float row shows what converting in the workers used to cost."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        from machine import write_section

        print(f"wrote {write_section('Data', body)}")


if __name__ == "__main__":
    main()
