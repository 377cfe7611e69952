"""One contract test over the registry: every registered model x every recipe it ships.

For each model: every shipped recipe loads strictly; the ``tiny`` recipe builds
on the model's built-in synthetic store (``ModelSpec.synthetic``), runs two
iterations through the engine's own update (:func:`run_iteration`) with finite
losses and changed parameters, round-trips a checkpoint, translates with every
guidance field the model accepts (alone and with what it requires), and
returns well-formed sample columns.  A new model gets all of this by
registering; nothing here names a model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import default_collate

from i2icli.config import read_recipe, resolve
from i2icli.data.keyed import dataset_image_keys, images_to_float
from i2icli.engine import checkpoint as ckpt
from i2icli.engine.iteration import build_optimizers, run_iteration
from i2icli.errors import ConfigError
from i2icli.guidance import Guidance, validate
from i2icli.models.base import Nets
from i2icli.prepare.synthetic import DigitsRequest, FacesRequest, prepare_digits, prepare_faces
from i2icli.registry import RECIPES_DIR, ModelSpec, config_cls_for, get, names

MODELS = [n for n in names() if get(n).synthetic is not None]
RECIPES = [(m, p.name) for m in MODELS for p in sorted((RECIPES_DIR / m).glob("*.toml"))]


def test_every_shipped_model_is_covered():
    assert {"ugatit", "lomit"} <= set(MODELS)
    for m in MODELS:
        assert (RECIPES_DIR / m / "tiny.toml").is_file(), f"{m} ships no tiny.toml"
        assert (RECIPES_DIR / m / get(m).default_recipe).is_file(), f"{m}: default recipe missing"


@pytest.mark.parametrize(("model", "recipe"), RECIPES)
def test_recipe_loads_strictly(model, recipe):
    path = RECIPES_DIR / model / recipe
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model=model)
    assert cfg.model == model


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("contract")
    out = {"digits": root / "digits.h5", "faces": root / "faces.h5"}
    prepare_digits(DigitsRequest(out=out["digits"], count=12, test_count=4))
    prepare_faces(FacesRequest(out=out["faces"], count=16, test_count=4))
    return out


def _guidances(spec: ModelSpec, cfg, x: torch.Tensor, exemplar: torch.Tensor) -> list[list[Guidance]]:
    """The required guidance, then each accepted field added on its own: groups of which one must translate.

    A requirement ``"a|b"`` may be met by either field, and a field may make
    sense with only one of them (BridgeGAN: ``--outputs`` varies the
    label-based latent, so it goes with ``--attr``, not a lone ``--exemplar``;
    ``--mix`` needs ``--exemplar``).  So each accepted field is tried on top of
    every alternative and at least one combination must translate; the
    others may refuse with a one-line :class:`ConfigError`.
    """
    values = {
        "direction": ["a2b", "b2a"],
        "exemplar": [exemplar],
        "attributes": [((cfg.data.attributes[0], 1),)] if cfg.data.attributes else [],
        "domain": [cfg.data.domains[-1]] if cfg.data.domains else [],
        "seed": [0],
        "outputs": [2],
        "region": [torch.ones(x.shape[0], 1, *x.shape[-2:])],
        "mix": [0.5],
    }
    bases: list[dict] = [{}]
    for need in spec.requires:
        bases = [{**b, alt: values[alt][0]} for b in bases for alt in need.split("|")]
    out = [[Guidance(**b) for b in bases]]
    for field in spec.accepts:
        for v in values[field]:
            out.append([Guidance(**{**b, field: v}) for b in bases])
    return out


@pytest.mark.parametrize("model", MODELS)
def test_tiny_recipe_trains_checkpoints_translates_and_samples(model, stores, tmp_path):
    spec = get(model)
    path = RECIPES_DIR / model / "tiny.toml"
    assert spec.synthetic is not None
    cfg = resolve(read_recipe(path), config_cls_for, str(path), model=model,
                  overrides=[f"data.path={str(stores[spec.synthetic])!r}", "data.num_workers=0", "train.batch_size=2"])
    torch.manual_seed(0)
    family = spec.build(cfg)
    ds = spec.dataset(cfg, "train")
    keys = dataset_image_keys(ds)
    batches = [images_to_float(default_collate([ds[2 * i], ds[2 * i + 1]]), keys) for i in range(2)]

    # two iterations through the engine's own update
    frozen = family.frozen_networks()
    for m in frozen.values():
        m.eval().requires_grad_(False)
    nets = Nets({**dict(family.networks.items()), **frozen})
    optimizers = build_optimizers(family)
    before = {k: v.detach().clone() for k, v in ckpt.network_state(family.networks).items()}
    family.networks.train()
    trained: set[str] = set()
    for it, batch in enumerate(batches):
        for phase, logs in run_iteration(family, {p.name: nets for p in family.phases}, optimizers, batch, it):
            trained |= set(phase.modules)
            for k, v in logs.items():
                assert torch.isfinite(v).all(), f"{model}: log {k} of {phase.name} is not finite"
    after = ckpt.network_state(family.networks)
    for name in trained:
        changed = [k for k in after if k.startswith(name + ".") and not torch.equal(after[k], before[k])]
        assert changed, f"{model}: no parameter of {name} changed in two iterations"
    for name in frozen:
        assert not any(k.startswith(name + ".") for k in after), f"frozen {name} must not be checkpointed"

    # checkpoint round trip into a freshly built family
    saved = ckpt.save_checkpoint(tmp_path / "ck", 2, family.networks, {"iteration": 2})
    torch.manual_seed(1)
    fresh = spec.build(cfg)
    ckpt.load_weights(saved, fresh.networks)
    reloaded = ckpt.network_state(fresh.networks)
    assert sorted(reloaded) == sorted(after) and all(torch.equal(reloaded[k], after[k]) for k in after)

    # translate with every guidance the model accepts
    fresh.networks.eval()
    x = batches[0][keys[0]]
    exemplar = batches[1][keys[0]]
    if spec.accepts:
        for group in _guidances(spec, cfg, x, exemplar):
            results = []
            for g in group:
                g = validate(spec, g)
                try:
                    with torch.no_grad():
                        results.append((g, fresh.translate(x, g)))
                except ConfigError as exc:
                    assert "\n" not in str(exc), (model, g.given(), str(exc))
            assert results, (model, [g.given() for g in group], "no alternative of the requirement translates")
            for g, out in results:
                _check_translation(model, x, g, out)

    # sample columns under eval
    with torch.no_grad():
        cols = fresh.sample(batches[0])
    assert cols and all(isinstance(t, str) and t for t, _ in cols)
    for title, col in cols:
        assert col.dim() == 4 and col.shape[0] == x.shape[0] and col.shape[1] in (1, 3), (model, title)
        assert torch.isfinite(col).all(), (model, title)


def _check_translation(model: str, x: torch.Tensor, g: Guidance, out: dict[str, torch.Tensor]) -> None:
    """Shapes and ranges of one translation's outputs."""
    y = out["output"]
    assert y.shape == (x.shape[0] * g.n_outputs, 3, *x.shape[-2:]), (model, g.given(), tuple(y.shape))
    assert torch.isfinite(y).all() and y.min() >= -1 and y.max() <= 1
    for key, value in out.items():
        assert value.dim() == 4 and value.shape[-2:] == x.shape[-2:], (model, key)
        if value.shape[1] == 1:
            assert value.min() >= 0 and value.max() <= 1, (model, key)
