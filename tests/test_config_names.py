"""The config field naming convention (docs/ARCHITECTURE.md) and the upgrade of runs saved with old names."""

from __future__ import annotations

import dataclasses
import re

import pytest

import i2icli.models  # noqa: F401  (registers every model)
from i2icli.config import renamed_fields, run_config_to_toml
from i2icli.errors import ConfigError
from i2icli.registry import get, names
from i2icli.runs import saved_config, training_config

# Count-like suffixes must carry the n_ prefix; loss weights are lambda_<term>.
_COUNT = re.compile(r"_(layers|blocks|critic|outputs|domains|steps)$")


@pytest.mark.parametrize("model", [n for n in names() if not n.startswith("toy")])
def test_model_config_fields_follow_the_naming_convention(model):
    cls = get(model).config_cls
    for f in dataclasses.fields(cls):
        assert not f.name.endswith("_weight"), f"{model}.{f.name}: loss weights are named lambda_<term>"
        assert f.name not in ("ch", "width", "base_channels"), f"{model}.{f.name}: the base width is `channels`"
        if _COUNT.search(f.name):
            assert f.name.startswith("n_"), f"{model}.{f.name}: counts are named n_<thing>"
    for old, new in renamed_fields(cls).items():
        assert new in {f.name for f in dataclasses.fields(cls)}, f"{model}: RENAMED maps {old!r} to a missing field"


OLD_UGATIT = {"channels": "ch", "n_res_blocks": "n_res", "n_local_disc_layers": "local_disc_layers",
              "n_global_disc_layers": "global_disc_layers", "lambda_adv": "adv_weight", "lambda_cycle": "cycle_weight",
              "lambda_identity": "identity_weight", "lambda_cam": "cam_weight"}


def _saved_with_old_names(tmp_path, model: str, old_of: dict[str, str]):
    cfg = training_config(model, get(model).recipe_path("tiny.toml"))
    text = run_config_to_toml(cfg)
    for new, old in old_of.items():
        text, n = re.subn(rf"^{new} = ", f"{old} = ", text, flags=re.MULTILINE)
        assert n == 1, new
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(text)
    return cfg, run


def test_run_saved_before_the_rename_loads_with_the_new_names(tmp_path):
    cfg, run = _saved_with_old_names(tmp_path, "ugatit", OLD_UGATIT)
    again = saved_config(run, ["model.lambda_cam=5.0"])
    assert again.model_cfg == dataclasses.replace(cfg.model_cfg, lambda_cam=5.0)
    assert (again.model_cfg.channels, again.model_cfg.n_res_blocks) == (8, 2)


def test_lomit_run_saved_before_the_rename_loads(tmp_path):
    old = {"n_content_res_blocks": "content_res_blocks", "mlp_dim": "mlp_hidden", "n_disc_layers": "disc_layers"}
    cfg, run = _saved_with_old_names(tmp_path, "lomit", old)
    assert saved_config(run).model_cfg == cfg.model_cfg


def test_old_names_in_recipes_and_overrides_are_refused_with_the_new_name(tmp_path):
    with pytest.raises(ConfigError, match="'cam_weight' was renamed to 'lambda_cam'"):
        training_config("ugatit", get("ugatit").recipe_path("tiny.toml"), overrides=["model.cam_weight=1.0"])
    _, run = _saved_with_old_names(tmp_path, "ugatit", {"lambda_cam": "cam_weight"})
    text = (run / "config.toml").read_text().replace("cam_weight = ", "lambda_cam = 2.0\ncam_weight = ")
    (run / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match="both 'cam_weight' and its new name 'lambda_cam'"):
        saved_config(run)
