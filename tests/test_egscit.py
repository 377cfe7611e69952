"""EGSC-IT (i2icli/models/egscit.py): architecture sizes, the mask, AdaIN variants, losses, sharing, stages, CLI."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from family_driver import drive
from i2icli.cli.main import app
from i2icli.engine import checkpoint as ckpt
from i2icli.errors import ConfigError, WeightsError
from i2icli.guidance import Guidance, validate
from i2icli.losses.perceptual import linear_layer_weights
from i2icli.models.egscit import (
    EGSCIT,
    VGG_LAYERS,
    UNITDecoder,
    UNITEncoder,
    _resblock,
    exemplar_adain,
    feature_mask,
    kl_noisy,
    perceptual_losses,
)
from i2icli.nn.discriminators import UNITDiscriminator, same_padding
from i2icli.prepare.synthetic import DigitsRequest, prepare_digits
from i2icli.registry import RECIPES_DIR, get
from i2icli.runs import training_config

runner = CliRunner()
TINY = RECIPES_DIR / "egscit" / "tiny.toml"


def _n(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _family(*overrides: str, recipe=TINY) -> EGSCIT:
    torch.manual_seed(0)
    return get("egscit").build(training_config("egscit", recipe, overrides=list(overrides)))


def _batches(k: int, n: int = 2, size: int = 32) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    return [{"a": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
             "b": torch.rand(n, 3, size, size, generator=g) * 2 - 1} for _ in range(k)]


# --------------------------------------------------------------------------- architecture


@pytest.mark.parametrize("n1, enc, shared, dec", [(1, 231_040, 73_856, 221_763), (3, 3_918_976, 1_180_160, 3_909_507)])
def test_parameter_counts_equal_the_authors_architecture(n1, enc, shared, dec):
    """Issue 9's numbers (arithmetic from the authors' TF code): E_X = F_X, shared blocks, G_X, D_X."""
    width = 64 * 2 ** (n1 - 1)
    with torch.device("meta"):
        assert _n(UNITEncoder(n1)) == enc  # each domain encoder and each feature network F_X
        assert _n(_resblock(width)) == shared  # shared encoder block, shared generator block
        assert _n(UNITDecoder(n1)) == dec
        assert _n(UNITDiscriminator()) == 2_758_849  # independent of n1 and of the image size


def test_family_parameter_totals_mnist_single():
    """``count_params`` of the authors' model (F included) and one stage-1 VAE-GAN, MNIST-Single widths."""
    with torch.device("meta"):
        main = get("egscit").build(training_config("egscit", RECIPES_DIR / "egscit" / "mnist_single.toml",
                                                   overrides=["model.lambda_style=0", "model.lambda_content=0"]))
        pre = get("egscit").build(training_config("egscit", RECIPES_DIR / "egscit" / "mnist_single.toml",
                                                  overrides=["model.stage=pretrain"]))
    counts = {k: _n(v) for k, v in main.networks.items()}
    assert sum(counts.values()) == 7_033_096
    assert sum(counts[k] for k in ("enc_a", "enc_b", "shared_enc", "shared_gen", "gen_a", "gen_b")) == 1_053_318
    vae_a = sum(_n(pre.networks[k]) for k in ("feat_a", "vae_shared_a", "vae_content_a", "vae_gen_a"))
    assert vae_a == 600_515


def test_unit_discriminator_same_padding_and_quirks():
    assert same_padding(7, 4, 2) == (1, 2) and same_padding(28, 4, 2) == (1, 1) and same_padding(5, 1, 1) == (0, 0)
    d = UNITDiscriminator(3, 8, 4)
    assert d(torch.zeros(1, 3, 28, 28)).shape == (1, 1, 2, 2)  # 28 -> 14 -> 7 -> 4 -> 2, as TF 'SAME'
    assert d(torch.zeros(1, 3, 256, 512)).shape == (1, 1, 16, 32)
    # authors' activations: LReLU twice after conv0 (slope 0.04 on negatives), conv-LReLU-IN-LReLU, LReLU logits
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)

    def act(t: torch.Tensor) -> torch.Tensor:
        return nn.functional.leaky_relu(t, 0.2)

    h = act(act(d.convs[0](x)))
    for conv, norm in zip(list(d.convs)[1:], list(d.norms)[1:], strict=True):
        h = act(norm(act(conv(h))))
    torch.testing.assert_close(d(x), act(d.classifier(h)))
    d.quirks = False
    h = act(d.convs[0](x))
    for conv, norm in zip(list(d.convs)[1:], list(d.norms)[1:], strict=True):
        h = act(norm(conv(h)))
    torch.testing.assert_close(d(x), d.classifier(h))


