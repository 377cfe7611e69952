"""EGSC-IT: exemplar-guided, semantically consistent image-to-image translation (Ma et al., ICLR 2019).

Paper: /work/shared/seeds/001_*.txt (Section 3, Eq. 1-5, App. A.2, Table 6);
implementation notes: /work/shared/specs/egscit.md.  Facts the paper leaves
open come from the authors' TensorFlow code (github charliememory/EGSC-IT,
``trainer_EGSCIT.py``, ``ops_EGSCIT.py``, ``run_train_*.sh``); no code is
taken from it.

Architecture (Section 3.1, App. A.2; widths from the authors' scripts, ngf = ndf = 64):

==================  ===========================================================
``enc_a``/``enc_b``  E_X, per domain: 7x7 conv + LReLU(0.2), ``n1 - 1`` stride-2
                    3x3 convs (+ LReLU), 3 residual blocks; no normalisation
``shared_enc``      the one residual block shared by E_A and E_B; the latent is
                    ``z = shared_enc(h) + N(0, I)`` (UNIT's VAE, Section 3.3)
``shared_gen``      the one residual block shared by G_A and G_B; content
                    ``c = shared_gen(z)``.  Weight sharing is one module used
                    for both domains: one parameter set, one gradient
``gen_a``/``gen_b``  G_X: 3 residual blocks, ``n1 - 1`` stride-2 3x3 transposed
                    convs (+ LReLU), 1x1 transposed conv + tanh
``feat_a``/``feat_b``  F_X: E_X's architecture without the shared block, the
                    encoder of stage 1's per-domain VAE-GAN, frozen in stage 2
                    (in ``networks`` so the checkpoint alone translates, in no
                    phase, so never updated)
``disc_a``/``disc_b``  D_X: :class:`~i2icli.nn.discriminators.UNITDiscriminator`,
                    4 stride-2 convs + 1x1 logit conv (n3 = 5), single scale
==================  ===========================================================

``n1`` (Table 6) counts the 7x7 stem, so ``n1 = 1`` (MNIST-Single) has no
down-sampling and ``n1 = 3`` two.  Parameter counts equal the authors'
architecture (tests/test_egscit.py).

Translation x_A -> x_AB with exemplar x_B (Fig. 2-3, Section 3.1):

- feature mask ``m_A = (1 - eta) * sigmoid(f_A) + eta`` with ``f_A = F_A(x_A)``
  (per channel and per position, the shape of c);  ``eta = mask_eta``;
- exemplar AdaIN ``c~ = AdaIN(m_A o c_A; f_B)`` with ``f_B = F_B(x_B)``
  (:func:`exemplar_adain`), applied once, before G_B's first block (authors'
  code);
- ``x_AB = G_B(c~)``.  Reconstruction ``x_AA`` uses ``f_A`` for both mask and
  style; the cycle ``x_ABA = G_A(AdaIN(m_A o c(E_B(x_AB)); f_A))`` reuses the
  original x_A's mask and style (authors' code).

AdaIN variant (``adain_stats``).  The paper (Eq. 1-2) sets ``gamma = delta(f)``,
``beta = mu(f)`` and normalises by ``delta(c)``, calling delta "the variance",
"as in Huang & Belongie" (who use the standard deviation):

- ``"std"`` (default): Eq. 1-2 with delta the standard deviation, i.e.
  Huang & Belongie's AdaIN, which the paper cites as its definition;
- ``"variance"``: Eq. 1-2 read literally (scale var(f), divide by var(c));
- ``"official"``: the authors' code: ``mean(f) * (u - mean(u)) / var(u) + var(f)``
  (mean and variance swap roles).  Which one produced Table 2 is not stated;
  presumably the released code.
All three add ``adain_eps`` (1e-5) to the variance (the code adds none).

Losses (Eq. 3-5; weights of UNIT, Liu et al. 2017, as the authors' scripts
set them): ``L_G = 10 [LS(D_A(x_BA)) + LS(D_B(x_AB))] + 100 (|x_AA - x_A| +
|x_BB - x_B|) + 100 (|x_ABA - x_A| + |x_BAB - x_B|) + 0.1 (KL(z_A) + KL(z_B)
+ KL(z_AB) + KL(z_BA)) + lambda_c L_c + lambda_s L_s``, every term an element
mean; ``KL(z) = mean(z^2)`` on the noisy latent (UNIT's code; its expected
gradient equals that of mean(h^2)).  ``L_D = 10 * 0.5 * [LSGAN_D(x_A, x_BA) +
LSGAN_D(x_B, x_AB)]``.  The perceptual loss (:func:`perceptual_losses`) uses
VGG-19 relu1_1 ... relu5_1, each L2-normalised per sample and channel over
the positions, content weights i/5 ("linear weighting"), Gram/HW style
matrices, L1 distances.

Training (App. A.2): Adam(0.5, 0.999), lr polynomially decayed with power 0.9
(``train.lr_schedule = "poly"``), the generator side updated 5 times per
discriminator update: ``Phase("discriminator", every=5)`` then the generator
phase every iteration, so ``train.iterations`` is five times the paper's
iteration count.  The authors draw a new batch for every update; here the
discriminator shares its iteration's batch with one of the five generator
updates.  No weight decay (the code defines L2 regularisers but never adds
them), no image pool.

Two stages (Section 3.3, "pre-train the feature mask network and AdaIN network
for each domain separately within a VAE-GAN architecture"):

- ``stage = "pretrain"``: per domain, ``feat_X -> vae_shared_X (+ noise) ->
  vae_content_X -> vae_gen_X`` with its own ``disc_X``: ``L_G = 10 LS(D(x^)) +
  100 |x^ - x| + 0.1 mean(z^2)``, ``L_D = 10 * 0.5 LSGAN_D(x, x^)``, one D and
  one G update per iteration (the authors' feature-mask script);
- ``stage = "main"``: ``stage1_run`` names the pretrain run; on a fresh run
  :meth:`EGSCIT.load_initial_weights` copies its ``feat_a``/``feat_b`` into
  this model (bad or missing run: one-line error before anything is written).

Test-time noise: the authors' test script feeds ``is_training=True`` and so
adds N(0, I) to the latent at test time; ``test_noise = false`` (default)
decodes the noise-free latent, ``true`` matches the code.

Ablations (Table 2), each changing nothing else: ``mask_eta = 1`` (w/o
feature mask, m = 1), ``use_adain = false`` (w/o AdaIN, c~ = m o c; the
authors' repository has no switch for it), ``lambda_style = lambda_content = 0``
(w/o L_P; no VGG is loaded).

VGG-19: torchvision's ImageNet weights and normalisation through
:class:`~i2icli.nn.vgg.VGG19Features` (the authors use Caffe's BGR
``vgg19.npy``; the per-channel L2 normalisation removes each channel's scale,
so the lambda values should transfer, but this is not verified).  ImageNet
weights are required whenever a perceptual weight is positive
(``required_weights``).  ``vgg = "random"`` substitutes a seeded random
VGG-19 only when a recipe asks for it by name; such a run prints ``not
ImageNet VGG`` when the network is built, its config.toml records
``vgg = "random"``, and its numbers must say so.  Max pooling uses
``ceil_mode`` (TensorFlow 'SAME' pooling), which keeps relu5_1 at 2x2 for 28 px
inputs; sizes divisible by 16 are unaffected.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from i2icli.config import RunConfig
from i2icli.data.datasets import unpaired_dataset
from i2icli.errors import ConfigError, DataError
from i2icli.guidance import Guidance
from i2icli.losses import l1_loss, lsgan_d_loss, lsgan_g_loss
from i2icli.losses.perceptual import (
    EGSCIT_CONTENT_WEIGHTS,
    EGSCIT_LAYERS,
    EGSCIT_STYLE_WEIGHTS,
    content_loss,
    normalize_features,
    style_loss,
)
from i2icli.models.base import Family, Logs, Nets, Phase
from i2icli.nn.adain import adain_from_features
from i2icli.nn.blocks import ResidualBlock, conv_block
from i2icli.nn.discriminators import UNITDiscriminator
from i2icli.nn.init import init_normal_
from i2icli.nn.vgg import NOT_IMAGENET, VGG19Features
from i2icli.registry import ModelSpec, register

AdaINStats = Literal["std", "variance", "official"]
VGG_LAYERS = EGSCIT_LAYERS  # relu1_1 ... relu5_1


@dataclass(frozen=True)
class EGSCITConfig:
    """The ``[model]`` table of an EGSC-IT recipe; defaults are the paper's full model (GTA5/CelebA widths).

    ``n1``: Table 6's n1 (the 7x7 stem plus ``n1 - 1`` stride-2 layers in E, F
    and G); 1 for MNIST-Single, 3 elsewhere.  ``n_res_blocks``: domain-specific
    residual blocks in E/F and in G (3; with the shared block, the paper's
    n2 = 4).  ``n_disc_layers``: stride-2 convs of D (4; with the logit conv,
    n3 = 5).
    """

    stage: Literal["pretrain", "main"] = "main"
    stage1_run: str = ""  # main: the pretrain run directory whose feat_a/feat_b become F_A/F_B
    n1: int = 3
    channels: int = 64  # ngf
    n_res_blocks: int = 3
    disc_channels: int = 64  # ndf
    n_disc_layers: int = 4
    disc_authors_quirks: bool = True  # see UNITDiscriminator
    mask_eta: float = 0.5  # eta of m = (1 - eta) sigmoid(f) + eta; 1 = w/o feature mask
    use_adain: bool = True  # False = w/o AdaIN
    adain_stats: AdaINStats = "std"
    adain_eps: float = 1e-5
    test_noise: bool = False  # add N(0, I) to the latent at test time (the authors' test script does)
    lambda_adv: float = 10.0  # lambda_0 (UNIT)
    lambda_kl: float = 0.1  # lambda_1
    lambda_recon: float = 100.0  # lambda_2 (authors' script: --L1_weight=100)
    lambda_kl_cycle: float = 0.1  # lambda_3
    lambda_cycle: float = 100.0  # lambda_4 (--L1_cycle_weight=100)
    lambda_style: float = 5e3  # lambda_s (Table 6; dataset-specific, set by the recipes)
    lambda_content: float = 1e1  # lambda_c
    vgg: Literal["imagenet", "random"] = "imagenet"
    init_std: float = 0.02  # E, G, F: N(0, 0.02) (authors: truncated normal); D: Xavier uniform

    def __post_init__(self) -> None:
        if min(self.n1, self.channels, self.disc_channels, self.n_disc_layers) < 1 or self.n_res_blocks < 0:
            raise ValueError("n1, channels, disc_channels and n_disc_layers must be >= 1 and n_res_blocks >= 0")
        if not 0.0 <= self.mask_eta <= 1.0:
            raise ValueError(f"mask_eta must lie in [0, 1] (1 = no feature mask), got {self.mask_eta}")
        for name in ("lambda_adv", "lambda_kl", "lambda_recon", "lambda_kl_cycle", "lambda_cycle", "lambda_style",
                     "lambda_content", "init_std", "adain_eps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def perceptual(self) -> bool:
        return self.stage == "main" and (self.lambda_style > 0 or self.lambda_content > 0)


# --------------------------------------------------------------------------- networks


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def _resblock(dim: int) -> ResidualBlock:
    """Authors' residual block: x + conv3x3(ReLU(conv3x3(x))), reflection padding, biases, no norm."""
    return ResidualBlock(dim, None, functools.partial(nn.ReLU, inplace=True), pad_mode="reflect",  # type: ignore[arg-type]
                         bias=True)


