"""``i2i prepare match``: SEGIN's semantic match (Eq. 1) for pairs of a store, written to a warp cache.

See :mod:`i2icli.match.cache` for the file format and key, :mod:`i2icli.match.exact` for the matcher.
Pairings (``--pairs``):

* ``self``   - every image with its own target: input ``sources[i]`` (or its grey version), exemplar
  ``images[i]``.  SEGIN's training pairs (Section III-B: the exemplar is the ground truth, then perturbed).
* ``random`` - ``--inputs N`` inputs, each with ``--per-input M`` other images of the split as exemplars
  (seeded; Table I's diversity protocol is 100 x 20).
* ``store``  - the store's own ``<split>/pairs`` (synthetic benchmarks with ground truth).
* ``file:PATH`` - a CSV of ``input,exemplar`` store indices (a header line is allowed).

Rows are computed in order, in batches of ``--batch`` pairs (VGG runs once per distinct image of a batch),
and appended to a partial file whose ``done`` attribute advances after each flushed batch; a killed run
resumes from there when rerun with the same settings.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from i2icli import __version__
from i2icli.data.store import Store, open_store
from i2icli.errors import DataError
from i2icli.match import cache as cache_mod
from i2icli.match.exact import EPS, PRECISIONS
from i2icli.match.features import ALGORITHM, FeatureSpec
from i2icli.progress import OptionalProgress, report

INPUT_FIELDS = ("auto", "sources", "gray", "images")


@dataclass(frozen=True)
class MatchRequest:
    store: Path
    split: str = "train"
    pairs: str = "self"
    inputs: int = 100
    per_input: int = 20
    seed: int = 0
    layer: str = "relu3_2"
    patch: int = 3
    precision: str = "fp32"
    features: str = "imagenet"
    feature_seed: int = 0
    input_field: str = "auto"
    topk: int = 0
    scores: bool = True
    device: str = "auto"
    batch: int = 8
    block_rows: int | None = None
    out: Path | None = None
    force: bool = False
    weights_dir: str | None = None


@dataclass
class MatchResult:
    out: Path
    pairs: int
    computed: int
    resumed_from: int
    seconds: float
    pairs_per_s: float
    method: str
    feature_label: str
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "pairs": self.pairs, "computed": self.computed,
                "resumed_from": self.resumed_from, "seconds": self.seconds, "pairs_per_s": self.pairs_per_s,
                "method": self.method, "feature_label": self.feature_label, "stats": self.stats}


# --------------------------------------------------------------------------- pairs and key


def resolve_input_field(store: Store, input_field: str) -> str:
    if input_field not in INPUT_FIELDS:
        raise DataError(f"--input-field {input_field!r}: use one of {', '.join(INPUT_FIELDS)}")
    if input_field == "auto":
        return "sources" if store.paired else "gray"
    if input_field == "sources" and not store.paired:
        raise DataError(f"{store.path}: not a paired store (no sources); use --input-field gray or images")
    return input_field


def select_pairs(store: Store, split: str, pairs: str, inputs: int = 100, per_input: int = 20,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(input, exemplar) store indices of a pairing; every index is checked against the split's size."""
    if split not in store.splits:
        raise DataError(f"{store.path}: no split {split!r} (has {', '.join(store.splits)})")
    n = store.count(split)
    if pairs == "self":
        inp = ex = np.arange(n, dtype=np.int64)
    elif pairs == "random":
        if n < 2:
            raise DataError(f"{store.path}:{split} has {n} image(s); random pairs need at least 2")
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(n, size=min(inputs, n), replace=False))
        m = min(per_input, n - 1)
        inp_l, ex_l = [], []
        for i in chosen:
            others = rng.choice(n - 1, size=m, replace=False)
            others = others + (others >= i)  # skip the input itself
            inp_l += [int(i)] * m
            ex_l += sorted(int(o) for o in others)
        inp, ex = np.array(inp_l, np.int64), np.array(ex_l, np.int64)
    elif pairs == "store":
        p = store.pairs(split)
        if p is None:
            raise DataError(f"{store.path}:{split} has no ground-truth pairs; use --pairs self, random or file:PATH")
        inp, ex = p.input.astype(np.int64), p.exemplar.astype(np.int64)
    elif pairs.startswith("file:"):
        inp, ex = _read_pairs_csv(Path(pairs[5:]))
    else:
        raise DataError(f"--pairs {pairs!r}: use self, random, store or file:PATH.csv")
    if len(inp) == 0:
        raise DataError(f"--pairs {pairs}: no pairs selected")
    bad = (inp < 0) | (inp >= n) | (ex < 0) | (ex >= n)
    if bad.any():
        k = int(np.argmax(bad))
        raise DataError(f"--pairs {pairs}: pair {k} ({int(inp[k])}, {int(ex[k])}) points past {store.path}:{split} "
                        f"(indices 0..{n - 1})")
    return inp, ex