# --------------------------------------------------------------------------- mask, AdaIN, losses


def test_feature_mask_formula_and_eta_limits():
    f = torch.randn(2, 5, 3, 3) * 4
    torch.testing.assert_close(feature_mask(f, 0.5), 0.5 * torch.sigmoid(f) + 0.5)
    torch.testing.assert_close(feature_mask(f, 0.0), torch.sigmoid(f))  # eta = 0: the sigmoid maps themselves
    assert torch.equal(feature_mask(f, 1.0), torch.ones_like(f))  # eta = 1: w/o feature mask
    m = feature_mask(f, 0.3)
    assert m.min() >= 0.3 and m.max() <= 1.0 and m.shape == f.shape  # per channel and per position


def _moments(t: torch.Tensor, b: int, c: int) -> tuple[float, float]:
    vals = [float(v) for v in t[b, c].flatten()]
    mu = sum(vals) / len(vals)
    return mu, sum((v - mu) ** 2 for v in vals) / len(vals)


@pytest.mark.parametrize("stats", ["std", "variance", "official"])
def test_exemplar_adain_variants_against_a_literal_recomputation(stats):
    torch.manual_seed(0)
    u = torch.randn(2, 3, 4, 5, dtype=torch.float64) * 2 + 1
    f = torch.randn(2, 3, 4, 5, dtype=torch.float64) * 3 - 0.5
    eps = 1e-5
    out = exemplar_adain(u, f, stats, eps)
    for b in range(2):
        for c in range(3):
            mu_u, var_u = _moments(u, b, c)
            mu_f, var_f = _moments(f, b, c)
            for i in range(4):
                for j in range(5):
                    x = float(u[b, c, i, j])
                    if stats == "std":  # Eq. 1-2 with delta = standard deviation (Huang & Belongie)
                        want = math.sqrt(var_f + eps) * (x - mu_u) / math.sqrt(var_u + eps) + mu_f
                    elif stats == "variance":  # Eq. 1-2 read literally
                        want = var_f * (x - mu_u) / (var_u + eps) + mu_f
                    else:  # authors' code: scale = mean, shift = variance, divide by the variance
                        want = mu_f * (x - mu_u) / (var_u + eps) + var_f
                    assert float(out[b, c, i, j]) == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_use_adain_false_passes_the_masked_content_through():
    fam = _family("model.use_adain=false")
    u, f = torch.randn(2, 16, 16, 16), torch.randn(2, 16, 16, 16)
    assert torch.equal(fam._style(u, f), u)
    assert not torch.equal(_family()._style(u, f), u)


def test_gram_and_content_losses_against_a_literal_recomputation():
    torch.manual_seed(0)
    n = 2
    layers = ("l1", "l2", "l3")
    feats = {name: torch.rand(4 * n, 2 + i, 3, 2, dtype=torch.float64) for i, name in enumerate(layers)}
    content, style = perceptual_losses(feats, n, linear_layer_weights(layers), dict.fromkeys(layers, 1.0))

    def normalise(t):  # per (sample, channel) L2 over the positions
        out = t.clone()
        for s in range(t.shape[0]):
            for c in range(t.shape[1]):
                out[s, c] = t[s, c] / math.sqrt(sum(float(v) ** 2 for v in t[s, c].flatten()))
        return out

    def gram(t):  # (C, h, w) -> C x C, divided by h*w
        c, h, w = t.shape
        return [[sum(float(t[i].flatten()[k] * t[j].flatten()[k]) for k in range(h * w)) / (h * w) for j in range(c)]
                for i in range(c)]

    def mean_abs(x, y):
        flat = [abs(a - b) for xs, ys in zip(x, y, strict=True) for a, b in zip(xs, ys, strict=True)]
        return sum(flat) / len(flat)

    want_c = want_s = 0.0
    for i, name in enumerate(layers, start=1):
        phi = normalise(feats[name])
        a, b, ab, ba = phi[:n], phi[n:2 * n], phi[2 * n:3 * n], phi[3 * n:]
        want_c += i / len(layers) * (float((ab - a).abs().mean()) + float((ba - b).abs().mean()))
        ga = [gram(phi[k]) for k in range(4 * n)]
        s_ab = sum(mean_abs(ga[2 * n + k], ga[n + k]) for k in range(n)) / n  # Gram(x_AB) vs Gram(x_B)
        s_ba = sum(mean_abs(ga[3 * n + k], ga[k]) for k in range(n)) / n  # Gram(x_BA) vs Gram(x_A)
        want_s += s_ab + s_ba
    assert float(content) == pytest.approx(want_c, rel=1e-9)
    assert float(style) == pytest.approx(want_s, rel=1e-9)
    # the defaults are the paper's five layers with weights 0.2 ... 1.0 (content) and 1 (style)
    five = {name: torch.rand(4 * n, 2, 3, 3, dtype=torch.float64) for name in VGG_LAYERS}
    c5, s5 = perceptual_losses(five, n)
    c_lin, s_one = perceptual_losses(five, n, linear_layer_weights(VGG_LAYERS), dict.fromkeys(VGG_LAYERS, 1.0))
    assert float(c5) == float(c_lin) and float(s5) == float(s_one)


