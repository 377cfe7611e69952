"""Attribute classifier for classification accuracy (LOMIT Sec. 4.3 / Table 1, BridgeGAN Table 1).

LOMIT: "For the classification, we use the pretrained Inception-v3 and
fine-tune with celebA dataset, following (Huang et al., 2018)"; a translated
image scores when the classifier finds the exemplar's attributes in it.
BridgeGAN reports per-attribute accuracy of the same kind.  Neither paper
gives the fine-tuning settings, so we choose and state them:

- backbone ``inception_v3`` (torchvision's Inception-v3, the paper's choice;
  inputs upsampled to its native 299x299 with bilinear interpolation) or
  ``resnet18`` (default here: small enough to train on a CPU);
- ImageNet initialisation from ``inception_v3_google-0cc3c7bd.pth`` /
  ``resnet18-f37072fd.pth`` when the file is in the weights directory, else
  from scratch.  Which one happened is logged every step as
  ``imagenet_init`` (1 or 0) in metrics.jsonl and kept as ``init_note``;
- the 1000-way ImageNet head is replaced by one logit per attribute of the
  store (``data.attributes``, default all); loss: multi-label binary cross
  entropy (each CelebA attribute is an independent yes/no);
- ``stem = "small"`` swaps ResNet-18's ImageNet stem (7x7 stride-2 conv and
  a 3x3 stride-2 max-pool: 4x down before the first block) for one 3x3
  stride-1 conv and no pool, the usual adaptation to 32 px inputs (He et
  al.'s CIFAR ResNets): at 32 px the ImageNet stem leaves an 8x8 map in which
  a 2-pixel mouth (Smiling) is averaged away -- trained from scratch on
  synthetic faces it stayed at chance on Smiling (0.51 held out after 2000
  iterations; mean over 10 attributes 0.82) where the small stem reaches 0.98
  on Smiling (mean 0.98) after 1000 (recipes/classifier/synthetic.toml;
  docs/BENCHMARKS.md, "BridgeGAN learning").  With an ImageNet file
  every weight but the stem's conv is loaded;
- one phase ``classifier`` updating ``net`` with Adam (recipe ``train.lr``,
  ``train.betas``); augmentation: the attribute dataset's flip.

Inputs: [-1, 1] images.  ResNet-18 gets ImageNet mean/std normalisation (how
torchvision trained it); Inception-v3 gets [-1, 1] directly, which is what
Google's Inception was trained on (torchvision's ``transform_input`` exists to
turn ImageNet-normalised input back into exactly that).

The classifier does not translate: :meth:`translate` raises a ConfigError
pointing to ``i2i eval ca``; :meth:`predict` gives probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from i2icli.config import RunConfig
from i2icli.data.datasets import attribute_dataset
from i2icli.errors import ConfigError
from i2icli.guidance import Guidance
from i2icli.models.base import Family, Logs, Nets, Phase
from i2icli.registry import ModelSpec, register

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
INCEPTION_SIZE = 299


@dataclass(frozen=True)
class ClassifierConfig:
    backbone: Literal["resnet18", "inception_v3"] = "resnet18"
    stem: Literal["imagenet", "small"] = "imagenet"  # resnet18: "small" = 3x3 stride-1 conv, no max-pool (32 px)
    imagenet_init: bool = True  # use the ImageNet file when present (never required)
    threshold: float = 0.5  # probability at which an attribute counts as present


def attribute_names(cfg: RunConfig) -> tuple[str, ...]:
    """The attributes the classifier predicts: ``data.attributes``, else all of the store's."""
    if cfg.data.attributes:
        return tuple(cfg.data.attributes)
    from i2icli.data.store import open_store

    with open_store(cfg.data.path) as store:
        if not store.attributes:
            raise ConfigError(f"{cfg.data.path}: has no attribute labels; the classifier needs an attribute store "
                              "(i2i prepare celeba / synthetic faces)")
        return tuple(store.attributes)


