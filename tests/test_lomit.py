"""LOMIT family: architecture, gradient flow, masks, translate, dataset, recipes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from i2icli.config import read_recipe, resolve
from i2icli.data.keyed import images_to_float
from i2icli.errors import ConfigError, DataError
from i2icli.guidance import Guidance, validate
from i2icli.losses.regularizers import content_cosine_similarity, mask_content_consistency
from i2icli.models.base import Nets
from i2icli.models.lomit import LOMIT, LOMITDataset, lomit_dataset
from i2icli.nn.cosegmentation import CoSegmentation
from i2icli.nn.discriminators import PatchClassifierDiscriminator
from i2icli.nn.encoders import ContentEncoder, SharedStyleEncoders
from i2icli.registry import RECIPES_DIR, config_cls_for, get
from lomit_helpers import ATTRS, build, drive, random_batch, tiny_cfg, tiny_model, toy_store
from resume_check import assert_resume_is_exact


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # On a busy shared CPU, torch's spinning OpenMP threads make these small convs ~10x slower.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- architecture (Section 5.1)


def test_paper_architecture_shapes_at_128px():
    ec = ContentEncoder(3, 64, 2, 4)
    c = ec(torch.zeros(1, 3, 128, 128))
    assert c.shape == (1, 256, 32, 32)
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in ec.modules()) == 3 + 8  # IN in every layer
    es = SharedStyleEncoders()
    s_f, s_b = es(torch.zeros(2, 3, 128, 128), torch.zeros(2, 3, 128, 128))
    assert s_f.shape == s_b.shape == (2, 8)
    assert not any(isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d, nn.GroupNorm)) for m in es.modules())
    strided = lambda mod: [m for m in mod.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]  # noqa: E731
    # four strided convs per style encoder: two shared, two of its own
    assert len(strided(es.shared)) == 2 and all(len(strided(h)) == 2 for h in es.heads.values())
    assert es.heads["foreground"][-1].out_features == 8
    d = PatchClassifierDiscriminator(128, 10)
    src, cls = d(torch.zeros(1, 3, 128, 128))
    assert src.shape == (1, 1, 2, 2) and cls.shape == (1, 10)
    assert len(strided(d.trunk)) == 6


def test_style_encoders_share_only_their_first_layers():
    es = SharedStyleEncoders(channels=4, max_channels=16)
    fg, bg = (dict(es.heads[h].named_parameters()) for h in ("foreground", "background"))
    assert fg.keys() == bg.keys()
    assert all(fg[k].data_ptr() != bg[k].data_ptr() for k in fg)
    x = torch.randn(2, 3, 32, 32)
    s_f, s_b = es(x, x)
    torch.testing.assert_close(s_f, es.encode(x, "foreground"))
    assert not torch.allclose(s_f, s_b)


def test_build_networks_and_phases():
    fam = build()
    assert set(fam.networks) == {"content_encoder", "style_encoder", "cosegmentation", "decoder", "discriminator"}
    d, g = fam.phases
    assert (d.name, d.modules, d.every) == ("discriminator", ("discriminator",), 1)
    assert g.name == "generator" and g.every == 5  # Section 5.2: G once per five D updates
    assert set(g.modules) == {"content_encoder", "style_encoder", "cosegmentation", "decoder"}
    ablation = build(global_adain=True)
    assert "cosegmentation" not in ablation.networks


def test_initialisation_he_for_generator_normal_for_discriminator():
    fam = build(channels=16)
    w = fam.networks["decoder"].body[0].body[0][0].weight  # a 3x3 conv of the first residual block
    fan_in = w[0].numel()
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
    dw = fam.networks["discriminator"].trunk[2].weight
    assert dw.std().item() == pytest.approx(0.02, rel=0.1)


def test_config_errors_are_user_errors():
    with pytest.raises(ConfigError, match="attributes"):
        LOMIT(tiny_cfg().__class__(model="lomit", model_cfg=tiny_model(), recipe="r.toml"))
    with pytest.raises(ConfigError, match="n_disc_layers"):
        LOMIT(tiny_cfg(size=32, model=tiny_model(n_disc_layers=6)))


# --------------------------------------------------------------------------- gradient flow


def test_r1_reaches_the_mask_network_but_not_the_content_encoder():
    fam = build()
    nets = Nets(fam.networks)
    x = torch.cat([random_batch()["x"], random_batch(seed=1)["x"]])
    cross = fam._cross(nets, x, r1_masks=True)
    torch.testing.assert_close(cross["m_r1"], cross["m"])  # same masks in value
    r1 = mask_content_consistency(cross["m_r1"], cross["c"], content_cosine_similarity(cross["c"]))
    r1.backward()
    coseg_grads = [p.grad for p in fam.networks["cosegmentation"].parameters()]
    assert all(g is not None for g in coseg_grads) and sum(g.abs().sum() for g in coseg_grads) > 0
    assert all(p.grad is None for p in fam.networks["content_encoder"].parameters())


def test_masks_used_by_the_translation_do_train_the_content_encoder():
    # the gate is specific to R1: the other losses reach Ec through the masks as usual
    fam = build()
    cross = fam._cross(Nets(fam.networks), torch.cat([random_batch()["x"], random_batch(seed=1)["x"]]))
    cross["m"].sum().backward()
    assert sum(p.grad.abs().sum() for p in fam.networks["content_encoder"].parameters()) > 0


def test_discriminator_step_touches_only_the_discriminator():
    fam = build()
    for name, m in fam.networks.items():
        m.requires_grad_(name == "discriminator")
    loss, logs = fam.step("discriminator", Nets(fam.networks), random_batch(), 0)
    loss.backward()
    assert torch.isfinite(loss) and set(logs) >= {"d_wasserstein", "d_cls", "d_gp"}
    assert all(not v.requires_grad for v in logs.values())
    assert all(p.grad is not None for p in fam.networks["discriminator"].parameters())
    assert all(p.grad is None for n in ("content_encoder", "decoder", "cosegmentation")
               for p in fam.networks[n].parameters())


def test_generator_step_reaches_every_generator_module():
    fam = build()
    for name, m in fam.networks.items():
        m.requires_grad_(name != "discriminator")
    loss, logs = fam.step("generator", Nets(fam.networks), random_batch(), 0)
    loss.backward()
    assert torch.isfinite(loss)
    assert {"g_adv", "g_cls", "g_style_f", "g_style_b", "g_content", "g_cyc", "g_rec", "r1", "r2", "r3"} <= set(logs)
    for name in ("content_encoder", "style_encoder", "cosegmentation", "decoder"):
        grads = [p.grad for p in fam.networks[name].parameters()]
        assert all(g is not None for g in grads), name
    assert all(p.grad is None for p in fam.networks["discriminator"].parameters())


def test_generator_loss_is_eq16_weighted_sum():
    fam = build()
    torch.manual_seed(5)
    loss, logs = fam.step("generator", Nets(fam.networks), random_batch(), 0)
    m = fam.m
    expected = 2 * (logs["g_adv"] + m.lambda_cls * logs["g_cls"]
                    + m.lambda_style * (logs["g_style_f"] + logs["g_style_b"] + logs["g_content"])
                    + m.lambda_rec * (logs["g_cyc"] + logs["g_rec"])
                    + m.lambda_r1 * logs["r1"] + m.lambda_r3 * logs["r3"]) + m.lambda_r2 * logs["r2"]
    torch.testing.assert_close(loss.detach(), expected)


def test_gradient_penalty_under_ddp(tmp_path):
    """The critic step (with its double-backward penalty) gives the same gradients through a DDP wrapper."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    fam = build()
    for name, m in fam.networks.items():
        m.requires_grad_(name == "discriminator")
    disc = fam.networks["discriminator"]

    def grads(nets):
        disc.zero_grad(set_to_none=True)
        torch.manual_seed(0)  # the penalty's interpolation weights
        loss, _ = fam.step("discriminator", Nets(nets), random_batch(), 0)
        loss.backward()
        return [p.grad.clone() for p in disc.parameters()]

    plain = grads(fam.networks)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdzv'}", rank=0, world_size=1)
    try:
        wrapped = grads({**fam.networks, "discriminator": DDP(disc)})
    finally:
        dist.destroy_process_group()
    assert all(g.abs().sum() > 0 for g in plain)
    for a, b in zip(plain, wrapped, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- masks and translate


def test_cosegmentation_masks_depend_on_both_images():
    fam = build()
    fam.networks.eval()
    b = random_batch(b=2)
    with torch.no_grad():
        r1 = fam.translate(b["x"], Guidance(exemplar=b["y"]))
        r2 = fam.translate(b["x"], Guidance(exemplar=torch.flip(b["y"], dims=(0,)) * 0.3 - 0.5))
    for r in (r1, r2):
        for key in ("mask_input", "mask_exemplar"):
            assert r[key].shape == (2, 1, 32, 32)
            assert r[key].min() >= 0 and r[key].max() <= 1
        assert r["output"].shape == (2, 3, 32, 32) and r["output"].abs().max() <= 1
    assert (r1["mask_input"] - r2["mask_input"]).abs().max() > 1e-4  # exemplar changed -> input mask changed


def test_cosegmentation_module_uses_the_other_code_for_channel_attention():
    torch.manual_seed(0)
    cs = CoSegmentation(16, layers=2).eval()
    c1, c2, c3 = torch.randn(3, 1, 16, 4, 4).unbind(0)
    m12, m21 = cs.masks(c1, c2)
    m13, _ = cs.masks(c1, c3)
    assert m12.shape == (1, 1, 4, 4)
    assert not torch.allclose(m12, m13)
    torch.testing.assert_close(m12, cs(c1, c2))
    torch.testing.assert_close(m21, cs(c2, c1))


def test_region_replaces_the_input_mask():
    fam = build()
    fam.networks.eval()
    b = random_batch(b=2)
    region = torch.zeros(1, 1, 32, 32)
    region[..., 8:16, :] = 1.0
    with torch.no_grad():
        r = fam.translate(b["x"], Guidance(exemplar=b["y"], region=region))
        zero_a = fam.translate(b["x"], Guidance(exemplar=b["y"], region=torch.zeros(2, 1, 32, 32)))
        zero_b = fam.translate(b["x"], Guidance(exemplar=-b["y"], region=torch.zeros(2, 1, 32, 32)))
    torch.testing.assert_close(r["mask_input"], region.expand(2, 1, 32, 32))
    # an empty region keeps the input's own style: the exemplar has no effect on the output
    torch.testing.assert_close(zero_a["output"], zero_b["output"])
    with pytest.raises(ValueError, match="region"):
        fam.translate(b["x"], Guidance(exemplar=b["y"], region=torch.zeros(2, 1, 16, 16)))


def test_translate_guidance_errors_and_broadcast():
    fam = build()
    fam.networks.eval()
    b = random_batch(b=3)
    with torch.no_grad():
        out = fam.translate(b["x"], Guidance(exemplar=b["y"][:1]))
        ref = fam.translate(b["x"][1:2], Guidance(exemplar=b["y"][:1]))
    torch.testing.assert_close(out["output"][1:2], ref["output"], atol=1e-5, rtol=1e-4)
    with pytest.raises(ConfigError, match="exemplar"):
        fam.translate(b["x"], Guidance())
    with pytest.raises(ConfigError, match="does not take --direction"):
        validate(get("lomit"), Guidance(direction="a2b", exemplar=b["y"]))
    with pytest.raises(ConfigError, match="needs --exemplar"):
        validate(get("lomit"), Guidance())


def test_global_adain_ablation_uses_all_ones_masks():
    fam = build(global_adain=True)
    fam.networks.eval()
    b = random_batch()
    with torch.no_grad():
        r = fam.translate(b["x"], Guidance(exemplar=b["y"]))
    assert torch.all(r["mask_input"] == 1) and torch.all(r["mask_exemplar"] == 1)
    loss, logs = fam.step("generator", Nets(fam.networks), b, 0)
    assert torch.isfinite(loss) and "r1" not in logs


def test_sample_columns():
    fam = build()
    fam.networks.eval()
    with torch.no_grad():
        cols = fam.sample(random_batch())
    assert [t for t, _ in cols] == ["input", "input mask", "exemplar", "exemplar mask", "output"]
    assert [c.shape[1] for _, c in cols] == [3, 1, 3, 1, 3]


# --------------------------------------------------------------------------- data


def test_dataset_items_are_keyed_and_exemplars_differ(tmp_path):
    store = toy_store(tmp_path / "toy.h5", n_train=12, n_test=4)
    ds = lomit_dataset(tiny_cfg(store), "train")
    assert ds.label_names == ATTRS and len(ds) == 12
    a, b = ds[5], ds[5]
    for k in ("x", "y", "x_labels", "y_labels"):
        torch.testing.assert_close(a[k], b[k])
    assert a["x"].shape == (3, 32, 32) and a["x_labels"].shape == (2,)
    assert a["x"].dtype == torch.uint8 and a["x_labels"].dtype == torch.float32 and ds.image_keys == ("x", "y")
    exemplars = {ds.exemplar_index(3, np.random.default_rng(k)) for k in range(200)}
    assert 3 not in exemplars and len(exemplars) == 11
    differ = LOMITDataset(ds.base, "differ")
    for key in range(40):
        item = differ[key]
        assert not torch.equal(item["x_labels"], item["y_labels"])
    ds[17]  # keys wrap around (epoch * len + index)


def test_dataset_errors(tmp_path):
    store = toy_store(tmp_path / "toy.h5", n_train=4, n_test=1)
    with pytest.raises(DataError, match="at least two"):
        lomit_dataset(tiny_cfg(store), "test")
    cfg = tiny_cfg(store)
    with pytest.raises(ConfigError, match="attributes"):
        lomit_dataset(cfg.__class__(model="lomit", model_cfg=cfg.model_cfg, data=cfg.data.__class__(path=str(store))),
                      "train")


# --------------------------------------------------------------------------- registry and recipes


def test_registered_with_exemplar_guidance():
    spec = get("lomit")
    assert spec.accepts == ("exemplar", "region") and spec.requires == ("exemplar",)
    assert spec.default_recipe == "celeba.toml"
    assert spec.build is LOMIT and spec.dataset is lomit_dataset


@pytest.mark.parametrize("name", ["celeba.toml", "emotionet.toml", "tiny.toml"])
def test_recipes_resolve_and_build(name):
    path = RECIPES_DIR / "lomit" / name
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model="lomit")
    fam = get("lomit").build(cfg)
    assert fam.phases[1].every == 5
    if name != "tiny.toml":
        m = cfg.model_cfg
        train = cfg.train
        assert (cfg.data.image_size, train.batch_size, train.lr, train.betas) == (128, 8, 1e-4, (0.5, 0.999))
        assert cfg.train.iterations == 200_000
        assert (m.lambda_cls, m.lambda_style, m.lambda_rec, m.lambda_gp) == (1.0, 1.0, 10.0, 10.0)
        assert (m.lambda_r1, m.lambda_r2, m.lambda_r3) == (0.1, 0.01, 0.0001)
    expected = {"celeba.toml": 10, "emotionet.toml": 12}.get(name)
    if expected:
        assert len(cfg.data.attributes) == expected