def test_kl_is_taken_on_the_noisy_latent():
    fam = _family()
    nets = fam.networks
    for p in nets["shared_enc"].parameters():  # residual block with zero weights = identity: z = h + noise
        nn.init.zeros_(p)
    h = torch.randn(64, 16, 8, 8) * 0.5
    torch.manual_seed(3)
    with torch.no_grad():
        z, _ = fam._latent(nets, h, noise=True)
    noise = z - h
    assert abs(float(noise.std()) - 1.0) < 0.02 and abs(float(noise.mean())) < 0.02
    assert float(kl_noisy(z)) == pytest.approx(float(z.square().mean()))
    assert float(kl_noisy(z)) == pytest.approx(float(h.square().mean()) + 1.0, abs=0.03)  # E[(h+n)^2] = h^2 + 1
    with torch.no_grad():
        z0, _ = fam._latent(nets, h, noise=False)
    assert torch.equal(z0, h)


# --------------------------------------------------------------------------- weight sharing, training


def test_weight_sharing_is_one_parameter_set_with_one_gradient():
    fam = _family()
    nets = fam.networks
    names = [k for k in nets if "shared" in k]
    assert names == ["shared_enc", "shared_gen"]
    ptrs = [p.data_ptr() for m in nets.values() for p in m.parameters()]
    assert len(ptrs) == len(set(ptrs))  # no tensor is reachable from two networks
    x_a, x_b = _batches(1)[0]["a"], _batches(1)[0]["b"]
    shared = nets["shared_enc"]

    def grad_of(loss_fn):
        shared.zero_grad(set_to_none=True)
        h = torch.cat([nets["enc_a"](x_a), nets["enc_b"](x_b)])
        _, c = fam._latent(nets, h, noise=False)
        loss_fn(c[:2], c[2:]).backward()
        return [p.grad.clone() for p in shared.parameters()]

    g_a = grad_of(lambda ca, cb: ca.square().mean())
    g_b = grad_of(lambda ca, cb: cb.abs().mean())
    g_ab = grad_of(lambda ca, cb: ca.square().mean() + cb.abs().mean())
    for a, b, both in zip(g_a, g_b, g_ab, strict=True):
        assert a.abs().sum() > 0 and b.abs().sum() > 0
        torch.testing.assert_close(both, a + b)  # both domains accumulate into the one parameter's gradient


def test_training_steps_schedule_and_frozen_feature_networks():
    fam = _family("model.lambda_style=1e3", "model.lambda_content=10", "model.vgg=random")
    assert [(p.name, p.every) for p in fam.phases] == [("discriminator", 5), ("generator", 1)]
    assert fam.required_weights() == ()  # random VGG asked for by name
    before = {k: v.clone() for k, v in ckpt.network_state(fam.networks).items()}
    history, _ = drive(fam, _batches(6))
    assert [(it, ph) for it, ph, _ in history] == [(0, "discriminator"), (0, "generator"), (1, "generator"),
                                                    (2, "generator"), (3, "generator"), (4, "generator"),
                                                    (5, "discriminator"), (5, "generator")]
    for _, _, logs in history:
        assert all(torch.isfinite(v) for v in logs.values())
    assert {"g_content", "g_style", "g_kl_cycle"} <= set(history[-1][2])
    after = ckpt.network_state(fam.networks)
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert {"enc_a", "enc_b", "shared_enc", "shared_gen", "gen_a", "gen_b", "disc_a", "disc_b"} <= changed
    assert not {"feat_a", "feat_b"} & changed  # F is frozen in stage 2


