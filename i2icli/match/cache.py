"""The warp cache: matched cell fields of (input, exemplar) pairs of a store, in a separate, keyed HDF5 file.

Written by ``i2i prepare match`` (:mod:`i2icli.prepare.match`), read by SEGIN's training dataset and
``i2i prepare info``.  The store is immutable and checksummed, so the cache lives next to it.

Schema (version :data:`SCHEMA_VERSION`)
---------------------------------------
Root attributes: ``format`` = ``"i2i-match-cache"``, ``schema_version``, ``key`` (sha256 hex of the canonical
JSON of ``key_fields``), ``key_fields`` (JSON), ``grid`` [h, w] (input feature grid), ``exemplar_grid``,
``image_size`` [H, W], ``cell`` (delta, pixels per cell), ``patch``, ``store`` (path when written),
``producer`` (the command), ``method`` (the matcher that ran: ``fp32``, ``bf16-certified``, ...),
``feature_label`` ("ImageNet VGG-19" or "not ImageNet VGG"), ``package_version``, ``created``,
``done`` (rows written so far), ``complete`` (bool), ``checksum`` (``sha256:`` of ``index``, on completion),
``stats`` (JSON: seconds, pairs/s, mean score, bf16 fallback rate).

Datasets, P pairs:

==============  =====================================  ==============================================
``input``       int32 (P,)                             store index (in the split) of each input
``exemplar``    int32 (P,)                             store index of each exemplar
``index``       uint16 (P, h, w) (int32 if gh*gw>65536) flat exemplar cell ``jy * gw + jx``; chunk (1, h, w),
                                                       no filter, so a row is one ``read_direct_chunk``
``score``       float16 (P, h, w)                      cosine of the match (omitted with ``--no-scores``)
``topk``        uint16 (P, h, w, K), ``topk_score``    the K best matches, best first (``--topk K``)
==============  =====================================  ==============================================

Key: the fields that change the stored numbers - store checksum, split, image size, which store field is the
input, the pairing (its name and the sha256 of the pair list), Phi (net, weights, layer, normalisation), patch
size, padding, similarity, eps, precision class and tie rule.  ``fp32`` and ``bf16-certified`` share the
precision class ``fp32`` because the certified path returns the fp32 argmax (``i2icli.match.exact``);
uncertified ``bf16`` is its own class.  The reconstruction mode, the perturbations and flips are not in the
key: they are applied at read time.

Writing is atomic and resumable: rows go in order into ``.<name>.partial`` next to the target, ``done`` is
advanced only after the rows are flushed, and the file is renamed over the target when complete.  A rerun
with the same key resumes from ``done``; ``--force`` starts over.  Readers refuse incomplete files.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from i2icli.errors import DataError

FORMAT = "i2i-match-cache"
SCHEMA_VERSION = 1


def key_of(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def pairs_sha256(inputs: np.ndarray, exemplars: np.ndarray) -> str:
    return hashlib.sha256(inputs.astype("<i4").tobytes() + exemplars.astype("<i4").tobytes()).hexdigest()


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _short(v: Any) -> Any:
    return (v[:12] + "...") if isinstance(v, str) and len(v) > 16 else v


def key_differences(cache: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """``["features.layer: cache relu4_1, expected relu3_2", ...]`` for every differing key field."""
    a, b = _flat(cache), _flat(expected)
    diffs = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            diffs.append(f"{k}: cache {_short(a.get(k, '(none)'))}, expected {_short(b.get(k, '(none)'))}")
    return diffs


def partial_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.partial")


class WarpCache:
    """A validated, read-only, fork-safe view of a complete warp cache.

    ``expected``: key fields the reader needs (e.g. built from a recipe and its store); a mismatch raises
    :class:`DataError` naming the differing fields and ``rebuild`` (the command to make a matching cache).
    """

    def __init__(self, path: str | os.PathLike, expected: dict[str, Any] | None = None, rebuild: str = ""):
        import h5py

        self.path = Path(path)
        self._fh: Any = None
        self._pid = -1
        fix = f"; rebuild it with `{rebuild}`" if rebuild else "; rebuild it with `i2i prepare match ...`"
        if not self.path.is_file():
            part = partial_path(self.path)
            if part.is_file():
                raise DataError(f"{self.path}: not finished (a partial cache {part.name} exists); resume it by "
                                f"rerunning `i2i prepare match` with the same settings")
            raise DataError(f"{self.path}: no such warp cache{fix}")
        try:
            with h5py.File(self.path, "r") as f:
                a = f.attrs
                if a.get("format") != FORMAT:
                    raise DataError(f"{self.path}: not an i2i warp cache (format attribute missing){fix}")
                if int(a["schema_version"]) > SCHEMA_VERSION:
                    raise DataError(f"{self.path}: cache schema {int(a['schema_version'])} is newer than this i2i "
                                    f"reads ({SCHEMA_VERSION}); upgrade i2i{fix}")
                if not bool(a["complete"]):
                    raise DataError(f"{self.path}: incomplete cache ({int(a['done'])} rows){fix}")
                self.key = str(a["key"])
                self.key_fields: dict[str, Any] = json.loads(a["key_fields"])
                self.grid = tuple(int(v) for v in a["grid"])
                self.exemplar_grid = tuple(int(v) for v in a["exemplar_grid"])
                self.image_size = tuple(int(v) for v in a["image_size"])
                self.cell = int(a["cell"])
                self.patch = int(a["patch"])
                self.attrs = {k: (v.item() if getattr(v, "size", 0) == 1 and hasattr(v, "item") else v)
                              for k, v in a.items()}
                self.input = f["input"][:].astype(np.int64)
                self.exemplar = f["exemplar"][:].astype(np.int64)
                n = len(self.input)
                if f["index"].shape != (n, *self.grid) or self.exemplar.shape != (n,):
                    raise DataError(f"{self.path}: inconsistent dataset shapes (damaged file){fix}")
                self.has_scores = "score" in f
                self.topk = int(f["topk"].shape[-1]) if "topk" in f else 0
        except OSError as exc:
            raise DataError(f"{self.path}: not a readable HDF5 warp cache (truncated or corrupt? {exc}){fix}") from None
        except KeyError as exc:
            raise DataError(f"{self.path}: missing field {exc.args[0]!r} (damaged file){fix}") from None
        if expected is not None:
            diffs = key_differences(self.key_fields, expected)
            if diffs:
                raise DataError(f"{self.path}: made with other settings ({'; '.join(diffs)}){fix}")
        self._row_of_input: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.input)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fh"], state["_pid"] = None, -1
        return state

    def _file(self) -> Any:
        import h5py

        if self._fh is None or self._pid != os.getpid():
            self._fh = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._fh

    def close(self) -> None:
        if self._fh is not None and self._pid == os.getpid():
            self._fh.close()
        self._fh = None

    def row_of_input(self, store_index: int) -> int:
        """The (first) row whose input is ``store_index`` (self pairing: row i is input i)."""
        if self._row_of_input is None:
            m: dict[int, int] = {}
            for row, i in enumerate(self.input.tolist()):
                m.setdefault(int(i), row)
            self._row_of_input = m
        try:
            return self._row_of_input[int(store_index)]
        except KeyError:
            raise DataError(f"{self.path}: no pair with input {int(store_index)}; the cache covers "
                            f"{len(self._row_of_input)} inputs") from None

    def field(self, row: int) -> np.ndarray:
        """Matched flat exemplar cells of pair ``row``, (h, w) int64 (one direct chunk read)."""
        ds = self._file()["index"]
        try:
            _, raw = ds.id.read_direct_chunk((int(row), 0, 0))
            arr = np.frombuffer(raw, dtype=ds.dtype).reshape(self.grid)
        except (OSError, ValueError, RuntimeError) as exc:
            raise DataError(f"{self.path}: cannot read index[{int(row)}] ({exc}); the file is damaged") from None
        return arr.astype(np.int64)

    def score(self, row: int) -> np.ndarray:
        if not self.has_scores:
            raise DataError(f"{self.path}: written with --no-scores")
        return self._file()["score"][int(row)].astype(np.float32)

    def topk_field(self, row: int) -> np.ndarray | None:
        return self._file()["topk"][int(row)].astype(np.int64) if self.topk else None

    def summary(self) -> dict[str, Any]:
        a = self.attrs
        return {"path": str(self.path), "format": FORMAT, "schema_version": int(a["schema_version"]),
                "pairs": len(self), "grid": list(self.grid), "exemplar_grid": list(self.exemplar_grid),
                "image_size": list(self.image_size), "cell": self.cell, "patch": self.patch,
                "key": self.key, "key_fields": self.key_fields, "method": str(a.get("method", "")),
                "feature_label": str(a.get("feature_label", "")), "producer": str(a.get("producer", "")),
                "store": str(a.get("store", "")), "created": str(a.get("created", "")),
                "package_version": str(a.get("package_version", "")), "checksum": str(a.get("checksum", "")),
                "stats": json.loads(str(a.get("stats", "{}"))), "scores": self.has_scores, "topk": self.topk,
                "size_bytes": self.path.stat().st_size}

    def verify(self) -> bool:
        return index_checksum(self._file()) == str(self.attrs.get("checksum", ""))


def index_checksum(f: Any) -> str:
    h = hashlib.sha256()
    ds = f["index"]
    for start in range(0, ds.shape[0], 1024):
        h.update(np.ascontiguousarray(ds[start:start + 1024]).tobytes())
    return "sha256:" + h.hexdigest()


def is_warp_cache(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file with the warp-cache format attribute (used by ``i2i prepare info``)."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except (OSError, ValueError):
        return False