# --------------------------------------------------------------------------- tiny training


def _batches(ds, batch_size=4, seed=0):
    keys = itertools.count()
    while True:
        items = [ds[next(keys)] for _ in range(batch_size)]
        yield images_to_float({k: torch.stack([it[k] for it in items]) for k in items[0]}, ds.image_keys)


def test_tiny_training_on_toy_faces(tmp_path):
    torch.manual_seed(0)
    store = toy_store(tmp_path / "toy.h5", n_train=24, n_test=4)
    cfg = tiny_cfg(store, lr=5e-4)
    fam = LOMIT(cfg)
    before = {k: v.clone() for k, v in fam.networks.state_dict().items()}
    hist = drive(fam, _batches(lomit_dataset(cfg, "train")), 60)
    assert all(math.isfinite(v) for h in hist for v in h.values())
    after = fam.networks.state_dict()
    for name in fam.networks:
        changed = [not torch.equal(before[k], after[k]) for k in after if k.startswith(name + ".") and
                   after[k].is_floating_point()]
        assert any(changed), name
    fam.networks.eval()
    test = next(_batches(lomit_dataset(cfg, "test")))
    with torch.no_grad():
        r = fam.translate(test["x"], Guidance(exemplar=test["y"]))
    assert torch.isfinite(r["output"]).all()
    assert r["mask_input"].std() > 1e-3  # not constant


