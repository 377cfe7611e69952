"""LPIPS (AlexNet, v0.1) via the lpips package, in the three modes of SEGIN Table I.

- ``gt``: output i vs. its ground truth i (reconstruction ability).
- ``ref``: output i vs. the exemplar/reference i it was guided by
  (similarity to the reference).
- ``diversity``: for each input, the distance between outputs of that same
  input under different exemplars.  SEGIN Sec. IV-C follows BicycleGAN: "19
  pairs sampled outputs with different reference from 100 inputs", i.e. 20
  outputs per input and the 19 *consecutive* pairs (k, k+1); we do the same
  and average over all pairs of all inputs.  Layout: ``--generated`` holds one
  sub-folder per input, each with that input's outputs (sorted by name).

Model: ``lpips.LPIPS(net="alex", version="0.1")``, i.e. the package's linear
calibration weights (shipped inside the package) on an ImageNet AlexNet
trunk.  The trunk file ``alexnet-owt-7be5be79.pth`` is taken from the i2i
weights directory (:mod:`i2icli.weights`) and loaded into the package's
network ourselves, because the package would otherwise ask torchvision to
download it.  Inputs are the uint8 images scaled to [-1, 1] (the package's
convention, ``normalize=False``), at their stored size.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from i2icli.errors import DataError
from i2icli.metrics.inputs import ImageSet, check_paired, from_folder
from i2icli.progress import OptionalProgress, report

Mode = Literal["diversity", "ref", "gt"]
MODES: tuple[str, ...] = ("diversity", "ref", "gt")


def build_lpips(alexnet_state: dict | None = None, weights_dir: str | os.PathLike | None = None,
                device: str = "cpu") -> torch.nn.Module:
    """The lpips package's AlexNet-v0.1 LPIPS with the trunk loaded from ``alexnet_state``.

    ``alexnet_state``: a torchvision AlexNet state dict; None loads the real
    ``alexnet-owt-7be5be79.pth`` from the weights directory (WeightsError
    listing the file and URL when it is missing -- checked before anything else).
    """
    if alexnet_state is None:
        from i2icli import weights

        alexnet_state = weights.load_state_dict("alexnet", weights_dir)
    import lpips

    with warnings.catch_warnings():
        # pnet_rand=True builds the trunk without touching the network; the
        # deprecation warnings are torchvision's about the package's call style.
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    trunk = model.net
    mapped = {}
    for name, _ in trunk.named_parameters():
        # lpips keeps torchvision's layer indices: slice2.3.weight is features.3.weight
        _, index, kind = name.split(".")
        src = f"features.{index}.{kind}"
        if src not in alexnet_state:
            raise DataError(f"AlexNet state dict lacks {src}; is it a torchvision AlexNet checkpoint?")
        mapped[name] = alexnet_state[src]
    trunk.load_state_dict(mapped, strict=True)
    model.requires_grad_(False)
    return model.eval().to(device)


def _to_input(batch: np.ndarray, device: torch.device | str) -> torch.Tensor:
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(127.5).sub(1.0).to(device)


@torch.no_grad()
def paired_distances(model: torch.nn.Module, a: ImageSet, b: ImageSet, batch_size: int = 16,
                     progress: OptionalProgress = None, description: str = "lpips") -> np.ndarray:
    """LPIPS(a[i], b[i]) for every i, float64 (N,)."""
    device = next(model.parameters()).device
    out = []
    b_batches = b.batches(batch_size)
    for (start, xa), (_, xb) in zip(a.batches(batch_size), b_batches, strict=True):
        d = model(_to_input(xa, device), _to_input(xb, device))  # (B,1,1,1)
        out.append(d.flatten().double().cpu().numpy())
        report(progress, description, start + len(xa), len(a))
    return np.concatenate(out)


def diversity_groups(folder: Path) -> list[ImageSet]:
    """One ImageSet per sub-folder of ``folder`` (one input's outputs under different exemplars)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise DataError(f"{folder}: LPIPS diversity needs one sub-folder per input, each holding that input's "
                        "outputs under different exemplars")
    groups = [from_folder(d) for d in subdirs]
    for g in groups:
        if len(g) < 2:
            raise DataError(f"{g.source}: diversity needs at least 2 outputs per input, found {len(g)}")
    return groups


def lpips_metric(model: torch.nn.Module, mode: Mode, generated: ImageSet | list[ImageSet],
                 real: ImageSet | None = None, batch_size: int = 16, progress: OptionalProgress = None) -> dict:
    """Mean ± std LPIPS in ``mode``; ``generated`` is a list of groups for ``diversity``."""
    if mode not in MODES:
        raise DataError(f"unknown LPIPS mode {mode!r}; valid: {', '.join(MODES)}")
    base = {"mode": mode, "net": "alex", "version": "0.1"}
    if mode == "diversity":
        if not isinstance(generated, list):
            raise DataError("LPIPS diversity takes groups of outputs (one folder per input)")
        dists = []
        for gi, group in enumerate(generated):
            group.image_size()
            n = len(group)
            first = _subset(group, range(0, n - 1))
            second = _subset(group, range(1, n))
            dists.append(paired_distances(model, first, second, batch_size))
            report(progress, "lpips diversity", gi + 1, len(generated))
        d = np.concatenate(dists)
        return {"lpips_mean": float(d.mean()), "lpips_std": float(d.std()), "n_pairs": len(d),
                "n_inputs": len(generated), "pairing": "consecutive", **base}
    if real is None or isinstance(generated, list):
        raise DataError(f"LPIPS {mode} compares --generated with --real image by image")
    check_paired(generated, real, f"LPIPS {mode}")
    d = paired_distances(model, generated, real, batch_size, progress)
    return {"lpips_mean": float(d.mean()), "lpips_std": float(d.std()), "n_pairs": len(d), "pairing": "by sorted name",
            **base}


def _subset(images: ImageSet, indices: range) -> ImageSet:
    idx = list(indices)
    return ImageSet(images.source, images.kind, [images.names[i] for i in idx], lambda k: images.load(idx[k]),
                    images.fingerprint, images.file_format)
