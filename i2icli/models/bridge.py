"""BridgeGAN: label-based and reference-based multi-attribute translation in one model.

Paper: Huang et al., "Bridging the Gap between Label- and Reference-based
Synthesis in Multi-attribute Image-to-Image Translation", ICCV 2021.  Only the
supplementary material is available (/work/shared/seeds/004_*.txt, cited [S]);
where it is silent we follow the authors' TF1 code, github.com/huangqiusheng/BridgeGAN
(``train_arch9.py``, ``models_712.py``, ``test_arch9.py``; cited [C], facts
only, nothing copied).  /work/shared/specs/bridge.md collects both.

Notation: labels l_s, l_t in {0,1}^n; Delta = l_t - l_s in {-1,0,1}^n (the
code's ``att_diff``).  Style codes are *spatial maps* S (B, 2*enc_channels,
H/2, W/2) = (B, 32, 64, 64) at 128 px [S Figs 4-5].

Networks (one ``ModuleDict``; parameter counts at 128 px, n = 14 in
tests/test_bridge.py: G 7,217,827, M 121,568, E 71,536, D 9,613,039):

- ``encoder`` E(x, delta) [S Fig 5]: concat(x, delta tiled) -> conv1x1 16 ->
  ResBlk down (IN) to 32 -> 3 ResBlk (IN) -> ReLU -> conv1x1 -> IN -> ReLU.
- ``mapping`` M(R, delta) [S Fig 4]: concat(R, delta) -> FC 1024 -> reshape
  64x4x4 -> 4 ResBlk up (IN) to 32x64x64 -> ReLU -> conv1x1 -> IN -> ReLU.
- ``generator`` G(x, S) [S Fig 2]: conv1x1 32 -> 3 ResBlk down (IN) ->
  ResBlk (IN) -> ResBlk (SPADE) -> 3 ResBlk up (SPADE) -> ReLU -> conv1x1 3 -> tanh.
  Every SPADE layer (8, two per block) conditions on the same S, resized
  nearest to the feature's size [C].
- ``discriminator`` D/C [S Fig 3]: conv1x1 16 -> 4 ResBlk down (no norm,
  LeakyReLU 0.2) -> LReLU; two unshared heads conv(k = final map size, valid)
  -> LReLU -> FC 1 (adversarial) / FC n (attribute logits).
- ``latent_table`` (when ``use_latent_table = true``): the code's per-training-image
  latent R (N x 16), a checkpointed buffer, see below.

ResBlk is :class:`~i2icli.nn.blocks.PreActResidualBlock`, SPADE is
:class:`~i2icli.nn.spade.SPADE` (parameter-free IN, eps 1e-6); "IN" elsewhere is
TF-slim's default, :class:`~i2icli.nn.norms.BiasInstanceNorm` (bias only, eps 1e-6;
``use_norm_scale = true`` adds a scale).  Glorot-uniform weights, zero biases
(TF's default) [C].

Bridging [C]:  S_s = E(x_s, -Delta);  label-based S_rand = S_s + M(R, Delta);
reference-based S_ref = S_s + E(x_t, Delta); interpolation S_int = a S_rand + (1-a) S_ref,
a ~ U(0,1) per sample.  One G step draws the target as the same batch
permuted (x_t = x_s[pi], l_t = l_s[pi]).

Losses, with the supplementary's weights as defaults ([S] Sec. C; the code's
in recipes/bridge/celeba_code.toml).  Every reduction is a mean over all
elements, as TF's ``tf.losses.*`` [C]:

- adversarial (WGAN-GP): G ``-1/3 sum_k mean D(X_k)``, k in {rand, ref, int};
  D ``mean D(X) - mean D(x_s) + lambda_gp * 1/3 sum_k GP(x_s, X_k)`` (one
  interpolation weight per sample, adversarial head only; lambda_gp = 10 [C]).
- classification: D ``BCE(C(x_s), l_s)`` (weight 1 [C]); G ``1/3 sum_k BCE(C(X_k), l_t)``
  (lambda_cls = 10 [S, C]).  Mean over B x n, *not* LOMIT's sum over attributes.
- reconstruction (Delta = 0): ``1/2 (|x_s - G(x_s, M(R,0)+E(x_s,0))| + |x_s - G(x_s, E(x_t,0)+E(x_s,0))|)``
  (lambda_rec = 100 [S, C]).
- latent cycle: ``1/2 (|S_rand - (E(sg X_rand, Delta) + S_s)| + |S_ref - (E(sg X_ref, Delta) + S_s)|)``,
  G gets no gradient (sg = stop-gradient) [C]; lambda_cyc = 100 [S].  [S] gives one weight
  for "the" cycle term; we apply it to the mean of the two (the code weights each by 50/3).
- attribute keeping, Eq. 10-11 [S Sec. A]: ``att_ak = (1 - |Delta|) * (1 - 2 l_s)``
  (A selects the kept attributes, B = 1 - 2 l_s the Delta that would flip them);
  ``|E(X_rand, att_ak) - E(x_s, att_ak)|``, no stop-gradient, label-based output
  only [S, C]; lambda_ak = 100 [S] (code: 50/3).
- alignment (the bridge): ``|S_rand - S_ref|``, lambda_sim = 50 ([S] calls it
  lambda_sty; the code's only weight-50 term is this one).
- mode seeking: ``mean|r1 - R| / (mean|sg X_rand1 - X_rand| + 1e-5)`` with
  X_rand1 = G(x_s, S_s + M(r1, Delta)), r1 ~ N(0, I); lambda_ms = 0.005 [S, C].

The latent table [C]: R = table[idx of the *target* image], initialised
N(0, I).  Each step first moves R along g = dMSE(E(x_t, Delta), M(R, Delta))/dR:
``R' = clip(R + (0.9 / rms(g) + 5) g, -1, 1)`` (rms per sample over the 16
entries), uses R' for every term above, and (generator step only) writes R'
back to the table (:meth:`BridgeGAN.after_update`).  The code *adds* the
gradient of the MSE, i.e. moves R *away* from the encoder's code: gradient
ascent, a hard-example step or a sign slip; ``latent_update = "ascent"``
follows the code, ``"descent"`` flips the sign.  ``use_latent_table = false`` is the
alternative "fresh N(0, I) each step" (no table, no R step).  The critic step
computes R' too (its fakes come from R', as in the code's shared graph) but
never writes it.  Under DDP the (index, R') pairs of all ranks are gathered
before the write.  A zero-rms gradient (never seen in practice) would divide
by zero in the code; we add 1e-12 to the rms.

Training [S Sec. C, C]: Adam (0.5, 0.999), lr 2e-4 for every net (G, M, E in
one optimiser), batch 48, n_critic = 5, constant lr, no EMA, no weight decay.
Our engine runs the critic every iteration and the generator side every 5th
with the same batch (LOMIT convention); the code draws a fresh batch for
every D and G update.  Randomness inside a step (the permutation, the
interpolation weights, r1, latent draws without a table, the GP weights) comes
from a generator seeded by (train.seed, iteration, phase), so a resumed run
repeats an uninterrupted one exactly.

Inference [C ``test_arch9.py``]: labels of the input (and of a reference)
are predicted by D's classifier head (logit > 0) unless the caller passes
them; l_t = l_s with the requested attributes set, then conflicts resolved
as the authors' ``check_attribute_conflict`` (:func:`resolve_conflicts`);
Delta_test = ``test_delta_scale`` (1.5 [C]) * (l_t - l_s); label-based codes
use R ~ N(0, I).  ``--mix t`` gives S = (1 - t) S_rand + t S_ref.
"""