class UNITEncoder(nn.Module):
    """E_X and F_X: 7x7 stem, ``n1 - 1`` stride-2 3x3 convs (channels doubling), ``n_res_blocks`` residual blocks."""

    def __init__(self, n1: int, ch: int = 64, n_res_blocks: int = 3, in_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = [conv_block(in_channels, ch, 7, 1, 3, pad_mode="reflect", activation=_lrelu)]
        width = ch
        for _ in range(n1 - 1):
            layers.append(conv_block(width, 2 * width, 3, 2, 1, pad_mode="reflect", activation=_lrelu))
            width *= 2
        layers += [_resblock(width) for _ in range(n_res_blocks)]
        self.net = nn.Sequential(*layers)
        self.out_channels = width

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class UNITDecoder(nn.Module):
    """G_X: ``n_res_blocks`` residual blocks, ``n1 - 1`` stride-2 3x3 transposed convs, 1x1 transposed conv + tanh.

    Transposed convs double the size exactly (TF 'SAME': padding 1, output padding 1).
    """

    def __init__(self, n1: int, ch: int = 64, n_res_blocks: int = 3, out_channels: int = 3):
        super().__init__()
        width = ch * 2 ** (n1 - 1)
        layers: list[nn.Module] = [_resblock(width) for _ in range(n_res_blocks)]
        for _ in range(n1 - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, 2, padding=1, output_padding=1), _lrelu()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, out_channels, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@torch.no_grad()
def init_xavier_(module: nn.Module) -> nn.Module:
    """Xavier-uniform conv weights and zero biases (TF-slim's conv2d default, the authors' discriminators)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                m.bias.zero_()
    return module


# --------------------------------------------------------------------------- mask, AdaIN, losses


def feature_mask(f: Tensor, eta: float) -> Tensor:
    """Section 3.1: ``m = (1 - eta) * sigmoid(f) + eta``, elementwise; eta = 1 gives m = 1 (no mask)."""
    if eta >= 1.0:
        return torch.ones_like(f)
    return (1.0 - eta) * torch.sigmoid(f) + eta


def exemplar_adain(u: Tensor, f: Tensor, stats: AdaINStats = "std", eps: float = 1e-5) -> Tensor:
    """AdaIN of the masked content ``u`` (B,C,h,w) with the statistics of the exemplar's features ``f``.

    Per sample and channel, population moments over the positions
    (``mu``, ``var``); see the module docstring for the three variants:

    - ``"std"``: ``sqrt(var_f + eps) * (u - mu_u) / sqrt(var_u + eps) + mu_f`` (Eq. 1-2, delta = std;
      :func:`i2icli.nn.adain.adain_from_features`);
    - ``"variance"``: ``var_f * (u - mu_u) / (var_u + eps) + mu_f`` (Eq. 1-2, delta = variance);
    - ``"official"``: ``mu_f * (u - mu_u) / (var_u + eps) + var_f`` (authors' ``ops_EGSCIT`` op).
    """
    if stats == "std":
        return adain_from_features(u, f, eps)
    var_u, mu_u = torch.var_mean(u, dim=(2, 3), keepdim=True, unbiased=False)
    var_f, mu_f = torch.var_mean(f, dim=(2, 3), keepdim=True, unbiased=False)
    centred = u - mu_u
    if stats == "variance":
        return var_f * centred / (var_u + eps) + mu_f
    if stats == "official":
        return mu_f * centred / (var_u + eps) + var_f
    raise ValueError(f"unknown adain_stats {stats!r}; use std, variance or official")


def kl_noisy(z: Tensor) -> Tensor:
    """UNIT's KL term on the noisy latent ``z = h + n``: ``mean(z^2)`` (its gradient w.r.t. h is 2(h + n)/N,
    whose expectation is that of ``mean(h^2)``, the KL of N(h, I) to N(0, I) up to a constant)."""
    return z.square().mean()


def perceptual_losses(features: dict[str, Tensor], n: int,
                      content_weights: Mapping[str, float] = EGSCIT_CONTENT_WEIGHTS,
                      style_weights: Mapping[str, float] = EGSCIT_STYLE_WEIGHTS) -> tuple[Tensor, Tensor]:
    """Eq. 5 for both directions from VGG features of ``cat([x_A, x_B, x_AB, x_BA])`` (each ``n`` images).

    ``L_c = sum_i (i / L) [|phi_i(x_AB) - phi_i(x_A)| + |phi_i(x_BA) - phi_i(x_B)|]`` and
    ``L_s = sum_i [|G_i(x_AB) - G_i(x_B)| + |G_i(x_BA) - G_i(x_A)|]``, every phi_i
    L2-normalised per (sample, channel) over its positions first, Gram = phi phi^T / (h w),
    L1 distances as element means (the authors' code; shared blocks in
    :mod:`i2icli.losses.perceptual`).
    """
    phi = normalize_features(features)

    def part(k: int) -> dict[str, Tensor]:
        return {name: f[k * n:(k + 1) * n] for name, f in phi.items()}

    a, b, ab, ba = part(0), part(1), part(2), part(3)
    content = content_loss(ab, a, content_weights) + content_loss(ba, b, content_weights)
    style = style_loss(ab, b, style_weights) + style_loss(ba, a, style_weights)
    return content, style


# --------------------------------------------------------------------------- the family


DOMAINS = ("a", "b")
MAIN_GENERATOR = ("enc_a", "enc_b", "shared_enc", "shared_gen", "gen_a", "gen_b")
PRETRAIN_GENERATOR = tuple(f"{p}_{d}" for d in DOMAINS for p in ("feat", "vae_shared", "vae_content", "vae_gen"))
DISCRIMINATORS = ("disc_a", "disc_b")


class EGSCIT(Family):
    """EGSC-IT, stage ``pretrain`` (per-domain VAE-GANs) or ``main`` (translation); see the module docstring."""

    def __init__(self, cfg: RunConfig):
        super().__init__(cfg)
        m: EGSCITConfig = cfg.model_cfg
        self.mcfg = m
        size = cfg.data.image_size
        if size % (2 ** (m.n1 - 1)):
            raise ConfigError(f"data.image_size = {size}: EGSC-IT with n1 = {m.n1} needs a multiple of "
                              f"{2 ** (m.n1 - 1)} ({m.n1 - 1} stride-2 layers and as many x2 up-samplings)")
        if m.stage == "main" and not m.stage1_run:
            raise ConfigError(f"{cfg.recipe}: model.stage1_run is empty; train the feature networks first "
                              "(`i2i train egscit --recipe ... --set model.stage=pretrain`) and set "
                              "model.stage1_run to that run directory")

        def encoder() -> UNITEncoder:
            return UNITEncoder(m.n1, m.channels, m.n_res_blocks)

        def decoder() -> UNITDecoder:
            return UNITDecoder(m.n1, m.channels, m.n_res_blocks)

        width = m.channels * 2 ** (m.n1 - 1)
        nets: dict[str, nn.Module] = {}
        if m.stage == "main":
            nets.update(enc_a=encoder(), enc_b=encoder(), shared_enc=_resblock(width), shared_gen=_resblock(width),
                        gen_a=decoder(), gen_b=decoder(),
                        feat_a=encoder(), feat_b=encoder())
            phases = (Phase("discriminator", DISCRIMINATORS, every=5), Phase("generator", MAIN_GENERATOR))
        else:
            for d in DOMAINS:
                nets.update({f"feat_{d}": encoder(), f"vae_shared_{d}": _resblock(width),
                             f"vae_content_{d}": _resblock(width), f"vae_gen_{d}": decoder()})
            phases = (Phase("discriminator", DISCRIMINATORS), Phase("generator", PRETRAIN_GENERATOR))
        for d in DOMAINS:
            nets[f"disc_{d}"] = UNITDiscriminator(3, m.disc_channels, m.n_disc_layers,
                                                  authors_quirks=m.disc_authors_quirks)
        self.networks = nn.ModuleDict(nets)
        for name, module in nets.items():
            if name.startswith("disc_"):
                init_xavier_(module)
            else:
                init_normal_(module, m.init_std)
        self.phases = phases
        if m.stage == "main":  # F never trains in stage 2
            for d in DOMAINS:
                self.networks[f"feat_{d}"].requires_grad_(False)

    # -- stage hand-over ------------------------------------------------------------
    def load_initial_weights(self) -> None:
        """Stage 2 on a fresh run: copy F_A, F_B from the stage-1 run ``model.stage1_run``.

        Called by the engine before any file is written (a bad run is a one-line
        error) and again in the worker; never on resume (the checkpoint holds F)
        and never by ``translate``.
        """
        m = self.mcfg
        if m.stage != "main":
            return
        state = stage1_feature_weights(Path(m.stage1_run), m)
        for d in DOMAINS:
            self.networks[f"feat_{d}"].load_state_dict(state[f"feat_{d}"])
            self.networks[f"feat_{d}"].requires_grad_(False)

    # -- frozen VGG -----------------------------------------------------------------
    def required_weights(self) -> tuple[str, ...]:
        return ("vgg19",) if self.mcfg.perceptual and self.mcfg.vgg == "imagenet" else ()

    def frozen_networks(self) -> dict[str, nn.Module]:
        if not self.mcfg.perceptual:
            return {}
        vgg = VGG19Features(VGG_LAYERS, weights=self.mcfg.vgg)
        for layer in vgg.body:
            if isinstance(layer, nn.MaxPool2d):
                layer.ceil_mode = True  # TF 'SAME' pooling; identical for sizes divisible by 16
        if self.mcfg.vgg == "random":
            print(f"egscit: the perceptual loss uses a randomly initialised VGG-19 ({NOT_IMAGENET}); "
                  "its numbers are not the paper's setting", file=sys.stderr)
        return {"vgg": vgg}

    # -- shared pieces ----------------------------------------------------------------
    def _style(self, u: Tensor, f: Tensor) -> Tensor:
        m = self.mcfg
        return exemplar_adain(u, f, m.adain_stats, m.adain_eps) if m.use_adain else u

    @staticmethod
    def _latent(nets: Nets, h: Tensor, noise: bool) -> tuple[Tensor, Tensor]:
        """z = shared_enc(h) (+ N(0, I)), c = shared_gen(z): one shared module for both domains."""
        z = nets["shared_enc"](h)
        if noise:
            z = z + torch.randn_like(z)
        return z, nets["shared_gen"](z)

    def _features(self, nets: Nets, x_a: Tensor, x_b: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            return nets["feat_a"](x_a), nets["feat_b"](x_b)

    def _forward(self, nets: Nets, x_a: Tensor, x_b: Tensor, cycle: bool) -> dict[str, Tensor]:
        """All flows of Fig. 3 for a batch of pairs; each image is the other's exemplar.

        ``cycle=False`` (the discriminator's fakes) computes only the translations x_AB, x_BA.
        """
        m = self.mcfg
        n = x_a.shape[0]
        f_a, f_b = self._features(nets, x_a, x_b)
        mask_a, mask_b = feature_mask(f_a, m.mask_eta), feature_mask(f_b, m.mask_eta)
        h = torch.cat([nets["enc_a"](x_a), nets["enc_b"](x_b)])
        z, c = self._latent(nets, h, noise=True)
        u_a, u_b = mask_a * c[:n], mask_b * c[n:]
        if not cycle:
            return {"ba": nets["gen_a"](self._style(u_b, f_a)), "ab": nets["gen_b"](self._style(u_a, f_b))}
        # G_A decodes x_AA (A's own style) and x_BA (exemplar x_A); G_B decodes x_BB and x_AB.
        out_a = nets["gen_a"](torch.cat([self._style(u_a, f_a), self._style(u_b, f_a)]))
        out_b = nets["gen_b"](torch.cat([self._style(u_b, f_b), self._style(u_a, f_b)]))
        out = {"aa": out_a[:n], "ba": out_a[n:], "bb": out_b[:n], "ab": out_b[n:], "z_a": z[:n], "z_b": z[n:]}
        if cycle:
            h2 = torch.cat([nets["enc_b"](out["ab"]), nets["enc_a"](out["ba"])])
            z2, c2 = self._latent(nets, h2, noise=True)
            out["aba"] = nets["gen_a"](self._style(mask_a * c2[:n], f_a))  # x_A's own mask and style
            out["bab"] = nets["gen_b"](self._style(mask_b * c2[n:], f_b))
            out["z_ab"], out["z_ba"] = z2[:n], z2[n:]
        return out

    # -- training -----------------------------------------------------------------
    def step(self, phase: str, nets: Nets, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Logs]:
        x_a, x_b = batch["a"], batch["b"]
        if self.mcfg.stage == "pretrain":
            if phase == "discriminator":
                with torch.no_grad():
                    rec = self._vae(nets, x_a, x_b)
                return self.discriminator_loss(nets, x_a, x_b, rec["a"], rec["b"])
            if phase == "generator":
                return self.pretrain_generator_loss(nets, x_a, x_b)
        else:
            if phase == "discriminator":
                with torch.no_grad():
                    out = self._forward(nets, x_a, x_b, cycle=False)
                return self.discriminator_loss(nets, x_a, x_b, out["ba"], out["ab"])
            if phase == "generator":
                return self.generator_loss(nets, x_a, x_b)
        raise ValueError(f"unknown phase {phase!r}; EGSC-IT has 'discriminator' and 'generator'")

    def discriminator_loss(self, nets: Nets, x_a: Tensor, x_b: Tensor, fake_a: Tensor, fake_b: Tensor
                           ) -> tuple[Tensor, Logs]:
        """``lambda_adv * 0.5 * [LSGAN_D(D_A; x_A, fake_A) + LSGAN_D(D_B; x_B, fake_B)]`` (real and fake in one pass;
        D's instance norm is per sample, so this equals two calls)."""
        n = x_a.shape[0]
        d_a = nets["disc_a"](torch.cat([x_a, fake_a]))
        d_b = nets["disc_b"](torch.cat([x_b, fake_b]))
        adv_a, adv_b = lsgan_d_loss(d_a[:n], d_a[n:]), lsgan_d_loss(d_b[:n], d_b[n:])
        loss = self.mcfg.lambda_adv * 0.5 * (adv_a + adv_b)
        return loss, {"d_loss": loss.detach(), "d_adv_a": adv_a.detach(), "d_adv_b": adv_b.detach()}

    def generator_loss(self, nets: Nets, x_a: Tensor, x_b: Tensor) -> tuple[Tensor, Logs]:
        """Eq. 3 (UNIT's VAE, GAN and cycle terms with the authors' weights) plus Eq. 4-5."""
        m = self.mcfg
        out = self._forward(nets, x_a, x_b, cycle=True)
        adv = lsgan_g_loss(nets["disc_a"](out["ba"])) + lsgan_g_loss(nets["disc_b"](out["ab"]))
        recon = l1_loss(out["aa"], x_a) + l1_loss(out["bb"], x_b)
        cycle = l1_loss(out["aba"], x_a) + l1_loss(out["bab"], x_b)
        kl = kl_noisy(out["z_a"]) + kl_noisy(out["z_b"])
        kl_cycle = kl_noisy(out["z_ab"]) + kl_noisy(out["z_ba"])
        loss = (m.lambda_adv * adv + m.lambda_recon * recon + m.lambda_cycle * cycle + m.lambda_kl * kl
                + m.lambda_kl_cycle * kl_cycle)
        logs = {"g_adv": adv, "g_recon": recon, "g_cycle": cycle, "g_kl": kl, "g_kl_cycle": kl_cycle}
        if m.perceptual:
            n = x_a.shape[0]
            feats = nets["vgg"](torch.cat([x_a, x_b, out["ab"], out["ba"]]))
            content, style = perceptual_losses(feats, n)
            loss = loss + m.lambda_content * content + m.lambda_style * style
            logs.update(g_content=content, g_style=style)
        logs["g_loss"] = loss
        return loss, {k: v.detach() for k, v in logs.items()}

    def _vae(self, nets: Nets, x_a: Tensor, x_b: Tensor) -> dict[str, Tensor]:
        """Stage 1: each domain's VAE-GAN reconstruction ``x^ = G(res2(res1(F(x)) + n))`` and its noisy latent."""
        out: dict[str, Tensor] = {}
        for d, x in (("a", x_a), ("b", x_b)):
            z = nets[f"vae_shared_{d}"](nets[f"feat_{d}"](x))
            z = z + torch.randn_like(z)
            out[d] = nets[f"vae_gen_{d}"](nets[f"vae_content_{d}"](z))
            out[f"z_{d}"] = z
        return out

    def pretrain_generator_loss(self, nets: Nets, x_a: Tensor, x_b: Tensor) -> tuple[Tensor, Logs]:
        """Stage 1 per domain: ``lambda_adv LS(D(x^)) + lambda_recon |x^ - x| + lambda_kl mean(z^2)``, summed."""
        m = self.mcfg
        rec = self._vae(nets, x_a, x_b)
        adv = lsgan_g_loss(nets["disc_a"](rec["a"])) + lsgan_g_loss(nets["disc_b"](rec["b"]))
        recon = l1_loss(rec["a"], x_a) + l1_loss(rec["b"], x_b)
        kl = kl_noisy(rec["z_a"]) + kl_noisy(rec["z_b"])
        loss = m.lambda_adv * adv + m.lambda_recon * recon + m.lambda_kl * kl
        logs = {"g_loss": loss, "g_adv": adv, "g_recon": recon, "g_kl": kl}
        return loss, {k: v.detach() for k, v in logs.items()}

    # -- inference ----------------------------------------------------------------
    def translate(self, x: Tensor, guidance: Guidance) -> dict[str, Tensor]:
        """``x`` in the source domain, ``guidance.exemplar`` in the target domain, ``guidance.direction``.

        Returns ``output`` (B,3,H,W) and ``feature_mask`` (B,1,H,W): the
        source's feature mask averaged over channels, resized to the image
        (values in [eta, 1]).  The networks are fully convolutional and the
        AdaIN statistics global, so any size with sides divisible by
        ``2**(n1 - 1)`` works (``i2i translate`` feeds ``data.image_size``
        squares).  A pretrain-stage run reconstructs ``x`` in its
        own domain (``a2b`` reads A) and ignores the exemplar.
        """
        m = self.mcfg
        step = 2 ** (m.n1 - 1)
        if x.shape[-2] % step or x.shape[-1] % step:
            raise DataError(f"EGSC-IT with n1 = {m.n1} translates images whose sides are multiples of {step}, got "
                            f"{x.shape[-1]}x{x.shape[-2]}; resize or crop the input")
        ex = guidance.exemplar_for(x)
        src, dst = ("a", "b") if (guidance.direction or "a2b") == "a2b" else ("b", "a")
        nets = self.networks
        if m.stage == "pretrain":
            h = nets[f"vae_shared_{src}"](nets[f"feat_{src}"](x))
            if m.test_noise:
                h = h + torch.randn_like(h)
            return {"output": nets[f"vae_gen_{src}"](nets[f"vae_content_{src}"](h))}
        f_src, f_dst = nets[f"feat_{src}"](x), nets[f"feat_{dst}"](ex)
        mask = feature_mask(f_src, m.mask_eta)
        _, c = self._latent(nets, nets[f"enc_{src}"](x), noise=m.test_noise)  # type: ignore[arg-type]
        y = nets[f"gen_{dst}"](self._style(mask * c, f_dst))
        shown = nn.functional.interpolate(mask.mean(dim=1, keepdim=True), size=x.shape[-2:], mode="bilinear",
                                          align_corners=False)
        return {"output": y, "feature_mask": shown.clamp(0.0, 1.0)}

    def sample(self, batch: dict[str, Tensor]) -> list[tuple[str, Tensor]]:
        """Input | exemplar | feature mask | translation for A->B then B->A (pair i: a_i with b_i)."""
        a, b = batch["a"], batch["b"]
        if self.mcfg.stage == "pretrain":
            ra = self.translate(a, Guidance(direction="a2b", exemplar=a))["output"]
            rb = self.translate(b, Guidance(direction="b2a", exemplar=b))["output"]
            return [("A", a), ("A rec", ra), ("B", b), ("B rec", rb)]
        ab = self.translate(a, Guidance(direction="a2b", exemplar=b))
        ba = self.translate(b, Guidance(direction="b2a", exemplar=a))
        return [("A", a), ("ex B", b), ("mask A", ab["feature_mask"]), ("A2B", ab["output"]),
                ("B", b), ("ex A", a), ("mask B", ba["feature_mask"]), ("B2A", ba["output"])]


# --------------------------------------------------------------------------- stage-1 run


def stage1_feature_weights(run: Path, m: EGSCITConfig) -> dict[str, dict[str, Tensor]]:
    """``feat_a``/``feat_b`` state dicts from the latest checkpoint of stage-1 run ``run``, checked.

    One-line :class:`DataError`/:class:`ConfigError` naming ``model.stage1_run``
    and the fix when the folder is missing, is not an EGSC-IT pretrain run,
    has no checkpoint or was built with other widths.
    """
    from i2icli.engine import checkpoint as ckpt
    from i2icli.runs import saved_config

    where = f"model.stage1_run = {str(run)!r}"
    if not run.is_dir():
        raise DataError(f"{where}: no such run directory; train stage 1 first (`i2i train egscit --recipe "
                        "RECIPE --set model.stage=pretrain`) and point model.stage1_run at its run folder")
    if not (run / "config.toml").is_file():
        raise DataError(f"{where}: not a run directory (no config.toml); pass the folder `i2i train` wrote "
                        "for the stage-1 (pretrain) run")
    cfg1 = saved_config(run)
    m1 = cfg1.model_cfg
    if cfg1.model != "egscit" or m1.stage != "pretrain":
        stage = getattr(m1, "stage", "-")
        raise ConfigError(f"{where}: that run trained model {cfg1.model!r} (stage {stage!r}), not an EGSC-IT "
                          "pretrain run; point model.stage1_run at a run trained with model.stage = \"pretrain\"")
    for key in ("n1", "channels", "n_res_blocks"):
        if getattr(m1, key) != getattr(m, key):
            raise ConfigError(f"{where}: its model.{key} = {getattr(m1, key)} differs from this recipe's "
                              f"{getattr(m, key)}; train stage 1 with the same n1, channels and n_res_blocks")
    latest = ckpt.latest_checkpoint(run)
    if latest is None:
        raise DataError(f"{where}: the run has no checkpoint yet; let stage 1 train (and checkpoint) first")
    tensors = ckpt.read_weights(latest)
    out: dict[str, dict[str, Tensor]] = {}
    for d in DOMAINS:
        prefix = f"feat_{d}."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not state:
            raise DataError(f"{latest}: no feat_{d} weights in this checkpoint; is {run} an EGSC-IT pretrain run?")
        out[f"feat_{d}"] = state
    return out



register(ModelSpec(
    name="egscit",
    config_cls=EGSCITConfig,
    build=EGSCIT,
    dataset=unpaired_dataset,
    default_recipe="mnist_single.toml",
    synthetic="digits",
    summary="EGSC-IT (ICLR 2019): exemplar-guided A<->B translation with feature masks and exemplar AdaIN",
    accepts=("direction", "exemplar"),
    requires=("exemplar",),
    defaults={"direction": "a2b"},
))
