"""Metric throughput on the current device, and what the real-set feature cache saves.

Writes section "Metrics" of docs/BENCHMARKS.md.  Measures

- Inception feature extraction (torch-fidelity's ``inception-v3-compat``, the
  KID/FID/IS extractor) in images/s, for a few batch sizes;
- the real-set feature cache: first evaluation (extract) vs. a re-evaluation
  against the same real set (load from cache);
- LPIPS (AlexNet v0.1) pairs/s and SSIM pairs/s at 256x256.

Throughput does not depend on weight *values*: when the real weight files are
absent the networks are random-initialised and the section says so.  No metric
*value* is reported from random weights.

Usage: ``python benchmarks/bench_metrics.py [--device cuda] [--images 64] [--size 256]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import write_section  # noqa: E402
from i2icli import weights  # noqa: E402
from i2icli.metrics import fidelity  # noqa: E402
from i2icli.metrics import lpips as lp  # noqa: E402
from i2icli.metrics import ssim as ss  # noqa: E402
from i2icli.metrics.inputs import from_arrays  # noqa: E402


def _images(n: int, size: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def _inception(device: str) -> tuple[fidelity.Extractor, str]:
    if weights.find("inception-fidelity") is not None:
        return fidelity.create_extractor(fidelity.INCEPTION, ("kid", "isc"), device=device), "real weights"
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    # Same architecture, random parameters: skip the state-dict load (speed only).
    with mock.patch("torch_fidelity.feature_extractor_inceptionv3.torch.load", return_value={}), \
            mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None):
        module = FeatureExtractorInceptionV3(fidelity.INCEPTION, ["2048", "logits_unbiased"],
                                             feature_extractor_weights_path="(random)")
    module = module.to(device).eval().requires_grad_(False)
    return (fidelity.Extractor(fidelity.INCEPTION, module, ("2048", "logits_unbiased"), "(random init)", device),
            "random-initialised weights (weights-inception-2015-12-05-6726825d.pth absent; speed only)")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    device = fidelity.resolve_device(args.device)
    rows = []

    ext, note = _inception(device)
    imgs = from_arrays(_images(args.images, args.size, 0))
    fidelity.extract_features(from_arrays(_images(2, args.size, 9)), ext, batch_size=2)  # warm-up
    for bs in (4, 16):
        _sync(device)
        t = time.perf_counter()
        fidelity.extract_features(imgs, ext, batch_size=bs)
        _sync(device)
        dt = time.perf_counter() - t
        rows.append(f"| Inception features (KID/FID/IS), batch {bs} | {args.images} images {args.size}px | "
                    f"{args.images / dt:.1f} images/s |")

    with tempfile.TemporaryDirectory() as tmp:
        cache = fidelity.FeatureCache(tmp)
        t = time.perf_counter()
        _, hit1 = fidelity.cached_features(imgs, ext, cache, batch_size=32)
        first = time.perf_counter() - t
        t = time.perf_counter()
        _, hit2 = fidelity.cached_features(imgs, ext, cache, batch_size=32)
        second = time.perf_counter() - t
        assert (hit1, hit2) == (False, True)
    rows.append(f"| real-set features, first evaluation (extract + store) | {args.images} images | {first:.2f} s |")
    rows.append(f"| real-set features, re-evaluation (cache hit: hash files + load) | {args.images} images | "
                f"{second:.3f} s ({first / max(second, 1e-9):.0f}x faster) |")

    torch.manual_seed(0)
    import torchvision

    lp_note = "real AlexNet" if weights.find("alexnet") else "random-initialised AlexNet (speed only)"
    model = lp.build_lpips(None if weights.find("alexnet") else torchvision.models.alexnet(weights=None).state_dict(),
                           device=device)
    a, b = from_arrays(_images(args.images, args.size, 1)), from_arrays(_images(args.images, args.size, 2))
    lp.paired_distances(model, from_arrays(_images(2, args.size, 3)), from_arrays(_images(2, args.size, 4)))
    _sync(device)
    t = time.perf_counter()
    lp.paired_distances(model, a, b, batch_size=16)
    _sync(device)
    rows.append(f"| LPIPS v0.1 ({lp_note}), batch 16 | {args.images} pairs {args.size}px | "
                f"{args.images / (time.perf_counter() - t):.1f} pairs/s |")
    t = time.perf_counter()
    ss.ssim(a, b)
    rows.append(f"| SSIM (scikit-image, 7x7 window, CPU) | {args.images} pairs {args.size}px | "
                f"{args.images / (time.perf_counter() - t):.1f} pairs/s |")

    load = open("/proc/loadavg").read().split()[0] if Path("/proc/loadavg").exists() else "n/a"
    body = (f"Device: `{device}` (1-min load average at the end: {load}). Inception: {note}.\n\n"
            "| what | input | throughput |\n|---|---|---|\n" + "\n".join(rows) + "\n\n"
            "Real-set features are cached by content (file bytes or store checksum) + extractor + weights file, "
            "so evaluating a new run against the same test split only extracts the generated images.")
    path = write_section("Metrics", body, device)
    print(body)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
