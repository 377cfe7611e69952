"""Recipes ship inside the package; ``--recipe NAME`` finds a shipped recipe from anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

import i2icli
from i2icli import registry
from i2icli.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_recipes_live_in_the_package_and_every_default_exists():
    assert registry.RECIPES_DIR == Path(i2icli.__file__).parent / "recipes"
    for name in registry.names():
        spec = registry.get(name)
        if (registry.RECIPES_DIR / name).is_dir():  # test-only models (toy-gan) ship none
            assert spec.recipe_path().is_file(), name


def test_package_data_glob_covers_every_recipe():
    """The wheel takes ``recipes/*/*.toml``; a recipe nested deeper would silently stay out of it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "recipes/*/*.toml" in pyproject["tool"]["setuptools"]["package-data"]["i2icli"]
    files = [p.relative_to(ROOT / "recipes") for p in (ROOT / "recipes").rglob("*") if p.is_file()]
    assert files and all(len(p.parts) == 2 and p.suffix == ".toml" for p in files), files


def test_recipe_by_name(tmp_path, monkeypatch):
    spec = registry.get("ugatit")
    tiny = registry.RECIPES_DIR / "ugatit" / "tiny.toml"
    assert spec.find_recipe("tiny") == tiny and spec.find_recipe("tiny.toml") == tiny
    assert spec.find_recipe(None) == spec.recipe_path()
    assert "tiny" in spec.recipes() and "selfie2anime" in spec.recipes()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text("")
    assert spec.find_recipe("tiny.toml") == Path("tiny.toml")  # a file in the working directory wins
    with pytest.raises(ConfigError, match=r"recipe not found.*shipped: .*tiny"):
        spec.find_recipe("tiniest")
    assert spec.find_recipe("sub/tiny.toml") == Path("sub/tiny.toml")  # a path with a folder is taken as given