# --------------------------------------------------------------------------- through the engine


def _faces(path, count=48, test_count=8):
    from i2icli.prepare.synthetic import FacesRequest, prepare_faces

    prepare_faces(FacesRequest(out=path, count=count, test_count=test_count, pairs=0, size=64, seed=0))
    return path


def _engine_cfg(store, iterations, *extra):
    path = RECIPES_DIR / "lomit" / "tiny.toml"
    overrides = [f"data.path={store}", "data.num_workers=0", "train.batch_size=4", f"train.iterations={iterations}",
                 "train.log_every=5", f"train.sample_every={iterations}", f"train.checkpoint_every={iterations}",
                 "train.sample_count=2", *extra]
    return resolve(read_recipe(path), config_cls_for, str(path), overrides=overrides, model="lomit")


def _run(tmp_path, iterations, *extra, count=48):
    import json

    from i2icli.engine import TrainRequest, train

    store = _faces(tmp_path / "faces.h5", count=count)
    result = train(TrainRequest(cfg=_engine_cfg(store, iterations, *extra), out=tmp_path / "run", device="cpu"))
    records = [json.loads(line) for line in result.metrics.read_text().splitlines()]
    return store, result, records


def test_engine_trains_on_synthetic_faces_and_translate_loads_the_run(tmp_path):
    from i2icli.data.store import open_store
    from i2icli.images import to_tensor
    from i2icli.translate import load_run

    store, result, records = _run(tmp_path, 20)
    assert records[-1]["iteration"] == 20
    assert {"d_wasserstein", "d_gp", "g_cyc", "r1"} <= set(records[-1])
    assert all(math.isfinite(v) for r in records for v in r.values() if isinstance(v, float))
    assert result.samples is not None and result.samples.is_file()
    loaded = load_run(result.run_dir, device="cpu")
    assert loaded.spec.name == "lomit" and not loaded.family.networks.training
    s = open_store(store)
    x = torch.stack([to_tensor(s.image("test", i)) for i in range(2)])
    x = torch.nn.functional.interpolate(x, size=32, mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        out = loaded.family.translate(x, Guidance(exemplar=x.flip(0)))
    assert out["output"].shape == (2, 3, 32, 32) and torch.isfinite(out["output"]).all()


def test_few_hundred_iterations_on_synthetic_faces(tmp_path, size=64):
    """The issue's tiny end-to-end run: 300 iterations at 64 px (about 50 s on one busy core)."""
    from i2icli.translate import load_run

    store, result, records = _run(tmp_path, 300, "train.log_every=25", f"data.image_size={size}",
                                  f"data.load_size={size}", count=400)
    assert all(math.isfinite(v) for r in records for v in r.values() if isinstance(v, float))
    assert records[-1]["g_rec"] < records[0]["g_rec"]  # the intra-domain auto-encoder is learning
    loaded = load_run(result.run_dir, device="cpu")
    b = next(_batches(lomit_dataset(loaded.cfg, "test"), batch_size=8))
    with torch.no_grad():
        r = loaded.family.translate(b["x"], Guidance(exemplar=b["y"]))
    masks = r["mask_input"]
    assert masks.flatten(1).std(dim=1).min() > 1e-3  # every mask varies over the image
    assert (masks - masks.mean(0)).abs().max() > 1e-3  # and differs between images


@pytest.mark.slow
def test_two_process_ddp_training(tmp_path, monkeypatch):
    """Gradient penalty and the multi-call generator step under 2-process gloo DDP (replicas checked by the engine)."""
    from i2icli.engine import TrainRequest, train

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # spawned ranks: 2 x 2 spinning threads on a busy 2-core box stall

    store = _faces(tmp_path / "faces.h5", count=16)
    result = train(TrainRequest(cfg=_engine_cfg(store, 6, "train.batch_size=2", "train.log_every=1"),
                                out=tmp_path / "ddp", device="cpu", nproc=2))
    assert result.world_size == 2 and result.iterations == 6
    lines = result.metrics.read_text().splitlines()
    assert len(lines) == 6 and "g_cyc" in lines[0] and "d_gp" in lines[-1]


def test_interrupted_and_resumed_lomit_run_matches_uninterrupted(tmp_path):


    store = _faces(tmp_path / "faces.h5", count=16)
    cfg = _engine_cfg(store, 12, "train.batch_size=2", "train.log_every=1", "train.checkpoint_every=100")
    assert_resume_is_exact(cfg, tmp_path, stop_at=7)  # resumes at 7; a G step at 10


def test_cli_translate_with_exemplar_masks_and_region(tmp_path):
    from typer.testing import CliRunner

    from i2icli.cli.main import app
    from i2icli.data.store import open_store
    from i2icli.images import load_rgb, save_png, to_uint8
    from i2icli.translate import prepare_image

    store, result, _ = _run(tmp_path, 5)
    s = open_store(store)
    save_png(tmp_path / "in.png", s.image("test", 0))
    save_png(tmp_path / "ref.png", s.image("test", 1))
    region = np.zeros((64, 64), np.uint8)
    region[:24] = 255
    save_png(tmp_path / "region.png", region)
    runner = CliRunner()
    res = runner.invoke(app, ["translate", str(tmp_path / "in.png"), "--exemplar", str(tmp_path / "ref.png"),
                              "--checkpoint", str(result.run_dir), "--out", str(tmp_path / "out"), "--save-masks"])
    assert res.exit_code == 0, res.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["in__ref.png", "in__ref_mask_exemplar.png", "in__ref_mask_input.png"]
    res = runner.invoke(app, ["translate", str(tmp_path / "in.png"), "--exemplar", str(tmp_path / "ref.png"),
                              "--checkpoint", str(result.run_dir), "--out", str(tmp_path / "kept"),
                              "--region", str(tmp_path / "region.png"), "--keep-background"])
    assert res.exit_code == 0, res.output
    out = load_rgb(tmp_path / "kept" / "in__ref.png").astype(int)
    size = out.shape[0]
    src = to_uint8(prepare_image(load_rgb(tmp_path / "in.png"), size)).astype(int)  # the input as translate sees it
    below = slice(size * 24 // 64 + 2, None)  # well outside the region: the input is pasted back exactly
    assert np.abs(out[below] - src[below]).max() <= 1
    assert np.abs(out[: size // 4] - src[: size // 4]).max() > 10  # inside the region it is translated
    res = runner.invoke(app, ["translate", str(tmp_path / "in.png"), "--checkpoint", str(result.run_dir)])
    assert res.exit_code == 2 and "exemplar" in res.output


def test_mask_stats_batch_uses_the_batch_and_leaves_running_averages_alone():
    torch.manual_seed(0)
    fam = build(mask_stats="batch")
    ref = build(mask_stats="running")
    ref.networks.load_state_dict(fam.networks.state_dict())
    drive(fam, [random_batch(b=2)], 1)  # running averages move away from their initial values
    ref.networks.load_state_dict(fam.networks.state_dict())
    fam.networks.eval()
    ref.networks.eval()
    bns = [m for m in fam.networks["cosegmentation"].modules() if isinstance(m, nn.BatchNorm2d)]
    before = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in bns]
    b = random_batch(b=2)
    with torch.no_grad():
        out = fam.translate(b["x"], Guidance(exemplar=b["y"]))
        out_ref = ref.translate(b["x"], Guidance(exemplar=b["y"]))
        for bn, (mean, var) in zip(bns, before, strict=True):
            assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var) and not bn.training
        c = fam.networks["content_encoder"](torch.cat([b["x"], b["y"]]))
        coseg = fam.networks["cosegmentation"]
        coseg.train()  # batch statistics, the literal way
        m = coseg(c, torch.cat([c[2:], c[:2]]))
        coseg.eval()
    assert not torch.allclose(out["mask_input"], out_ref["mask_input"])
    torch.testing.assert_close(out["mask_input"], torch.nn.functional.interpolate(
        m[:2], size=(32, 32), mode="bilinear", align_corners=False), atol=1e-5, rtol=1e-4)
