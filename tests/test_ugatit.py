"""U-GAT-IT: architecture sizes from the paper's tables, the Family contract, losses, inference."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from family_driver import drive
from i2icli.config import read_recipe, resolve
from i2icli.errors import ConfigError, DataError
from i2icli.guidance import Guidance, validate
from i2icli.models.base import Nets
from i2icli.models.ugatit import UGATIT, UGATITConfig, UGATITGenerator, attention_map
from i2icli.nn import LIN, AdaLIN, UGATITDiscriminator, rho_parameters
from i2icli.registry import RECIPES_DIR, config_cls_for, get

RECIPES = sorted((RECIPES_DIR / "ugatit").glob("*.toml"))


def load(name: str = "tiny.toml", *overrides: str):
    path = RECIPES_DIR / "ugatit" / name
    return resolve(read_recipe(path), config_cls_for, str(path), overrides=list(overrides), model="ugatit")


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------- parameter counts
#
# Expected counts derived by hand from Tables 4-6 (ch = 64, 4 residual blocks,
# 256 x 256 inputs), with the authors' bias choices (no biases in the
# generator except the CAM 1x1 conv; discriminator convs with biases, their
# classifier and CAM classifiers without):
#
# Generator encoder: 7x7 3->64: 9,408; 3x3 64->128: 73,728; 3x3 128->256: 294,912;
#   4 ResBlocks x 2 convs 3x3 256->256: 4,718,592                              = 5,096,640
# CAM: GAP fc 256 + GMP fc 256 + 1x1 conv 512->256 (131,072 + bias 256)     =   131,840
# gamma/beta MLP, full: 64*64*256 -> 256: 268,435,456; 256->256: 65,536;
#   gamma 65,536; beta 65,536                                                = 268,632,064
# gamma/beta MLP, light: four 256x256 matrices                              =   262,144
# decoder: 4 AdaResBlocks x (2 convs 589,824 + 2 x 256 rho)                 = 4,720,640
# up-sampling: 3x3 256->128 294,912 + LIN(128) 3*128; 3x3 128->64 73,728
#   + LIN(64) 3*64; 7x7 64->3 9,408                                          =   378,624
GEN_LIGHT = 5_096_640 + 131_840 + 262_144 + 4_720_640 + 378_624  # 10,589,888
GEN_FULL = 5_096_640 + 131_840 + 268_632_064 + 4_720_640 + 378_624  # 278,959,808
# Local D (Table 5), 4x4 convs with bias: 3->64 3,136; 64->128 131,200;
#   128->256 524,544; 256->512 2,097,664; CAM 512 + 512 + (1024*512 + 512);
#   classifier 512*16 = 8,192
D_LOCAL = 3_136 + 131_200 + 524_544 + 2_097_664 + (1_024 + 524_800) + 8_192  # 3,290,560
# Global D (Table 6): the local stack up to 512 (stride 2) then 512->1024
#   8,389,632 and 1024->2048 33,556,480; CAM 2*2048 + 4096*2048 + 2048; classifier 2048*16
D_GLOBAL = (3_136 + 131_200 + 524_544 + 2_097_664 + 8_389_632 + 33_556_480 + (4_096 + 8_390_656)
            + 32_768)  # 53,130,176


def test_parameter_counts_match_tables_4_to_6_at_256px():
    with torch.device("meta"):  # no memory for the 268M-weight MLP of the full model
        light = UGATITGenerator(ch=64, n_res=4, image_size=256, light=True)
        full = UGATITGenerator(ch=64, n_res=4, image_size=256, light=False)
        local = UGATITDiscriminator(3, 64, n_layers=5)
        glob = UGATITDiscriminator(3, 64, n_layers=7)
    assert count(light) == GEN_LIGHT == 10_589_888
    assert count(full) == GEN_FULL == 278_959_808
    assert count(local) == D_LOCAL == 3_290_560
    assert count(glob) == D_GLOBAL == 53_130_176


def test_every_recipe_resolves_and_builds():
    names = [p.name for p in RECIPES]
    datasets = ("selfie2anime", "horse2zebra", "cat2dog", "photo2portrait", "photo2vangogh")
    assert set(names) == {f"{d}{s}.toml" for d in datasets for s in ("", "_light")} | {"tiny.toml"}
    built = {}
    for recipe in names:
        cfg = load(recipe)
        assert cfg.model == "ugatit" and cfg.data.path == ""
        if recipe != "tiny.toml":
            assert cfg.data.image_size == 256 and cfg.data.load_size == 286 and cfg.data.flip
            t = cfg.train
            assert (t.lr, t.betas, t.weight_decay, t.batch_size) == (1e-4, (0.5, 0.999), 1e-4, 1)
            assert t.lr_schedule == "linear_half" and t.iterations == 1_000_000
            m = cfg.model_cfg
            assert (m.lambda_adv, m.lambda_cycle, m.lambda_identity, m.lambda_cam) == (1.0, 10.0, 10.0, 1000.0)
            assert m.light == recipe.endswith("_light.toml") and (m.channels, m.n_res_blocks) == (64, 4)
        key = (cfg.model_cfg, cfg.data.image_size)  # the paper's datasets share one architecture
        if key not in built:
            with torch.device("meta"):
                built[key] = UGATIT(cfg)
        fam = built[key]
        assert set(fam.networks) == {"gen_ab", "gen_ba", "disc_global_a", "disc_local_a", "disc_global_b",
                                     "disc_local_b"}
        if recipe != "tiny.toml":
            assert count(fam.networks["gen_ab"]) == (GEN_LIGHT if cfg.model_cfg.light else GEN_FULL)
            assert count(fam.networks["disc_local_a"]) == D_LOCAL and count(fam.networks["disc_global_b"]) == D_GLOBAL
    assert len(built) == 3


def test_registered_spec():
    spec = get("ugatit")
    assert spec.config_cls is UGATITConfig and spec.accepts == ("direction",)
    assert spec.recipe_path().name == "selfie2anime.toml" and spec.recipe_path().is_file()


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="rho_init_res"):
        load("tiny.toml", "model.rho_init_res=1.5")
    with pytest.raises(ConfigError, match="n_global_disc_layers = 7 needs images of at least 96 px"):
        UGATIT(load("tiny.toml", "model.n_global_disc_layers=7"))
    with pytest.raises(ConfigError, match="multiple of 4"):
        UGATIT(load("tiny.toml", "data.image_size=30"))
    with pytest.raises(ConfigError, match="unknown key 'n_resblocks'"):
        load("tiny.toml", "model.n_resblocks=3")


def test_rho_initial_values_and_init_std():
    torch.manual_seed(0)
    fam = UGATIT(load("tiny.toml", "model.channels=16"))
    gen = fam.networks["gen_ab"]
    adalin = [m for m in gen.modules() if isinstance(m, AdaLIN)]
    lin = [m for m in gen.modules() if isinstance(m, LIN)]
    assert len(adalin) == 2 * 2 and len(lin) == 2
    assert all(torch.equal(m.rho, torch.full_like(m.rho, 0.9)) for m in adalin)
    assert all(torch.equal(m.rho, torch.zeros_like(m.rho)) for m in lin)
    w = gen.decoder[0].conv1.weight.detach()
    assert abs(float(w.std()) - 0.02) < 2e-3
    fam1 = UGATIT(load("tiny.toml", "model.rho_init_res=1.0"))
    assert all(float(m.rho.detach().min()) == 1.0 for m in fam1.networks["gen_ba"].modules() if isinstance(m, AdaLIN))


# ----------------------------------------------------------------------------- networks


def test_generator_shapes_light_and_full():
    x = torch.randn(2, 3, 32, 32)
    for light in (True, False):
        out = UGATITGenerator(ch=4, n_res=1, image_size=32, light=light)(x)
        assert out.image.shape == (2, 3, 32, 32) and out.cam_logits.shape == (2, 2)
        assert out.heatmap.shape == (2, 1, 8, 8) and float(out.image.detach().abs().max()) <= 1.0
        assert float(out.heatmap.detach().min()) >= 0.0  # channel sum after ReLU
    with pytest.raises(ValueError, match="32x32"):
        UGATITGenerator(ch=4, n_res=1, image_size=32, light=False)(torch.randn(1, 3, 36, 36))
    light = UGATITGenerator(ch=4, n_res=1, image_size=32, light=True)
    assert light(torch.randn(1, 3, 40, 48)).image.shape == (1, 3, 40, 48)


def test_generator_decoder_is_conditioned_by_the_cam_features():
    torch.manual_seed(0)
    gen = UGATITGenerator(ch=4, n_res=1, image_size=16, light=True)
    x = torch.randn(1, 3, 16, 16, requires_grad=True)
    out = gen(x)
    # gamma/beta depend on the input: gradient of the output reaches the MLP weights
    out.image.sum().backward()
    assert gen.mlp[0].weight.grad.abs().sum() > 0 and gen.gamma.weight.grad.abs().sum() > 0
    assert gen.cam.gap_fc.weight.grad.abs().sum() > 0  # through the re-weighting, not only the logits


# ----------------------------------------------------------------------------- training via the contract


def run_iterations(fam: UGATIT, batches, optimizers=None):
    """Drive the family as the engine does (models/base.py); per-phase logs, in order."""
    steps, optimizers = drive(fam, batches, optimizers=optimizers)
    return [logs for _, _, logs in steps], optimizers


def tiny_batches(n, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"a": torch.rand(1, 3, size, size, generator=g) * 2 - 1,
             "b": torch.rand(1, 3, size, size, generator=g) * 2 - 1} for _ in range(n)]


def test_training_steps_at_32px_finite_losses_changing_weights_rho_in_range():
    torch.manual_seed(0)
    fam = UGATIT(load("tiny.toml"))
    assert [p.name for p in fam.phases] == ["discriminator", "generator"]
    before = {k: v.detach().clone() for k, v in fam.networks.state_dict().items()}
    logs, _ = run_iterations(fam, tiny_batches(3))
    d_logs, g_logs = logs[0::2], logs[1::2]
    assert set(d_logs[0]) == {"d_loss", "d_adv", "d_cam"}
    assert set(g_logs[0]) == {"g_loss", "g_adv", "g_cycle", "g_identity", "g_cam", "rho_adalin", "rho_lin"}
    assert float(g_logs[0]["rho_adalin"]) == pytest.approx(0.9) and float(g_logs[0]["rho_lin"]) == 0.0
    for entry in logs:
        for name, value in entry.items():
            assert not value.requires_grad and torch.isfinite(value), name
    after = fam.networks.state_dict()
    for net in fam.networks:
        changed = [k for k in before if k.startswith(net + ".") and not torch.equal(before[k], after[k])]
        assert changed, f"{net} did not change"
    rhos = torch.cat([r.detach() for r in rho_parameters(fam.networks)])
    assert float(rhos.min()) >= 0.0 and float(rhos.max()) <= 1.0
    # rho of the up-sampling LIN starts at 0 and is pushed below it by some gradients:
    # only the clip keeps it in range -- it must have moved somewhere
    assert not torch.equal(rhos, torch.cat([r.detach() for r in rho_parameters(UGATIT(load("tiny.toml")).networks)]))


def test_after_update_clips_rho_only_after_the_generator_phase():
    fam = UGATIT(load("tiny.toml"))
    rhos = list(rho_parameters(fam.networks["gen_ab"])) + list(rho_parameters(fam.networks["gen_ba"]))
    with torch.no_grad():
        for r in rhos:
            r.fill_(1.5)
    fam.after_update("discriminator")
    assert all(float(r.detach().min()) == 1.5 for r in rhos)
    fam.after_update("generator")
    assert all(float(r.detach().max()) == 1.0 for r in rhos)


def test_discriminator_step_gradients_equal_without_detaching_fakes():
    """Our D step computes fakes under no_grad; the authors' back-propagates
    through both generators.  The discriminators' gradients must be identical."""
    torch.manual_seed(0)
    fam = UGATIT(load("tiny.toml"))
    ref = copy.deepcopy(fam)  # same weights and spectral-norm vectors
    batch = tiny_batches(1)[0]

    for name, net in fam.networks.items():
        net.requires_grad_(name.startswith("disc"))
    loss, _ = fam.step("discriminator", Nets(fam.networks), batch, 0)
    loss.backward()

    ref.networks.requires_grad_(True)  # the authors' code never freezes anything
    nets = Nets(ref.networks)
    fake_b = nets["gen_ab"](batch["a"]).image
    fake_a = nets["gen_ba"](batch["b"]).image
    assert fake_a.requires_grad
    ref_loss, _ = ref.discriminator_loss(nets, batch["a"], batch["b"], fake_a, fake_b)
    ref_loss.backward()

    assert torch.equal(loss, ref_loss)
    for name in ("disc_global_a", "disc_local_a", "disc_global_b", "disc_local_b"):
        ours, theirs = fam.networks[name].named_parameters(), ref.networks[name].named_parameters()
        for (pn, p), (_, q) in zip(ours, theirs, strict=True):
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-9, msg=f"{name}.{pn}")
    # ... and the reference wasted work on generator gradients that ours never computes
    assert all(p.grad is None for p in fam.networks["gen_ab"].parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ref.networks["gen_ab"].parameters())