from __future__ import annotations

import difflib
import functools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from i2icli.config import RunConfig
from i2icli.data.datasets import AttributeDataset, attribute_dataset
from i2icli.data.keyed import KeyedDataset
from i2icli.errors import ConfigError, DataError
from i2icli.guidance import Guidance
from i2icli.losses.classification import attribute_accuracy
from i2icli.losses.gradient_penalty import gradient_penalty
from i2icli.losses.wasserstein import wgan_critic_loss, wgan_generator_loss
from i2icli.models.base import Family, Logs, Nets, Phase
from i2icli.nn.blocks import PreActResidualBlock
from i2icli.nn.factories import leaky_relu
from i2icli.nn.init import init_glorot_uniform_
from i2icli.nn.norms import BiasInstanceNorm
from i2icli.nn.spade import SPADE
from i2icli.registry import ModelSpec, register

GENERATOR_MODULES = ("generator", "mapping", "encoder")
DEAD_CODE = 1e-2  # mean |code| below which BridgeGAN.diagnose calls the style codes dead (about 0.37 at init)


@dataclass(frozen=True)
class BridgeConfig:
    """``[model]`` table of a BridgeGAN recipe; defaults are the supplementary's settings at 128 px."""

    channels: int = 32  # G: conv1x1 to 32, widths double per down block (32 -> 256)
    n_gen_down: int = 3  # down / up blocks of G
    n_gen_in_blocks: int = 1  # intermediate IN blocks
    n_gen_spade_blocks: int = 1  # intermediate SPADE blocks
    spade_channels: int = 128  # SPADE's shared hidden conv
    enc_channels: int = 16  # E: conv1x1 width; style maps have 2 * enc_channels channels
    n_enc_down: int = 1
    n_enc_blocks: int = 3  # intermediate ResBlks of E
    map_channels: int = 64  # channels of M's FC output map (64 x 4 x 4 at 128 px)
    n_map_up: int = 4  # up-sampling ResBlks of M
    latent_dim: int = 16  # d, the length of R
    disc_channels: int = 16
    n_disc_blocks: int = 4
    use_norm_scale: bool = False  # IN with bias only (TF-slim default); true adds a learnable scale
    n_critic: int = 5
    lambda_adv: float = 1.0
    lambda_gp: float = 10.0
    lambda_cls_real: float = 1.0  # D-side classification (code)
    lambda_cls: float = 10.0
    lambda_rec: float = 100.0
    lambda_cyc: float = 100.0  # on the mean of the two latent-cycle terms
    lambda_ak: float = 100.0
    lambda_sim: float = 50.0  # alignment |S_rand - S_ref| ([S]'s lambda_sty)
    lambda_ms: float = 0.005
    use_interpolation: bool = True  # the interpolated image X_int (off in the no-bridge ablation)
    use_latent_table: bool = True  # the code's per-image R table; false: fresh N(0, I) every step
    latent_update: Literal["ascent", "descent"] = "ascent"  # the code adds the gradient (ascent)
    test_delta_scale: float = 1.5  # Delta at inference = scale * (l_t - l_s) (test_arch9.py)

    def __post_init__(self) -> None:
        for name in ("channels", "n_gen_down", "spade_channels", "enc_channels", "n_enc_down", "map_channels",
                     "n_map_up", "latent_dim", "disc_channels", "n_disc_blocks", "n_critic"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("n_gen_in_blocks", "n_gen_spade_blocks", "n_enc_blocks"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.test_delta_scale <= 0:
            raise ValueError(f"test_delta_scale must be positive, got {self.test_delta_scale}")


# --------------------------------------------------------------------------- blocks


def _tile(delta: Tensor, like: Tensor) -> Tensor:
    """(B, n) -> (B, n, H, W) at ``like``'s size."""
    return delta.to(like.dtype)[:, :, None, None].expand(-1, -1, *like.shape[-2:])


class StyleEncoder(nn.Module):
    """E(x, delta) [S Fig 5]: spatial style code (B, 2*ch, H/2**n_down, W/2**n_down)."""

    def __init__(self, n_attr: int, ch: int = 16, n_down: int = 1, n_blocks: int = 3, affine: bool = False):
        super().__init__()
        norm = functools.partial(BiasInstanceNorm, affine=affine)
        out = 2 * ch
        self.stem = nn.Conv2d(3 + n_attr, ch, 1)
        blocks = [PreActResidualBlock(ch if i == 0 else out, out, norm, nn.ReLU, resample="down")
                  for i in range(n_down)]
        blocks += [PreActResidualBlock(out, out, norm, nn.ReLU) for _ in range(n_blocks)]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(out, out, 1), norm(out), nn.ReLU())
        self.out_channels = out

    def forward(self, x: Tensor, delta: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(torch.cat([x, _tile(delta, x)], 1))))


