"""Strict recipe loading, overrides, round-trip of the resolved config."""

from __future__ import annotations

import pytest

import toy_family
from i2icli.config import DataConfig, RunConfig, TrainConfig, parse_override, read_recipe, resolve, run_config_to_toml
from i2icli.errors import ConfigError
from i2icli.registry import ModelSpec, config_cls_for, get, names, register


def write(path, text):
    path.write_text(text)
    return path


def test_recipe_with_extends_and_overrides(tmp_path):
    write(tmp_path / "base.toml", '[model]\nname = "toy-gan"\nch = 3\n[train]\nlr = 1e-3\nbetas = [0.0, 0.9]\n')
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\n[train]\niterations = 7\n')
    cfg = resolve(read_recipe(child), config_cls_for, str(child), overrides=["model.ch=5", "data.flip=false"])
    assert cfg.model == "toy-gan"
    assert cfg.model_cfg == toy_family.ToyConfig(ch=5)
    assert cfg.train.lr == 1e-3 and cfg.train.iterations == 7 and cfg.train.betas == (0.0, 0.9)
    assert cfg.data.flip is False


@pytest.mark.parametrize(
    "text, overrides, message",
    [
        ('[model]\nname = "toy-gan"\n[train]\nlr_shedule = 1\n', [],
         r"unknown key 'lr_shedule' \(did you mean 'lr_schedule'\?\); valid keys: iterations"),
        ('[model]\nname = "toy-gan"\n[train]\niterations = "many"\n', [],
         r"\[train\]\.iterations: expected an integer"),
        ('[model]\nname = "toy-gan"\n[train]\nlr_schedule = "cosine"\n', [],
         r"'cosine' is not one of 'none', 'linear_half'"),
        ('[model]\nname = "toy-gan"\n[train]\nbetas = [0.5]\n', [], r"expected 2 values"),
        ('[model]\nname = "nope"\n', [], r"unknown model 'nope'; registered models: .*toy-gan"),
        ('[model]\nch = 3\n', [], r"missing \[model\] name"),
        ('[model]\nname = "toy-gan"\n[oops]\nx = 1\n', [], r"unknown top-level key 'oops'"),
        ('[model]\nname = "toy-gan"\n', ["train.lr"], r"expected section.key=value"),
        ('[model]\nname = "toy-gan"\n', ["optim.lr=1"], r"unknown section 'optim'"),
        ('[model]\nname = "toy-gan"\n', ["model.chh=1"], r"unknown key 'chh' \(did you mean 'ch'\?\)"),
        ('[model]\nname = "toy-gan"\n', ["train.amp=yes"], r"expected true or false"),
    ],
)
def test_bad_recipes_name_file_and_key(tmp_path, text, overrides, message):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        resolve(read_recipe(path), config_cls_for, str(path), overrides=overrides)
    if not overrides:
        assert "bad.toml" in str(info.value) or "unknown model" in str(info.value)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="recipe not found"):
        read_recipe(tmp_path / "absent.toml")
    bad = write(tmp_path / "broken.toml", "[model\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_recipe(bad)
    loop = write(tmp_path / "loop.toml", 'extends = "loop.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        read_recipe(loop)


def test_model_name_must_agree(tmp_path):
    path = write(tmp_path / "r.toml", '[model]\nname = "toy-gan"\n')
    with pytest.raises(ConfigError, match="for model 'toy-gan', not 'other'"):
        resolve(read_recipe(path), config_cls_for, str(path), model="other")


def test_resolved_config_round_trips(tmp_path):
    cfg = RunConfig(model="toy-gan", model_cfg=toy_family.ToyConfig(ch=2),
                    data=DataConfig(path='a "b"\\c', domains=("x", "y")),
                    train=TrainConfig(lr=3e-4, betas=(0.5, 0.999)), recipe="r.toml")
    path = write(tmp_path / "config.toml", run_config_to_toml(cfg))
    again = resolve(read_recipe(path), config_cls_for, str(path))
    assert again == cfg


def test_override_values_are_toml_or_strings():
    assert parse_override("train.lr=2e-4") == (["train", "lr"], 2e-4)
    assert parse_override("data.path=/some/dir") == (["data", "path"], "/some/dir")
    assert parse_override("data.domains=['a','b']") == (["data", "domains"], ["a", "b"])


def test_registry_refuses_duplicates():
    spec = get("toy-gan")
    with pytest.raises(ValueError, match="already registered"):
        register(spec)
    assert "toy-gan" in names()
    assert isinstance(spec, ModelSpec)