def test_losses_match_the_authors_formulation_of_eq_7():
    """Recompute both objectives term by term with torch's own loss modules, as UGATIT.py does."""
    torch.manual_seed(1)
    fam = UGATIT(load("tiny.toml"))
    fam.networks.eval()  # spectral norm without power iteration: every forward sees the same weights
    nets = Nets(fam.networks)
    a, b = tiny_batches(1, seed=3)[0].values()
    mse, l1, bce = nn.MSELoss(), nn.L1Loss(), nn.BCEWithLogitsLoss()
    g_ab, g_ba = nets["gen_ab"], nets["gen_ba"]
    with torch.no_grad():
        d_loss, d_logs = fam.step("discriminator", nets, {"a": a, "b": b}, 0)
        g_loss, g_logs = fam.step("generator", nets, {"a": a, "b": b}, 0)

        fake_ab, cam_ab, _ = g_ab(a)
        fake_ba, cam_ba, _ = g_ba(b)
        expected_d = 0.0
        for d, real, fake in ((nets["disc_global_a"], a, fake_ba), (nets["disc_local_a"], a, fake_ba),
                              (nets["disc_global_b"], b, fake_ab), (nets["disc_local_b"], b, fake_ab)):
            r, rc, _ = d(real)
            f, fc, _ = d(fake)
            expected_d += (mse(r, torch.ones_like(r)) + mse(f, torch.zeros_like(f))
                           + mse(rc, torch.ones_like(rc)) + mse(fc, torch.zeros_like(fc)))
        torch.testing.assert_close(d_loss, expected_d)

        fake_aba = g_ba(fake_ab)[0]
        fake_bab = g_ab(fake_ba)[0]
        fake_aa, cam_aa, _ = g_ba(a)
        fake_bb, cam_bb, _ = g_ab(b)
        adv = 0.0
        for d, fake in ((nets["disc_global_a"], fake_ba), (nets["disc_local_a"], fake_ba),
                        (nets["disc_global_b"], fake_ab), (nets["disc_local_b"], fake_ab)):
            f, fc, _ = d(fake)
            adv += mse(f, torch.ones_like(f)) + mse(fc, torch.ones_like(fc))
        cycle = l1(fake_aba, a) + l1(fake_bab, b)
        identity = l1(fake_aa, a) + l1(fake_bb, b)
        cam = (bce(cam_ba, torch.ones_like(cam_ba)) + bce(cam_aa, torch.zeros_like(cam_aa))
               + bce(cam_ab, torch.ones_like(cam_ab)) + bce(cam_bb, torch.zeros_like(cam_bb)))
        torch.testing.assert_close(g_logs["g_adv"], adv)
        torch.testing.assert_close(g_logs["g_cycle"], cycle)
        torch.testing.assert_close(g_logs["g_identity"], identity)
        torch.testing.assert_close(g_logs["g_cam"], cam)
        torch.testing.assert_close(g_loss, 1.0 * adv + 10.0 * cycle + 10.0 * identity + 1000.0 * cam)


