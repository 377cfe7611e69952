"""U-GAT-IT (Kim, Kim, Kang, Lee; ICLR 2020): unsupervised generative attentional
networks with adaptive layer-instance normalisation.

Two generators (A->B, B->A) and, per domain, a local (70x70) and a global
(286x286) discriminator; all carry CAM attention.  The family provides the
discriminator and generator steps of Eq. 7; the engine owns the loop.

Networks (``UGATIT.networks``, checkpointed):

==================  =============================================================
``gen_ab``          G_{A->B}: translates domain A to B; its CAM classifier eta_A
                    says "is this from A" (Eq. 5)
``gen_ba``          G_{B->A}
``disc_global_a``   global D_A (Table 6): real A vs G_{B->A}(B)
``disc_local_a``    local D_A (Table 5)
``disc_global_b``   global D_B
``disc_local_b``    local D_B
==================  =============================================================

Phases: ``discriminator`` (the four discriminators) then ``generator`` (both
generators), one update each per iteration, Adam(0.5, 0.999), lr 1e-4, weight
decay 1e-4, linear decay over the second half (App. B.2; set in the recipes).

Where the paper is silent we follow the authors' PyTorch code
(znxlwm/UGATIT-pytorch), facts only:

- layer widths, biases (none in the generator's convs and MLP, except the CAM
  fuse conv; discriminator convs have biases, their classifier none);
- which CAM logits go where: eta_s on its own domain -> 1, on the other -> 0
  (BCE, Eq. 5); the discriminators' CAM logits get the same LSGAN loss as
  their patch outputs (Eq. 6) -- real 1, fake 0;
- the identity images (G_{B->A}(a), G_{A->B}(b)) also supply the "other domain"
  CAM logits; the cycle and identity losses are L1 means;
- the light variant feeds the MLP with globally average-pooled features;
- the attention heatmap is the channel sum of the generator's CAM features,
  min-max normalised per image and resized bilinearly to the image size.

Deliberate differences from that code, each with the same maths or a fix:

- initialisation: every conv/linear weight ~ N(0, 0.02) and biases 0
  (``init_std``), as App. B.2 states ("initialized from a zero-centered normal
  distribution with a standard deviation of 0.02") and as the authors'
  TensorFlow code does (``weight_init = tf.random_normal_initializer(0, 0.02)``
  in taki0112/UGATIT ``ops.py``).  The PyTorch port never re-initialises
  (no ``init`` call in ``networks.py``/``UGATIT.py`` at znxlwm/UGATIT-pytorch
  b8c4251), so its convs and linears keep torch's default Kaiming-uniform
  (a = sqrt(5)) weights and uniform biases.  We follow the paper and the code
  that produced its numbers; results compared against the PyTorch port start
  from a different initialisation;

- the discriminator step computes the fakes under ``torch.no_grad()``.  The
  authors back-propagate the D loss through both generators and then discard
  those gradients; the discriminator gradients are identical either way
  (``tests/test_ugatit.py``) and the step is much cheaper;
- the generator step does not compute discriminator weight gradients (the
  engine freezes the modules of other phases);
- AdaLIN/LIN use population statistics as Eq. 1 and the TensorFlow code do
  (see :mod:`i2icli.nn.norms`), computed in one fused pass;
- the CAM concat + 1x1 conv is computed as one folded 1x1 conv (same maths);
- spectral norm scales each discriminator conv's output by 1/sigma instead of
  materialising W / sigma (:mod:`i2icli.nn.spectral`, same maths and state dict);
- each generator translates its own domain and the identity input in one
  batched pass, and each discriminator scores real and fake in one batched
  pass with one power iteration per logical call (``batched=True`` of
  :meth:`UGATIT.generator_loss` / :meth:`UGATIT.discriminator_loss`); every
  network works per sample, so losses and gradients equal the separate calls
  up to float rounding (``tests/test_ugatit_speed.py``, float64).

Speed on CPU against the authors' step is in docs/BENCHMARKS.md
(``benchmarks/bench_ugatit.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from i2icli.config import RunConfig
from i2icli.data.datasets import unpaired_dataset
from i2icli.errors import ConfigError, DataError
from i2icli.guidance import Guidance
from i2icli.losses import cam_bce_loss, l1_loss, lsgan_d_loss, lsgan_g_loss
from i2icli.models.base import Family, Logs, Nets, Phase
from i2icli.nn import (
    LIN,
    AdaIN,
    AdaLIN,
    AdaptiveResidualBlock,
    CAMAttention,
    DiscriminatorOutput,
    ResidualBlock,
    UGATITDiscriminator,
    clip_rho_,
    conv2d,
    conv_block,
    factories,
    init_normal_,
    instance_norm,
)
from i2icli.nn.norms import layer_norm
from i2icli.nn.spectral import stacked_calls
from i2icli.registry import ModelSpec, register

DecoderNorm = Literal["adalin", "in", "ln", "adain", "gn", "lin"]


@dataclass(frozen=True)
class UGATITConfig:
    """The ``[model]`` table of a U-GAT-IT recipe; defaults are the paper's full model.

    ``rho_init_res`` (AdaLIN in the decoder's residual blocks): the paper
    (Sec. 2.1.1) says 1.  Both official implementations start at an effective
    0.9 -- the PyTorch code initialises rho to 0.9, the TensorFlow code stores
    1.0 but uses clip(rho - 0.1) ("smoothing", on by default) -- and those runs
    produced the paper's results, so 0.9 is the default; set 1.0 for the
    paper's text.  ``rho_init_up`` (LIN in the up-sampling blocks): 0, as paper
    and code agree.

    ``n_local_disc_layers`` / ``n_global_disc_layers``: depth of the local and
    global discriminators as in the authors' code (``n_layers - 2`` stride-2
    convs); 5 and 7 give the 70 and 286 px receptive fields of Tables 5-6.
    The global one needs images of at least 96 px; small recipes use fewer.
    """

    RENAMED: ClassVar[dict[str, str]] = {  # old names, read from runs saved before the naming convention
        "ch": "channels", "n_res": "n_res_blocks", "local_disc_layers": "n_local_disc_layers",
        "global_disc_layers": "n_global_disc_layers", "adv_weight": "lambda_adv", "cycle_weight": "lambda_cycle",
        "identity_weight": "lambda_identity", "cam_weight": "lambda_cam"}

    light: bool = False  # gamma/beta MLP over pooled features (the authors' "light" model)
    channels: int = 64  # base width of generators and discriminators (Tables 4-6)
    n_res_blocks: int = 4  # residual blocks in the encoder and in the decoder
    n_local_disc_layers: int = 5
    n_global_disc_layers: int = 7
    lambda_adv: float = 1.0  # lambda_1, Eq. 7
    lambda_cycle: float = 10.0  # lambda_2
    lambda_identity: float = 10.0  # lambda_3
    lambda_cam: float = 1000.0  # lambda_4
    rho_init_res: float = 0.9
    rho_init_up: float = 0.0
    init_std: float = 0.02  # N(0, 0.02) weight init (App. B.2, TF code; the PyTorch port keeps torch's default)
    # Ablations of Table 1 / Fig. 3 (each changes nothing else): attention in both networks, none,
    # only the discriminators' ("no_g") or only the generators' ("no_d"); the decoder's normalisation.
    cam: Literal["both", "none", "no_g", "no_d"] = "both"
    norm: DecoderNorm = "adalin"

    def __post_init__(self) -> None:
        if self.channels < 1 or self.n_res_blocks < 0:
            raise ValueError(f"channels must be >= 1 and n_res_blocks >= 0 "
                             f"(got channels={self.channels}, n_res_blocks={self.n_res_blocks})")
        for name in ("n_local_disc_layers", "n_global_disc_layers"):
            if getattr(self, name) < 3:
                raise ValueError(f"{name} must be >= 3, got {getattr(self, name)}")
        for name in ("rho_init_res", "rho_init_up"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("lambda_adv", "lambda_cycle", "lambda_identity", "lambda_cam", "init_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class GeneratorOutput(NamedTuple):
    image: Tensor  # (B, 3, H, W) in [-1, 1]
    cam_logits: Tensor  # (B, 2) eta_s(x) logits [GAP, GMP]
    heatmap: Tensor  # (B, 1, H/4, W/4) unnormalised CAM heatmap


def _decoder_norms(norm: DecoderNorm, rho_init_res: float, rho_init_up: float) -> tuple[Any, Any, bool]:
    """(residual-block norm factory, up-sampling norm factory, adaptive?) of a decoder normalisation.

    The paper's model is ``adalin`` (AdaLIN with the MLP's gamma/beta in the
    residual blocks, LIN in the up-sampling blocks).  The ablations of Fig. 3 /
    Table 1 use one normalisation in the whole decoder; the paper does not
    spell them out and the authors' code has no switch, so we read them as:
    ``in`` / ``ln`` / ``gn`` -- IN, LN or GN (32 groups, fewer if the width
    needs) with a learned per-channel affine everywhere, and no gamma/beta MLP
    (nothing adaptive is left); ``adain`` -- AdaIN with the MLP's gamma/beta in
    the residual blocks and IN with affine in the up-sampling blocks (AdaLIN
    with rho fixed at 1); ``lin`` -- LIN (learned rho, affine) everywhere, no MLP.
    """
    def gn(c: int) -> nn.Module:
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if c % g == 0)
        return nn.GroupNorm(groups, c)

    def in_affine(c: int) -> nn.Module:
        return nn.InstanceNorm2d(c, affine=True)

    lin_up = functools.partial(LIN, rho_init=rho_init_up)
    table: dict[str, tuple[Any, Any, bool]] = {
        "adalin": (functools.partial(AdaLIN, rho_init=rho_init_res), lin_up, True),
        "adain": (AdaIN, in_affine, True),
        "in": (in_affine, in_affine, False),
        "ln": (layer_norm, layer_norm, False),
        "gn": (gn, gn, False),
        "lin": (functools.partial(LIN, rho_init=rho_init_res), lin_up, False),
    }
    return table[norm]


class UGATITGenerator(nn.Module):
    """Table 4: encoder (IN) -> CAM -> gamma/beta MLP -> AdaLIN decoder -> LIN up-sampling -> tanh.

    ``light=False`` (the paper's model): the MLP's first layer takes the whole
    flattened (H/4 x W/4 x 4ch) map, so the generator only accepts
    ``image_size`` inputs.  ``light=True``: it takes the globally pooled
    features (authors' code), any size divisible by 4 works.

    Ablations (Table 1, Fig. 3): ``cam=False`` drops the attention module (the
    decoder reads the encoder's features; no CAM logits, the heatmap is the
    features' channel sum); ``norm`` replaces AdaLIN/LIN (:func:`_decoder_norms`).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ch: int = 64, n_res: int = 4,
                 image_size: int = 256, light: bool = False, rho_init_res: float = 0.9, rho_init_up: float = 0.0,
                 cam: bool = True, norm: DecoderNorm = "adalin"):
        super().__init__()
        relu = factories.relu(inplace=True)
        width = 4 * ch  # after two stride-2 convs
        self.light = light
        self.image_size = image_size
        self.encoder = nn.Sequential(
            conv_block(in_channels, ch, 7, 1, 3, pad_mode="reflect", norm_layer=instance_norm, activation=relu,
                       bias=False),
            conv_block(ch, 2 * ch, 3, 2, 1, pad_mode="reflect", norm_layer=instance_norm, activation=relu, bias=False),
            conv_block(2 * ch, width, 3, 2, 1, pad_mode="reflect", norm_layer=instance_norm, activation=relu,
                       bias=False),
            *[ResidualBlock(width, instance_norm, relu, pad_mode="reflect", bias=False) for _ in range(n_res)],
        )
        self.cam = CAMAttention(width, relu) if cam else None
        res_norm, lin, self.adaptive = _decoder_norms(norm, rho_init_res, rho_init_up)
        if self.adaptive:
            mlp_in = width if light else (image_size // 4) ** 2 * width
            self.mlp = nn.Sequential(nn.Linear(mlp_in, width, bias=False), nn.ReLU(inplace=True),
                                     nn.Linear(width, width, bias=False), nn.ReLU(inplace=True))
            self.gamma = nn.Linear(width, width, bias=False)
            self.beta = nn.Linear(width, width, bias=False)
            self.decoder = nn.ModuleList(
                [AdaptiveResidualBlock(width, res_norm, relu, pad_mode="reflect", bias=False) for _ in range(n_res)])
        else:
            self.decoder = nn.ModuleList(
                [ResidualBlock(width, res_norm, relu, pad_mode="reflect", bias=False) for _ in range(n_res)])
        self.upsample = nn.Sequential(
            conv_block(width, 2 * ch, 3, 1, 1, pad_mode="reflect", norm_layer=lin, activation=relu, bias=False,
                       upsample=2),
            conv_block(2 * ch, ch, 3, 1, 1, pad_mode="reflect", norm_layer=lin, activation=relu, bias=False,
                       upsample=2),
            conv2d(ch, out_channels, 7, 1, 3, pad_mode="reflect", bias=False),
            nn.Tanh(),
        )

    def forward(self, x: Tensor) -> GeneratorOutput:
        if not self.light and (x.shape[-2] != self.image_size or x.shape[-1] != self.image_size):
            raise ValueError(f"the full U-GAT-IT generator takes {self.image_size}x{self.image_size} inputs, "
                             f"got {x.shape[-2]}x{x.shape[-1]}")
        h = self.encoder(x)  # (B, 4ch, H/4, W/4)
        if self.cam is not None:
            h, cam_logits, heatmap = self.cam(h)
        else:
            cam_logits, heatmap = h.new_zeros(h.shape[0], 0), h.sum(1, keepdim=True)
        if self.adaptive:
            pooled = h.mean(dim=(2, 3)) if self.light else h.flatten(1)
            z = self.mlp(pooled)
            gamma, beta = self.gamma(z), self.beta(z)  # (B, 4ch) each
            for block in self.decoder:
                h = block(h, gamma, beta)
        else:
            for block in self.decoder:
                h = block(h)
        return GeneratorOutput(self.upsample(h), cam_logits, heatmap)


def _paired_forward(gen: nn.Module, x: Tensor, y: Tensor) -> tuple[GeneratorOutput, GeneratorOutput]:
    """``gen(x), gen(y)`` computed as one forward over ``cat([x, y])`` (the generator is per sample)."""
    out = gen(torch.cat([x, y]))
    n = x.shape[0]
    return GeneratorOutput(*(t[:n] for t in out)), GeneratorOutput(*(t[n:] for t in out))


def attention_map(heatmap: Tensor, size: tuple[int, int]) -> Tensor:
    """CAM heatmap (B,1,h,w) -> display map (B,1,*size) in [0, 1].

    Min-max normalised per image, then resized bilinearly, as the authors'
    ``cam()`` helper does (normalise, ``cv2.resize``).  A constant map becomes 0.
    """
    flat = heatmap.flatten(1)
    lo = flat.amin(dim=1).view(-1, 1, 1, 1)
    span = (flat.amax(dim=1).view(-1, 1, 1, 1) - lo).clamp_min(1e-12)
    norm = (heatmap - lo) / span
    return F.interpolate(norm, size=size, mode="bilinear", align_corners=False).clamp_(0.0, 1.0)


GENERATORS = ("gen_ab", "gen_ba")
DISCRIMINATORS = ("disc_global_a", "disc_local_a", "disc_global_b", "disc_local_b")


class UGATIT(Family):
    """U-GAT-IT family (see the module docstring for networks and choices)."""

    def __init__(self, cfg: RunConfig):
        super().__init__(cfg)
        m: UGATITConfig = cfg.model_cfg
        size = cfg.data.image_size
        if size % 4:
            raise ConfigError(f"data.image_size = {size}: U-GAT-IT needs a multiple of 4 "
                              f"(two stride-2 convs, two x2 up-samplings)")
        self.mcfg = m

        def gen() -> UGATITGenerator:
            return UGATITGenerator(3, 3, m.channels, m.n_res_blocks, size, m.light, m.rho_init_res, m.rho_init_up,
                                   cam=m.cam in ("both", "no_d"), norm=m.norm)

        nets: dict[str, nn.Module] = {"gen_ab": gen(), "gen_ba": gen()}
        for dom in ("a", "b"):
            for scale, layers in (("global", m.n_global_disc_layers), ("local", m.n_local_disc_layers)):
                d = UGATITDiscriminator(3, m.channels, layers, cam=m.cam in ("both", "no_g"))
                if d.min_input_size() > size:
                    raise ConfigError(
                        f"model.n_{scale}_disc_layers = {layers} needs images of at least {d.min_input_size()} px, "
                        f"but data.image_size = {size}; use fewer layers or larger images")
                nets[f"disc_{scale}_{dom}"] = d
        self.networks = nn.ModuleDict(nets)
        init_normal_(self.networks, m.init_std)
        self.phases = (Phase("discriminator", DISCRIMINATORS), Phase("generator", GENERATORS))

    # -- training -----------------------------------------------------------------
    def step(self, phase: str, nets: Nets, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Logs]:
        real_a, real_b = batch["a"], batch["b"]
        if phase == "discriminator":
            with torch.no_grad():
                fake_b = nets["gen_ab"](real_a).image
                fake_a = nets["gen_ba"](real_b).image
            return self.discriminator_loss(nets, real_a, real_b, fake_a, fake_b)
        if phase == "generator":
            return self.generator_loss(nets, real_a, real_b)
        raise ValueError(f"unknown phase {phase!r}; U-GAT-IT has 'discriminator' and 'generator'")

    def discriminator_loss(self, nets: Nets, real_a: Tensor, real_b: Tensor, fake_a: Tensor,
                           fake_b: Tensor, *, batched: bool = True) -> tuple[Tensor, Logs]:
        """lambda_1 * (Eq. 2 + Eq. 6) summed over both domains and both scales (D side of Eq. 7).

        ``batched``: each discriminator scores its real and fake images in one
        forward pass over the concatenated batch, under
        :func:`i2icli.nn.spectral.stacked_calls` so that spectral norm runs its
        power iteration twice and scales the real half by the first call's
        sigma and the fake half by the second's, exactly as ``d(real)`` then
        ``d(fake)`` (the authors' order, ``batched=False``) would.  The
        discriminators are per sample (no batch norm), so outputs and gradients
        equal the separate calls up to float rounding.
        """
        adv = real_a.new_zeros(())
        cam = real_a.new_zeros(())
        for dom, real, fake in (("a", real_a, fake_a), ("b", real_b, fake_b)):
            for scale in ("global", "local"):
                d = nets[f"disc_{scale}_{dom}"]
                if batched and real.shape == fake.shape:
                    with stacked_calls(d, 2):
                        both = d(torch.cat([real, fake]))
                    n = real.shape[0]
                    r, f = (DiscriminatorOutput(*(t[:n] for t in both)),
                            DiscriminatorOutput(*(t[n:] for t in both)))
                else:
                    r, f = d(real), d(fake)
                adv = adv + lsgan_d_loss(r.logits, f.logits)
                if r.cam_logits.shape[1]:  # absent in the "w/o D_CAM" ablations
                    cam = cam + lsgan_d_loss(r.cam_logits, f.cam_logits)
        loss = self.mcfg.lambda_adv * (adv + cam)
        return loss, {"d_loss": loss.detach(), "d_adv": adv.detach(), "d_cam": cam.detach()}

    def generator_loss(self, nets: Nets, real_a: Tensor, real_b: Tensor, *,
                       batched: bool = True) -> tuple[Tensor, Logs]:
        """Eq. 7, generator side: lambda_1 L_lsgan + lambda_2 L_cycle + lambda_3 L_identity + lambda_4 L_cam.

        ``batched``: each generator translates its own domain's image (Eq. 2)
        and the other domain's image (identity, Eq. 4) in one forward pass over
        the concatenated batch instead of two.  Every layer of the generator
        works per sample (IN, LIN/AdaLIN statistics, CAM pooling and logits,
        the gamma/beta MLP), so the outputs and gradients are those of two
        separate calls up to float rounding; the convolutions get twice the
        batch per weight read and compute each weight gradient once.
        ``batched=False`` is the authors' six separate calls.
        """
        m = self.mcfg
        g_ab, g_ba = nets["gen_ab"], nets["gen_ba"]
        if batched:
            ab, bb = _paired_forward(g_ab, real_a, real_b)  # A -> B with eta_A on A; identity B -> B
            ba, aa = _paired_forward(g_ba, real_b, real_a)
        else:
            ab = g_ab(real_a)  # translation A -> B, eta_A on A
            ba = g_ba(real_b)
            aa = g_ba(real_a)  # identity (Eq. 4), eta_B on A
            bb = g_ab(real_b)
        aba = g_ba(ab.image)  # cycle (Eq. 3)
        bab = g_ab(ba.image)
        adv = real_a.new_zeros(())
        for dom, fake in (("a", ba.image), ("b", ab.image)):
            for scale in ("global", "local"):
                out = nets[f"disc_{scale}_{dom}"](fake)
                adv = adv + lsgan_g_loss(out.logits)  # Eq. 2
                if out.cam_logits.shape[1]:
                    adv = adv + lsgan_g_loss(out.cam_logits)  # Eq. 6
        cycle = l1_loss(aba.image, real_a) + l1_loss(bab.image, real_b)
        identity = l1_loss(aa.image, real_a) + l1_loss(bb.image, real_b)
        if ab.cam_logits.shape[1]:
            cam = cam_bce_loss(ab.cam_logits, bb.cam_logits) + cam_bce_loss(ba.cam_logits, aa.cam_logits)  # Eq. 5
        else:  # "w/o G_CAM": no auxiliary classifier, no L_cam
            cam = real_a.new_zeros(())
        loss = m.lambda_adv * adv + m.lambda_cycle * cycle + m.lambda_identity * identity + m.lambda_cam * cam
        logs = {"g_loss": loss, "g_adv": adv, "g_cycle": cycle, "g_identity": identity, "g_cam": cam}
        logs.update(self._rho_means())
        return loss, {k: v.detach() for k, v in logs.items()}

    def _rho_means(self) -> Logs:
        """Mean rho of the AdaLIN (residual) and LIN (up-sampling) layers of both generators:
        how far each has moved towards IN (1) or LN (0), the quantity Sec. 2.1.1 discusses."""
        out: Logs = {}
        for key, kind in (("rho_adalin", AdaLIN), ("rho_lin", LIN)):
            rhos = [m.rho for g in GENERATORS for m in self.networks[g].modules() if isinstance(m, kind)]
            if rhos:
                out[key] = torch.cat([r.detach().flatten() for r in rhos]).mean()
        return out

    def after_update(self, phase: str) -> None:
        """Eq. 1: rho <- clip_[0,1](rho - tau * delta_rho) after every generator update."""
        if phase == "generator":
            for name in GENERATORS:
                clip_rho_(self.networks[name])

    # -- inference ----------------------------------------------------------------
    def translate(self, x: Tensor, guidance: Guidance) -> dict[str, Tensor]:
        """``guidance.direction``: ``"a2b"`` (default) or ``"b2a"``.

        Returns ``output`` (B,3,H,W) in [-1, 1] and ``attention`` (B,1,H,W) in
        [0, 1], the generator's CAM heatmap (see :func:`attention_map`).  The
        light model pads inputs to a multiple of 4 by reflection and crops back;
        the full model takes only ``data.image_size`` squares.
        """
        direction = guidance.direction or "a2b"
        if direction not in ("a2b", "b2a"):
            raise ConfigError(f"direction must be 'a2b' or 'b2a', got {direction!r}")
        gen = self.networks["gen_ab" if direction == "a2b" else "gen_ba"]  # a UGATITGenerator
        h, w = x.shape[-2:]
        size = self.cfg.data.image_size
        if not self.mcfg.light and (h, w) != (size, size):
            raise DataError(f"the full U-GAT-IT model translates only {size}x{size} images (its gamma/beta MLP "
                            f"reads the whole feature map), got {w}x{h}; resize the input or train a light model")
        if min(h, w) < 8:
            raise DataError(f"image of {w}x{h} px is too small for U-GAT-IT (at least 8x8)")
        ph, pw = (-h) % 4, (-w) % 4
        xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
        out = gen(xp)
        image = out.image[..., :h, :w]
        attention = attention_map(out.heatmap, (xp.shape[-2], xp.shape[-1]))[..., :h, :w]
        return {"output": image, "attention": attention}

    def sample(self, batch: dict[str, Tensor]) -> list[tuple[str, Tensor]]:
        """Source | generator attention | translation, for A->B then B->A."""
        ab = self.translate(batch["a"], Guidance(direction="a2b"))
        ba = self.translate(batch["b"], Guidance(direction="b2a"))
        # short ASCII titles: they must fit a 32 px column in any font
        return [("A", batch["a"]), ("A2B att", ab["attention"]), ("A2B", ab["output"]),
                ("B", batch["b"]), ("B2A att", ba["attention"]), ("B2A", ba["output"])]



register(ModelSpec(
    name="ugatit",
    config_cls=UGATITConfig,
    build=UGATIT,
    dataset=unpaired_dataset,
    default_recipe="selfie2anime.toml",
    summary="U-GAT-IT (ICLR 2020): unpaired A<->B translation with CAM attention and AdaLIN",
    accepts=("direction",),
    defaults={"direction": "a2b"},
    synthetic="digits",
))
