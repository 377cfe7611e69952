"""Classification accuracy with a trained attribute classifier (LOMIT Table 1, BridgeGAN Table 1).

Two numbers, both per attribute and averaged over attributes:

- :func:`held_out_accuracy`: how well the classifier itself does on the
  store's test split (its own labels) -- report it next to any CA number, a
  CA is only as meaningful as the classifier is accurate;
- :func:`attribute_accuracy`: the fraction of translated images in which the
  classifier finds the *target* attribute value, where the target is

  * the exemplar's attributes (LOMIT: "a translated image must have
    attributes in the exemplar"): ``--exemplars`` paired with ``--generated``
    by sorted name.  For a store selection with attribute labels the stored
    labels are used, for a folder the classifier's own predictions
    (``target_source`` in the record says which);
  * or requested labels (BridgeGAN label-based synthesis): ``--labels
    FILE.csv`` with a header ``file,<attr>,<attr>...`` and one 0/1 row per
    generated file name.

An attribute counts as present when its probability >= ``threshold``
(the classifier's ``model.threshold``, 0.5 by default).  Images are resized to
the classifier's ``data.image_size`` (bilinear), as its test split was.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from i2icli.errors import DataError
from i2icli.metrics.inputs import ImageSet
from i2icli.progress import OptionalProgress, report

if TYPE_CHECKING:
    from i2icli.models.classifier import AttributeClassifier


@dataclass
class LoadedClassifier:
    family: AttributeClassifier
    attributes: tuple[str, ...]
    image_size: int
    threshold: float
    run_dir: Path
    checkpoint: Path
    device: str


def load_classifier(run_dir: Path, device: str = "auto") -> LoadedClassifier:
    from i2icli.models.classifier import AttributeClassifier
    from i2icli.translate import load_run

    loaded = load_run(Path(run_dir), device=device)
    fam = loaded.family
    if not isinstance(fam, AttributeClassifier):
        raise DataError(f"{run_dir}: is a {loaded.cfg.model} run, not a classifier; train one with "
                        "`i2i train classifier --data DATASET.h5`")
    return LoadedClassifier(fam, tuple(fam.attributes), loaded.cfg.data.image_size, loaded.cfg.model_cfg.threshold,
                            loaded.run_dir, loaded.checkpoint, loaded.device)


@torch.no_grad()
def predict_images(clf: LoadedClassifier, images: ImageSet, batch_size: int = 32,
                   progress: OptionalProgress = None, description: str = "classifying") -> np.ndarray:
    """(N, A) probabilities for every image of the set."""
    from i2icli.data.transforms import resize
    from i2icli.images import to_tensor

    out = []
    for i0 in range(0, len(images), batch_size):
        idx = range(i0, min(i0 + batch_size, len(images)))
        x = torch.stack([to_tensor(resize(images.load(i), clf.image_size)) for i in idx]).to(clf.device)
        out.append(clf.family.predict(x).float().cpu().numpy())
        report(progress, description, idx[-1] + 1, len(images))
    return np.concatenate(out) if out else np.zeros((0, len(clf.attributes)), np.float32)


def per_attribute_accuracy(probs: np.ndarray, targets: np.ndarray, names: tuple[str, ...],
                           threshold: float) -> dict:
    if probs.shape != targets.shape:
        raise DataError(f"predictions {probs.shape} and targets {targets.shape} differ")
    hit = (probs >= threshold) == (targets >= 0.5)
    per = {n: float(hit[:, a].mean()) for a, n in enumerate(names)}
    return {"accuracy_mean": float(np.mean(list(per.values()))), "per_attribute": per, "n_images": len(probs),
            "threshold": threshold}


def _columns(clf: LoadedClassifier, wanted: tuple[str, ...]) -> list[int]:
    if not wanted:
        return list(range(len(clf.attributes)))
    missing = [a for a in wanted if a not in clf.attributes]
    if missing:
        raise DataError(f"the classifier has no attribute {missing[0]!r}; it predicts {', '.join(clf.attributes)}")
    return [clf.attributes.index(a) for a in wanted]


def held_out_accuracy(clf: LoadedClassifier, images: ImageSet, attributes: tuple[str, ...] = (),
                      batch_size: int = 32, progress: OptionalProgress = None) -> dict:
    """The classifier's accuracy on labelled images (e.g. its store's test split)."""
    if images.labels is None:
        raise DataError(f"{images.source}: has no attribute labels; give a store selection such as DATA.h5:test")
    cols = _columns(clf, attributes)
    probs = predict_images(clf, images, batch_size, progress)
    store_cols = _store_columns(images, [clf.attributes[c] for c in cols])
    r = per_attribute_accuracy(probs[:, cols], images.labels[:, store_cols].astype(np.float32),
                               tuple(clf.attributes[c] for c in cols), clf.threshold)
    return {**r, "target_source": f"labels of {images.source}"}


def _store_columns(images: ImageSet, names: list[str]) -> list[int]:
    missing = [n for n in names if n not in images.attributes]
    if missing:
        raise DataError(f"{images.source}: has no attribute {missing[0]!r}; it has {', '.join(images.attributes)}")
    return [images.attributes.index(n) for n in names]


def read_label_csv(path: Path, names: list[str], attributes: list[str]) -> np.ndarray:
    """(N, A) targets for the generated files ``names`` from ``file,<attr>...`` rows."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if not rows or rows[0][:1] != ["file"]:
        raise DataError(f"{path}: expected a header 'file,<attribute>,...'")
    header = rows[0][1:]
    missing = [a for a in attributes if a not in header]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r}; columns: {', '.join(header)}")
    table = {}
    for n, row in enumerate(rows[1:], 2):
        if not row:
            continue
        try:
            table[row[0]] = [float(row[1 + header.index(a)]) for a in attributes]
        except (ValueError, IndexError):
            raise DataError(f"{path}:{n}: expected 0/1 values for {', '.join(attributes)}") from None
    lacking = [n for n in names if n not in table]
    if lacking:
        raise DataError(f"{path}: no row for generated file {lacking[0]!r} ({len(lacking)} missing)")
    return np.asarray([table[n] for n in names], dtype=np.float32)