def test_ablation_switches_and_vgg_requirements():
    default = _family("model.lambda_style=1e3", "model.lambda_content=10")
    assert default.required_weights() == ("vgg19",)  # ImageNet VGG-19 whenever L_P is on
    no_lp = _family()
    assert no_lp.required_weights() == () and no_lp.frozen_networks() == {}  # w/o L_P: no VGG at all
    no_mask = _family("model.mask_eta=1.0")
    x = _batches(1)[0]
    out = no_mask.translate(x["a"], Guidance(direction="a2b", exemplar=x["b"]))
    assert torch.equal(out["feature_mask"], torch.ones_like(out["feature_mask"]))
    # each switch changes only its own field
    base = _family().mcfg
    for fam, field in ((no_mask, "mask_eta"), (_family("model.use_adain=false"), "use_adain")):
        diff = [k for k in base.__dataclass_fields__ if getattr(base, k) != getattr(fam.mcfg, k)]
        assert diff == [field]


def test_default_recipe_without_vgg_file_stops_before_any_work(tmp_path, monkeypatch):
    from i2icli import weights
    from i2icli.engine.loop import TrainRequest, plan

    monkeypatch.setenv("I2I_WEIGHTS", str(tmp_path / "no-weights"))
    if weights.find("vgg19") is not None:
        pytest.skip("an ImageNet VGG-19 file is installed")
    stage1 = _stage1_run(tmp_path)
    cfg = training_config("egscit", RECIPES_DIR / "egscit" / "tiny.toml",
                          overrides=["model.lambda_style=1e3", "model.lambda_content=10", f"model.stage1_run={stage1}"])
    with pytest.raises(WeightsError, match="vgg19"):
        plan(TrainRequest(cfg=cfg, out=tmp_path / "run"))
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- stages, CLI


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("egscit_digits") / "digits.h5"
    prepare_digits(DigitsRequest(out=out, count=16, test_count=4, seed=1))
    return out


def _stage1_run(tmp_path, digits_path=None) -> str:
    """A stage-1 run folder with a checkpoint, written directly (no data needed)."""
    from i2icli.config import run_config_to_toml

    run = tmp_path / "stage1"
    cfg = training_config("egscit", TINY, overrides=["model.stage=pretrain"])
    fam = get("egscit").build(cfg)
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.toml").write_text(run_config_to_toml(cfg))
    ckpt.save_checkpoint(run / "checkpoints", 1, fam.networks, {"iteration": 1})
    return str(run)


def _train(args: list[str]):
    return runner.invoke(app, ["train", "egscit", "--recipe", str(TINY), *args])


