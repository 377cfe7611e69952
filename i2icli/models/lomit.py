"""LOMIT: local exemplar-guided translation with co-segmentation masks and highway AdaIN.

Paper: "Local Image-to-Image Translation via Pixelwise Highway Adaptive
Instance Normalization" (ICLR 2019 submission; /work/shared/seeds/000_*.txt).
Authors' code: github.com/WonwoongCho/Highway-Adaptive-Instance-Normalization
(the paper's link; read from its anonymous ICLR mirror
AnonymousIclrAuthor/Highway-Adaptive-Instance-Normalization) -- consulted for
facts the paper leaves open, listed below; no code is taken from it.

Model (Sections 2-3, 5.1), all networks in one ``ModuleDict``:

- ``content_encoder`` Ec: :class:`~i2icli.nn.encoders.ContentEncoder` (IN, two
  strided convs, four residual blocks) -> c (B, 4*ch, H/4, W/4).
- ``cosegmentation``: :class:`~i2icli.nn.cosegmentation.CoSegmentation` --
  ``m1 = A(MLP(GAP(c2)) * c1)`` and ``m2 = A(MLP(GAP(c1)) * c2)`` (Fig. 3),
  masks at code resolution.
- ``style_encoder`` Esf/Esb: :class:`~i2icli.nn.encoders.SharedStyleEncoders`
  with heads ``foreground``/``background`` sharing their first layers, no IN,
  8-dim codes; ``s_f = Esf(m * x)``, ``s_b = Esb((1 - m) * x)`` (Eq. 1-2) with
  the mask bilinearly upsampled to image size.
- ``decoder`` G with h: :class:`LOMITDecoder` -- HAdaIN (Eq. 4, separate
  foreground/background MLPs) on the content code, then four residual blocks
  with layer norm and two (nearest x2 upsample, 5x5 conv, LN, ReLU) stages and
  a 7x7 conv + tanh.
- ``discriminator`` D: :class:`~i2icli.nn.discriminators.PatchClassifierDiscriminator`
  (six strided convs, PatchGAN source head, attribute classifier head).

Translation ``x1 -> x12 = G(h(m1, Ec(x1), Esf(x2_f), Esb(x1_b)))`` (Section 3).

Losses (Section 4, Eq. 5-16), the generator's objective ``L_G`` =
``L_adv + l_cls L_cls^f + l_sc (L_sf + L_sb + L_c) + l_x (L_cyc + L_x11 + L_x22)
+ l1 R1 + l2 R2 + l3 R3`` and the critic's ``L_D = -L_adv + l_cls L_cls^r``
with WGAN-GP (``l_gp = 10``).  Defaults are the paper's weights: l_cls = 1,
l_sc = 1, l_x = 10, l1 = 0.1, l2 = 0.01, l3 = 1e-4.  "L without superscript
denotes (1->2, 2->1)": both directions are computed in one batched pass over
``cat([x1, x2])`` and every per-direction term is the *sum* over the two
directions (``2 *`` the batch mean), as in Eq. 16 and the public code; R2 is
a single term.

Training (Section 5.2): Adam (0.5, 0.999), lr 1e-4, batch 8, the generator
side ({Ec, Esf, Esb, co-segmentation, G}) updated once per ``n_critic = 5``
discriminator updates, He initialisation for G/encoders and N(0, 0.02) for
D, horizontal flips, 200k iterations.  The paper halves the lr every 10k
iterations from 100k on (the public code: StepLR(10k, 0.5) after 100k), which
recipes/lomit/celeba.toml states as ``lr_schedule = "step"`` (decay_start
100k, lr_step_every 10k, lr_gamma 0.5).

Choices where the paper is silent (facts from the public code unless said):

- Kernel sizes: 7x7 stride-1 stem, 4x4 stride-2 downsampling, 3x3 residual
  convs, 5x5 upsampling convs, 7x7 output conv; reflection padding.
- Masks are computed at the content code's resolution (H/4) and used there by
  HAdaIN; they are upsampled bilinearly to image size to split the image into
  ``x_f``/``x_b`` for the style encoders and for display/``translate``.
- HAdaIN is applied once, to the content code at the decoder's input (Eq. 4
  names ``c1``); it is not repeated inside the decoder's residual blocks.
- Content normalisation follows Eq. 3: ``(c - mu(c)) / sigma(c)`` with the
  per-channel mean and (population) standard deviation over all positions,
  eps 1e-5 under the square root (:func:`i2icli.nn.adain.instance_normalize`).
  The public code (AnonymousIclrAuthor/Highway-Adaptive-Instance-Normalization
  ``model.py``, ``highway_AdaIN``) divides by
  ``torch.std(torch.std(c, dim=3), dim=2) + 1e-5``: the unbiased std *across
  rows of the per-row stds*, which measures how much the row spreads differ,
  not the spread of ``c``.  For i.i.d. activations it is about sigma /
  sqrt(2W), so its normalised content is larger than Eq. 3's by a factor of
  about 4 / 5.6 / 8 / 11 at content widths 8 / 16 / 32 / 64 (median over
  random maps; 32 is CelebA's 128 px at H/4), and the factor depends on the
  image size and on the spatial structure of ``c``.  The styles' sigma(s)
  then scale an input of a different magnitude than the paper's; we keep
  Eq. 3 (scale-free, independent of size), so weights trained with the public
  code do not transfer one to one.
- HAdaIN's MLPs: three linear layers, 256 hidden, ReLU; the first half of the
  output is a log-variance, ``gamma = exp(0.5 * out)`` (a positive ``sigma(s)``
  as Eq. 3 reads).  (The public code passes an activation name its linear block
  does not know, so its MLP has no nonlinearity; we use ReLU as MUNIT does.)
- Style encoders: the public code builds both heads from the *same* layer
  objects, i.e. it shares all weights; we follow the paper ("the same
  architecture but with different parameters", sharing only the first layers).
- Intra-domain reconstruction ``x1 -> x11``: the mask is recomputed with the
  image as its own partner (``A(MLP(GAP(c1)) * c1)``) and the style codes are
  those of the cross-domain pass.
- Cycle ``x1 -> x12 -> x121``: the masks of ``x12`` and ``x21`` are computed
  jointly from their content codes; ``x121 = G(h(m12, Ec(x12), Esf(x21_f), Esb(x12_b)))``.
  Style reconstruction compares ``Esf(x12_f)`` with ``Esf(x2_f)`` and
  ``Esb(x12_b)`` with ``Esb(x1_b)``; content ``Ec(x12)`` with ``Ec(x1)``.
- R1: the paper back-propagates R1 "only through m to train the
  co-segmentation networks ... which does not affect our encoder E"; the
  public code detaches only the similarity term, so R1 still reaches Ec
  through the mask.  We keep R1 off the content encoder entirely: it is taken
  on the translation masks ``m1, m2`` recomputed from detached content codes
  (one more pass of the co-segmentation network; its batch-norm running
  statistics are thus updated twice per generator step with the same batch).
  The public code also adds R1 of the cycle and intra masks; we regularise the
  masks the translation uses, with the paper's lambda_1 = 0.1 (the public
  config uses 1.0 over three masks).  R3 is the
  mean of the cross, cycle and intra masks (as the public code); R2 uses the
  two cross-pass foreground codes.
- Exemplar and target labels: the exemplar is another training image drawn
  uniformly at random (the public code pairs two shuffled batches) and the
  translation's target label vector is the exemplar's full multi-hot label
  vector (Eq. 12).  ``exemplar = "differ"`` (not in the paper) redraws until
  the exemplar differs from the input in at least one attribute.
- Classifier loss: BCE summed over attributes, mean over the batch.
- The critic step uses the generator's translations of both images under
  ``torch.no_grad()`` (the public code detaches them too).

``global_adain = true`` is the ablation "mask forced to one": HAdaIN becomes
plain AdaIN with the exemplar's style over the whole image, no co-segmentation
network is built and the mask regularisers R1-R3 (Section 4.5) are dropped;
every other loss and setting is unchanged (benchmarks/bench_lomit_quality.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from i2icli.config import RunConfig
from i2icli.data.datasets import AttributeDataset, AttributeReferenceDataset, attribute_dataset
from i2icli.data.keyed import KeyedDataset
from i2icli.errors import ConfigError
from i2icli.guidance import Guidance
from i2icli.losses.classification import attribute_accuracy, attribute_bce
from i2icli.losses.gradient_penalty import gradient_penalty
from i2icli.losses.regularizers import content_cosine_similarity, mask_area, mask_content_consistency, style_contrast
from i2icli.losses.wasserstein import wgan_critic_loss, wgan_generator_loss
from i2icli.models.base import Family, Logs, Nets, Phase
from i2icli.nn.adain import HighwayAdaIN
from i2icli.nn.blocks import ResidualBlock, conv_block
from i2icli.nn.cosegmentation import CoSegmentation, downsample_mask, upsample_mask
from i2icli.nn.discriminators import PatchClassifierDiscriminator
from i2icli.nn.encoders import ContentEncoder, SharedStyleEncoders
from i2icli.nn.init import init_kaiming_, init_normal_
from i2icli.nn.norms import layer_norm
from i2icli.registry import ModelSpec, register

GENERATOR_MODULES = ("content_encoder", "style_encoder", "cosegmentation", "decoder")
DIRECTIONS = 2.0  # Eq. 16 sums each per-direction term over (1->2, 2->1)


@dataclass(frozen=True)
class LOMITConfig:
    """``[model]`` table of a LOMIT recipe; defaults are the paper's settings (Sections 4.6, 5)."""

    RENAMED: ClassVar[dict[str, str]] = {  # old names, read from runs saved before the naming convention
        "content_res_blocks": "n_content_res_blocks", "decoder_res_blocks": "n_decoder_res_blocks",
        "mlp_hidden": "mlp_dim", "mlp_layers": "n_mlp_layers", "mask_layers": "n_mask_layers",
        "disc_layers": "n_disc_layers"}

    channels: int = 64  # width of the first conv of Ec and the style encoders
    n_content_res_blocks: int = 4
    n_decoder_res_blocks: int = 4
    style_dim: int = 8
    style_max_channels: int = 256
    mlp_dim: int = 256
    n_mlp_layers: int = 3
    n_mask_layers: int = 6
    disc_channels: int = 64
    n_disc_layers: int = 6
    disc_max_channels: int = 2048
    n_critic: int = 5  # generator updated once per n_critic discriminator updates
    lambda_cls: float = 1.0
    lambda_style: float = 1.0  # lambda_{s,c}: foreground/background style and content reconstruction
    lambda_rec: float = 10.0  # lambda_x: cycle and intra-domain reconstruction
    lambda_gp: float = 10.0
    lambda_r1: float = 0.1
    lambda_r2: float = 0.01
    lambda_r3: float = 0.0001
    global_adain: bool = False  # ablation: masks forced to one (plain AdaIN over the whole image)
    exemplar: Literal["random", "differ"] = "random"
    # Batch-norm statistics of the co-segmentation network at translate/sample time: "running" (eval mode,
    # the usual PyTorch convention) or "batch" (statistics of the input + exemplar batch, as the public code
    # does: it never switches to eval).  See docs/BENCHMARKS.md "LOMIT mask statistics" for the measurement.
    mask_stats: Literal["running", "batch"] = "running"

    def __post_init__(self) -> None:
        for name in ("channels", "style_dim", "mlp_dim", "n_mlp_layers", "disc_channels", "n_disc_layers", "n_critic"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("n_content_res_blocks", "n_decoder_res_blocks", "n_mask_layers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class LOMITDecoder(nn.Module):
    """HAdaIN on the content code, then G: residual blocks (LN) and two upsampling stages (Section 5.1)."""

    def __init__(self, in_channels: int, style_dim: int, res_blocks: int = 4, upsamplings: int = 2,
                 mlp_hidden: int = 256, mlp_layers: int = 3, out_channels: int = 3):
        super().__init__()
        self.highway = HighwayAdaIN(style_dim, in_channels, mlp_hidden, mlp_layers)
        # conv biases are kept: LN removes one mean per sample, not per channel, so they are not redundant
        mods: list[nn.Module] = [ResidualBlock(in_channels, layer_norm, nn.ReLU, pad_mode="reflect", bias=True)
                                 for _ in range(res_blocks)]
        ch = in_channels
        for _ in range(upsamplings):
            mods.append(conv_block(ch, ch // 2, 5, 1, 2, pad_mode="reflect", norm_layer=layer_norm,
                                   activation=nn.ReLU, upsample=2))
            ch //= 2
        mods.append(conv_block(ch, out_channels, 7, 1, 3, pad_mode="reflect", activation=nn.Tanh))
        self.body = nn.Sequential(*mods)

    def forward(self, content: Tensor, mask: Tensor, fg_style: Tensor, bg_style: Tensor) -> Tensor:
        return self.body(self.highway(content, mask, fg_style, bg_style))


def _swap(t: Tensor) -> Tensor:
    """``cat([a, b])`` -> ``cat([b, a])``: partners of a batched pair."""
    half = t.shape[0] // 2
    return torch.cat([t[half:], t[:half]])


class LOMIT(Family):
    """The LOMIT family (see the module docstring)."""

    def __init__(self, cfg: RunConfig):
        super().__init__(cfg)
        m: LOMITConfig = cfg.model_cfg
        self.m = m
        attrs = cfg.data.attributes
        if not attrs:
            raise ConfigError(f"{cfg.recipe}: LOMIT needs [data] attributes (the label names to translate, "
                              "e.g. attributes = [\"Black_Hair\", \"Blond_Hair\"])")
        size = cfg.data.image_size
        if size % 4 != 0:
            raise ConfigError(f"{cfg.recipe}: [data] image_size = {size} must be divisible by 4 for LOMIT")
        if size % (2 ** m.n_disc_layers) != 0:
            raise ConfigError(f"{cfg.recipe}: [data] image_size = {size} is not divisible by 2**n_disc_layers = "
                              f"{2 ** m.n_disc_layers}; lower [model] n_disc_layers or change the size")
        content = ContentEncoder(3, m.channels, 2, m.n_content_res_blocks)
        cdim = content.out_channels
        nets: dict[str, nn.Module] = {
            "content_encoder": content,
            "style_encoder": SharedStyleEncoders(("foreground", "background"), 3, m.channels, m.style_dim,
                                                 max_channels=m.style_max_channels),
            "decoder": LOMITDecoder(cdim, m.style_dim, m.n_decoder_res_blocks, 2, m.mlp_dim, m.n_mlp_layers),
        }
        if not m.global_adain:
            nets["cosegmentation"] = CoSegmentation(cdim, m.n_mask_layers)
        for net in nets.values():
            init_kaiming_(net)  # He et al. 2015 (Section 5.2)
        disc = PatchClassifierDiscriminator(size, len(attrs), 3, m.disc_channels, m.n_disc_layers, m.disc_max_channels)
        init_normal_(disc, std=0.02)  # "normal distribution" (Section 5.2; N(0, 0.02) as StarGAN)
        nets["discriminator"] = disc
        self.networks = nn.ModuleDict(nets)
        self.attributes = tuple(attrs)
        gen = tuple(name for name in GENERATOR_MODULES if name in nets)
        self.phases = (Phase("discriminator", ("discriminator",)), Phase("generator", gen, every=m.n_critic))

    # -- shared pieces --------------------------------------------------------------
    def _masks(self, nets: Nets, c: Tensor, c_other: Tensor) -> Tensor:
        """Co-segmentation masks at code resolution (B,1,h,w); ones for the global-AdaIN ablation."""
        if self.m.global_adain:
            return c.new_ones(c.shape[0], 1, *c.shape[-2:])
        return nets["cosegmentation"](c, c_other)

    @staticmethod
    def _styles(nets: Nets, x: Tensor, m: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Eq. 1-2: ``(s_f, s_b, mask at image size)`` from ``x`` and its code-resolution mask."""
        mask = upsample_mask(m, (x.shape[-2], x.shape[-1]))
        s_f, s_b = nets["style_encoder"](mask * x, (1 - mask) * x)
        return s_f, s_b, mask

    def _cross(self, nets: Nets, x: Tensor, r1_masks: bool = False) -> dict[str, Tensor]:
        """One batched cross-domain pass over ``x = cat([x1, x2])`` -> ``cat([x12, x21])`` and intermediates.

        ``r1_masks``: also return ``m_r1``, the same masks computed again from
        *detached* content codes, for R1 (whose gradient must train the
        co-segmentation network only, never the content encoder).  It is a
        separate call so that batch-norm statistics, too, come from detached
        codes only; its values equal ``m``.
        """
        c = nets["content_encoder"](x)
        c_other = _swap(c)
        m = self._masks(nets, c, c_other)
        m_r1 = None
        if r1_masks and not self.m.global_adain:
            m_r1 = nets["cosegmentation"](c.detach(), c_other.detach())
        s_f, s_b, _ = self._styles(nets, x, m)
        out = nets["decoder"](c, m, _swap(s_f), s_b)
        result = {"c": c, "m": m, "s_f": s_f, "s_b": s_b, "out": out}
        if m_r1 is not None:
            result["m_r1"] = m_r1
        return result

    # -- training -------------------------------------------------------------------
    def step(self, phase: str, nets: Nets, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Logs]:
        x = torch.cat([batch["x"], batch["y"]])  # (2B, 3, H, W): inputs and their exemplars
        labels = torch.cat([batch["x_labels"], batch["y_labels"]]).to(x.dtype)  # (2B, n_attr)
        if phase == "discriminator":
            return self._critic_step(nets, x, labels)
        if phase == "generator":
            return self._generator_step(nets, x, labels)
        raise ValueError(f"LOMIT has no phase {phase!r}")

    def _critic_step(self, nets: Nets, x: Tensor, labels: Tensor) -> tuple[Tensor, Logs]:
        m = self.m
        with torch.no_grad():
            fake = self._cross(nets, x)["out"]
        disc = nets["discriminator"]
        src_real, cls_real = disc(x)
        src_fake, _ = disc(fake)
        adv = wgan_critic_loss(src_real, src_fake)
        cls = attribute_bce(cls_real, labels)
        gp = gradient_penalty(lambda t: disc(t)[0], x, fake)
        loss = DIRECTIONS * (adv + m.lambda_cls * cls + m.lambda_gp * gp)  # Eq. 16, L_D
        logs = {"d_wasserstein": -adv.detach(), "d_cls": cls.detach(), "d_gp": gp.detach(),
                "d_cls_acc": attribute_accuracy(cls_real, labels), "d_loss": loss.detach()}
        return loss, logs

    def _generator_step(self, nets: Nets, x: Tensor, labels: Tensor) -> tuple[Tensor, Logs]:
        m = self.m
        l1 = lambda a, b: (a - b).abs().mean()  # noqa: E731
        # x1 -> x12 and x2 -> x21 (Section 3)
        cross = self._cross(nets, x, r1_masks=True)
        c, mask, s_f, s_b, fake = cross["c"], cross["m"], cross["s_f"], cross["s_b"], cross["out"]
        src_fake, cls_fake = nets["discriminator"](fake)
        adv = wgan_generator_loss(src_fake)  # Eq. 10
        cls = attribute_bce(cls_fake, _swap(labels))  # Eq. 12: the exemplar's labels
        # x12 -> x121 (Eq. 8), style/content reconstruction (Eq. 5-7)
        back = self._cross(nets, fake)
        cyc = l1(back["out"], x)
        style_f = l1(back["s_f"], _swap(s_f))
        style_b = l1(back["s_b"], s_b)
        content = l1(back["c"], c)
        # x1 -> x11 (Eq. 9)
        self_mask = self._masks(nets, c, c)
        rec = l1(nets["decoder"](c, self_mask, s_f, s_b), x)
        loss = DIRECTIONS * (adv + m.lambda_cls * cls + m.lambda_style * (style_f + style_b + content)
                             + m.lambda_rec * (cyc + rec))
        logs = {"g_adv": adv.detach(), "g_cls": cls.detach(), "g_style_f": style_f.detach(),
                "g_style_b": style_b.detach(), "g_content": content.detach(), "g_cyc": cyc.detach(),
                "g_rec": rec.detach(), "g_cls_acc": attribute_accuracy(cls_fake, _swap(labels))}
        if not m.global_adain:  # the mask regularisers (Section 4.5); constant when masks are all ones
            # R1 on the translation masks, computed from detached codes (and a detached similarity)
            r1 = mask_content_consistency(cross["m_r1"], c, content_cosine_similarity(c))
            r3 = mask_area(mask) + mask_area(back["m"]) + mask_area(self_mask)
            half = x.shape[0] // 2
            r2 = style_contrast(s_f[:half], s_f[half:])
            loss = loss + DIRECTIONS * (m.lambda_r1 * r1 + m.lambda_r3 * r3) + m.lambda_r2 * r2
            logs.update({"r1": r1.detach(), "r2": r2.detach(), "r3": r3.detach(), "mask_mean": mask.detach().mean()})
        logs["g_loss"] = loss.detach()
        return loss, logs

    # -- inference ------------------------------------------------------------------
    def translate(self, x: Tensor, guidance: Guidance) -> dict[str, Tensor]:
        """``guidance.exemplar`` (and optionally ``.region``) -> output and both masks at image size.

        ``exemplar`` (B,3,H,W) or (1,3,H,W) (broadcast); ``region`` (B or 1,1,H,W)
        in [0, 1], when given, replaces the predicted input mask (area-averaged to
        code resolution for HAdaIN, used as is for the background style).
        """
        exemplar = guidance.exemplar_for(x)
        region = guidance.region
        nets = Nets(dict(self.networks.items()))
        b = x.shape[0]
        both = torch.cat([x, exemplar])
        c = nets["content_encoder"](both)
        with self._mask_statistics():
            m = self._masks(nets, c, _swap(c))
        if region is not None:
            if region.shape[-2:] != x.shape[-2:] or region.shape[1] != 1:
                raise ValueError("LOMIT.translate: region must be (B,1,H,W) at the input's size, "
                                 f"got {tuple(region.shape)}")
            region = region.to(m.dtype).clamp(0, 1).expand(b, 1, *x.shape[-2:])
            m = torch.cat([downsample_mask(region, tuple(c.shape[-2:])), m[b:]])
        mask = upsample_mask(m, (x.shape[-2], x.shape[-1]))
        if region is not None:
            mask = torch.cat([region, mask[b:]])
        s_f, s_b = nets["style_encoder"](mask * both, (1 - mask) * both)
        out = nets["decoder"](c[:b], m[:b], s_f[b:], s_b[:b])
        return {"output": out, "mask_input": mask[:b], "mask_exemplar": mask[b:]}

    @contextlib.contextmanager
    def _mask_statistics(self) -> Iterator[None]:
        """With ``mask_stats = "batch"`` and the networks in eval mode, the co-segmentation batch norms
        normalise with the current batch's statistics and leave their running averages untouched."""
        if self.m.mask_stats != "batch" or "cosegmentation" not in self.networks:
            yield
            return
        norms = [bn for bn in self.networks["cosegmentation"].modules()
                 if isinstance(bn, nn.modules.batchnorm._BatchNorm) and not bn.training]
        saved = [(bn.running_mean, bn.running_var) for bn in norms]
        try:
            for bn in norms:  # without running buffers, eval-mode batch norm uses the batch's statistics
                bn.running_mean, bn.running_var = None, None
            yield
        finally:
            for bn, (mean, var) in zip(norms, saved, strict=True):
                bn.running_mean, bn.running_var = mean, var

    def sample(self, batch: dict[str, Tensor]) -> list[tuple[str, Tensor]]:
        r = self.translate(batch["x"], Guidance(exemplar=batch["y"]))
        return [("input", batch["x"]), ("input mask", r["mask_input"]), ("exemplar", batch["y"]),
                ("exemplar mask", r["mask_exemplar"]), ("output", r["output"])]


# --------------------------------------------------------------------------- data


class LOMITDataset(KeyedDataset):
    """Input/exemplar pairs over an attribute store (CelebA, EmotioNet, synthetic faces).

    Item ``key`` -> ``{"x", "x_labels", "y", "y_labels"}`` (``x``, ``y`` uint8
    (3, S, S), converted to [-1, 1] by the engine; :mod:`i2icli.data.keyed`):
    the item of :class:`~i2icli.data.datasets.AttributeReferenceDataset`
    under LOMIT's names -- image ``key % N``, an exemplar drawn from
    ``keyed_rng(seed, key)`` (uniformly among the other images; with
    ``exemplar = "differ"`` among those whose labels differ;
    :class:`~i2icli.data.references.LabelReferences`) and both label vectors
    (float (n_attr,) in {0, 1}).  Both images get the split's augmentation (a
    horizontal flip on train) from the same keyed generator, so an item is the
    same in any worker, on any rank and after a resume.
    """

    image_keys = ("x", "y")

    def __init__(self, base: AttributeDataset, exemplar: Literal["random", "differ"] = "random"):
        self.pairs = AttributeReferenceDataset(base, exemplar, option="model.exemplar")
        self.base = base
        self.exemplar = exemplar
        self.seed = base.seed
        self.label_names = base.label_names

    def __len__(self) -> int:
        return len(self.base)

    def exemplar_index(self, index: int, rng: np.random.Generator) -> int:
        """The exemplar of item ``index`` (the draw :meth:`item` makes first)."""
        return self.pairs.references(index, rng)

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Tensor]:
        it = self.pairs.item(index, rng)
        return {"x": it["image"], "x_labels": it["labels"], "y": it["reference"], "y_labels": it["reference_labels"]}


def lomit_dataset(cfg: RunConfig, split: str) -> LOMITDataset:
    """The registered dataset function: :class:`LOMITDataset` over ``attribute_dataset(cfg, split)``."""
    if not cfg.data.attributes:
        raise ConfigError(f"{cfg.recipe}: LOMIT needs [data] attributes (the label names to translate)")
    return LOMITDataset(attribute_dataset(cfg, split), cfg.model_cfg.exemplar)


register(ModelSpec(
    name="lomit",
    config_cls=LOMITConfig,
    build=LOMIT,
    dataset=lomit_dataset,
    default_recipe="celeba.toml",
    summary="LOMIT (ICLR'19 sub.): exemplar-guided local translation, co-segmentation masks + highway AdaIN",
    accepts=("exemplar", "region"),
    requires=("exemplar",),
    synthetic="faces",
))