class MappingNetwork(nn.Module):
    """M(R, delta) [S Fig 4]: FC to a (map_ch, s, s) map, ``n_up`` ResBlks up to the style map size."""

    def __init__(self, n_attr: int, latent_dim: int, style_channels: int, start: int, map_ch: int = 64,
                 n_up: int = 4, affine: bool = False):
        super().__init__()
        norm = functools.partial(BiasInstanceNorm, affine=affine)
        self.start, self.map_ch = start, map_ch
        self.fc = nn.Linear(latent_dim + n_attr, map_ch * start * start)
        self.blocks = nn.Sequential(*[PreActResidualBlock(map_ch if i == 0 else style_channels, style_channels, norm,
                                                     nn.ReLU, resample="up") for i in range(n_up)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(style_channels, style_channels, 1), norm(style_channels),
                                  nn.ReLU())

    def forward(self, r: Tensor, delta: Tensor) -> Tensor:
        h = self.fc(torch.cat([r, delta.to(r.dtype)], 1)).view(-1, self.map_ch, self.start, self.start)
        return self.head(self.blocks(h))


class SpadeGenerator(nn.Module):
    """G(x, S) [S Fig 2]: IN down blocks, IN and SPADE middle blocks, SPADE up blocks."""

    def __init__(self, style_channels: int, ch: int = 32, n_down: int = 3, mid_in: int = 1, mid_spade: int = 1,
                 spade_hidden: int = 128, affine: bool = False):
        super().__init__()
        norm = functools.partial(BiasInstanceNorm, affine=affine)
        spade = functools.partial(SPADE, cond_channels=style_channels, hidden=spade_hidden,
                                  norm_layer=functools.partial(nn.InstanceNorm2d, eps=1e-6))
        self.stem = nn.Conv2d(3, ch, 1)
        widths = [ch * 2**i for i in range(n_down + 1)]
        top = widths[-1]
        self.down = nn.Sequential(*[PreActResidualBlock(widths[i], widths[i + 1], norm, nn.ReLU, resample="down")
                                    for i in range(n_down)])
        self.mid_in = nn.Sequential(*[PreActResidualBlock(top, top, norm, nn.ReLU) for _ in range(mid_in)])
        self.conditioned = nn.ModuleList(
            [PreActResidualBlock(top, top, spade, nn.ReLU) for _ in range(mid_spade)]
            + [PreActResidualBlock(widths[i + 1], widths[i], spade, nn.ReLU, resample="up")
               for i in reversed(range(n_down))])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(ch, 3, 1), nn.Tanh())

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        h = self.mid_in(self.down(self.stem(x)))
        for block in self.conditioned:
            h = block(h, style)
        return self.head(h)


class CriticClassifier(nn.Module):
    """D/C [S Fig 3]: shared trunk, unshared (conv k x k valid -> LReLU -> FC) heads; returns ((B,), (B, n))."""

    def __init__(self, n_attr: int, image_size: int, ch: int = 16, n_blocks: int = 4):
        super().__init__()
        lrelu = leaky_relu(0.2)
        widths = [ch * 2**i for i in range(n_blocks + 1)]
        final = image_size // 2**n_blocks
        top = widths[-1]
        self.stem = nn.Conv2d(3, ch, 1)
        self.trunk = nn.Sequential(*[PreActResidualBlock(widths[i], widths[i + 1], None, lrelu, resample="down")
                                     for i in range(n_blocks)], nn.LeakyReLU(0.2))
        self.adv = nn.Sequential(nn.Conv2d(top, top, final), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(top, 1))
        self.cls = nn.Sequential(nn.Conv2d(top, top, final), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(top, n_attr))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(self.stem(x))
        return self.adv(h)[:, 0], self.cls(h)

    def critic(self, x: Tensor) -> Tensor:
        return self(x)[0]


