"""BridgeGAN (models/bridge.py): architecture counts, blocks, losses, the latent table, translation and resume."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from family_driver import drive
from i2icli.config import DataConfig, RunConfig, TrainConfig, read_recipe, resolve
from i2icli.errors import ConfigError
from i2icli.guidance import Guidance, validate
from i2icli.models.bridge import (
    BridgeConfig,
    BridgeGAN,
    LatentTable,
    attribute_keeping_delta,
    bridge_dataset,
    resolve_conflicts,
)
from i2icli.nn.blocks import PreActResidualBlock
from i2icli.nn.norms import BiasInstanceNorm
from i2icli.registry import RECIPES_DIR, config_cls_for, get

torch.set_num_threads(1)

CELEBA14 = ("Young", "Mouth_Slightly_Open", "Smiling", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair",
            "Receding_Hairline", "Bangs", "Male", "No_Beard", "Mustache", "Goatee", "Sideburns")
ATTRS = ("Black_Hair", "Blond_Hair", "Smiling")


def tiny_model(**over) -> BridgeConfig:
    base = {"channels": 4, "spade_channels": 8, "enc_channels": 4, "map_channels": 8, "n_map_up": 2,
            "disc_channels": 4, "latent_dim": 4}
    base.update(over)
    return BridgeConfig(**base)


def tiny_cfg(path: str = "", model: BridgeConfig | None = None, attrs=ATTRS, size: int = 32, **train) -> RunConfig:
    return RunConfig(model="bridge", model_cfg=model or tiny_model(),
                     data=DataConfig(path=str(path), image_size=size, load_size=size, flip=False, attributes=attrs,
                                     num_workers=0),
                     train=TrainConfig(batch_size=2, **{"seed": 0, **train}), recipe="test")


def build(**over) -> BridgeGAN:
    torch.manual_seed(0)
    return BridgeGAN(tiny_cfg(model=tiny_model(**over)))


def random_batches(n: int, b: int = 2, size: int = 32, n_attr: int = len(ATTRS), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        out.append({"image": torch.rand(b, 3, size, size, generator=g) * 2 - 1,
                    "labels": torch.randint(0, 2, (b, n_attr), generator=g).float(),
                    "index": torch.randperm(6, generator=g)[:b]})
    return out


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# --------------------------------------------------------------------------- architecture


def test_parameter_counts_of_the_authors_architecture_at_128px():
    """The issue's numbers (arithmetic from the authors' TF code), n = 14, bias-only IN."""
    cfg = RunConfig(model="bridge", model_cfg=BridgeConfig(), recipe="t",
                    data=DataConfig(image_size=128, load_size=128, attributes=CELEBA14), train=TrainConfig())
    fam = BridgeGAN(cfg)
    nets = fam.networks
    assert {k: n_params(nets[k]) for k in ("generator", "mapping", "encoder", "discriminator")} == {
        "generator": 7_217_827, "mapping": 121_568, "encoder": 71_536, "discriminator": 9_613_039}
    d = nets["discriminator"]
    assert (n_params(d.stem) + n_params(d.trunk), n_params(d.adv), n_params(d.cls)) == (1_220_064, 4_194_817, 4_198_158)
    x = torch.zeros(1, 3, 128, 128)
    delta = torch.zeros(1, 14)
    s = nets["encoder"](x, delta)
    assert s.shape == (1, 32, 64, 64) and nets["mapping"](torch.zeros(1, 16), delta).shape == (1, 32, 64, 64)
    assert nets["generator"](x, s).shape == (1, 3, 128, 128)
    adv, cls = d(x)
    assert adv.shape == (1,) and cls.shape == (1, 14)
    # affine IN adds a scale per IN channel: +1,184 (G), +320 (M), +272 (E), as the spec's arithmetic says
    affine = BridgeGAN(RunConfig(model="bridge", model_cfg=BridgeConfig(use_norm_scale=True), recipe="t",
                                 data=cfg.data, train=cfg.train)).networks
    assert [n_params(affine[k]) - n_params(nets[k]) for k in ("generator", "mapping", "encoder")] == [1184, 320, 272]


def test_glorot_uniform_init_and_zero_biases():
    fam = build()
    conv = fam.networks["generator"].stem
    fan_in, fan_out = conv.in_channels, conv.out_channels
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.5 * bound
    convs = [m for m in fam.networks.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(float(m.bias.detach().abs().max()) == 0 for m in convs)


def test_generator_spade_equals_a_literal_recomputation():
    """The SPADE layers as the generator builds them: IN without affine, eps 1e-6, 3x3 convs, 1 + gamma."""
    torch.manual_seed(0)
    spade = build().networks["generator"].conditioned[0].norm1.double()  # the mid SPADE block's first layer
    for p in spade.parameters():
        torch.nn.init.normal_(p, std=0.3)
    c, cond_c = spade.gamma.out_channels, spade.shared[0].in_channels
    x = torch.randn(2, c, 8, 8, dtype=torch.float64)
    s = torch.randn(2, cond_c, 4, 4, dtype=torch.float64)
    out = spade(x, s)
    # literal: nearest-resize S (each code pixel covers 2x2), IN without affine (eps 1e-6), 3x3 convs with zero padding
    s_up = s.repeat_interleave(2, 2).repeat_interleave(2, 3)
    mu = x.mean((2, 3), keepdim=True)
    var = ((x - mu) ** 2).mean((2, 3), keepdim=True)
    normed = (x - mu) / torch.sqrt(var + 1e-6)
    shared = spade.shared[0]
    h = torch.relu(F.conv2d(s_up, shared.weight, shared.bias, padding=1))
    gamma = F.conv2d(h, spade.gamma.weight, spade.gamma.bias, padding=1)
    beta = F.conv2d(h, spade.beta.weight, spade.beta.bias, padding=1)
    assert torch.allclose(out, normed * (1 + gamma) + beta, atol=1e-10)
    # a 4x larger code is subsampled at every 4th pixel (TF's and torch's nearest agree: floor(i * in / out))
    s_big = torch.randn(1, cond_c, 32, 32, dtype=torch.float64)
    h8 = torch.relu(F.conv2d(s_big[:, :, ::4, ::4], shared.weight, shared.bias, padding=1))
    y = torch.randn(1, c, 8, 8, dtype=torch.float64)
    expect = F.instance_norm(y, eps=1e-6) * (1 + F.conv2d(h8, spade.gamma.weight, spade.gamma.bias, padding=1)) \
        + F.conv2d(h8, spade.beta.weight, spade.beta.bias, padding=1)
    assert torch.allclose(spade(y, s_big), expect, atol=1e-10)


@pytest.mark.parametrize("resample", ["none", "up", "down"])
def test_preact_block_equals_a_literal_recomputation(resample):
    torch.manual_seed(0)
    blk = PreActResidualBlock(3, 4, BiasInstanceNorm, torch.nn.ReLU, resample=resample).double()
    for p in blk.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)

    def inorm(t, b):
        mu = t.mean((2, 3), keepdim=True)
        return (t - mu) / torch.sqrt(((t - mu) ** 2).mean((2, 3), keepdim=True) + 1e-6) + b[None, :, None, None]

    def up(t):
        return t.repeat_interleave(2, 2).repeat_interleave(2, 3)

    h = torch.relu(inorm(x, blk.norm1.bias))
    if resample == "up":
        h = up(h)
    h = F.conv2d(h, blk.conv1.weight, blk.conv1.bias, padding=1)
    h = F.conv2d(torch.relu(inorm(h, blk.norm2.bias)), blk.conv2.weight, blk.conv2.bias, padding=1)
    sc = blk.shortcut
    if resample == "down":
        h = F.avg_pool2d(h, 2)
        s = F.avg_pool2d(F.conv2d(x, sc.weight, sc.bias), 2)
    elif resample == "up":
        s = F.conv2d(up(x), sc.weight, sc.bias)
    else:
        s = F.conv2d(x, sc.weight, sc.bias)
    assert torch.allclose(blk(x), h + s, atol=1e-10)  # no 1/sqrt(2)


def test_config_errors_are_user_errors():
    with pytest.raises(ConfigError, match="attributes"):
        BridgeGAN(tiny_cfg(attrs=()))
    with pytest.raises(ConfigError, match="n_map_up"):
        BridgeGAN(tiny_cfg(model=tiny_model(n_map_up=4)))  # 32 px: M would start from 1x1
    with pytest.raises(ConfigError, match="divisible"):
        BridgeGAN(tiny_cfg(size=40))


# --------------------------------------------------------------------------- labels


def test_attribute_keeping_delta_eq11():
    """[S] Fig. 1: kept attributes (Delta = 0) get the Delta that would flip them, edited ones 0."""
    ls = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]])
    lt = torch.tensor([[0.0, 0.0, 1.0, 1.0, 1.0]])
    ak = attribute_keeping_delta(lt - ls, ls)
    assert ak.tolist() == [[0.0, 1.0, -1.0, 0.0, -1.0]]


def test_conflict_resolution_follows_the_authors_rules():
    names = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Bangs", "Receding_Hairline", "Goatee", "No_Beard")
    lt = torch.tensor([[1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
                       [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0]])
    out, notes = resolve_conflicts(lt, names, ["Blond_Hair", "Receding_Hairline", "Goatee"])
    assert out.tolist() == [[0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0],
                            [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]]
    assert "Blond_Hair=1 sets Black_Hair=0 for 1 image(s)" in notes
    assert any("Receding_Hairline=1 sets Bangs=0" in n for n in notes) and any("No_Beard=0" in n for n in notes)
    unchanged, none = resolve_conflicts(lt, names, [])
    assert torch.equal(unchanged, lt) and none == []
    with pytest.raises(ConfigError, match="exclude each other"):
        resolve_conflicts(lt, names, ["Black_Hair", "Blond_Hair"])
    # values taken from a reference (not explicit): the earlier attribute wins, no error
    first, _ = resolve_conflicts(lt, names, ["Black_Hair", "Blond_Hair"], explicit=())
    assert first[0, :3].tolist() == [1.0, 0.0, 0.0]


def test_target_labels_delta_and_reference_attributes():
    fam = build()
    fam.networks.eval()
    ls = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    lt, notes = fam.target_labels(ls, Guidance(attributes=(("Blond_Hair", 1), ("Smiling", 0))), None)
    assert lt.tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]] and len(notes) == 1
    ref = torch.rand(2, 3, 32, 32) * 2 - 1
    ref_labels = fam.predict_labels(ref)
    lt, _ = fam.target_labels(ls, Guidance(attributes=(("Smiling", None),)), ref)
    assert torch.equal(lt[:, 2], ref_labels[:, 2]) and torch.equal(lt[:, :2], ls[:, :2])
    lt, _ = fam.target_labels(ls, Guidance(exemplar=ref), ref)  # no names: all of the reference's attributes
    expect, _ = resolve_conflicts(ref_labels, ATTRS, list(ATTRS), explicit=())
    assert torch.equal(lt, expect)


# --------------------------------------------------------------------------- losses


def _grads(fam: BridgeGAN, phase: str, batch: dict, iteration: int = 0) -> dict[str, bool]:
    fam.networks.train()
    for p in fam.networks.parameters():
        p.grad = None
        p.requires_grad_(True)
    loss, _ = fam.step(phase, fam.networks, batch, iteration)
    loss.backward()
    return {name: any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in net.parameters())
            for name, net in fam.networks.items() if name != "latent_table"}


ZERO = {"lambda_adv": 0.0, "lambda_cls": 0.0, "lambda_rec": 0.0, "lambda_cyc": 0.0, "lambda_ak": 0.0,
        "lambda_sim": 0.0, "lambda_ms": 0.0}


def test_latent_cycle_and_alignment_train_codes_not_the_generator():
    batch = random_batches(1)[0]
    batch["labels"] = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # a permutation always changes labels
    cyc = _grads(build(**{**ZERO, "lambda_cyc": 1.0}), "generator", batch)
    assert cyc == {"generator": False, "mapping": True, "encoder": True, "discriminator": False}
    sim = _grads(build(**{**ZERO, "lambda_sim": 1.0}), "generator", batch)
    assert sim == {"generator": False, "mapping": True, "encoder": True, "discriminator": False}
    ak = _grads(build(**{**ZERO, "lambda_ak": 1.0}), "generator", batch)  # no stop-gradient: through X_rand
    assert ak == {"generator": True, "mapping": True, "encoder": True, "discriminator": False}


def test_alignment_and_cycle_values_are_the_literal_terms():
    fam = build()
    batch = random_batches(1)[0]
    fam.networks.eval()
    loss, logs = fam.step("generator", fam.networks, batch, 5)
    # recompute with the step's own random draws (same seeded generator, same order)
    gen = fam._generator(batch["image"].device, 5, "generator")
    x, ls, x_t, lt, idx_t = fam._target(batch, gen)
    delta = lt - ls
    nets = fam.networks
    with torch.no_grad():
        r = fam._latent(nets, x_t, delta, idx_t, gen)
        s_s = nets["encoder"](x, -delta)
        s_rand = s_s + nets["mapping"](r, delta)
        s_ref = s_s + nets["encoder"](x_t, delta)
        assert torch.allclose(logs["g_sim"], (s_rand - s_ref).abs().mean(), atol=1e-6)
        m_r = s_rand - s_s
        assert torch.allclose(logs["code_e_abs"], s_s.abs().mean(), atol=1e-6)
        assert torch.allclose(logs["code_m_abs"], m_r.abs().mean(), atol=1e-6)
        assert torch.allclose(logs["code_m_spread"], m_r.std(0).mean(), atol=1e-6)
        x_rand = nets["generator"](x, s_rand)
        cyc_rand = (s_rand - (nets["encoder"](x_rand, delta) + s_s)).abs().mean()
        assert torch.allclose(logs["g_cyc_rand"], cyc_rand, atol=1e-6)
        ak = attribute_keeping_delta(delta, ls)
        assert torch.allclose(logs["g_ak"], (nets["encoder"](x_rand, ak) - nets["encoder"](x, ak)).abs().mean(),
                              atol=1e-6)
    m = fam.m
    total = (logs["g_adv"] + m.lambda_cls * logs["g_cls"] + m.lambda_rec * logs["g_rec"]
             + m.lambda_cyc * 0.5 * (logs["g_cyc_rand"] + logs["g_cyc_ref"]) + m.lambda_ak * logs["g_ak"]
             + m.lambda_sim * logs["g_sim"] + m.lambda_ms * logs["g_ms"])
    assert torch.allclose(loss.detach(), total, rtol=1e-5)


def test_wgan_gp_gradients_reach_the_critic_head_only():
    batch = random_batches(1)[0]
    fam = build(lambda_adv=0.0, lambda_cls_real=0.0, lambda_gp=1.0)
    fam.step("discriminator", fam.networks, batch, 0)
    grads = _grads(fam, "discriminator", batch)
    assert grads == {"generator": False, "mapping": False, "encoder": False, "discriminator": True}
    d = fam.networks["discriminator"]
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in d.cls.parameters())  # adversarial head only
    assert any(float(p.grad.abs().sum()) > 0 for p in d.adv.parameters())
    assert any(float(p.grad.abs().sum()) > 0 for p in d.trunk.parameters())
    # the penalty is the mean over the three fakes of (||grad D(x_hat)|| - 1)^2, one weight per sample
    fam.networks.eval()
    loss, logs = fam.step("discriminator", fam.networks, batch, 3)
    assert torch.allclose(loss.detach(), logs["d_gp"]) and float(logs["d_gp"]) > 0


def test_critic_step_is_wgan_plus_gp_plus_real_classification():
    fam = build()
    batch = random_batches(1)[0]
    loss, logs = fam.step("discriminator", fam.networks, batch, 0)
    assert torch.allclose(loss.detach(), -logs["d_wasserstein"] + 10 * logs["d_gp"] + logs["d_cls"], rtol=1e-5)
    _, cls = fam.networks["discriminator"](batch["image"])
    assert torch.allclose(logs["d_cls"], F.binary_cross_entropy_with_logits(cls, batch["labels"]).detach())


# --------------------------------------------------------------------------- latent table


@pytest.mark.parametrize("update", ["ascent", "descent"])
def test_latent_step_moves_r_along_the_gradient_sign(update):
    fam = build(latent_update=update)
    nets = fam.networks
    x_t = torch.rand(2, 3, 32, 32) * 2 - 1
    delta = torch.tensor([[1.0, -1.0, 0.0], [0.0, 1.0, 0.0]])
    r0 = torch.zeros(2, 4)
    r1 = fam.latent_step(nets["encoder"], nets["mapping"], x_t, delta, r0)
    r = r0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.mse_loss(nets["mapping"](r, delta), nets["encoder"](x_t, delta).detach()), r)
    rms = g.pow(2).mean(1, keepdim=True).sqrt()
    sign = 1 if update == "ascent" else -1
    assert torch.allclose(r1, (r0 + sign * (0.9 / rms + 5) * g).clamp(-1, 1), atol=1e-6)
    assert (r1 * g * sign).sum() > 0 and r1.abs().max() <= 1


def test_generator_update_writes_r_to_the_targets_rows_and_the_critic_does_not():
    fam = build()
    table: LatentTable = fam.networks["latent_table"]  # type: ignore[assignment]
    batches = random_batches(6)
    drive(fam, batches[:5])  # iterations 0..4: one G step at 0
    first = table.table.clone()
    assert len(table) >= int(batches[0]["index"].max()) + 1
    written = batches[0]["index"]
    fresh = LatentTable(len(table), 4, seed=0).table
    untouched = [i for i in range(len(table)) if i not in written.tolist()]
    assert torch.equal(first[untouched], fresh[untouched])  # D steps (1..4) wrote nothing
    assert not torch.equal(first[written], fresh[written]) and first[written].abs().max() <= 1


def test_table_is_checkpointed_and_resized_on_load():
    fam = build()
    drive(fam, random_batches(1))
    state = fam.networks.state_dict()
    other = build()
    assert len(other.networks["latent_table"]) == 0  # no store at hand: grown on use
    other.networks.load_state_dict(state)
    assert torch.equal(other.networks["latent_table"].table, state["latent_table.table"])


def test_fresh_noise_ablation_has_no_table():
    fam = build(use_latent_table=False, use_interpolation=False, lambda_sim=0.0)
    assert "latent_table" not in fam.networks
    hist, _ = drive(fam, random_batches(6))
    assert all(math.isfinite(float(v)) for _, _, logs in hist for v in logs.values())


# --------------------------------------------------------------------------- training and resume


def test_phases_and_training_changes_every_network():
    fam = build()
    assert [(p.name, p.modules, p.every) for p in fam.phases] == [
        ("discriminator", ("discriminator",), 1), ("generator", ("generator", "mapping", "encoder"), 5)]
    assert fam.ema == ()
    before = {k: v.clone() for k, v in fam.networks.state_dict().items()}
    hist, _ = drive(fam, random_batches(6))
    assert all(math.isfinite(float(v)) for _, _, logs in hist for v in logs.values())
    after = fam.networks.state_dict()
    for name in ("generator", "mapping", "encoder", "discriminator"):
        assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith(name + ".")), name


def test_resume_repeats_an_uninterrupted_run_exactly():
    from i2icli.engine.iteration import build_optimizers

    batches = random_batches(11)
    full = build()
    drive(full, batches)
    part = build()
    _, opts = drive(part, batches[:6])
    saved = ({k: v.clone() for k, v in part.networks.state_dict().items()},
             {k: o.state_dict() for k, o in opts.items()})
    resumed = build()
    resumed.networks.load_state_dict(saved[0])
    opts2 = build_optimizers(resumed)
    for k, o in opts2.items():
        o.load_state_dict(saved[1][k])
    torch.manual_seed(1234)  # the global RNG state is irrelevant: step randomness is keyed by iteration
    drive(resumed, batches[6:], start=6, optimizers=opts2)
    a, b = full.networks.state_dict(), resumed.networks.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- translation


def test_translate_modes_shapes_and_seeds():
    fam = build()
    fam.networks.eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    ref = torch.rand(1, 3, 32, 32) * 2 - 1
    spec = get("bridge")
    g = validate(spec, Guidance(attributes=(("Blond_Hair", 1),), outputs=3, seed=0))
    out = fam.translate(x, g)["output"]
    assert out.shape == (6, 3, 32, 32) and torch.isfinite(out).all()
    assert torch.equal(out, fam.translate(x, g)["output"])  # same seed, same draws
    other = fam.translate(x, validate(spec, Guidance(attributes=(("Blond_Hair", 1),), outputs=3, seed=1)))["output"]
    assert not torch.equal(out, other)
    assert (out[0] - out[1]).abs().max() > 0  # several latents, several outputs
    by_ref = fam.translate(x, validate(spec, Guidance(exemplar=ref, attributes=(("Smiling", None),))))["output"]
    assert by_ref.shape == (2, 3, 32, 32)
    mixed = fam.translate(x, validate(spec, Guidance(exemplar=ref, mix=0.5, outputs=2)))["output"]
    assert mixed.shape == (4, 3, 32, 32)
    # mix = 1 is the reference-based output, whatever the latent
    full_ref = fam.translate(x, validate(spec, Guidance(exemplar=ref, mix=1.0)))["output"]
    plain_ref = fam.translate(x, validate(spec, Guidance(exemplar=ref)))["output"]
    assert torch.equal(full_ref, plain_ref)


def test_translate_bad_input_one_line_errors():
    fam = build()
    fam.networks.eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    spec = get("bridge")
    with pytest.raises(ConfigError, match="did you mean Blond_Hair"):
        fam.translate(x, validate(spec, Guidance(attributes=(("Blonde_Hair", 1),))))
    with pytest.raises(ConfigError, match="must be 0 or 1"):
        validate(spec, Guidance(attributes=(("Blond_Hair", 2),)))
    with pytest.raises(ConfigError, match="deterministic"):
        fam.translate(x, validate(spec, Guidance(exemplar=x, outputs=4)))
    with pytest.raises(ConfigError, match="needs --exemplar"):
        fam.translate(x, validate(spec, Guidance(attributes=(("Smiling", 1),), mix=0.5)))
    with pytest.raises(ConfigError, match="from the reference"):
        fam.translate(x, validate(spec, Guidance(attributes=(("Smiling", None),))))
    with pytest.raises(ConfigError, match="needs --exemplar or --attr"):
        validate(spec, Guidance(seed=0))
    with pytest.raises(ConfigError, match="exclude each other"):
        fam.translate(x, validate(spec, Guidance(attributes=(("Black_Hair", 1), ("Blond_Hair", 1)))))
    lab = torch.tensor([[1.0, 0.0, 0.0]])
    fam.predict_labels = lambda t: lab.expand(t.shape[0], -1)  # a black-haired input
    with pytest.warns(UserWarning, match="conflict resolution"):
        fam.translate(x, validate(spec, Guidance(attributes=(("Blond_Hair", 1),))))


def test_sample_columns():
    fam = build()
    fam.networks.eval()
    batch = random_batches(1)[0]
    with torch.no_grad():
        cols = fam.sample(batch)
    titles = [t for t, _ in cols]
    assert titles == ["input", "reference", "flip Black_Hair", "label: ref's", "ref-based", "mix 0.5"]
    assert all(c.shape == (2, 3, 32, 32) for _, c in cols)


# --------------------------------------------------------------------------- registry, recipes, data


def test_registered_with_attribute_and_exemplar_guidance():
    spec = get("bridge")
    assert spec.accepts == ("exemplar", "attributes", "seed", "outputs", "mix")
    assert spec.requires == ("exemplar|attributes",) and spec.build is BridgeGAN and spec.dataset is bridge_dataset


@pytest.mark.parametrize("name", ["celeba.toml", "celeba_code.toml", "afhq.toml", "tiny.toml"])
def test_recipes_resolve_and_build(name):
    path = RECIPES_DIR / "bridge" / name
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model="bridge")
    m = cfg.model_cfg
    assert cfg.data.flip is (name == "afhq.toml")
    t = cfg.train
    assert (t.lr, t.betas, t.lr_schedule, t.ema_decay) == (2e-4, (0.5, 0.999), "none", 0)
    if name == "celeba.toml":
        assert cfg.data.attributes == CELEBA14 and cfg.train.batch_size == 48 and cfg.data.image_size == 128
        assert (m.lambda_cls, m.lambda_rec, m.lambda_cyc, m.lambda_ms, m.lambda_sim, m.lambda_ak) == (
            10, 100, 100, 0.005, 50, 100)
    if name == "celeba_code.toml":
        assert math.isclose(m.lambda_cyc * 0.5, 50 / 3) and math.isclose(m.lambda_ak, 50 / 3)
        assert cfg.train.batch_size == 60
    if name == "afhq.toml":  # 256 px is built only for shapes (a meta device would be faster; 40M params is fine)
        assert cfg.data.image_size == 256 and cfg.data.attributes == ("cat", "dog", "wild")
        return
    fam = get("bridge").build(cfg)
    assert fam.phases[1].every == 5


def test_dataset_items_carry_their_index_and_errors(tmp_path):
    from lomit_helpers import toy_store

    store = toy_store(tmp_path / "toy.h5", n_train=6, n_test=2)
    cfg = tiny_cfg(store, attrs=("Black_Hair", "Blond_Hair"))
    ds = bridge_dataset(cfg, "train")
    assert len(ds) == 6 and ds.image_keys == ("image",)
    item = ds[8]
    assert int(item["index"]) == 2 and item["image"].dtype == torch.uint8 and item["labels"].shape == (2,)
    fam = BridgeGAN(cfg)
    assert len(fam.networks["latent_table"]) == 6  # sized from the store's train split
    from i2icli.errors import DataError

    with pytest.raises(DataError, match="no attribute 'Smiling'"):
        bridge_dataset(tiny_cfg(store, attrs=("Smiling",)), "train")


def test_domain_store_gives_one_hot_labels(tmp_path):
    import numpy as np

    from i2icli.data.store import StoreWriter

    path = tmp_path / "afhq.h5"
    with StoreWriter(path, image_size=(32, 32), domains=("cat", "dog", "wild"), producer="tests") as w:
        for i in range(6):
            w.add("train", np.full((32, 32, 3), 40 * i, np.uint8), name=f"{i}.png", domain=i % 3)
    ds = bridge_dataset(tiny_cfg(path, attrs=("cat", "dog")), "train")
    assert len(ds) == 4
    labels = [ds[i]["labels"].tolist() for i in range(4)]
    assert labels == [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]


def test_tiny_run_learns_reconstruction(tmp_path):
    """Twelve D+G iterations on a toy store: finite losses and the reconstruction term falls."""
    from i2icli.data.keyed import images_to_float
    from lomit_helpers import toy_store

    store = toy_store(tmp_path / "toy.h5", n_train=16, n_test=2)
    cfg = tiny_cfg(store, model=tiny_model(n_critic=1), attrs=("Black_Hair", "Blond_Hair"), lr=1e-3)
    torch.manual_seed(0)
    fam = BridgeGAN(cfg)
    ds = bridge_dataset(cfg, "train")
    keys = itertools.count()

    def batches():
        while True:
            items = [ds[next(keys)] for _ in range(4)]
            yield images_to_float({k: torch.stack([it[k] for it in items]) for k in items[0]}, ds.image_keys)

    hist, _ = drive(fam, itertools.islice(batches(), 12))
    rec = [float(logs["g_rec"]) for _, ph, logs in hist if ph == "generator"]
    assert all(math.isfinite(float(v)) for _, _, logs in hist for v in logs.values())
    assert sum(rec[-3:]) / 3 < 0.8 * sum(rec[:2]) / 2


def test_diagnose_warns_when_the_style_codes_are_dead_and_only_then():
    """The codes end in ReLU(IN(.) + beta): with beta far below zero E and M output zeros for every input,
    every code-space L1 term is met, and diagnose says so from the step's own logs."""
    fam = build()
    batch = random_batches(1)[0]
    record = {k: float(v) for k, v in fam.step("generator", fam.networks, batch, 5)[1].items()}
    assert record["code_e_abs"] > 0.1 and record["code_m_abs"] > 0.1 and fam.diagnose(record) is None
    assert fam.diagnose({"d_loss": 1.0}) is None  # a critic-only record says nothing about the codes
    with torch.no_grad():
        for name in ("encoder", "mapping"):
            fam.networks[name].head[2].bias.fill_(-10.0)
    record = {k: float(v) for k, v in fam.step("generator", fam.networks, batch, 5)[1].items()}
    assert record["code_e_abs"] == 0.0 and record["code_m_abs"] == 0.0
    assert record["g_sim"] == 0.0 and record["g_ak"] == 0.0 and record["g_cyc_rand"] == 0.0
    warning = fam.diagnose(record)
    assert warning is not None and "collapsed to zero" in warning and "BridgeGAN: the style codes die" in warning
    assert fam.diagnose({**record, "code_m_abs": 0.05}) is None  # M still alive: not dead yet