def test_loss_weights_come_from_the_config():
    torch.manual_seed(0)
    fam = UGATIT(load("tiny.toml", "model.lambda_cam=0.0", "model.lambda_cycle=2.0"))
    fam.networks.eval()
    with torch.no_grad():
        loss, logs = fam.step("generator", Nets(fam.networks), tiny_batches(1)[0], 0)
    torch.testing.assert_close(loss, logs["g_adv"] + 2.0 * logs["g_cycle"] + 10.0 * logs["g_identity"])


# ----------------------------------------------------------------------------- inference


def test_translate_outputs_and_attention():
    torch.manual_seed(0)
    fam = UGATIT(load("tiny.toml"))
    fam.networks.eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        for direction in ("a2b", "b2a"):
            out = fam.translate(x, Guidance(direction=direction))
            assert out["output"].shape == (2, 3, 32, 32) and out["attention"].shape == (2, 1, 32, 32)
            att = out["attention"]
            assert float(att.min()) >= 0.0 and float(att.max()) <= 1.0
            gen = fam.networks["gen_ab" if direction == "a2b" else "gen_ba"]
            torch.testing.assert_close(att, attention_map(gen(x).heatmap, (32, 32)))
        a2b = fam.translate(x, Guidance())["output"]
        torch.testing.assert_close(a2b, fam.networks["gen_ab"](x).image)
        assert not torch.allclose(a2b, fam.translate(x, Guidance(direction="b2a"))["output"])
        # light: reflect-padded to 32x40, cropped back
        odd = fam.translate(torch.rand(1, 3, 30, 37) * 2 - 1, Guidance())
        assert odd["output"].shape == (1, 3, 30, 37) and odd["attention"].shape == (1, 1, 30, 37)


