"""KID, FID and IS through torch-fidelity, computed in stages.

features (extractor over uint8 images) -> statistics -> value.  Each stage is a
plain function so the features of a real set can be cached on disk
(:class:`FeatureCache`, keyed by the set's content + extractor + weights) and
reused when new runs are evaluated against the same real set.

The value stages call torch-fidelity's own functions
(``kid_features_to_metric``, ``fid_features_to_statistics``,
``fid_statistics_to_metric``, ``isc_features_to_metric``), so numbers equal
``torch_fidelity.calculate_metrics`` on the same extractor; the tests check it.

Settings, as the papers use them
--------------------------------
- Extractor: torch-fidelity's ``inception-v3-compat`` (the TF 2015-12-05
  Inception graph, ported bit-exactly), input uint8, resized by it to 299x299
  with TF1.x-compatible bilinear interpolation.  FID/KID use the 2048-d pool
  features, IS the 1008-way ``logits_unbiased``.
- KID (U-GAT-IT Sec. 4 / Table 3, reported x100 ± std x100): the unbiased
  MMD^2 estimate with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3,
  averaged over groups of samples.  Two protocols, both recorded by name:

  * ``ugatit`` (default): what the U-GAT-IT authors ran.  The paper does not
    say, but its first author's public metric script (GAN_Metrics-Tensorflow,
    ``kernel_inception_distance``) calls TF-GAN's
    ``kernel_classifier_distance_and_std_from_activations`` with
    ``max_block_size=10``: both sets are cut, in order, into
    ``ceil(max(n_r, n_g) / 10)`` *disjoint* blocks of near-equal size, the
    estimate is computed per block, the value is the mean over blocks and the
    reported "std" is the standard error ``sqrt(var_blocks / n_blocks)``
    (Bessel-corrected variance).  With a 100-image test set: 10 blocks of 10.
    Our implementation is :func:`kid_blocks` (float64); the order is the
    sets' sorted-name (or store index) order.
  * ``subsets``: torch-fidelity's (Binkowski et al.'s) protocol, computed by
    torch-fidelity itself: ``subsets`` random subsets (default 100) of
    ``subset_size`` samples drawn without replacement; we default the size to
    ``min(n_generated, n_real, 1000)`` because U-GAT-IT-sized test sets are
    smaller than torch-fidelity's 1000 (then every subset is the whole set and
    the std is ~0: prefer ``ugatit`` for small sets).
- FID: Frechet distance of Gaussian fits of the 2048-d features.
- IS (LOMIT Table 1): exp(E KL(p(y|x) || p(y))) over 10 splits, mean ± std,
  samples shuffled with the seed first (torch-fidelity's protocol).  p(y|x)
  is the softmax of the 1008-way ``logits_unbiased`` -- pool features times
  the softmax weights without the bias, as the original IS code of Salimans
  et al. reads them from the TF graph.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from i2icli.errors import DataError, I2IError, WeightsError
from i2icli.metrics.inputs import ImageSet
from i2icli.progress import OptionalProgress, report

if TYPE_CHECKING:
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

INCEPTION = "inception-v3-compat"
DEFAULT_SEED = 2020  # torch-fidelity's default rng_seed
KID_SUBSETS = 100
KID_MAX_SUBSET = 1000
KID_PROTOCOLS = ("ugatit", "subsets")
UGATIT_BLOCK = 10  # max_block_size of the U-GAT-IT authors' KID script
IS_SPLITS = 10

# Extractors whose construction never downloads: torch-fidelity's Inception
# (we hand it the local weights file) and any registered via register_extractor.
_EXTRA_EXTRACTORS: dict[str, type[FeatureExtractorBase]] = {}


def register_extractor(name: str, cls: type[FeatureExtractorBase]) -> None:
    """Register a torch-fidelity feature extractor (a ``FeatureExtractorBase`` subclass) for i2i and torch-fidelity.

    Used by the tests (a tiny random-initialised extractor that exercises the
    real torch-fidelity code paths) and by users with their own extractor.
    """
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if name == INCEPTION or name in _EXTRA_EXTRACTORS or name in FEATURE_EXTRACTORS_REGISTRY:
        raise ValueError(f"feature extractor {name!r} is already registered")
    register_feature_extractor(name, cls)
    _EXTRA_EXTRACTORS[name] = cls


@dataclass(frozen=True)
class Extractor:
    """A built feature extractor and what identifies it in records and caches."""

    name: str
    module: FeatureExtractorBase
    layers: tuple[str, ...]
    weights_file: str  # file name of the weights, or "(registered: <class>)"
    device: str

    def identity(self) -> dict:
        return {"extractor": self.name, "weights_file": self.weights_file, "layers": list(self.layers)}


def feature_layer(extractor_name: str, metric: str) -> str:
    """The torch-fidelity feature layer a metric ("fid", "kid", "isc") uses with this extractor."""
    cls = _extractor_cls(extractor_name)
    return cls.get_default_feature_layer_for_metric(metric)


def _extractor_cls(name: str) -> type[FeatureExtractorBase]:
    if name == INCEPTION:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        return FeatureExtractorInceptionV3
    try:
        return _EXTRA_EXTRACTORS[name]
    except KeyError:
        raise I2IError(f"unknown feature extractor {name!r}; available: {', '.join([INCEPTION, *_EXTRA_EXTRACTORS])} "
                       "(other torch-fidelity extractors would download weights, which i2i never does)") from None


def resolve_device(device: str) -> str:
    """The engine's device resolution ('auto' -> cuda if available; explicit requests validated)."""
    from i2icli.engine.distributed import resolve_device as engine_resolve

    return engine_resolve(device)