def test_two_stages_hand_over_and_translate_end_to_end(digits, tmp_path):
    stage1 = tmp_path / "stage1"
    res = _train(["--data", str(digits), "--out", str(stage1), "--set", "model.stage=pretrain",
                  "--set", "train.iterations=4", "--set", "train.checkpoint_every=4", "--set", "train.sample_every=4"])
    assert res.exit_code == 0, res.output
    run = tmp_path / "stage2"
    res = _train(["--data", str(digits), "--out", str(run), "--set", f"model.stage1_run={stage1}",
                  "--set", "train.iterations=6", "--set", "train.checkpoint_every=6", "--set", "train.sample_every=6"])
    assert res.exit_code == 0, res.output
    assert (run / "samples" / "step_00000006.png").is_file()
    w1 = ckpt.read_weights(ckpt.latest_checkpoint(stage1))
    w2 = ckpt.read_weights(ckpt.latest_checkpoint(run))
    feat_keys = [k for k in w1 if k.startswith(("feat_a.", "feat_b."))]
    assert feat_keys and all(torch.equal(w1[k], w2[k]) for k in feat_keys)  # F copied, then never updated

    # the stage-2 checkpoint alone resumes and translates: move the stage-1 run away
    stage1.rename(tmp_path / "gone")
    res = runner.invoke(app, ["train", "egscit", "--out", str(run), "--resume", "auto", "--set", "train.iterations=7",
                              "--set", "train.checkpoint_every=7", "--allow-config-change"])
    assert res.exit_code == 0, res.output
    w3 = ckpt.read_weights(ckpt.latest_checkpoint(run))
    assert ckpt.latest_checkpoint(run).name == "step_00000007" and all(torch.equal(w1[k], w3[k]) for k in feat_keys)
    from i2icli.data.store import open_store
    from i2icli.images import save_png

    store = open_store(digits)
    ia, ib = store.indices("test", "a")[:2], store.indices("test", "b")[:2]
    save_png(tmp_path / "in.png", store.image("test", int(ib[0])))
    save_png(tmp_path / "ref.png", store.image("test", int(ia[0])))
    out = tmp_path / "out"
    res = runner.invoke(app, ["translate", str(tmp_path / "in.png"), "--exemplar", str(tmp_path / "ref.png"),
                              "--direction", "b2a", "--save-masks", "--checkpoint", str(run), "--out", str(out)])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.rglob("*.png"))
    assert len(names) == 2 and any(n.endswith("_feature_mask.png") for n in names), names

    # folders of inputs and exemplars, zip pairing
    ins, refs = tmp_path / "ins", tmp_path / "refs"
    for k in range(2):
        save_png(ins / f"{k}.png", store.image("test", int(ia[k])))
        save_png(refs / f"{k}.png", store.image("test", int(ib[k])))
    res = runner.invoke(app, ["translate", str(ins), "--exemplar", str(refs), "--pairing", "zip",
                              "--checkpoint", str(run), "--out", str(tmp_path / "out2")])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "out2").rglob("*.png"))) == 2


@pytest.mark.parametrize("case", ["missing", "not_a_run", "main_run", "widths"])
def test_bad_stage1_run_is_a_one_line_error_and_nothing_is_written(digits, tmp_path, case):
    if case == "missing":
        target = str(tmp_path / "nope")
    elif case == "not_a_run":
        (tmp_path / "empty").mkdir()
        target = str(tmp_path / "empty")
    else:
        target = _stage1_run(tmp_path)
        if case == "main_run":  # a stage-2 run's config is no stage-1 run
            text = (tmp_path / "stage1" / "config.toml").read_text().replace('stage = "pretrain"', 'stage = "main"')
            (tmp_path / "stage1" / "config.toml").write_text(text)
    extra = ["--set", "model.channels=16"] if case == "widths" else []
    out = tmp_path / "run"
    res = _train(["--data", str(digits), "--out", str(out), "--set", f"model.stage1_run={target}", *extra])
    assert res.exit_code != 0
    assert "model.stage1_run" in res.output and "Traceback" not in res.output
    assert len([line for line in res.output.strip().splitlines() if line.strip()]) == 1, res.output
    assert not out.exists()


def test_store_without_two_domains_is_a_one_line_error(tmp_path):
    from i2icli.prepare.synthetic import FacesRequest, prepare_faces

    faces = tmp_path / "faces.h5"
    prepare_faces(FacesRequest(out=faces, count=8, test_count=2))
    out = tmp_path / "run"
    stage1 = _stage1_run(tmp_path)
    res = _train(["--data", str(faces), "--out", str(out), "--set", f"model.stage1_run={stage1}"])
    assert res.exit_code != 0 and "2 domains" in res.output and "Traceback" not in res.output, res.output
    assert not out.exists()


def test_guidance_and_exemplar_size_errors():
    spec = get("egscit")
    with pytest.raises(ConfigError, match="--exemplar"):
        validate(spec, Guidance(direction="a2b"))
    with pytest.raises(ConfigError, match="--attr"):
        validate(spec, Guidance(exemplar=torch.zeros(1, 3, 32, 32), attributes=(("Male", 1),)))
    assert validate(spec, Guidance(exemplar=torch.zeros(1, 3, 32, 32))).direction == "a2b"
    fam = _family()
    x = torch.zeros(2, 3, 32, 32)
    with pytest.raises(ConfigError, match="exemplar size"):
        fam.translate(x, Guidance(direction="a2b", exemplar=torch.zeros(1, 3, 16, 16)))
    one = fam.translate(x, Guidance(direction="b2a", exemplar=torch.zeros(1, 3, 32, 32)))  # broadcast
    assert one["output"].shape == (2, 3, 32, 32) and one["feature_mask"].shape == (2, 1, 32, 32)


