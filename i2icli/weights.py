"""Pretrained weight files: one manifest, offline lookup, one clear error.

i2i never downloads.  Every upstream file a metric or a loss needs is listed
in :data:`MANIFEST` (file name, URL, size, hash).  Files are looked up in one
*weights directory*, chosen in this order:

1. an explicit ``weights_dir`` argument (``--weights-dir`` on the CLI);
2. the ``I2I_WEIGHTS`` environment variable;
3. the torch hub checkpoint cache, ``$TORCH_HOME/hub/checkpoints``
   (``~/.cache/torch/hub/checkpoints`` by default) -- so a cache a user already
   has from torchvision / torch-fidelity / lpips just works.

:func:`require` checks every needed file *before* anything is built and raises
one :class:`~i2icli.errors.WeightsError` listing each missing file with its
URL, size and the folder to put it in.  Nothing ever falls back to random
weights for a number a user asked for.

Hashes: torchvision files follow the torch hub convention (the 8 hex digits in
the file name are the start of the file's SHA-256), which ``i2i weights
import`` checks.  torch-fidelity's Inception file carries the same-looking
suffix, but torch-fidelity downloads it without ``check_hash`` and does not
publish its digest, so for that file we verify the *content* instead: the
state dict must load strictly into torch-fidelity's ``FeatureExtractorInceptionV3``
(every key and shape).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from i2icli.errors import WeightsError

if TYPE_CHECKING:
    from torch import Tensor, nn

ENV_VAR = "I2I_WEIGHTS"


@dataclass(frozen=True)
class WeightFile:
    """One upstream file.

    ``size`` is the exact byte count where the publisher's file size is known
    (torchvision), else None; ``sha256_prefix`` the leading hex digits of the
    SHA-256 where the publisher guarantees them (torch hub convention), else
    None and ``check`` is ``"state_dict"`` (see module docstring).
    """

    key: str
    filename: str
    url: str
    size: int | None
    size_text: str  # human-readable size for messages
    sha256_prefix: str | None
    check: Literal["sha256_prefix", "state_dict"]
    used_by: str


_TV = "https://download.pytorch.org/models/"

MANIFEST: dict[str, WeightFile] = {
    w.key: w
    for w in (
        WeightFile(
            "inception-fidelity", "weights-inception-2015-12-05-6726825d.pth",
            "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
            None, "about 91 MB", None, "state_dict",
            "KID, FID, IS (torch-fidelity's port of the TF 2015-12-05 Inception graph)",
        ),
        WeightFile(
            "alexnet", "alexnet-owt-7be5be79.pth", _TV + "alexnet-owt-7be5be79.pth",
            244_408_911, "233 MB", "7be5be79", "sha256_prefix", "LPIPS v0.1 backbone (AlexNet)",
        ),
        WeightFile(
            "vgg19", "vgg19-dcbb9e9d.pth", _TV + "vgg19-dcbb9e9d.pth",
            574_673_361, "548 MB", "dcbb9e9d", "sha256_prefix",
            "perceptual losses and semantic matching (LOMIT, EGSC-IT, SEGIN)",
        ),
        WeightFile(
            "inception-v3", "inception_v3_google-0cc3c7bd.pth", _TV + "inception_v3_google-0cc3c7bd.pth",
            108_949_747, "104 MB", "0cc3c7bd", "sha256_prefix",
            "attribute classifier backbone, ImageNet init (LOMIT Sec. 4.3)",
        ),
        WeightFile(
            "resnet18", "resnet18-f37072fd.pth", _TV + "resnet18-f37072fd.pth",
            46_830_571, "45 MB", "f37072fd", "sha256_prefix",
            "attribute classifier backbone (default), ImageNet init",
        ),
    )
}


def names() -> list[str]:
    return list(MANIFEST)


def _entry(name: str) -> WeightFile:
    try:
        return MANIFEST[name]
    except KeyError:
        raise WeightsError(f"unknown weight file {name!r}; known: {', '.join(MANIFEST)}") from None


def weights_dir(override: str | os.PathLike | None = None) -> Path:
    """The directory weight files are looked up in (see module docstring)."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def find(name: str, directory: str | os.PathLike | None = None) -> Path | None:
    """Path of the manifest file ``name`` in the weights directory, or None."""
    path = weights_dir(directory) / _entry(name).filename
    return path if path.is_file() and path.stat().st_size > 0 else None


def missing_message(missing: list[WeightFile], directory: Path) -> str:
    items = "; ".join(f"{w.filename} ({w.size_text}) from {w.url}" for w in missing)
    return (f"missing pretrained weights (i2i never downloads): {items} -- put the file(s) in {directory} "
            f"(or set --weights-dir / {ENV_VAR}), e.g. `i2i weights import FILE`")


def require(*names: str, directory: str | os.PathLike | None = None) -> dict[str, Path]:
    """Paths of all ``names``; one WeightsError listing every missing file otherwise."""
    folder = weights_dir(directory)
    found: dict[str, Path] = {}
    missing: list[WeightFile] = []
    for name in names:
        path = find(name, folder)
        if path is None:
            missing.append(_entry(name))
        else:
            found[name] = path
    if missing:
        raise WeightsError(missing_message(missing, folder))
    return found


# --------------------------------------------------------------------------- status / import


