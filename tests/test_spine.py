"""Spine v2: the family contract, typed guidance, EMA, frozen networks, shared optimisers, schedules."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import toy_family
from i2icli.config import DataConfig, RunConfig, TrainConfig
from i2icli.engine import TrainRequest, lr_factor, train
from i2icli.engine import checkpoint as ckpt
from i2icli.engine.ema import EMA
from i2icli.engine.iteration import build_optimizers, run_iteration
from i2icli.errors import ConfigError, DataError, TrainingError
from i2icli.guidance import Guidance, parse_attr, validate
from i2icli.models.base import Family, Nets, Phase
from i2icli.registry import _REGISTRY, ModelSpec, get, register
from i2icli.translate import load_run


class SpineToy(toy_family.ToyGAN):
    """ToyGAN plus every optional part of the contract: EMA, a frozen network, a shared optimiser, module lrs."""

    ema = ("gen",)

    def __init__(self, cfg):
        super().__init__(cfg)
        self.networks["post"] = nn.Conv2d(3, 3, 1)
        # two generator-side phases sharing one optimiser; "post" at a tenth of the lr
        self.phases = (Phase("discriminator", ("disc",)),
                       Phase("generator", ("gen",), optimizer="g"),
                       Phase("post", ("post",), every=2, optimizer="g", module_lr=(("post", cfg.train.lr / 10),)))
        self.frozen_built = 0

    def frozen_networks(self):
        self.frozen_built += 1
        torch.manual_seed(123)
        return {"probe": nn.Conv2d(3, 2, 3, padding=1)}

    def step(self, phase, nets, batch, iteration):
        if phase == "post":
            y = nets["post"](batch["a"])
            feat = nets["probe"](y)
            loss = (feat - nets["probe"](batch["b"])).pow(2).mean()
            return loss, {"post": loss.detach()}
        return super().step(phase, nets, batch, iteration)

    def sample(self, batch):
        noise = torch.randn(batch["a"].shape[0], 1, *batch["a"].shape[-2:])  # a latent draw
        cols = super().sample(batch)
        return cols + [("noise", (noise.clamp(-2, 2) + 2) / 4)]


if "toy-spine" not in _REGISTRY:
    register(ModelSpec(name="toy-spine", config_cls=toy_family.ToyConfig, build=SpineToy, dataset=toy_family._dataset,
                       default_recipe="tiny.toml", summary="Spine test model.", accepts=("direction",),
                       defaults={"direction": "a2b"}))


def make_cfg(model: str = "toy-spine", **train_kw) -> RunConfig:
    t = dict(iterations=8, batch_size=2, log_every=1, sample_every=4, checkpoint_every=4, keep_checkpoints=3,
             sample_count=2, ema_decay=0.9)
    t.update(train_kw)
    return RunConfig(model=model, model_cfg=toy_family.ToyConfig(), train=TrainConfig(**t), recipe="test",
                     data=DataConfig(path="synthetic", image_size=8, num_workers=0))


# ----------------------------------------------------------------------------- contract


def test_incomplete_family_cannot_be_instantiated():
    class NoSample(Family):
        def step(self, phase, nets, batch, iteration):
            raise AssertionError

        def translate(self, x, guidance):
            raise AssertionError

    with pytest.raises(TypeError, match="sample"):
        NoSample(make_cfg())  # type: ignore[abstract]


def test_spec_refuses_unknown_guidance_fields():
    with pytest.raises(ValueError, match="unknown guidance field 'colour'"):
        ModelSpec(name="x", config_cls=toy_family.ToyConfig, build=SpineToy, dataset=toy_family._dataset,
                  default_recipe="tiny.toml", summary="", accepts=("colour",))


# ----------------------------------------------------------------------------- guidance


def _spec(**kw) -> ModelSpec:
    return ModelSpec(name="m", config_cls=toy_family.ToyConfig, build=SpineToy, dataset=toy_family._dataset,
                     default_recipe="tiny.toml", summary="", **kw)


def test_validate_refuses_fields_the_model_does_not_take_naming_the_option():
    spec = _spec(accepts=("direction",), defaults={"direction": "a2b"})
    assert validate(spec, Guidance()).direction == "a2b"
    with pytest.raises(ConfigError, match=r"^m does not take --exemplar, --attr; it takes --direction$"):
        validate(spec, Guidance(exemplar=torch.zeros(1, 3, 4, 4), attributes=(("Smiling", 1),)))
    both = _spec(accepts=("direction", "exemplar"), requires=("exemplar",), defaults={"direction": "a2b"})
    with pytest.raises(ConfigError, match="needs --exemplar"):
        validate(both, Guidance(direction="b2a"))
    g = validate(both, Guidance(direction="b2a", exemplar=torch.zeros(1, 3, 4, 4)))
    assert g.direction == "b2a"
    either = _spec(accepts=("exemplar", "attributes", "outputs", "mix"), requires=("exemplar|attributes",))
    with pytest.raises(ConfigError, match="needs --exemplar or --attr"):
        validate(either, Guidance(outputs=2))
    for bad, msg in ((Guidance(attributes=(("A", 1),), outputs=0), "--outputs 0"),
                     (Guidance(attributes=(("A", 1),), mix=1.5), "--mix 1.5"),
                     (Guidance(attributes=(("A", 2),)), "--attr A=2")):  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match=msg):
            validate(either, bad)


def test_parse_attr():
    assert parse_attr(["Blond_Hair=1", "Smiling=0", "Male"]) == (("Blond_Hair", 1), ("Smiling", 0), ("Male", None))
    for bad in (["X=2"], ["=1"], ["X=1", "X=0"]):
        with pytest.raises(ConfigError, match="--attr"):
            parse_attr(bad)


def test_exemplar_for_broadcasts_and_checks():
    x = torch.zeros(3, 3, 8, 8)
    assert Guidance(exemplar=torch.ones(1, 3, 8, 8)).exemplar_for(x).shape == (3, 3, 8, 8)
    with pytest.raises(ConfigError, match="differs from the input"):
        Guidance(exemplar=torch.ones(1, 3, 4, 4)).exemplar_for(x)
    with pytest.raises(ConfigError, match="3 inputs but 2 exemplars"):
        Guidance(exemplar=torch.ones(2, 3, 8, 8)).exemplar_for(x)


# ----------------------------------------------------------------------------- schedules


def test_step_and_poly_schedules():
    t = TrainConfig(iterations=200_000, lr_schedule="step", decay_start=100_000, lr_step_every=10_000, lr_gamma=0.5)
    assert [lr_factor(t, i) for i in (0, 99_999, 100_000, 109_999, 110_000, 199_999)] == [1, 1, 1, 1, 0.5, 0.5 ** 9]
    p = TrainConfig(iterations=100, lr_schedule="poly", lr_power=0.9)
    assert lr_factor(p, 0) == 1.0 and lr_factor(p, 50) == pytest.approx(0.5 ** 0.9) and lr_factor(p, 100) == 0.0
    with pytest.raises(ValueError):
        TrainConfig(ema_decay=1.0)


# ----------------------------------------------------------------------------- optimisers, frozen nets, iteration


def test_shared_optimiser_module_lrs_and_frozen_networks_in_one_iteration():
    torch.manual_seed(0)
    fam = SpineToy(make_cfg(lr=1e-3))
    opts = build_optimizers(fam)
    assert sorted(opts) == ["discriminator", "g"]
    groups = {g["module"]: g["lr"] for g in opts["g"].param_groups}
    assert groups == {"gen": 1e-3, "post": 1e-4}
    frozen = fam.frozen_networks()
    probe_before = {k: v.clone() for k, v in frozen["probe"].state_dict().items()}
    nets = Nets({**dict(fam.networks.items()), **frozen})
    batch = {"a": torch.rand(2, 3, 8, 8) * 2 - 1, "b": torch.rand(2, 3, 8, 8) * 2 - 1}
    post_before = fam.networks["post"].weight.detach().clone()
    done = run_iteration(fam, {p.name: nets for p in fam.phases}, opts, batch, 0)
    assert [p.name for p, _ in done] == ["discriminator", "generator", "post"]
    assert not torch.equal(post_before, fam.networks["post"].weight)
    for k, v in frozen["probe"].state_dict().items():
        assert torch.equal(v, probe_before[k])  # frozen: the loss flows through it, nothing updates it
    assert [p.name for p, _ in run_iteration(fam, {p.name: nets for p in fam.phases}, opts, batch, 1)] == \
        ["discriminator", "generator"]  # "post" runs every 2nd iteration


def test_nonfinite_loss_stops_before_the_update():
    fam = SpineToy(make_cfg())
    opts = build_optimizers(fam)
    nets = Nets(dict(fam.networks.items()))
    before = [p.detach().clone() for p in fam.networks["disc"].parameters()]
    batch = {"a": torch.full((2, 3, 8, 8), float("nan")), "b": torch.zeros(2, 3, 8, 8)}
    with pytest.raises(FloatingPointError, match="discriminator"):
        run_iteration(fam, {p.name: nets for p in fam.phases}, opts, batch, 0)
    assert all(torch.equal(a, b) for a, b in zip(before, fam.networks["disc"].parameters(), strict=True))


# ----------------------------------------------------------------------------- EMA


def test_ema_update_is_the_moving_average_and_swaps_back():
    net = nn.ModuleDict({"g": nn.Linear(2, 2)})
    ema = EMA(net, ("g",), decay=0.9, start=1)
    w0 = net["g"].weight.detach().clone()
    with torch.no_grad():
        net["g"].weight.add_(1.0)
    ema.update(0)  # before ema_start: a copy
    torch.testing.assert_close(ema.averaged["g"].weight, w0 + 1)
    with torch.no_grad():
        net["g"].weight.add_(1.0)
    ema.update(1)
    torch.testing.assert_close(ema.averaged["g"].weight, 0.9 * (w0 + 1) + 0.1 * (w0 + 2))
    live = net["g"].weight.detach().clone()
    with ema.swapped():
        torch.testing.assert_close(net["g"].weight, ema.averaged["g"].weight)
    assert torch.equal(net["g"].weight, live)


def test_engine_run_has_ema_in_checkpoint_frozen_nets_out_and_translate_uses_ema(tmp_path):
    run = tmp_path / "run"
    train(TrainRequest(cfg=make_cfg(), out=run))
    last = ckpt.latest_checkpoint(run)
    assert last is not None
    tensors = load_file(str(last / ckpt.WEIGHTS))
    assert any(k.startswith("ema.gen.") for k in tensors)
    assert not any("probe" in k for k in tensors)  # frozen networks are never checkpointed
    state = ckpt.load_state(last)
    assert state["format"] == 2 and state["model"] == "toy-spine"
    loaded = load_run(run, device="cpu")
    assert loaded.ema == ("gen",)
    for k, v in loaded.family.networks["gen"].state_dict().items():
        assert torch.equal(v, tensors[f"ema.gen.{k}"])
    assert not torch.equal(tensors["ema.gen.0.weight"], tensors["gen.0.weight"])
    live = load_run(run, device="cpu", use_ema=False)
    assert torch.equal(live.family.networks["gen"].state_dict()["0.weight"], tensors["gen.0.weight"])


def test_resume_with_ema_and_shared_optimiser_is_exact(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    train(TrainRequest(cfg=make_cfg(), out=full))

    def interrupt_at_5(description, completed, total=None, **fields):
        if completed == 5:  # between checkpoints and between two "post" phases: EMA and the shared Adam resume
            raise KeyboardInterrupt

    with pytest.raises(TrainingError, match="interrupted at iteration 5"):
        train(TrainRequest(cfg=make_cfg(), out=part), progress=interrupt_at_5)
    train(TrainRequest(cfg=make_cfg(), out=part, resume="auto"))
    a = load_file(str(ckpt.latest_checkpoint(full) / ckpt.WEIGHTS))  # type: ignore[operator]
    b = load_file(str(ckpt.latest_checkpoint(part) / ckpt.WEIGHTS))  # type: ignore[operator]
    assert sorted(a) == sorted(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_sampling_does_not_touch_the_training_random_stream(tmp_path):
    """Samples draw a latent; with or without sample grids the run's weights are identical."""
    with_samples, without = tmp_path / "s", tmp_path / "n"
    train(TrainRequest(cfg=make_cfg(sample_every=1), out=with_samples))
    train(TrainRequest(cfg=make_cfg(sample_every=1000), out=without))
    a = load_file(str(ckpt.latest_checkpoint(with_samples) / ckpt.WEIGHTS))  # type: ignore[operator]
    b = load_file(str(ckpt.latest_checkpoint(without) / ckpt.WEIGHTS))  # type: ignore[operator]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_another_models_or_older_state(tmp_path):
    run = tmp_path / "run"

    def stop(description, completed, total=None, **fields):
        if completed == 4:
            raise KeyboardInterrupt

    with pytest.raises(TrainingError):
        train(TrainRequest(cfg=make_cfg(), out=run), progress=stop)
    last = ckpt.latest_checkpoint(run)
    assert last is not None
    state = ckpt.load_state(last)
    torch.save({**state, "model": "toy-gan"}, last / ckpt.STATE)
    with pytest.raises(DataError, match="of model 'toy-gan', not 'toy-spine'"):
        train(TrainRequest(cfg=make_cfg(), out=run, resume="auto"))
    old = {k: v for k, v in state.items() if k != "format"}
    torch.save(old, last / ckpt.STATE)
    with pytest.raises(DataError, match="training state format 1"):
        train(TrainRequest(cfg=make_cfg(), out=run, resume="auto"))