def test_translate_errors():
    fam = UGATIT(load("tiny.toml"))
    x = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ConfigError, match="direction"):
        validate(get("ugatit"), Guidance(direction="sideways"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="does not take --exemplar"):
        validate(get("ugatit"), Guidance(exemplar=x))
    assert validate(get("ugatit"), Guidance()).direction == "a2b"
    with pytest.raises(DataError, match="too small"):
        fam.translate(torch.zeros(1, 3, 4, 4), Guidance())
    full = UGATIT(load("tiny.toml", "model.light=false"))
    with pytest.raises(DataError, match="only 32x32"):
        full.translate(torch.zeros(1, 3, 32, 48), Guidance())
    assert full.translate(x, Guidance())["output"].shape == (1, 3, 32, 32)


def test_attention_map_normalisation():
    heat = torch.tensor([[[[0.0, 2.0], [4.0, 8.0]]], [[[3.0, 3.0], [3.0, 3.0]]]])
    att = attention_map(heat, (4, 4))
    assert att.shape == (2, 1, 4, 4)
    assert float(att[0].min()) == 0.0 and float(att[0].max()) == 1.0
    assert float(att[1].abs().max()) == 0.0  # constant heatmap -> 0, not NaN
    torch.testing.assert_close(att[0, 0, 0, 0], torch.tensor(0.0))
    torch.testing.assert_close(att[0, 0, -1, -1], torch.tensor(1.0))


def test_sample_columns():
    torch.manual_seed(0)
    fam = UGATIT(load("tiny.toml"))
    fam.networks.eval()
    batch = tiny_batches(1)[0]
    batch = {k: v.repeat(3, 1, 1, 1) for k, v in batch.items()}
    with torch.no_grad():
        cols = fam.sample(batch)
    assert [t for t, _ in cols] == ["A", "A2B att", "A2B", "B", "B2A att", "B2A"]
    for title, img in cols:
        assert img.shape == (3, 1 if title.endswith("att") else 3, 32, 32)
    assert torch.equal(cols[0][1], batch["a"])


def test_channels_last_training_matches_contiguous():
    """The engine's train.channels_last option: same losses (up to rounding); AdaLIN blocks keep NHWC
    (nn.InstanceNorm2d in the encoder returns NCHW, which the convolutions accept)."""
    torch.manual_seed(0)
    fam = UGATIT(load("tiny.toml", "model.n_res_blocks=1"))
    fam_cl = copy.deepcopy(fam)
    fam_cl.networks.to(memory_format=torch.channels_last)
    batch = tiny_batches(1)[0]
    batch_cl = {k: v.contiguous(memory_format=torch.channels_last) for k, v in batch.items()}
    logs, _ = run_iterations(fam, [batch])
    logs_cl, _ = run_iterations(fam_cl, [batch_cl])
    for a, b in zip(logs, logs_cl, strict=True):
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    fam_cl.networks.eval()
    with torch.no_grad():
        h = fam_cl.networks["gen_ab"].encoder(batch_cl["a"]).contiguous(memory_format=torch.channels_last)
        y = fam_cl.networks["gen_ab"].decoder[0](h, torch.ones(1, h.shape[1]), torch.zeros(1, h.shape[1]))
    assert y.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(("cam", "norm"), [("both", "adalin"), ("none", "adalin"), ("no_g", "adalin"),
                                           ("no_d", "adalin"), ("both", "in"), ("both", "ln"), ("both", "adain"),
                                           ("both", "gn"), ("both", "lin")])
def test_table1_ablations_build_train_and_drop_only_their_part(cam, norm):
    torch.manual_seed(0)
    fam = UGATIT(load("tiny.toml", f"model.cam={cam!r}", f"model.norm={norm!r}"))
    gen, disc = fam.networks["gen_ab"], fam.networks["disc_local_a"]
    assert (gen.cam is not None) == (cam in ("both", "no_d"))
    assert (disc.cam is not None) == (cam in ("both", "no_g"))
    assert hasattr(gen, "mlp") == (norm in ("adalin", "adain"))  # nothing adaptive is left otherwise
    kinds = {type(m).__name__ for m in gen.decoder.modules()}
    want = {"adalin": "AdaLIN", "in": "InstanceNorm2d", "ln": "GroupNorm", "adain": "AdaIN", "gn": "GroupNorm",
            "lin": "LIN"}[norm]
    assert want in kinds
    b = {"a": torch.rand(1, 3, 32, 32) * 2 - 1, "b": torch.rand(1, 3, 32, 32) * 2 - 1}
    hist, _ = drive(fam, [b, b])
    logs = hist[-1][2]
    assert all(torch.isfinite(v) for v in logs.values())
    assert (float(logs["g_cam"]) == 0.0) == (cam in ("none", "no_g"))
    fam.networks.eval()
    with torch.no_grad():
        out = fam.translate(b["a"], Guidance(direction="a2b"))
    assert out["output"].shape == (1, 3, 32, 32) and 0 <= float(out["attention"].min()) <= 1
