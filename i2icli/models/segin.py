"""SEGIN: semantic-match guided exemplar-based image translation (Huang, Liao, Kwong; seeds/003).

The network N takes the input x (a sketch, a grey image) and the warped exemplar W(x, r) of Eq. 2 - the
exemplar's pixels re-arranged by the semantic match of Eq. 1 (:mod:`i2icli.match`) - and returns the image
y_hat and a segmentation map N_s (multi-task, Section III-B2).  Matching stays outside N on purpose: during
training r is the ground truth y itself, so an end-to-end N would just copy; the match is therefore
perturbed (Section III-B1, :mod:`i2icli.match.perturb`) and read from a warp cache (``i2i prepare match``).

Architecture (Section IV "General settings"; ``shared/specs/segin.md`` Section 2 for the choices):

- ``generator.encoder``: six conv + BN + ReLU blocks E1..E6 - c3s1-ch, then ``n_down`` c4s2 convs
  (ch doubled each time, capped at ``max_channels``), then c3s1 - a 16 x 16 bottleneck at 256 px.
- ``generator.bottleneck``: embedded-Gaussian non-local block (:class:`~i2icli.nn.nonlocal_block.NonLocalBlock`,
  Wang et al., SEGIN Eq. 3-4), a residual block of two 3x3 convs, NL, residual block, NL.
- ``generator.image_decoder``: U-Net (Ronneberger et al.): per level, concat the encoder's skip at that
  resolution, nearest x2 upsample, c3s1 + BN + ReLU (upsample + conv against checkerboard artefacts, as the
  paper says); at full size concat E1, c3s1 to 3 channels, tanh.
- ``generator.seg_decoder``: the same path without skips, c3s1 to 1 channel, sigmoid.
- ``discriminator``: conditional PatchGAN on concat(x, image) with spectral norm on every conv (Miyato et
  al.; the paper: "spectral normalization layers are adopted in the discriminator"), LeakyReLU 0.2, no norm.

N's input: Eq. 5-7 and 10 write N(x, W(x, y)); Fig. 2 also draws r going in, but in training r = y, which
would hand N the answer, so N gets concat(x, W) (6 channels).  ``warp_input = false`` is the "no warp input"
ablation (pix2pix-like: N sees x only).

Losses (Eq. 5-11), weights from Section IV: L = w1 L_recon + w2 L_F + w3 L_GAN + w4 L_seg + w5 L_segAtt +
w6 L_tv with w1 = 100, w2 = 5e-6, w3 = 1, w4 = 100, w5 = 10, w6 = 10.  The paper prints "w1 = w4 = 100.0,
w2 = 5e-6, w4 = 1.0, w5 = w6 = 10.0": w4 twice and no w3; the second "w4" is read as w3 = 1 (the adversarial
weight, pix2pix's 1 : 100 ratio to L1), the only reading that gives every term a weight.  Reductions:
L_recon, L_seg, L_segAtt mean L1; L_F the per-sample *sum* over relu3_2 (otherwise w2 = 5e-6 makes it inert);
L_tv a mean; L_GAN non-saturating BCE.  L_segAtt multiplies images in [-1, 1] by the maps.
Table II's ablations: ``lambda_gan = 0`` (no discriminator phase), ``lambda_recon = 0``, ``lambda_feat = 0``,
``lambda_tv = 0``, ``use_nonlocal = false`` (residual blocks only), ``multitask = false`` (no N_s, no
L_seg/L_segAtt).

Training (Section IV): Adam (0.5, 0.999) [the paper names no optimiser], lr 2e-4 for N and 1.3e-5 for D
(two phases with their own ``Phase.lr``), batch 5, 256 px.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from i2icli.config import RunConfig
from i2icli.data.keyed import KeyedDataset, image_bytes
from i2icli.data.store import Store, open_store
from i2icli.data.transforms import resize
from i2icli.errors import ConfigError, DataError
from i2icli.guidance import Guidance
from i2icli.losses.adversarial import bce_d_loss, bce_g_loss
from i2icli.losses.reconstruction import feature_l1_per_sample
from i2icli.losses.regularizers import total_variation
from i2icli.match.features import FeatureSpec, Matcher
from i2icli.match.perturb import PerturbConfig, perturb_field, perturb_warp
from i2icli.match.reconstruct import reconstruct
from i2icli.models.base import Family, Logs, Nets, Phase
from i2icli.nn.blocks import ResidualBlock, conv_block
from i2icli.nn.init import init_normal_
from i2icli.nn.nonlocal_block import NonLocalBlock
from i2icli.nn.vgg import VGG19Features
from i2icli.registry import ModelSpec, register


@dataclass(frozen=True)
class SEGINConfig:
    """``[model]`` table of a SEGIN recipe; defaults are the paper's settings (Section IV)."""

    channels: int = 64
    max_channels: int = 512
    n_down: int = 4  # E2..E5 stride-2 convs: 16 x 16 bottleneck at 256 px
    use_nonlocal: bool = True  # Table II "w/o NL": residual blocks only
    multitask: bool = True  # Table II "w/o MT": no segmentation decoder, no L_seg / L_segAtt
    warp_input: bool = True  # false: the "no warp input" (pix2pix-like) ablation
    disc_channels: int = 64
    lambda_recon: float = 100.0  # w1
    lambda_feat: float = 5e-6  # w2
    lambda_gan: float = 1.0  # w3 (printed as a second "w4")
    lambda_seg: float = 100.0  # w4
    lambda_seg_att: float = 10.0  # w5
    lambda_tv: float = 10.0  # w6
    lr_g: float = 2e-4
    lr_d: float = 1.3e-5
    feature_layer: str = "relu3_2"  # L_F (Eq. 6)
    vgg: Literal["imagenet", "random"] = "imagenet"  # L_F network; "random" only by name ("not ImageNet VGG")
    # semantic match (Eq. 1); these settings are the cache key's (i2icli.match.cache)
    warp_cache: str = ""  # "" = match on the fly (slow on CPU); else an `i2i prepare match --pairs self` file
    oracle_warps: bool = False  # training warps from the true (identity) self-pair correspondence: benchmarks only
    match_features: Literal["imagenet", "random"] = "imagenet"
    match_seed: int = 0
    match_layer: str = "relu3_2"
    match_patch: int = 3
    match_precision: str = "fp32"
    input_field: Literal["auto", "sources", "gray", "xdog", "images"] = "auto"
    warp_mode: Literal["vote", "block"] = "vote"
    augment: bool = True  # Section III-B1 perturbations of the training warps
    seg_mask: str = "foreground"  # store mask channel of y_seg; "any": union of all channels

    def __post_init__(self) -> None:
        for name in ("channels", "max_channels", "disc_channels", "n_down", "match_patch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lambda_recon", "lambda_feat", "lambda_gan", "lambda_seg", "lambda_seg_att", "lambda_tv"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.match_patch % 2 == 0:
            raise ValueError(f"match_patch must be odd, got {self.match_patch}")

    @property
    def feature_spec(self) -> FeatureSpec:
        return FeatureSpec(self.match_features, self.match_layer, self.match_seed)


def _widths(ch: int, cap: int, downs: int) -> list[int]:
    """Channels of E1..E(downs+2): ch, 2ch, 4ch, ... capped, and E_last = E_(downs+1)."""
    w = [min(cap, ch * 2 ** i) for i in range(downs + 1)]
    return w + [w[-1]]


class SEGINGenerator(nn.Module):
    """Encoder -> NL/Res bottleneck -> U-Net image decoder (+ segmentation decoder).  See the module docstring."""

    def __init__(self, in_channels: int, ch: int = 64, max_channels: int = 512, n_down: int = 4,
                 use_nonlocal: bool = True, multitask: bool = True):
        super().__init__()
        widths = _widths(ch, max_channels, n_down)
        bn, relu = nn.BatchNorm2d, nn.ReLU
        enc = [conv_block(in_channels, widths[0], 3, 1, 1, norm_layer=bn, activation=relu)]
        for i in range(n_down):
            enc.append(conv_block(widths[i], widths[i + 1], 4, 2, 1, norm_layer=bn, activation=relu))
        enc.append(conv_block(widths[-2], widths[-1], 3, 1, 1, norm_layer=bn, activation=relu))
        self.encoder = nn.ModuleList(enc)
        c = widths[-1]
        def res() -> nn.Module:
            return ResidualBlock(c, bn, relu, pad_mode="zeros")

        def nl() -> nn.Module:  # "w/o NL" (Table II): a residual block in its place
            return NonLocalBlock(c, norm_layer=bn) if use_nonlocal else res()

        self.bottleneck = nn.Sequential(nl(), res(), nl(), res(), nl())
        # image decoder: level k (from the bottom) concatenates the skip at its resolution, then upsamples
        up, cur = [], c
        for i in range(n_down, 0, -1):
            skip = widths[i]  # E_(i+1) lives at H / 2^i; the last encoder block shares the bottom level
            up.append(conv_block(cur + skip, widths[i - 1], 3, 1, 1, norm_layer=bn, activation=relu, upsample=2))
            cur = widths[i - 1]
        self.up = nn.ModuleList(up)
        self.to_image = conv_block(cur + widths[0], 3, 3, 1, 1, activation=nn.Tanh)
        self.seg = None
        if multitask:
            seg, cur = [], c
            for i in range(n_down, 0, -1):
                seg.append(conv_block(cur, widths[i - 1], 3, 1, 1, norm_layer=bn, activation=relu, upsample=2))
                cur = widths[i - 1]
            self.seg = nn.Sequential(*seg, conv_block(cur, 1, 3, 1, 1, activation=nn.Sigmoid))

    def forward(self, inp: Tensor) -> tuple[Tensor, Tensor | None]:
        feats = []
        h = inp
        for block in self.encoder:
            h = block(h)
            feats.append(h)
        h = self.bottleneck(h)
        bottom = h
        # skips: E_downs+1 (bottom level, same size as the bottleneck), ..., E2; E1 at full size
        for k, block in enumerate(self.up):
            h = block(torch.cat([h, feats[len(self.up) - k]], 1))
        image = self.to_image(torch.cat([h, feats[0]], 1))
        return image, (self.seg(bottom) if self.seg is not None else None)


class SEGINDiscriminator(nn.Module):
    """Conditional 70 x 70 PatchGAN on concat(x, image): c4s2-64, c4s2-128, c4s2-256, c4s1-512, c4s1-1; SN on
    every conv, LeakyReLU 0.2, no norm (spec Section 2; the paper: one D with spectral normalisation)."""

    def __init__(self, in_channels: int = 6, ch: int = 64):
        super().__init__()
        def act() -> nn.Module:
            return nn.LeakyReLU(0.2)

        self.body = nn.Sequential(
            conv_block(in_channels, ch, 4, 2, 1, spectral_norm=True, activation=act),
            conv_block(ch, ch * 2, 4, 2, 1, spectral_norm=True, activation=act),
            conv_block(ch * 2, ch * 4, 4, 2, 1, spectral_norm=True, activation=act),
            conv_block(ch * 4, ch * 8, 4, 1, 1, spectral_norm=True, activation=act),
            conv_block(ch * 8, 1, 4, 1, 1, spectral_norm=True),
        )

    def forward(self, x: Tensor, img: Tensor) -> Tensor:
        return self.body(torch.cat([x, img], 1))


class SEGIN(Family):
    """The SEGIN family (see the module docstring)."""

    def __init__(self, cfg: RunConfig):
        super().__init__(cfg)
        m: SEGINConfig = cfg.model_cfg
        self.m = m
        size = cfg.data.image_size
        if size % (2 ** m.n_down):
            raise ConfigError(f"{cfg.recipe}: [data] image_size = {size} must be divisible by 2**n_down = "
                              f"{2 ** m.n_down}")
        gen = SEGINGenerator(6 if m.warp_input else 3, m.channels, m.max_channels, m.n_down,
                             m.use_nonlocal, m.multitask)
        init_normal_(gen, std=0.02)
        for mod in gen.modules():  # keep the non-local blocks' zero-initialised output norm (identity at start)
            if isinstance(mod, NonLocalBlock):
                mod._zero_init()
        nets: dict[str, nn.Module] = {"generator": gen}
        phases = []
        if m.lambda_gan > 0:
            disc = SEGINDiscriminator(6, m.disc_channels)
            init_normal_(disc, std=0.02)
            nets["discriminator"] = disc
            phases.append(Phase("discriminator", ("discriminator",), lr=m.lr_d))
        phases.append(Phase("generator", ("generator",), lr=m.lr_g))
        self.networks = nn.ModuleDict(nets)
        self.phases = tuple(phases)
        self._matcher: Matcher | None = None

    # -- frozen VGG for L_F --------------------------------------------------------------
    def required_weights(self) -> tuple[str, ...]:
        """ImageNet VGG-19 for L_F, and for the matcher when training matches on the fly (no warp cache)."""
        m = self.m
        feat = m.lambda_feat > 0 and m.vgg == "imagenet"
        match = m.warp_input and not m.warp_cache and not m.oracle_warps and m.match_features == "imagenet"
        return ("vgg19",) if feat or match else ()

    def frozen_networks(self) -> dict[str, nn.Module]:
        if self.m.lambda_feat <= 0:
            return {}
        return {"vgg": VGG19Features((self.m.feature_layer,), weights=self.m.vgg)}

    # -- training ------------------------------------------------------------------------
    def _net_input(self, x: Tensor, warp: Tensor) -> Tensor:
        return torch.cat([x, warp], 1) if self.m.warp_input else x

    def step(self, phase: str, nets: Nets, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Logs]:
        x, y, warp = batch["x"], batch["y"], batch["warp"]
        if phase == "discriminator":
            with torch.no_grad():
                fake, _ = nets["generator"](self._net_input(x, warp))
            disc = nets["discriminator"]
            loss = bce_d_loss(disc(x, y), disc(x, fake))
            return loss, {"d_loss": loss.detach()}
        if phase != "generator":
            raise ValueError(f"SEGIN has no phase {phase!r}")
        m = self.m
        fake, seg = nets["generator"](self._net_input(x, warp))
        zero = fake.new_zeros(())
        recon = (fake - y).abs().mean()  # Eq. 5
        feat = zero
        if m.lambda_feat > 0:
            vgg = nets["vgg"]
            with torch.no_grad():
                target = vgg(y)[m.feature_layer]
            feat = feature_l1_per_sample(vgg(fake)[m.feature_layer], target)  # Eq. 6
        gan = bce_g_loss(nets["discriminator"](x, fake)) if m.lambda_gan > 0 else zero  # Eq. 7
        tv = total_variation(fake)  # Eq. 8
        seg_l = seg_att = zero
        if seg is not None:
            y_seg = batch["seg"].to(fake.dtype) / 255.0
            seg_l = (seg - y_seg).abs().mean()  # Eq. 9
            seg_att = (seg * fake - y_seg * y).abs().mean()  # Eq. 10
        loss = (m.lambda_recon * recon + m.lambda_feat * feat + m.lambda_gan * gan + m.lambda_seg * seg_l
                + m.lambda_seg_att * seg_att + m.lambda_tv * tv)  # Eq. 11
        logs = {"g_recon": recon.detach(), "g_feat": feat.detach(), "g_gan": gan.detach(), "g_tv": tv.detach(),
                "g_seg": seg_l.detach(), "g_seg_att": seg_att.detach(), "g_loss": loss.detach()}
        return loss, logs

    # -- inference -----------------------------------------------------------------------
    def matcher(self, device: torch.device | str) -> Matcher:
        """The recipe's matcher (Eq. 1) for ``translate`` (the ImageNet VGG-19 file unless the recipe says random)."""
        dev = torch.device(device)
        if self._matcher is None or self._matcher.device != dev:
            m = self.m
            self._matcher = Matcher(m.feature_spec, m.match_patch, m.match_precision, dev)
        return self._matcher

    def warp(self, x: Tensor, exemplar: Tensor) -> Tensor:
        """W(x, r) for a batch in [-1, 1]: match (Eq. 1) on the fly, reconstruct (Eq. 2) with the recipe's mode."""
        if x.shape[-2:] != exemplar.shape[-2:]:
            raise DataError(f"the exemplar is {exemplar.shape[-1]}x{exemplar.shape[-2]} but the input is "
                            f"{x.shape[-1]}x{x.shape[-2]}; resize it to the input's size")
        matcher = self.matcher(x.device)
        res = matcher.match_images(x, exemplar)
        grid = tuple(res.index.shape[-2:])
        delta = x.shape[-1] // grid[1]
        if grid[0] * delta != x.shape[-2] or grid[1] * delta != x.shape[-1]:
            raise DataError(f"image size {x.shape[-1]}x{x.shape[-2]} is not a multiple of the match layer's stride "
                            f"{delta}; use a size divisible by it")
        r_u8 = ((exemplar.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        out = []
        for b in range(x.shape[0]):
            r = r_u8[b].permute(1, 2, 0).cpu().numpy()
            w = reconstruct(r, res.index[b].cpu().numpy(), delta, self.m.warp_mode, self.m.match_patch)
            out.append(torch.from_numpy(w).permute(2, 0, 1))
        return torch.stack(out).to(x.device, torch.float32).div(127.5).sub(1)

    def translate(self, x: Tensor, guidance: Guidance) -> dict[str, Tensor]:
        """``guidance.exemplar`` r -> ``output`` N(x, W(x, r)), ``warp`` (the aux image), ``segmentation``."""
        exemplar = guidance.exemplar_for(x)
        warp = self.warp(x, exemplar) if self.m.warp_input else exemplar
        fake, seg = self.networks["generator"](self._net_input(x, warp))
        out = {"output": fake}
        if self.m.warp_input:
            out["warp"] = warp
        if seg is not None:
            out["segmentation"] = seg
        return out

    def sample(self, batch: dict[str, Tensor]) -> list[tuple[str, Tensor]]:
        fake, seg = self.networks["generator"](self._net_input(batch["x"], batch["warp"]))
        cols = [("input", batch["x"]), ("warp (training, perturbed)", batch["warp"]), ("output", fake),
                ("target", batch["y"])]
        if seg is not None:
            cols.append(("segmentation", seg))
        return cols


# --------------------------------------------------------------------------- data


def _gray3(img: np.ndarray) -> np.ndarray:
    from i2icli.prepare.match import _gray3 as gray3

    return gray3(img)


def resolve_input_field(store: Store, field: str) -> str:
    if field == "auto":
        return "sources" if store.paired else "xdog"
    if field == "sources" and not store.paired:
        raise DataError(f"{store.path}: not a paired store (no sources); set [model] input_field = \"xdog\" or "
                        "\"gray\", or prepare it with `i2i prepare sketch`")
    return field


class SEGINDataset(KeyedDataset):
    """Training/evaluation items ``{"x", "y", "warp", "seg"}`` (images uint8 (3, S, S), ``seg`` uint8 (1, S, S)).

    Train: x = input of image ``index`` (its sketch, grey version or XDoG drawing), y = the image, W = the
    match of x to y read from the warp cache (or matched on the fly), perturbed (Section III-B1) with the
    item's keyed RNG and reconstructed (Eq. 2); then one flip draw for x, y, W and the mask together.
    Test: the exemplar is another test image drawn from the keyed RNG, no perturbation, no flip.
    """

    image_keys = ("x", "y", "warp")

    def __init__(self, cfg: RunConfig, split: str, store: Store, cache: Any | None):
        m: SEGINConfig = cfg.model_cfg
        self.cfg, self.m, self.split, self.store, self.cache = cfg, m, split, store, cache
        self.seed = cfg.train.seed
        self.size = cfg.data.image_size
        self.flip = cfg.data.flip and split == "train"
        self.input_field = resolve_input_field(store, m.input_field)
        self._n = store.count(split)
        self._matcher: Matcher | None = None
        self.perturb = PerturbConfig(enabled=m.augment and split == "train")
        self.mask_channels: list[int] = []
        if m.multitask and (m.lambda_seg > 0 or m.lambda_seg_att > 0):
            if not store.mask_names:
                raise DataError(f"{store.path}: has no masks for SEGIN's segmentation target; prepare it with "
                                "`i2i prepare sketch --fg-mask white` or set [model] multitask = false")
            if m.seg_mask == "any":
                self.mask_channels = list(range(len(store.mask_names)))
            elif m.seg_mask in store.mask_names:
                self.mask_channels = [store.mask_names.index(m.seg_mask)]
            else:
                raise DataError(f"{store.path}: no mask {m.seg_mask!r} (has {', '.join(store.mask_names)}); set "
                                "[model] seg_mask to one of them or \"any\"")

    def __len__(self) -> int:
        return self._n

    def _input(self, index: int) -> np.ndarray:
        if self.input_field == "sources":
            return self.store.source(self.split, index)
        img = self.store.image(self.split, index)
        if self.input_field == "gray":
            return _gray3(img)
        if self.input_field == "xdog":
            from i2icli.prepare.sketch import xdog

            return xdog(img)
        return img

    def _mask(self, index: int) -> np.ndarray:
        if not self.mask_channels:
            return np.zeros((self.size, self.size), np.uint8)
        masks = self.store.masks(self.split, index)[self.mask_channels]
        return resize(masks.max(axis=0), self.size)

    def _field(self, index: int, x: np.ndarray, r: np.ndarray, exemplar: int) -> tuple[np.ndarray, np.ndarray | None]:
        if self.m.oracle_warps and self.split == "train":
            # the exemplar is the input's own target: the perfect match is the identity field
            from i2icli.match.reconstruct import identity_field

            stride = self.size // self._grid()[0]
            return identity_field(self.size // stride, self.size // stride), None
        if self.cache is not None and self.split == "train":
            row = self.cache.row_of_input(index)
            if int(self.cache.exemplar[row]) != exemplar:
                raise DataError(f"{self.cache.path}: row {row} pairs input {index} with exemplar "
                                f"{int(self.cache.exemplar[row])}, not its own target; training needs --pairs self")
            return self.cache.field(row), self.cache.topk_field(row)
        if self._matcher is None:
            m = self.m
            self._matcher = Matcher(m.feature_spec, m.match_patch, m.match_precision, "cpu")
        res = self._matcher.match_images(x[None], r[None])
        return res.index[0].numpy(), None

    def _grid(self) -> tuple[int, int]:
        from i2icli.nn.vgg import LAYERS

        pools = sum(1 for n in LAYERS[: LAYERS.index(self.m.match_layer) + 1] if n.startswith("pool"))
        return self.size >> pools, self.size >> pools

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Tensor]:
        if self.split == "train":
            exemplar = index
        else:
            exemplar = int(rng.integers(self._n - 1)) if self._n > 1 else 0
            exemplar += exemplar >= index and self._n > 1
        x = resize(self._input(index), self.size)
        y = resize(self.store.image(self.split, index), self.size)
        r = y if exemplar == index else resize(self.store.image(self.split, exemplar), self.size)
        field, topk = self._field(index, x, r, exemplar)
        delta = self.size // field.shape[1]
        grid = (r.shape[0] // delta, r.shape[1] // delta)
        field = perturb_field(field, grid, rng, self.perturb, topk)
        warp = perturb_warp(reconstruct(r, field, delta, self.m.warp_mode, self.m.match_patch), rng, self.perturb)
        mask = self._mask(index)
        if self.flip and rng.random() < 0.5:  # one draw for all four, after reconstruction: exact
            x, y, warp, mask = x[:, ::-1], y[:, ::-1], warp[:, ::-1], mask[:, ::-1]
        return {"x": image_bytes(x), "y": image_bytes(y), "warp": image_bytes(warp),
                "seg": torch.from_numpy(np.ascontiguousarray(mask)[None].copy())}


def expected_cache_key(cfg: RunConfig, store: Store, split: str = "train") -> dict[str, Any]:
    from i2icli.prepare.match import expected_key, select_pairs

    m: SEGINConfig = cfg.model_cfg
    inp, ex = select_pairs(store, split, "self")
    field = resolve_input_field(store, m.input_field)
    if field == "xdog":
        raise ConfigError(f"{cfg.recipe}: a warp cache needs the input as stored (input_field sources, gray or "
                          "images); xdog inputs are matched on the fly (warp_cache = \"\")")
    return expected_key(store, split, "self", inp, ex, m.feature_spec, m.match_patch, m.match_precision, field)


def segin_dataset(cfg: RunConfig, split: str) -> SEGINDataset:
    """The registered dataset: a store (``data.path``) and, for training, its warp cache (``model.warp_cache``)."""
    from i2icli.match.cache import WarpCache
    from i2icli.prepare.match import rebuild_command

    if not cfg.data.path:
        raise DataError("data.path is empty; set it in the recipe or pass --data FILE.h5 "
                        "(SEGIN: `i2i prepare sketch ... --fg-mask white`)")
    store = open_store(cfg.data.path)
    if split not in store.splits or store.count(split) == 0:
        raise DataError(f"{cfg.data.path}: has no {split} images")
    m: SEGINConfig = cfg.model_cfg
    cache = None
    if m.warp_cache and split == "train":
        if tuple(store.image_size) != (cfg.data.image_size, cfg.data.image_size):
            raise DataError(f"{cfg.data.path}: images are {store.image_size[0]}x{store.image_size[1]} but "
                            f"[data] image_size = {cfg.data.image_size}; a warp cache is made at the store's size")
        field = resolve_input_field(store, m.input_field)
        rebuild = rebuild_command(cfg.data.path, "train", "self", m.match_layer, m.match_patch, m.match_precision,
                                  m.match_features, m.warp_cache, m.match_seed,
                                  extra=f"--input-field {field}" if field != "sources" else "")
        cache = WarpCache(Path(m.warp_cache), expected=expected_cache_key(cfg, store), rebuild=rebuild)
    return SEGINDataset(cfg, split, store, cache)


register(ModelSpec(
    name="segin",
    config_cls=SEGINConfig,
    build=SEGIN,
    dataset=segin_dataset,
    default_recipe="edges2shoes.toml",
    summary="SEGIN: exemplar-guided translation from a semantic-match warp (Eq. 1-2), U-Net + non-local, multi-task",
    accepts=("exemplar",),
    requires=("exemplar",),
    synthetic="faces",
))