@dataclass(frozen=True)
class WeightStatus:
    key: str
    filename: str
    present: bool
    path: Path
    size: int | None  # actual size on disk when present
    url: str
    used_by: str


def status(directory: str | os.PathLike | None = None) -> list[WeightStatus]:
    folder = weights_dir(directory)
    out = []
    for w in MANIFEST.values():
        path = folder / w.filename
        present = path.is_file()
        out.append(WeightStatus(w.key, w.filename, present, path, path.stat().st_size if present else None, w.url,
                                w.used_by))
    return out


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _load_state_dict_file(path: Path) -> dict:
    import pickle

    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise WeightsError(f"{path}: not a readable PyTorch weights file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, found {type(state).__name__}")
    return state


def verify(name: str, path: Path) -> None:
    """Check that ``path`` is the manifest file ``name`` (hash or structure); WeightsError otherwise."""
    w = _entry(name)
    if w.size is not None and path.stat().st_size != w.size:
        raise WeightsError(f"{path}: size {path.stat().st_size} bytes, expected {w.size} for {w.filename} "
                           f"(incomplete download?); get it from {w.url}")
    if w.check == "sha256_prefix":
        digest = sha256_of(path)
        if not digest.startswith(w.sha256_prefix or ""):
            raise WeightsError(f"{path}: SHA-256 {digest[:16]}... does not start with {w.sha256_prefix} "
                               f"as {w.filename} must; get it from {w.url}")
        return
    _load_state_dict_file(path)  # a clear error for a file that is not a state dict at all
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    # torch-fidelity's constructor loads the file strictly (every key and shape): that is the check.
    try:
        FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path))
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise WeightsError(f"{path}: does not load into torch-fidelity's Inception ({str(exc).splitlines()[0]}); "
                           f"get {w.filename} from {w.url}") from None


def identify(path: Path) -> str:
    """Manifest key of a candidate file: by its file name, else by its SHA-256 prefix."""
    for w in MANIFEST.values():
        if path.name == w.filename:
            return w.key
    digest = sha256_of(path)
    for w in MANIFEST.values():
        if w.sha256_prefix and digest.startswith(w.sha256_prefix):
            return w.key
    raise WeightsError(f"{path}: not a file i2i knows (neither its name nor its SHA-256 matches); expected one of "
                       f"{', '.join(w.filename for w in MANIFEST.values())}")


@dataclass(frozen=True)
class ImportResult:
    key: str
    source: Path
    target: Path
    action: Literal["copied", "already present"]


def import_files(files: list[Path], directory: str | os.PathLike | None = None,
                 force: bool = False) -> list[ImportResult]:
    """Verify each file, then copy it (atomically) into the weights directory under its manifest name.

    All files are verified before any is copied, so a bad file leaves nothing half-done.
    """
    folder = weights_dir(directory)
    plan: list[tuple[str, Path, Path]] = []
    for src in files:
        src = Path(src)
        if not src.is_file():
            raise WeightsError(f"{src}: no such file")
        key = identify(src)
        verify(key, src)
        plan.append((key, src, folder / MANIFEST[key].filename))
    results = []
    for key, src, dst in plan:
        if dst.exists() and not force and dst.stat().st_size == src.stat().st_size and (
                dst.resolve() == src.resolve() or sha256_of(dst) == sha256_of(src)):
            results.append(ImportResult(key, src, dst, "already present"))
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=folder)
            os.close(fd)
            try:
                shutil.copyfile(src, tmp)
                os.replace(tmp, dst)
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as exc:
            raise WeightsError(f"{dst}: cannot write ({exc.strerror or exc}); choose another --weights-dir") from None
        results.append(ImportResult(key, src, dst, "copied"))
    return results


# --------------------------------------------------------------------------- loaders


def load_state_dict(name: str, directory: str | os.PathLike | None = None) -> dict:
    """The state dict of manifest file ``name`` (WeightsError when missing)."""
    return _load_state_dict_file(require(name, directory=directory)[name])


def load_vgg19_features(directory: str | os.PathLike | None = None, device: str = "cpu") -> nn.Sequential:
    """ImageNet VGG-19 ``features`` (conv part), eval mode, gradients off.

    Used by the perceptual losses and semantic matching of LOMIT, EGSC-IT and
    SEGIN.  Inputs are expected ImageNet-normalised (callers convert from
    [-1, 1]).  Raises WeightsError (listing the file and URL) when absent.
    """
    import torchvision

    state = load_state_dict("vgg19", directory)
    net = torchvision.models.vgg19(weights=None)
    net.load_state_dict(state)
    features = net.features.to(device).eval()
    features.requires_grad_(False)
    return features


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(x: Tensor) -> Tensor:
    """(B,3,H,W) images in [-1, 1] -> the ImageNet-normalised input torchvision's VGG/ResNet/AlexNet expect."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


def load_torchvision_classifier(arch: Literal["resnet18", "inception_v3"],
                                directory: str | os.PathLike | None = None) -> dict | None:
    """ImageNet state dict for a classifier backbone, or None when the file is absent (train from scratch)."""
    key = {"resnet18": "resnet18", "inception_v3": "inception-v3"}[arch]
    path = find(key, directory)
    return None if path is None else _load_state_dict_file(path)