def _read_pairs_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataError(f"{path}: no such pairs file (expected CSV lines 'input,exemplar')")
    inp, ex = [], []
    with path.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            try:
                a, b = int(row[0]), int(row[1])
            except (ValueError, IndexError):
                if lineno == 1:
                    continue  # header
                raise DataError(f"{path}:{lineno}: expected 'input,exemplar' integers, got {','.join(row)!r}") from None
            inp.append(a)
            ex.append(b)
    return np.array(inp, np.int64), np.array(ex, np.int64)


def precision_class(precision: str) -> str:
    """The key's precision: the certified bf16 path returns the fp32 argmax, so both are ``fp32``."""
    return "fp32" if precision == "bf16-certified" else precision


def expected_key(store: Store, split: str, pairs_name: str, inp: np.ndarray, ex: np.ndarray, spec: FeatureSpec,
                 patch: int, precision: str, input_field: str) -> dict[str, Any]:
    """The key fields of a cache for these settings (see :mod:`i2icli.match.cache`)."""
    return {"algo": ALGORITHM, "store_checksum": store.provenance["checksum"], "split": split,
            "image_size": list(store.image_size),
            "input_field": "gray(images)" if input_field == "gray" else input_field, "exemplar_field": "images",
            "pairing": pairs_name.split(":")[0], "pairs_sha256": cache_mod.pairs_sha256(inp, ex),
            "features": spec.key(), "patch": patch, "padding": "zeros", "similarity": "cosine", "eps": EPS,
            "precision": precision_class(precision), "tie": "lowest"}


def rebuild_command(store: Path | str, split: str, pairs: str, layer: str, patch: int, precision: str,
                    features: str, out: Path | str, feature_seed: int = 0, extra: str = "") -> str:
    cmd = (f"i2i prepare match {shlex.quote(str(store))} --split {split} --pairs {pairs} --layer {layer} "
           f"--patch {patch} --precision {precision} --features {features}")
    if features == "random":
        cmd += f" --feature-seed {feature_seed}"
    return cmd + (f" {extra}" if extra else "") + f" --out {shlex.quote(str(out))} --force"


def default_out(store: Path, split: str, pairs: str) -> Path:
    tag = pairs if not pairs.startswith("file:") else "file-" + Path(pairs[5:]).stem
    return store.with_name(f"{store.stem}.{split}-{tag}.match.h5")


# --------------------------------------------------------------------------- images


