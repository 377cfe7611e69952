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
  source, random batches of 32 from the engine's endless ``KeyedSampler``,
  ``--workers`` persistent worker processes, prefetch 4 (the engine's
  settings; steady state after an untimed warm-up round), images as
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
from i2icli.engine.sampler import KeyedSampler  # noqa: E402
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


class _Ready(Dataset):
    """Items like the unpaired dataset's (two fresh uint8 (3, S, S) images) without reading anything:
    the DataLoader's own ceiling (shared-memory batches, worker IPC) on this machine."""

    def __init__(self, n: int, size: int):
        self.n, self.size = n, size

    def __len__(self):
        return self.n

    def __getitem__(self, key):
        return {k: torch.full((3, self.size, self.size), key % 256, dtype=torch.uint8) for k in ("a", "b")}


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
        raw_ratio = 0.0
        rows.append(("random reads, PNG folder (PIL decode)", f"{png_rate:,.0f}", f"{png_mb:.1f} MB"))
        for label, path in (("random reads, store (1 chunk / image)", tmp / "store.h5"),
                            ("random reads, store with lzf", tmp / "lzf.h5")):
            rate = n / _best(reader(path), args.repeat)
            rows.append((label, f"{rate:,.0f} ({rate / png_rate:.0f}x PNG)", f"{path.stat().st_size / 1e6:.1f} MB"))
            raw_ratio = raw_ratio or rate / png_rate  # the uncompressed store (first)
        rows.append(("h5py fancy indexing, 32 sorted indices (avoid)", f"{n / _best(fancy, 1):,.0f}", ""))

        folder_ds = unpaired_dataset(_training_config(tmp / "png", size), "train")
        store_ds = unpaired_dataset(_training_config(tmp / "store.h5", size), "train")
        sources = (("DataLoader, PNG folder, uint8 images", folder_ds),
                   ("DataLoader, store, uint8 images", store_ds),
                   ("DataLoader, store, float32 images made in the workers (before)", _FloatItems(store_ds)),
                   ("DataLoader ceiling: ready-made uint8 items, nothing read", _Ready(len(store_ds), size)))
        # as the engine feeds training: one endless stream of keyed batches (KeyedSampler), persistent workers,
        # prefetch 4; each source first serves a warm-up round (worker start), then the sources take turns,
        # one round = 4 epochs' worth of batches each, so that all see the same load from other users
        workers = [args.workers] * len(sources)
        loaders = [DataLoader(ds, batch_size=32, sampler=KeyedSampler(len(ds), 32, seed=0),
                              num_workers=w, drop_last=True, persistent_workers=w > 0,
                              prefetch_factor=4 if w > 0 else None)
                   for (_, ds), w in zip(sources, workers, strict=True)]
        streams = [iter(loader) for loader in loaders]
        batches = [4 * len(ds) // 32 for _, ds in sources]
        rates = np.zeros((args.repeat + 1, len(sources)))
        for r in range(args.repeat + 1):
            for j, stream in enumerate(streams):
                t = time.perf_counter()
                for _ in range(batches[j]):
                    next(stream)
                rates[r, j] = 2 * 32 * batches[j] / (time.perf_counter() - t)  # two images (a, b) per item
        del streams, loaders
        rates = rates[1:]
        best = rates.max(0)
        round_ratios = rates[:, 1] / rates[:, 0]  # store / PNG within one round
        store_ratio = best[1] / best[0]
        for j, (label, _) in enumerate(sources):
            ratio = f" ({best[j] / best[0]:.1f}x PNG)" if j else ""
            rows.append((f"{label} (unpaired training dataset, batch 32, {workers[j]} workers)",
                         f"{best[j]:,.0f}{ratio}", ""))

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
              "so the float row shows what converting in the workers used to cost.", "",
              f"Issue 3's target, the store >= 10x a PNG folder: raw random reads "
              f"{'meet' if raw_ratio >= 10 else 'miss'} it ({raw_ratio:.0f}x); through a {args.workers}-worker "
              f"DataLoader the store is {store_ratio:.1f}x (best rounds; store/PNG within each of the "
              f"{args.repeat} rounds: {', '.join(f'{x:.1f}x' for x in round_ratios)}), so the target is "
              f"{'met' if store_ratio >= 10 else 'not met'} there.  The ceiling row is why: a dataset that reads "
              "nothing at all reaches only that ratio, because 128 px batches leaving worker processes cost "
              "shared-memory allocation, page faults and IPC on 2 shared cores, while PNG decoding scales with the "
              "workers.  The store path adds to that ceiling only one direct chunk read, one NumPy copy (crop, "
              "flip and HWC->CHW at once) and a keyed generator per image.  "
              "Not adopted: `__getitems__` writing pre-collated batches straight into shared memory "
              "(~10% above per-item collation at the ceiling, but it needs a custom `collate_fn` in every "
              "DataLoader over these datasets); `file_system` tensor sharing (same speed).  Pinned memory is on "
              "for CUDA devices (the engine); with uint8 batches it pins and copies a quarter of the bytes "
              "(not measured: no GPU here)."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        from machine import write_section

        print(f"wrote {write_section('Data', body)}")


if __name__ == "__main__":
    main()
