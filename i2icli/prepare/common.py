"""Shared machinery of ``i2i prepare``: jobs decoded in worker processes, written to one store.

A preparer lists :class:`Job` s (one source image each, with its split and
labels), picks a top-level *decode* function (picklable, runs in a worker
process: read with :func:`i2icli.images.load_rgb`, crop, resize, ...), and
hands both to :func:`run_jobs`.  A decode function returns the image (or a
dict of arrays) or raises :class:`~i2icli.errors.DataError`; by default a bad
input is skipped and listed in the summary with its reason, ``strict=True``
makes the first one fatal.  Output order is the job order, so a store does not
depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import numpy as np

from i2icli.data.store import StoreWriter, open_store
from i2icli.errors import DataError
from i2icli.images import IMAGE_SUFFIXES, scan_images
from i2icli.progress import OptionalProgress, report


@dataclass(frozen=True)
class Job:
    """One input image: where it goes (split, domain, labels) and how to find it."""

    split: str
    path: str  # file to read (or an identifier for generated data)
    name: str  # stored as the image's source name
    domain: int | None = None
    labels: tuple[int, ...] | None = None
    extra: Any = None  # decoder-specific (e.g. a CelebA bounding box)


@dataclass
class PrepareResult:
    """What a prepare run wrote and what it skipped (and why)."""

    out: Path
    written: dict[str, int]  # "train", "train/cat", ... -> images written
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(v for k, v in self.written.items() if "/" not in k)

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "written": self.written, "total": self.total,
                "skipped": [{"input": n, "reason": r} for n, r in self.skipped],
                "skipped_count": len(self.skipped), "seconds": round(self.seconds, 3),
                "images_per_second": round(self.total / self.seconds, 1) if self.seconds > 0 else None,
                "notes": self.notes}


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def output_path(out: Path | None, default: str) -> Path:
    return Path(out) if out is not None else Path("data") / default


def check_output(out: Path, force: bool) -> None:
    """Fail before any work when the output exists (and --force is not given)."""
    if out.exists() and not force:
        raise DataError(f"{out}: already exists; pass --force to overwrite it")
    if out.exists() and out.is_dir():
        raise DataError(f"{out}: is a folder; give a file name such as data/set.h5")


def _call(decode: Callable[[Job], Any], job: Job) -> tuple[str, Any]:
    try:
        return "ok", decode(job)
    except DataError as exc:
        return "skip", str(exc)


class _Caller:
    """Picklable ``job -> (status, payload)`` wrapper for pool workers."""

    def __init__(self, decode: Callable[[Job], Any]):
        self.decode = decode

    def __call__(self, job: Job) -> tuple[str, Any]:
        return _call(self.decode, job)


def scan_inputs(folder: Path, *, recursive: bool, base: Path, skipped: list[tuple[str, str]], notes: list[str],
                strict: bool = False) -> list[Path]:
    """The image files of ``folder``, with everything left out named in the summary.

    Entries that look like inputs but cannot be one (a folder named ``x.png``,
    a broken symlink, a symlink loop, ...; see :func:`i2icli.images.scan_images`)
    go to ``skipped`` as ``(name relative to base, reason)``, like images that
    fail to decode; ``strict`` makes the first of them fatal.  Entries that are
    not inputs (files without an image extension, subfolders not searched)
    become one note per kind, naming the first few.
    """
    scan = scan_images(folder, recursive)
    for path, why in scan.left_out:
        if strict:
            raise DataError(f"{path}: {why} (--strict stops at the first bad input)")
        skipped.append((_relative(path, base), why))
    by_reason: dict[str, list[Path]] = {}
    for path, why in scan.ignored:
        by_reason.setdefault(why, []).append(path)
    for why, paths in by_reason.items():
        more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
        shown = ", ".join(_relative(p, base) for p in paths[:5]) + more
        extra = f" (image extensions: {', '.join(sorted(IMAGE_SUFFIXES))})" if why == "no image file extension" else ""
        notes.append(f"{folder}: ignored {len(paths)} entr{'y' if len(paths) == 1 else 'ies'}, {why}{extra}: {shown}")
    return scan.images


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _pool_context() -> BaseContext:
    # fork is fastest and keeps imported modules; elsewhere (macOS, Windows) spawn
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def run_jobs(jobs: Sequence[Job], decode: Callable[[Job], Any], writer: StoreWriter, *, workers: int,
             strict: bool, progress: OptionalProgress, description: str,
             skipped: list[tuple[str, str]], notes: list[str] | None = None) -> None:
    """Decode ``jobs`` (in ``workers`` processes) and add the results to ``writer`` in job order.

    ``decode`` returns an (H, W, 3) uint8 image, or a dict with ``image`` and
    optionally ``source``/``masks``/``name``/``note``, or a list of such
    (several outputs per input, e.g. every face of a photo).  A ``note`` (e.g.
    "3 faces, kept the largest") goes to ``notes`` for the summary.
    """
    total = len(jobs)
    report(progress, description, 0, total)
    caller = _Caller(decode)
    results: Iterator[tuple[str, Any]]
    if workers > 1 and total > 1:
        pool = _pool_context().Pool(workers)
        results = pool.imap(caller, jobs, chunksize=max(1, min(64, total // (workers * 8) or 1)))
    else:
        pool = None
        results = map(caller, jobs)
    try:
        for done, (job, (status, payload)) in enumerate(zip(jobs, results, strict=True), 1):
            if status == "skip":
                if strict:
                    raise DataError(f"{payload} (--strict stops at the first bad input)")
                skipped.append((job.name, _short_reason(payload, job.path)))
            else:
                for item in payload if isinstance(payload, list) else [payload]:
                    if isinstance(item, np.ndarray):
                        item = {"image": item}
                    if item.get("note") and notes is not None:
                        notes.append(f"{job.name}: {item['note']}")
                    writer.add(job.split, item["image"], item.get("name", job.name), domain=job.domain,
                               labels=job.labels, masks=item.get("masks"), source=item.get("source"))
            if done % 16 == 0 or done == total:
                report(progress, description, done, total, skipped=len(skipped))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def _short_reason(message: str, path: str) -> str:
    """Drop the leading ``path: `` (the summary lists the input already)."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def finish(writer: StoreWriter, skipped: list[tuple[str, str]], started: float, notes: list[str] | None = None
           ) -> PrepareResult:
    """Commit the store (DataError 'no usable images' if nothing was written) and summarise."""
    if not any(writer.count(s) for s in ("train", "test")):
        writer.abort()
        reasons = Counter(r for _, r in skipped).most_common(3)
        why = "; ".join(f"{n}x {r}" for r, n in reasons)
        detail = f" ({len(skipped)} skipped: {why})" if skipped else ""
        raise DataError(f"{writer.path}: no usable images found{detail}")
    path = writer.commit()
    store = open_store(path)
    written: dict[str, int] = {}
    for split in store.splits:
        written[split] = store.count(split)
        for d in store.domains:
            written[f"{split}/{d}"] = store.count(split, d)
    return PrepareResult(path, written, skipped, time.perf_counter() - started, list(notes or []))


def split_test(n: int, test_count: int, seed: int) -> np.ndarray:
    """Boolean (n,) mask of a seeded random test split of ``test_count`` items (at least one stays in train)."""
    k = max(0, min(int(test_count), n - 1))
    mask = np.zeros(n, bool)
    if k:
        mask[np.random.default_rng(seed).choice(n, size=k, replace=False)] = True
    return mask