def _gray3(img: np.ndarray) -> np.ndarray:
    """BT.601 luma replicated to 3 channels (CelebA colourisation input)."""
    y = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(np.clip(np.rint(y), 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def read_input(store: Store, split: str, index: int, input_field: str) -> np.ndarray:
    if input_field == "sources":
        return store.source(split, index)
    img = store.image(split, index)
    return _gray3(img) if input_field == "gray" else img


# --------------------------------------------------------------------------- the job


def _open_partial(part: Path, key: str, create: dict[str, Any], notes: list[str]) -> tuple[Any, int]:
    """The partial file to (re)write, resuming when it holds the same key; ``(h5 file, rows done)``."""
    import h5py

    if part.exists():
        try:
            f = h5py.File(part, "r+")
            if f.attrs.get("format") == cache_mod.FORMAT and str(f.attrs.get("key")) == key:
                done = int(f.attrs["done"])
                if done > 0:
                    notes.append(f"resumed {part.name} at row {done}")
                return f, done
            f.close()
            notes.append(f"discarded {part.name}: made with other settings")
        except (OSError, KeyError):
            notes.append(f"discarded {part.name}: unreadable (killed mid-write)")
        part.unlink()
    f = h5py.File(part, "w")
    p = create["pairs"]
    h, w = create["grid"]
    gh, gw = create["exemplar_grid"]
    idx_dtype = np.uint16 if gh * gw <= 65536 else np.int32
    f.create_dataset("input", data=create["input"].astype(np.int32), chunks=(min(4096, p),))
    f.create_dataset("exemplar", data=create["exemplar"].astype(np.int32), chunks=(min(4096, p),))
    f.create_dataset("index", shape=(p, h, w), dtype=idx_dtype, chunks=(1, h, w))
    if create["scores"]:
        f.create_dataset("score", shape=(p, h, w), dtype=np.float16, chunks=(1, h, w))
    if create["topk"]:
        k = create["topk"]
        f.create_dataset("topk", shape=(p, h, w, k), dtype=idx_dtype, chunks=(1, h, w, k))
        f.create_dataset("topk_score", shape=(p, h, w, k), dtype=np.float16, chunks=(1, h, w, k))
    for name, value in create["attrs"].items():
        f.attrs[name] = value
    f.attrs["done"] = 0
    f.attrs["complete"] = False
    f.flush()
    return f, 0


def prepare_match(req: MatchRequest, progress: OptionalProgress = None) -> MatchResult:
    """Compute and write (or resume) the warp cache of ``req``; returns where, how many and how fast."""
    import torch

    from i2icli.match.features import Matcher

    if req.precision not in PRECISIONS:
        raise DataError(f"--precision {req.precision!r}: use one of {', '.join(PRECISIONS)}")
    if req.features not in ("imagenet", "random"):
        raise DataError(f"--features {req.features!r}: use imagenet (the ImageNet VGG-19 file) or random "
                        "(a seeded random VGG-19, labelled 'not ImageNet VGG')")
    if req.batch < 1 or req.topk < 0 or req.patch < 1 or req.patch % 2 == 0:
        raise DataError("--batch must be >= 1, --topk >= 0 and --patch odd and >= 1")
    if req.topk and req.precision == "bf16-certified":
        raise DataError("--topk needs --precision fp32 (the certified bf16 path certifies the best match only)")
    try:
        spec = FeatureSpec(req.features, req.layer, req.feature_seed)  # type: ignore[arg-type]
    except ValueError as exc:
        raise DataError(f"--layer: {exc}") from None
    store = open_store(req.store)
    input_field = resolve_input_field(store, req.input_field)
    inp, ex = select_pairs(store, req.split, req.pairs, req.inputs, req.per_input, req.seed)
    out = req.out or default_out(Path(req.store), req.split, req.pairs)
    if out.exists() and not req.force:
        raise DataError(f"{out} exists; pass --force to overwrite it")
    if not out.parent.is_dir():
        raise DataError(f"{out.parent}: no such folder for the cache")
    part = cache_mod.partial_path(out)
    if req.force and part.exists():
        part.unlink()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if req.device == "auto" else req.device
    matcher = Matcher(spec, req.patch, req.precision, device, req.block_rows, req.weights_dir)  # weights checked here
    grid = matcher.grid(store.image_size)
    if min(grid) < 1:
        raise DataError(f"{store.path}: images of {store.image_size} are too small for layer {req.layer}")
    cell = store.image_size[0] // grid[0]
    key_fields = expected_key(store, req.split, req.pairs, inp, ex, spec, req.patch, req.precision, input_field)
    key = cache_mod.key_of(key_fields)
    producer = rebuild_command(req.store, req.split, req.pairs, req.layer, req.patch, req.precision, req.features,
                               out, req.feature_seed).removesuffix(" --force")
    attrs = {"format": cache_mod.FORMAT, "schema_version": cache_mod.SCHEMA_VERSION, "key": key,
             "key_fields": json.dumps(key_fields, sort_keys=True), "grid": list(grid), "exemplar_grid": list(grid),
             "image_size": list(store.image_size), "cell": cell, "patch": req.patch, "store": str(req.store),
             "producer": producer, "method": req.precision, "feature_label": spec.label,
             "package_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    notes: list[str] = []
    f, done = _open_partial(part, key, {"pairs": len(inp), "grid": grid, "exemplar_grid": grid, "scores": req.scores,
                                        "topk": req.topk, "input": inp, "exemplar": ex, "attrs": attrs}, notes)
    started = time.perf_counter()
    t_feat = 0.0
    fallback_n, fallback_sum, score_sum, score_n = 0, 0.0, 0.0, 0
    total = len(inp)
    resumed_from = done
    try:
        report(progress, "match", done, total)
        for start in range(done, total, req.batch):
            end = min(total, start + req.batch)
            t0 = time.perf_counter()
            keys = [("i", int(i)) for i in inp[start:end]] + [("e", int(e)) for e in ex[start:end]]
            distinct = list(dict.fromkeys(keys))
            imgs = np.stack([read_input(store, req.split, i, input_field) if kind == "i"
                             else store.image(req.split, i) for kind, i in distinct])
            feats = matcher.features(imgs)
            pos = {k: n for n, k in enumerate(distinct)}
            fx = feats[[pos[("i", int(i))] for i in inp[start:end]]]
            fr = feats[[pos[("e", int(e))] for e in ex[start:end]]]
            t_feat += time.perf_counter() - t0
            res = matcher.match(fx, fr, topk=req.topk)
            f["index"][start:end] = res.index.cpu().numpy().astype(f["index"].dtype)
            if req.scores:
                f["score"][start:end] = res.score.cpu().numpy().astype(np.float16)
            if res.topk_index is not None and res.topk_score is not None:
                f["topk"][start:end] = res.topk_index.cpu().numpy().astype(f["topk"].dtype)
                f["topk_score"][start:end] = res.topk_score.cpu().numpy().astype(np.float16)
            score_sum += float(res.score.double().sum())
            score_n += res.score.numel()
            if res.fallback_rate is not None:
                fallback_sum += res.fallback_rate * (end - start)
                fallback_n += end - start
            f.flush()
            f.attrs["done"] = end
            f.flush()
            elapsed = time.perf_counter() - started
            report(progress, "match", end, total, pairs_s=(end - resumed_from) / max(elapsed, 1e-9))
        seconds = time.perf_counter() - started
        computed = total - resumed_from
        stats = {"seconds": round(seconds, 3), "pairs_per_s": computed / seconds if seconds > 0 else None,
                 "feature_seconds": round(t_feat, 3),
                 "mean_score_new_rows": score_sum / score_n if score_n else None,
                 "bf16_fallback_rate": fallback_sum / fallback_n if fallback_n else None,
                 "device": str(device), "torch_threads": torch.get_num_threads()}
        if resumed_from:
            stats["resumed_from"] = resumed_from
        f.attrs["stats"] = json.dumps(stats)
        f.attrs["checksum"] = cache_mod.index_checksum(f)
        f.attrs["complete"] = True
        f.flush()
    finally:
        f.close()
    os.replace(part, out)
    return MatchResult(out, total, computed, resumed_from, seconds, computed / seconds if seconds > 0 else 0.0,
                       req.precision,
                       spec.label, {**stats, "notes": notes})