def test_required_weights_are_checked_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(SpineToy, "required_weights", lambda self: ("vgg19",))
    monkeypatch.setenv("I2I_WEIGHTS", str(tmp_path / "empty"))
    from i2icli.errors import WeightsError

    with pytest.raises(WeightsError, match="vgg19-dcbb9e9d.pth"):
        train(TrainRequest(cfg=make_cfg(), out=tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_meta_and_metrics_show_the_lr_of_the_first_phase(tmp_path):
    run = tmp_path / "run"
    train(TrainRequest(cfg=make_cfg(lr_schedule="poly", lr_power=1.0, lr=1e-3), out=run))
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert recs[0]["lr"] == pytest.approx(1e-3) and recs[-1]["lr"] == pytest.approx(1e-3 * (1 - 7 / 8))


def test_registry_spec_accepts_for_builtin_models():
    assert get("ugatit").accepts == ("direction",) and get("lomit").exemplar_guided
    assert get("ugatit").defaults == {"direction": "a2b"}


def test_grid_titles_wrap_instead_of_being_clipped():
    from i2icli.engine.sampling import make_grid, wrap_title

    width = lambda s: 6 * len(s)  # noqa: E731
    assert wrap_title("exemplar mask", 48, width) == ["exemplar", "mask"]
    assert wrap_title("input", 48, width) == ["input"]
    assert wrap_title("averyveryverylongword", 48, width) == ["averyver", "yverylon", "gword"]
    assert wrap_title("flip Black_Hair", 48, width) == ["flip", "Black_", "Hair"]  # not "Black_Ha" / "ir"
    assert wrap_title("Wearing_Lipstick", 48, width) == ["Wearing_", "Lipstick"]
    short = make_grid([("a", torch.zeros(1, 3, 32, 32))])
    long = make_grid([("exemplar mask of the input", torch.zeros(1, 1, 32, 32))])
    assert long.shape[0] > short.shape[0]  # a taller header, every word kept


def test_bf16_autocast_runs_on_cpu(tmp_path):
    run = tmp_path / "run"
    train(TrainRequest(cfg=make_cfg(amp=True, iterations=2), out=run))
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert recs and all(math.isfinite(v) for r in recs for v in r.values() if isinstance(v, float))