def test_prepare_celeba_domains_by_male(tmp_path):
    """`i2i prepare celeba --domains-by Male`: two domains (Male, not_Male) for EGSC-IT's face-gender task."""
    from i2icli.data.store import open_store
    from i2icli.errors import DataError
    from i2icli.prepare.celeba import CelebARequest, prepare_celeba
    from test_prepare_sources import CELEBA_40, make_celeba

    root = make_celeba(tmp_path / "celeba", n=9)
    s = open_store(prepare_celeba(CelebARequest(root, tmp_path / "g.h5", size=16, test_count=3, workers=1,
                                                domains_by="Male")).out)
    assert s.domains == ("Male", "not_Male")
    male = CELEBA_40.index("Male")
    for split in ("train", "test"):
        for name, dom in zip(s.names(split), s.domain_ids(split), strict=True):
            i = int(str(name).split(".")[0])
            assert int(dom) == (0 if (i + male) % 3 == 0 else 1)  # the fixture's Male column
    assert s.count("train", "Male") + s.count("test", "Male") == 3
    with pytest.raises(DataError, match="--domains-by"):
        prepare_celeba(CelebARequest(root, tmp_path / "x.h5", size=16, workers=1, domains_by="Gender"))


def test_translate_any_size_divisible_by_the_downsampling():
    """Fully convolutional, global AdaIN statistics: GTA5/BDD-like wide frames translate at their own size."""
    from i2icli.errors import DataError

    fam = _family()  # n1 = 2: one stride-2 layer
    wide = torch.zeros(1, 3, 32, 64)
    out = fam.translate(wide, Guidance(direction="a2b", exemplar=wide))
    assert out["output"].shape == (1, 3, 32, 64) and out["feature_mask"].shape == (1, 1, 32, 64)
    odd = torch.zeros(1, 3, 33, 32)
    with pytest.raises(DataError, match="multiples of 2"):
        fam.translate(odd, Guidance(direction="a2b", exemplar=odd))


def test_test_noise_switch():
    """Default translate decodes the noise-free latent; model.test_noise=true adds N(0, I) as the authors' test does."""
    x = _batches(1)[0]
    g = Guidance(direction="a2b", exemplar=x["b"])
    for noisy in (False, True):
        fam = _family(f"model.test_noise={'true' if noisy else 'false'}")
        with torch.no_grad():
            y1, y2 = fam.translate(x["a"], g)["output"], fam.translate(x["a"], g)["output"]
        assert torch.equal(y1, y2) is not noisy


@pytest.mark.parametrize("recipe, n1, size, batch, lr, lam_s, lam_c, paper_iterations", [
    ("mnist_single", 1, 32, 8, 1e-5, 1e3, 1e1, 60_000),
    ("mnist_multiple", 3, 64, 8, 1e-5, 1e4, 1e2, 60_000),
    ("gta5_bdd", 3, 256, 3, 1e-4, 1e4, 1e2, 22_000),
    ("celeba_gender", 3, 128, 8, 1e-4, 5e3, 1e1, 30_000),
])
def test_recipes_carry_table_6(recipe, n1, size, batch, lr, lam_s, lam_c, paper_iterations):
    cfg = training_config("egscit", RECIPES_DIR / "egscit" / f"{recipe}.toml")
    m, t = cfg.model_cfg, cfg.train
    assert (m.n1, cfg.data.image_size, t.batch_size, t.lr, m.lambda_style, m.lambda_content) == (
        n1, size, batch, lr, lam_s, lam_c)
    assert t.iterations == 5 * paper_iterations  # 1 D + 5 G updates per paper iteration
    assert (t.lr_schedule, t.lr_power, t.betas, t.weight_decay) == ("poly", 0.9, (0.5, 0.999), 0.0)
    assert (m.mask_eta, m.use_adain, m.n_res_blocks, m.n_disc_layers, m.channels) == (0.5, True, 3, 4, 64)
    assert (m.lambda_adv, m.lambda_kl, m.lambda_recon, m.lambda_kl_cycle, m.lambda_cycle) == (10, 0.1, 100, 0.1, 100)