def create_extractor(name: str = INCEPTION, metrics: tuple[str, ...] = ("fid", "kid", "isc"),
                     weights_dir: str | os.PathLike | None = None, device: str = "auto") -> Extractor:
    """Build the extractor with the layers ``metrics`` need; the Inception file must be present (never downloads)."""
    cls = _extractor_cls(name)
    layers = tuple(dict.fromkeys(cls.get_default_feature_layer_for_metric(m) for m in metrics))
    device = resolve_device(device)
    if name == INCEPTION:
        from i2icli import weights

        path = weights.require("inception-fidelity", directory=weights_dir)["inception-fidelity"]
        try:
            module = cls(name, list(layers), feature_extractor_weights_path=str(path))
        except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
            first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
            raise WeightsError(f"{path}: damaged or not torch-fidelity's Inception weights ({first}); replace it "
                               "with `i2i weights import FILE`") from None
        weights_file = path.name
    else:
        module = cls(name, list(layers))
        weights_file = f"(registered: {cls.__module__}.{cls.__qualname__})"
    module.requires_grad_(False)
    module.eval()
    return Extractor(name, module.to(device), layers, weights_file, device)


# --------------------------------------------------------------------------- stage 1: features


@torch.no_grad()
def extract_features(images: ImageSet, extractor: Extractor, batch_size: int = 50,
                     progress: OptionalProgress = None, description: str = "features") -> dict[str, torch.Tensor]:
    """Features of every image, per layer, as CPU float tensors (N, D) in the set's order."""
    out: dict[str, list[torch.Tensor]] = {k: [] for k in extractor.layers}
    total = len(images)
    done = 0
    for _, batch in images.batches(batch_size):
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous().to(extractor.device)  # (B,3,H,W) uint8
        feats = extractor.module.convert_features_tuple_to_dict(extractor.module(x))
        for k in extractor.layers:
            out[k].append(feats[k].detach().cpu())
        done += len(batch)
        report(progress, description, done, total)
    return {k: torch.cat(v, dim=0) for k, v in out.items()}