class AttributeNet(nn.Module):
    """A torchvision backbone with a per-attribute logit head; input (B,3,H,W) in [-1, 1], output (B, A) logits."""

    mean: Tensor  # (1, 3, 1, 1) ImageNet channel means (buffer)
    std: Tensor  # (1, 3, 1, 1) ImageNet channel stds (buffer)

    def __init__(self, backbone: str, n_attributes: int, imagenet_state: dict | None, stem: str = "imagenet"):
        super().__init__()
        import torchvision

        self.backbone_name = backbone
        if stem not in ("imagenet", "small") or (stem == "small" and backbone != "resnet18"):
            raise ConfigError(f"model.stem: {stem!r} with {backbone}; use imagenet, or small with resnet18")
        if backbone == "resnet18":
            net = torchvision.models.resnet18(weights=None)
            if stem == "small":
                net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
                net.maxpool = nn.Identity()
                if imagenet_state is not None:
                    imagenet_state = {k: v for k, v in imagenet_state.items() if k != "conv1.weight"}
            if imagenet_state is not None:
                res = net.load_state_dict(imagenet_state, strict=stem == "imagenet")
                if stem == "small" and (res.unexpected_keys or res.missing_keys != ["conv1.weight"]):
                    raise ConfigError(f"ImageNet ResNet-18 file does not fit: missing {res.missing_keys}, "
                                      f"unexpected {res.unexpected_keys}")
            net.fc = nn.Linear(net.fc.in_features, n_attributes)
        elif backbone == "inception_v3":
            net = torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=False,
                                                  init_weights=imagenet_state is None)
            if imagenet_state is not None:
                net.load_state_dict(imagenet_state)
            net.aux_logits = False
            net.AuxLogits = None  # the auxiliary head only helps ImageNet training; not fine-tuned
            net.fc = nn.Linear(net.fc.in_features, n_attributes)
        else:
            raise ConfigError(f"model.backbone: unknown backbone {backbone!r}; use resnet18 or inception_v3")
        self.net = net
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.backbone_name == "resnet18":
            return self.net(((x + 1) / 2 - self.mean) / self.std)
        if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
            x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        out = self.net(x)
        return out.logits if hasattr(out, "logits") else out


class AttributeClassifier(Family):
    def __init__(self, cfg: RunConfig):
        super().__init__(cfg)
        from i2icli import weights

        mc: ClassifierConfig = cfg.model_cfg
        self.attributes = attribute_names(cfg)
        state = weights.load_torchvision_classifier(mc.backbone) if mc.imagenet_init else None
        file = weights.MANIFEST["resnet18" if mc.backbone == "resnet18" else "inception-v3"].filename
        self.imagenet_init = state is not None
        self.init_note = (f"{mc.backbone}: ImageNet-initialised from {file}" if state is not None else
                          f"{mc.backbone}: trained from scratch ({file} not in {weights.weights_dir()}"
                          + (")" if mc.imagenet_init else "; imagenet_init = false)"))
        self.networks = nn.ModuleDict({"net": AttributeNet(mc.backbone, len(self.attributes), state, mc.stem)})
        self.phases = (Phase("classifier", ("net",)),)

    def step(self, phase: str, nets: Nets, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Logs]:
        x, y = batch["image"], batch["labels"].float()  # (B,3,H,W), (B,A)
        logits = nets["net"](x)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        with torch.no_grad():
            acc = ((logits >= 0).float() == y).float().mean()
        return loss, {"bce": loss.detach(), "accuracy": acc,
                      "imagenet_init": torch.tensor(float(self.imagenet_init), device=x.device)}

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """(B, A) attribute probabilities of (B,3,H,W) images in [-1, 1]."""
        return torch.sigmoid(self.networks["net"](x))

    def translate(self, x: Tensor, guidance: Guidance) -> dict[str, Tensor]:
        raise ConfigError("the attribute classifier does not translate images; use it with "
                          "`i2i eval ca --classifier RUN_DIR ...`")

    def sample(self, batch: dict[str, Tensor]) -> list[tuple[str, Tensor]]:
        """The images, then one constant map per attribute (up to 4) with its predicted probability."""
        x = batch["image"]
        p = self.predict(x)
        cols: list[tuple[str, Tensor]] = [("image", x)]
        for a, name in enumerate(self.attributes[:4]):
            cols.append((f"p({name})", p[:, a].view(-1, 1, 1, 1).expand(-1, 1, *x.shape[-2:])))
        return cols



register(ModelSpec(
    name="classifier", config_cls=ClassifierConfig, build=AttributeClassifier, dataset=attribute_dataset,
    default_recipe="default.toml", accepts=(), synthetic="faces",
    summary="Attribute classifier (ResNet-18 / Inception-v3) for classification accuracy (LOMIT, BridgeGAN).",
))