def attribute_accuracy(clf: LoadedClassifier, generated: ImageSet, exemplars: ImageSet | None = None,
                       labels_csv: Path | None = None, attributes: tuple[str, ...] = (), batch_size: int = 32,
                       progress: OptionalProgress = None) -> dict:
    """Per-attribute accuracy that ``generated`` carry the exemplars' (or requested) attributes."""
    if (exemplars is None) == (labels_csv is None):
        raise DataError("give the targets: --exemplars (paired with --generated by sorted name) or --labels FILE.csv")
    cols = _columns(clf, attributes)
    names = tuple(clf.attributes[c] for c in cols)
    probs = predict_images(clf, generated, batch_size, progress, "classifying generated")[:, cols]
    if exemplars is not None:
        if len(exemplars) != len(generated):
            raise DataError(f"CA pairs each generated image with its exemplar (sorted by name): --generated has "
                            f"{len(generated)} images but --exemplars has {len(exemplars)}")
        if exemplars.labels is not None and all(n in exemplars.attributes for n in names):
            targets = exemplars.labels[:, _store_columns(exemplars, list(names))].astype(np.float32)
            source = f"stored labels of {exemplars.source}"
        else:
            ex = predict_images(clf, exemplars, batch_size, progress, "classifying exemplars")[:, cols]
            targets = (ex >= clf.threshold).astype(np.float32)
            source = f"classifier predictions on {exemplars.source}"
    else:
        assert labels_csv is not None  # exactly one of exemplars / labels_csv, checked above
        targets = read_label_csv(labels_csv, generated.names, list(names))
        source = f"requested labels in {labels_csv}"
    return {**per_attribute_accuracy(probs, targets, names, clf.threshold), "target_source": source}