class FeatureCache:
    """Features on disk, keyed by image content + extractor + weights file + layers.

    The key never depends on paths alone, so a changed real set is never served
    stale features.  Default location: ``$I2I_CACHE/features`` or
    ``~/.cache/i2i/features``.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        if root is None:
            root = Path(os.environ.get("I2I_CACHE", Path.home() / ".cache" / "i2i")) / "features"
        self.root = Path(root)

    def key(self, images: ImageSet, extractor: Extractor) -> str:
        ident = {"content": images.fingerprint(), **extractor.identity(), "version": 1}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            data = torch.load(p, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError):
            return None  # a damaged cache entry is recomputed (and overwritten), never trusted
        return data if isinstance(data, dict) else None

    def put(self, key: str, features: Mapping[str, torch.Tensor]) -> Path:
        p = self.path(key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=self.root)
            os.close(fd)
            try:
                torch.save(dict(features), tmp)
                os.replace(tmp, p)
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as exc:
            raise DataError(f"{self.root}: cannot write the feature cache ({exc.strerror or exc}); "
                            "set I2I_CACHE or pass --no-cache") from None
        return p


def cached_features(images: ImageSet, extractor: Extractor, cache: FeatureCache | None, batch_size: int = 50,
                    progress: OptionalProgress = None, description: str = "features"
                    ) -> tuple[dict[str, torch.Tensor], bool]:
    """(features, cache_hit).  With ``cache=None`` features are always computed."""
    if cache is None:
        return extract_features(images, extractor, batch_size, progress, description), False
    key = cache.key(images, extractor)
    hit = cache.get(key)
    if hit is not None and all(k in hit for k in extractor.layers) and all(len(hit[k]) == len(images)
                                                                          for k in extractor.layers):
        report(progress, description + " (cached)", len(images), len(images))
        return {k: hit[k] for k in extractor.layers}, True
    feats = extract_features(images, extractor, batch_size, progress, description)
    cache.put(key, feats)
    return feats, False


# --------------------------------------------------------------------------- stages 2-3: statistics and values


def kid_subset_size(n_generated: int, n_real: int, subset_size: int | None = None) -> int:
    size = min(n_generated, n_real, KID_MAX_SUBSET) if subset_size is None else subset_size
    if size < 2:
        raise DataError(f"KID needs at least 2 images per set (got {n_generated} generated, {n_real} real)")
    if size > min(n_generated, n_real):
        raise DataError(f"KID subset size {size} exceeds the smaller set ({n_generated} generated, {n_real} real)")
    return size


def kid_from_features(generated: torch.Tensor, real: torch.Tensor, subset_size: int | None = None,
                      subsets: int = KID_SUBSETS, seed: int = DEFAULT_SEED) -> dict:
    """KID (unbiased MMD^2, cubic polynomial kernel) over random subsets; see module docstring."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    size = kid_subset_size(len(generated), len(real), subset_size)
    if subsets < 1:
        raise DataError(f"KID needs at least one subset, got {subsets}")
    r = kid_features_to_metric(generated, real, kid_subsets=subsets, kid_subset_size=size,
                               rng_seed=seed, verbose=False)
    mean, std = r[KEY_METRIC_KID_MEAN], r[KEY_METRIC_KID_STD]
    return {"kid_mean": mean, "kid_std": std, "kid_x100_mean": 100 * mean, "kid_x100_std": 100 * std,
            "n_generated": len(generated), "n_real": len(real), "subset_size": size, "subsets": subsets,
            "seed": seed}