class LatentTable(nn.Module):
    """The code's per-training-image latent R (N, d), initialised N(0, I); a buffer, so it is checkpointed.

    Rows are drawn from a generator seeded with ``seed``: row i is the same
    however large the table is when it is made or grown (:meth:`ensure`).
    Loading a checkpoint resizes the buffer to the stored table.
    """

    table: Tensor

    def __init__(self, size: int, dim: int, seed: int = 0):
        super().__init__()
        self.dim, self.seed = dim, int(seed)
        self.register_buffer("table", self._rows(size))

    def _rows(self, n: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed)
        return torch.randn(n, self.dim, generator=g)

    def __len__(self) -> int:
        return int(self.table.shape[0])

    def ensure(self, n: int) -> None:
        """Grow to at least ``n`` rows (new rows from the seeded draw; existing rows kept)."""
        if n > len(self):
            new = self._rows(n)[len(self):].to(self.table.device, self.table.dtype)
            self.table = torch.cat([self.table, new])

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        stored = state_dict.get(prefix + "table")
        if stored is not None and stored.shape != self.table.shape:
            self.table = torch.empty(stored.shape, dtype=self.table.dtype, device=self.table.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _unwrap(m: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (the R step runs on a side graph DDP must not see)."""
    return m.module if hasattr(m, "module") and isinstance(m, nn.parallel.DistributedDataParallel) else m


# --------------------------------------------------------------------------- labels


HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
HAIR_TEXTURES = ("Straight_Hair", "Wavy_Hair")


def conflict_rules(name: str) -> tuple[str, ...]:
    """Attributes that must become 0 when ``name`` is set to 1.

    The authors' rules (``check_attribute_conflict``, shared with AttGAN/STGAN):
    one hair colour excludes the others; Bald or Receding_Hairline excludes
    Bangs; Bangs excludes Bald and Receding_Hairline; Straight_Hair and
    Wavy_Hair exclude each other.  Ours, for the synthetic faces and CelebA's
    beard labels (not in the authors' code): Goatee or Mustache excludes
    No_Beard, No_Beard excludes Goatee and Mustache.
    """
    if name in HAIR_COLOURS:
        return tuple(n for n in HAIR_COLOURS if n != name)
    if name in HAIR_TEXTURES:
        return tuple(n for n in HAIR_TEXTURES if n != name)
    if name in ("Bald", "Receding_Hairline"):
        return ("Bangs",)
    if name == "Bangs":
        return ("Bald", "Receding_Hairline")
    if name in ("Goatee", "Mustache"):
        return ("No_Beard",)
    if name == "No_Beard":
        return ("Goatee", "Mustache")
    return ()


def resolve_conflicts(labels: Tensor, names: Sequence[str], changed: Sequence[str],
                      explicit: Sequence[str] | None = None) -> tuple[Tensor, list[str]]:
    """Apply :func:`conflict_rules` for each attribute in ``changed`` that is 1, in order; returns (labels, notes).

    ``labels`` (B, n) in {0, 1} (a copy is returned).  A note says which
    attribute was cleared because of which, e.g. ``"Blond_Hair=1 sets Black_Hair=0"``.
    Two attributes in ``explicit`` (default: all of ``changed``) that are both
    1 and exclude each other raise :class:`ConfigError`; otherwise the earlier
    one in ``changed`` wins (values taken from a reference whose predicted
    labels contradict each other).
    """
    explicit = list(changed) if explicit is None else list(explicit)
    out = labels.clone()
    notes: list[str] = []
    index = {n: i for i, n in enumerate(names)}
    for name in changed:
        k = index[name]
        on = out[:, k] > 0.5
        if not bool(on.any()):
            continue
        for other in conflict_rules(name):
            j = index.get(other)
            if j is None:
                continue
            if name in explicit and other in explicit and bool((on & (out[:, j] > 0.5)).any()):
                raise ConfigError(f"--attr {name}=1 and {other}=1 exclude each other (the authors' conflict rule); "
                                  "set at most one of them to 1")
            hit = on & (out[:, j] > 0.5)
            if bool(hit.any()):
                out[hit, j] = 0.0
                notes.append(f"{name}=1 sets {other}=0 for {int(hit.sum())} image(s)")
    return out, notes


def attribute_keeping_delta(delta: Tensor, source_labels: Tensor) -> Tensor:
    """Eq. 11 [S Sec. A]: ``att_ak = (1 - |Delta|) * (1 - 2 l_s)``.

    A = 1 - |Delta| marks the attributes the edit keeps; B = 1 - 2 l_s is the
    Delta that would flip each of them (+1 adds an absent attribute, -1
    removes a present one), so E(., att_ak) extracts the kept attributes.
    """
    return (1 - delta.abs()) * (1 - 2 * source_labels)


# --------------------------------------------------------------------------- family


class BridgeGAN(Family):
    """The BridgeGAN family (see the module docstring)."""

    def __init__(self, cfg: RunConfig):
        super().__init__(cfg)
        m: BridgeConfig = cfg.model_cfg
        self.m = m
        attrs = cfg.data.attributes
        if not attrs:
            raise ConfigError(f"{cfg.recipe}: BridgeGAN needs [data] attributes (the label names to edit, "
                              "e.g. attributes = [\"Black_Hair\", \"Blond_Hair\", \"Smiling\"])")
        self.attributes = tuple(attrs)
        n = len(attrs)
        size = cfg.data.image_size
        for what, k in (("n_gen_down", m.n_gen_down), ("n_disc_blocks", m.n_disc_blocks), ("n_enc_down + n_map_up",
                                                                                    m.n_enc_down + m.n_map_up)):
            if size % 2**k != 0:
                raise ConfigError(f"{cfg.recipe}: [data] image_size = {size} is not divisible by 2**({what}) = "
                                  f"{2 ** k}; change the size or [model] {what.split(' ')[0]}")
        style_ch = 2 * m.enc_channels
        start = size // 2**(m.n_enc_down + m.n_map_up)
        if start < 2:  # instance norm of a 1x1 map is constant: M would ignore R and Delta
            raise ConfigError(f"{cfg.recipe}: M would start from a {start}x{start} map at image_size = {size} "
                              f"(image_size / 2**(n_enc_down + n_map_up)); lower [model] n_map_up to "
                              f"{max(1, m.n_map_up - 1)} or less")
        nets: dict[str, nn.Module] = {
            "generator": SpadeGenerator(style_ch, m.channels, m.n_gen_down, m.n_gen_in_blocks, m.n_gen_spade_blocks,
                                        m.spade_channels, m.use_norm_scale),
            "mapping": MappingNetwork(n, m.latent_dim, style_ch, start, m.map_channels, m.n_map_up, m.use_norm_scale),
            "encoder": StyleEncoder(n, m.enc_channels, m.n_enc_down, m.n_enc_blocks, m.use_norm_scale),
            "discriminator": CriticClassifier(n, size, m.disc_channels, m.n_disc_blocks),
        }
        for net in nets.values():
            init_glorot_uniform_(net)
        if m.use_latent_table:
            nets["latent_table"] = LatentTable(_train_count(cfg), m.latent_dim, cfg.train.seed)
        self.networks = nn.ModuleDict(nets)
        self.phases = (Phase("discriminator", ("discriminator",)),
                       Phase("generator", GENERATOR_MODULES, every=m.n_critic))
        self._pending: tuple[Tensor, Tensor] | None = None  # (indices, R') to write after the G update

    # -- randomness -------------------------------------------------------------------
    def _generator(self, device: torch.device, iteration: int, phase: str) -> torch.Generator:
        salt = 1 if phase == "generator" else 0
        g = torch.Generator(device=device)
        g.manual_seed((int(self.cfg.train.seed) * 1_000_003 + iteration * 2 + salt) % (2**63 - 1))
        return g

    # -- shared pieces ------------------------------------------------------------------
    def _latent(self, nets: Nets, x_t: Tensor, delta: Tensor, idx_t: Tensor | None,
                gen: torch.Generator) -> Tensor:
        """R' for the targets: the table's rows moved by the code's R step, or fresh N(0, I)."""
        m = self.m
        b = x_t.shape[0]
        if not m.use_latent_table:
            return torch.randn(b, m.latent_dim, generator=gen, device=x_t.device, dtype=x_t.dtype)
        table: LatentTable = self.networks["latent_table"]  # type: ignore[assignment]
        assert idx_t is not None
        table.ensure(int(idx_t.max()) + 1)
        r0 = table.table[idx_t].to(x_t.dtype)
        return self.latent_step(_unwrap(nets["encoder"]), _unwrap(nets["mapping"]), x_t, delta, r0)

    def latent_step(self, encoder: nn.Module, mapping: nn.Module, x_t: Tensor, delta: Tensor, r0: Tensor) -> Tensor:
        """``R' = sg(clip(R +- (0.9 / rms(g) + 5) g, -1, 1))``, g = d MSE(E(x_t, Delta), M(R, Delta)) / dR [C]."""
        with torch.no_grad():
            target = encoder(x_t, delta)
        with torch.enable_grad():
            r = r0.detach().clone().requires_grad_(True)
            mse = F.mse_loss(mapping(r, delta), target)
            (g,) = torch.autograd.grad(mse, r)
        rms = g.pow(2).mean(1, keepdim=True).sqrt() + 1e-12
        sign = 1.0 if self.m.latent_update == "ascent" else -1.0
        return (r0 + sign * (0.9 / rms + 5.0) * g).clamp(-1.0, 1.0).detach()

    @staticmethod
    def _target(batch: dict[str, Tensor], gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None]:
        x = batch["image"]
        ls = batch["labels"].to(x.dtype)
        perm = torch.randperm(x.shape[0], generator=gen, device=x.device)
        idx = batch.get("index")
        idx_t = idx.to(x.device).long()[perm] if idx is not None else None
        return x, ls, x[perm], ls[perm], idx_t

    def _codes(self, nets: Nets, x: Tensor, x_t: Tensor, delta: Tensor, r: Tensor, alpha: Tensor | None
               ) -> dict[str, Tensor]:
        """S_s, M(R, Delta), E(x_t, Delta) and the fused codes for one batch."""
        b = x.shape[0]
        enc = nets["encoder"](torch.cat([x, x_t]), torch.cat([-delta, delta]))
        s_s, e_t = enc[:b], enc[b:]
        m_r = nets["mapping"](r, delta)
        codes = {"s_s": s_s, "m_r": m_r, "e_t": e_t, "s_rand": s_s + m_r, "s_ref": s_s + e_t}
        if alpha is not None:
            codes["s_int"] = alpha * codes["s_rand"] + (1 - alpha) * codes["s_ref"]
        return codes

    # -- training -----------------------------------------------------------------------
    def step(self, phase: str, nets: Nets, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Logs]:
        gen = self._generator(batch["image"].device, iteration, phase)
        if phase == "discriminator":
            return self._critic_step(nets, batch, gen)
        if phase == "generator":
            return self._generator_step(nets, batch, gen)
        raise ValueError(f"BridgeGAN has no phase {phase!r}")

    def _fake_kinds(self) -> int:
        return 3 if self.m.use_interpolation else 2

    def _critic_step(self, nets: Nets, batch: dict[str, Tensor], gen: torch.Generator) -> tuple[Tensor, Logs]:
        m = self.m
        x, ls, x_t, lt, idx_t = self._target(batch, gen)
        delta = lt - ls
        k = self._fake_kinds()
        with torch.no_grad():
            r = self._latent(nets, x_t, delta, idx_t, gen)
            alpha = torch.rand(x.shape[0], 1, 1, 1, generator=gen, device=x.device, dtype=x.dtype)
            codes = self._codes(nets, x, x_t, delta, r, alpha if m.use_interpolation else None)
            styles = [codes["s_rand"], codes["s_ref"]] + ([codes["s_int"]] if m.use_interpolation else [])
            fakes = nets["generator"](x.repeat(k, 1, 1, 1), torch.cat(styles))
        disc = nets["discriminator"]
        adv_real, cls_real = disc(x)
        adv_fake, _ = disc(fakes)
        adv = wgan_critic_loss(adv_real, adv_fake)  # equal-sized fakes: mean = 1/k sum of means
        gp = gradient_penalty(lambda t: disc(t)[0], x.repeat(k, 1, 1, 1), fakes, generator=gen)
        cls = F.binary_cross_entropy_with_logits(cls_real, ls)
        loss = m.lambda_adv * adv + m.lambda_gp * gp + m.lambda_cls_real * cls
        logs = {"d_wasserstein": -adv.detach(), "d_gp": gp.detach(), "d_cls": cls.detach(),
                "d_cls_acc": attribute_accuracy(cls_real, ls), "d_loss": loss.detach()}
        return loss, logs

    def _generator_step(self, nets: Nets, batch: dict[str, Tensor], gen: torch.Generator) -> tuple[Tensor, Logs]:
        m = self.m
        x, ls, x_t, lt, idx_t = self._target(batch, gen)
        b = x.shape[0]
        delta = lt - ls
        zero = torch.zeros_like(delta)
        r = self._latent(nets, x_t, delta, idx_t, gen)
        alpha = torch.rand(b, 1, 1, 1, generator=gen, device=x.device, dtype=x.dtype)
        r1 = torch.randn(b, m.latent_dim, generator=gen, device=x.device, dtype=x.dtype)
        # one batched pass per network (IN is per sample, so batching changes nothing)
        enc = nets["encoder"](torch.cat([x, x_t, x, x_t]), torch.cat([-delta, delta, zero, zero]))
        s_s, e_t, e_s0, e_t0 = enc.split(b)
        maps = nets["mapping"](torch.cat([r, r1, r]), torch.cat([delta, delta, zero]))
        m_r, m_r1, m_r0 = maps.split(b)
        s_rand, s_ref = s_s + m_r, s_s + e_t
        styles = [s_rand, s_ref]
        if m.use_interpolation:
            styles.append(alpha * s_rand + (1 - alpha) * s_ref)
        k = len(styles)
        styles += [s_s + m_r1, m_r0 + e_s0, e_t0 + e_s0]  # mode-seeking partner, two reconstructions
        out = nets["generator"](x.repeat(len(styles), 1, 1, 1), torch.cat(styles)).split(b)
        fakes, x_rand1, rec_rand, rec_ref = torch.cat(out[:k]), out[k], out[k + 1], out[k + 2]
        x_rand, x_ref = out[0], out[1]
        adv_fake, cls_fake = nets["discriminator"](fakes)
        adv = wgan_generator_loss(adv_fake)
        cls = F.binary_cross_entropy_with_logits(cls_fake, lt.repeat(k, 1))
        rec = 0.5 * ((x - rec_rand).abs().mean() + (x - rec_ref).abs().mean())
        ak_delta = attribute_keeping_delta(delta, ls)
        enc2 = nets["encoder"](torch.cat([x_rand.detach(), x_ref.detach(), x_rand, x]),
                               torch.cat([delta, delta, ak_delta, ak_delta]))
        c_rand, c_ref, ak_fake, ak_real = enc2.split(b)
        cyc_rand = (s_rand - (c_rand + s_s)).abs().mean()
        cyc_ref = (s_ref - (c_ref + s_s)).abs().mean()
        cyc = 0.5 * (cyc_rand + cyc_ref)
        ak = (ak_fake - ak_real).abs().mean()
        sim = (s_rand - s_ref).abs().mean()
        ms = (r1 - r).abs().mean() / ((x_rand1.detach() - x_rand).abs().mean() + 1e-5)
        loss = (m.lambda_adv * adv + m.lambda_cls * cls + m.lambda_rec * rec + m.lambda_cyc * cyc
                + m.lambda_ak * ak + m.lambda_sim * sim + m.lambda_ms * ms)
        if m.use_latent_table and idx_t is not None:
            self._pending = (idx_t.detach(), r.detach())
        logs = {"g_adv": adv.detach(), "g_cls": cls.detach(), "g_rec": rec.detach(), "g_cyc_rand": cyc_rand.detach(),
                "g_cyc_ref": cyc_ref.detach(), "g_ak": ak.detach(), "g_sim": sim.detach(), "g_ms": ms.detach(),
                "g_cls_acc": attribute_accuracy(cls_fake, lt.repeat(k, 1)), "r_abs": r.detach().abs().mean(),
                # code health: the codes end in ReLU, and the L1 code terms (cyc, ak, sim) are all
                # zero when E and M output zeros; these fall to 0 when the codes die
                "code_e_abs": s_s.detach().abs().mean(), "code_m_abs": m_r.detach().abs().mean(),
                "code_m_spread": m_r.detach().std(0).mean() if b > 1 else m_r.detach().new_zeros(()),
                "g_loss": loss.detach()}
        return loss, logs

    def diagnose(self, record: Mapping[str, float]) -> str | None:
        """Warn when the style codes have collapsed to zero (both mean |S_s| and mean |M(R, Delta)| < ``DEAD_CODE``).

        E and M end in ReLU, and every code-space term (alignment, both latent
        cycles, attribute keeping) is an L1 distance between codes, all met by
        codes that are zero for every input.  Once there, the generator's style
        input no longer depends on Delta, no edit can be learnt, and the ReLUs
        pass no gradient to come back (docs/BENCHMARKS.md "BridgeGAN: the style
        codes die": at 32 px, between 400 and 2,550 iterations in every run
        with these terms).  At initialisation both means are about 0.37.
        """
        e, m = record.get("code_e_abs"), record.get("code_m_abs")
        if e is None or m is None or max(e, m) >= DEAD_CODE:
            return None
        return (f"BridgeGAN's style codes have collapsed to zero (mean |E(x, -Delta)| {e:.1e}, mean |M(R, Delta)| "
                f"{m:.1e}): the alignment, latent-cycle and attribute-keeping terms are all met by zero codes, so the "
                "generator no longer sees Delta and cannot learn an edit; see docs/BENCHMARKS.md \"BridgeGAN: the "
                "style codes die\"")

    def after_update(self, phase: str) -> None:
        """After the generator update, write R' back to the table rows of the targets (all ranks' rows under DDP)."""
        if phase != "generator" or self._pending is None:
            return
        idx, r = self._pending
        self._pending = None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            world = torch.distributed.get_world_size()
            idxs = [torch.empty_like(idx) for _ in range(world)]
            rs = [torch.empty_like(r) for _ in range(world)]
            torch.distributed.all_gather(idxs, idx.contiguous())
            torch.distributed.all_gather(rs, r.contiguous())
            idx, r = torch.cat(idxs), torch.cat(rs)
        table: LatentTable = self.networks["latent_table"]  # type: ignore[assignment]
        table.ensure(int(idx.max()) + 1)
        table.table[idx] = r.to(table.table.dtype)

    # -- inference ------------------------------------------------------------------------
    @torch.no_grad()
    def predict_labels(self, x: Tensor) -> Tensor:
        """Attribute labels in {0, 1} (B, n) from D's classifier head (logit > 0)."""
        return (self.networks["discriminator"](x)[1] > 0).to(x.dtype)

    def synthesise(self, x: Tensor, source_labels: Tensor, target_labels: Tensor, *, reference: Tensor | None = None,
                   mix: float = 0.0, latents: Tensor | None = None, delta_scale: float | None = None) -> Tensor:
        """Edited images (B * k, 3, H, W), input-major, for ``latents`` (B, k, d) (k = 1 without them).

        ``mix`` in [0, 1]: S = (1 - mix) S_rand + mix S_ref (0: label-based; 1:
        reference-based, needs ``reference``).  ``delta_scale`` defaults to
        ``test_delta_scale``.
        """
        m = self.m
        nets = self.networks
        scale = m.test_delta_scale if delta_scale is None else delta_scale
        delta = scale * (target_labels.to(x.dtype) - source_labels.to(x.dtype))
        b = x.shape[0]
        if latents is None:
            latents = torch.randn(b, 1, m.latent_dim, device=x.device, dtype=x.dtype)
        k = latents.shape[1]
        s_s = nets["encoder"](x, -delta)
        style = s_s
        if mix > 0:
            if reference is None:
                raise ConfigError("reference-based translation (--mix > 0) needs --exemplar")
            s_ref = s_s + nets["encoder"](reference, delta)
            style = s_ref
        if mix < 1:
            m_r = nets["mapping"](latents.reshape(b * k, -1), delta.repeat_interleave(k, 0))
            s_rand = s_s.repeat_interleave(k, 0) + m_r
            style = s_rand if mix == 0 else (1 - mix) * s_rand + mix * style.repeat_interleave(k, 0)
        elif k > 1:
            style = style.repeat_interleave(k, 0)
        return nets["generator"](x.repeat_interleave(k, 0), style)

    def _attribute_index(self, name: str) -> int:
        if name in self.attributes:
            return self.attributes.index(name)
        close = difflib.get_close_matches(name, self.attributes, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"--attr {name}: this model was not trained on it{hint} It knows "
                          f"{', '.join(self.attributes)}")

    def target_labels(self, source: Tensor, guidance: Guidance, reference: Tensor | None) -> tuple[Tensor, list[str]]:
        """l_t from the request: the named attributes set (a value, or the reference's), conflicts resolved."""
        requested = guidance.attribute_dict()
        for name in requested:
            self._attribute_index(name)
        if reference is None and any(v is None for v in requested.values()):
            missing = next(n for n, v in requested.items() if v is None)
            raise ConfigError(f"--attr {missing}: a name without =0/=1 takes the value from the reference; pass "
                              f"--exemplar ref.png or --attr {missing}=1")
        if reference is not None and not requested:  # reference-based without names: all its attributes
            requested = {n: None for n in self.attributes}
        ref_labels = self.predict_labels(reference) if reference is not None else None
        lt = source.clone()
        for name, value in requested.items():
            k = self.attributes.index(name)
            lt[:, k] = ref_labels[:, k] if value is None else float(value)  # type: ignore[index]
        explicit = [n for n, v in requested.items() if v is not None]
        return resolve_conflicts(lt, self.attributes, list(requested), explicit)

    def translate(self, x: Tensor, guidance: Guidance) -> dict[str, Tensor]:
        """Label-based (``--attr``), reference-based (``--exemplar`` [+ ``--attr NAME``]) or mixed (``--mix``).

        Source labels come from D's classifier head.  ``--outputs k`` draws k
        latents R ~ N(0, I) from a generator seeded with ``--seed`` (default 0).
        Conflicts resolved by :func:`resolve_conflicts` are reported with a
        warning.
        """
        with torch.no_grad():
            return self._translate(x, guidance)

    def _translate(self, x: Tensor, guidance: Guidance) -> dict[str, Tensor]:
        reference = guidance.exemplar_for(x) if guidance.exemplar is not None else None
        if guidance.mix is not None and reference is None:
            raise ConfigError("--mix blends label- and reference-based codes: it needs --exemplar ref.png")
        mix = guidance.mix if guidance.mix is not None else (1.0 if reference is not None else 0.0)
        n = guidance.n_outputs
        if n > 1 and mix >= 1.0:
            raise ConfigError(f"--outputs {n}: reference-based translation is deterministic (one output per "
                              "reference); drop --outputs, or add --mix below 1 to vary the label-based part")
        source = self.predict_labels(x)
        target, notes = self.target_labels(source, guidance, reference)
        for note in notes:
            warnings.warn(f"BridgeGAN conflict resolution: {note}", stacklevel=3)  # points at translate's caller
        g = torch.Generator(device=x.device).manual_seed(guidance.seed if guidance.seed is not None else 0)
        latents = torch.randn(x.shape[0], n, self.m.latent_dim, generator=g, device=x.device, dtype=x.dtype)
        out = self.synthesise(x, source, target, reference=reference, mix=mix, latents=latents)
        return {"output": out}

    def sample(self, batch: dict[str, Tensor]) -> list[tuple[str, Tensor]]:
        """Label-based and reference-based columns for the same targets (the batch rolled by one).

        Columns: input; its reference (the next image); label-based flip of the
        first attribute; label-based towards the reference's labels; reference-based
        towards the same labels; their codes mixed half-way.  Short titles: the grid
        writes them above 32-px columns.
        """
        x = batch["image"]
        ls = batch["labels"].to(x.dtype)
        ref, lt = x.roll(1, 0), ls.roll(1, 0)
        lat = torch.randn(x.shape[0], 1, self.m.latent_dim, device=x.device, dtype=x.dtype)
        flip = ls.clone()
        flip[:, 0] = 1 - flip[:, 0]
        flip, _ = resolve_conflicts(flip, self.attributes, [self.attributes[0]])
        return [("input", x), ("reference", ref),
                (f"flip {self.attributes[0]}", self.synthesise(x, ls, flip, latents=lat)),
                ("label: ref's", self.synthesise(x, ls, lt, latents=lat)),
                ("ref-based", self.synthesise(x, ls, lt, reference=ref, mix=1.0, latents=lat)),
                ("mix 0.5", self.synthesise(x, ls, lt, reference=ref, mix=0.5, latents=lat))]


# --------------------------------------------------------------------------- data


def _train_count(cfg: RunConfig) -> int:
    """Train images in the store (the latent table's size); 0 when the store is not at hand (grown on use)."""
    from pathlib import Path

    from i2icli.data.store import open_store

    path = Path(cfg.data.path) if cfg.data.path else None
    if path is None or not path.is_file():
        return 0
    try:
        store = open_store(path)
        return store.count("train") if "train" in store.splits else 0
    except DataError:
        return 0


class BridgeDataset(KeyedDataset):
    """Attribute images with their index: ``{"image", "labels", "index"}`` (the index keys the latent table)."""

    image_keys = ("image",)

    def __init__(self, base: AttributeDataset):
        if len(base) < 2:
            raise DataError(f"{base.store.path}: BridgeGAN needs at least two {base.split} images (source and target)")
        self.base = base
        self.seed = base.seed
        self.label_names = base.label_names

    def __len__(self) -> int:
        return len(self.base)

    def item(self, index: int, rng: np.random.Generator) -> dict[str, Tensor]:
        out = self.base.item(index, rng)
        out["index"] = torch.tensor(index, dtype=torch.int64)
        return out


class DomainLabels(AttributeDataset):
    """A domain store (AFHQ) seen as an attribute store: one-hot labels over the chosen domains.

    BridgeGAN's AFHQ experiment [S] uses the three domains as labels; Delta
    between two one-hot vectors removes the source domain and adds the target.
    Only images of the chosen domains are used.
    """

    def __init__(self, store: Any, split: str, names: Sequence[str], augment: Any, seed: int):
        self.store, self.split = store, split
        self.label_names = tuple(names)
        ids = store.domain_ids(split)
        cols = np.array([store.domain_index(n) for n in names])
        keep = np.flatnonzero(np.isin(ids, cols))
        self.rows = keep
        self.labels = (ids[keep, None] == cols[None]).astype(np.float32)
        self.augment = augment
        self.seed = int(seed)

    def raw_image(self, index: int) -> np.ndarray:
        return self.store.image(self.split, int(self.rows[index]))


def bridge_dataset(cfg: RunConfig, split: str) -> BridgeDataset:
    """The registered dataset: :class:`BridgeDataset` over the store's attributes, or its domains as one-hot labels."""
    if not cfg.data.attributes:
        raise ConfigError(f"{cfg.recipe}: BridgeGAN needs [data] attributes (the label names to edit)")
    from pathlib import Path

    from i2icli.data.datasets import _Augment
    from i2icli.data.store import open_store

    path = Path(cfg.data.path) if cfg.data.path else None
    if path is not None and path.is_file():
        store = open_store(path)
        if not store.attributes and store.domains:
            missing = [a for a in cfg.data.attributes if a not in store.domains]
            if missing:
                raise DataError(f"{path}: no domain {missing[0]!r} (data.attributes names the domains used as "
                                f"labels); the store has {', '.join(store.domains)}")
            base = DomainLabels(store, split, cfg.data.attributes, _Augment(cfg, split, crop=False), cfg.train.seed)
            if len(base) == 0:
                raise DataError(f"{path}: has no {split} images in the domains {', '.join(cfg.data.attributes)}")
            return BridgeDataset(base)
    return BridgeDataset(attribute_dataset(cfg, split))


register(ModelSpec(
    name="bridge",
    config_cls=BridgeConfig,
    build=BridgeGAN,
    dataset=bridge_dataset,
    default_recipe="celeba.toml",
    summary="BridgeGAN (ICCV'21): label- and reference-based multi-attribute editing, spatial style codes + SPADE",
    accepts=("exemplar", "attributes", "seed", "outputs", "mix"),
    requires=("exemplar|attributes",),
    synthetic="faces",
))