def kid_blocks(generated: torch.Tensor, real: torch.Tensor, max_block_size: int = UGATIT_BLOCK) -> dict:
    """KID as TF-GAN's ``kernel_classifier_distance_and_std_from_activations`` (U-GAT-IT protocol).

    Disjoint, in-order blocks of at most ``max_block_size`` samples (the set
    with more samples decides the block count; each set is split into that
    many near-equal blocks, the larger blocks last); per block the unbiased
    MMD^2 with k(x, y) = (x.y / d + 1)^3; mean over blocks and standard error
    ``sqrt(var / n_blocks)`` with the Bessel-corrected variance over blocks
    (None with a single block).
    """
    r = real.detach().double().cpu().numpy()
    g = generated.detach().double().cpu().numpy()
    n_r, n_g = len(r), len(g)
    n_blocks = int(np.ceil(max(n_r, n_g) / max_block_size))

    def bounds(n: int) -> np.ndarray:
        v, extra = divmod(n, n_blocks)
        sizes = [v] * (n_blocks - extra) + [v + 1] * extra
        return np.concatenate([[0], np.cumsum(sizes)])

    if min(n_r, n_g) // n_blocks < 2:
        raise DataError(f"KID (ugatit protocol) splits both sets into {n_blocks} blocks of <= {max_block_size}; "
                        f"the smaller set ({min(n_r, n_g)} images) needs at least 2 per block -- use more images "
                        "or --protocol subsets")
    ir, ig = bounds(n_r), bounds(n_g)
    dim = r.shape[1]
    ests = []
    for i in range(n_blocks):
        a, b = r[ir[i]:ir[i + 1]], g[ig[i]:ig[i + 1]]
        m, n = len(a), len(b)
        k_rr = (a @ a.T / dim + 1) ** 3
        k_rg = (a @ b.T / dim + 1) ** 3
        k_gg = (b @ b.T / dim + 1) ** 3
        ests.append(-2 * k_rg.mean() + (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
                    + (k_gg.sum() - np.trace(k_gg)) / (n * (n - 1)))
    e = np.asarray(ests)
    mean = float(e.mean())
    std = float(np.sqrt(e.var(ddof=1) / n_blocks)) if n_blocks > 1 else None
    return {"kid_mean": mean, "kid_std": std, "kid_x100_mean": 100 * mean,
            "kid_x100_std": None if std is None else 100 * std, "n_generated": n_g, "n_real": n_r,
            "subset_size": int(max(np.diff(ir).max(), np.diff(ig).max())), "subsets": n_blocks,
            "protocol": "ugatit", "std_kind": "standard error over disjoint blocks"}


def kid(generated: torch.Tensor, real: torch.Tensor, protocol: str = "ugatit", subset_size: int | None = None,
        subsets: int = KID_SUBSETS, seed: int = DEFAULT_SEED) -> dict:
    """KID under ``protocol`` (see module docstring); ``subset_size`` is the max block size for ``ugatit``."""
    if protocol == "ugatit":
        return kid_blocks(generated, real, subset_size or UGATIT_BLOCK)
    if protocol == "subsets":
        return {**kid_from_features(generated, real, subset_size, subsets, seed), "protocol": "subsets",
                "std_kind": "std over random subsets"}
    raise DataError(f"unknown KID protocol {protocol!r}; valid: {', '.join(KID_PROTOCOLS)}")


def fid_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    """Mean and covariance of (N, D) features, computed by torch-fidelity (covariance in float64)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    if len(features) < 2:
        raise DataError(f"FID needs at least 2 images per set, got {len(features)}")
    return fid_features_to_statistics(features)


def fid_from_statistics(generated: Mapping[str, np.ndarray], real: Mapping[str, np.ndarray]) -> float:
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    return float(fid_statistics_to_metric(dict(generated), dict(real), verbose=False)[KEY_METRIC_FID])


def fid_from_features(generated: torch.Tensor, real: torch.Tensor) -> dict:
    value = fid_from_statistics(fid_statistics(generated), fid_statistics(real))
    return {"fid": value, "n_generated": len(generated), "n_real": len(real)}


def inception_score(logits: torch.Tensor, splits: int = IS_SPLITS, seed: int = DEFAULT_SEED,
                    shuffle: bool = True) -> dict:
    """IS mean ± std over ``splits`` splits of the (N, C) logits."""
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

    if len(logits) < splits:
        raise DataError(f"IS with {splits} splits needs at least {splits} images, got {len(logits)}")
    r = isc_features_to_metric(logits, splits=splits, shuffle=shuffle, rng_seed=seed)
    return {"is_mean": r[KEY_METRIC_ISC_MEAN], "is_std": r[KEY_METRIC_ISC_STD], "n_generated": len(logits),
            "splits": splits, "seed": seed}
