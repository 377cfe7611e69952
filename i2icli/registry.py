"""Model registry: a name maps to a typed :class:`ModelSpec`.

A model is added by one file in ``i2icli/models/`` that calls :func:`register`
at import time, plus one import line in ``i2icli/models/__init__.py``.
Registering a name twice is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from i2icli.errors import ConfigError

if TYPE_CHECKING:
    from i2icli.config import RunConfig
    from i2icli.data.keyed import KeyedDataset
    from i2icli.models.base import Family

# The recipes ship inside the package: ``i2icli/recipes`` is a symlink to the
# checkout's top-level ``recipes/`` (where contributors add ``recipes/<model>/x.toml``);
# setuptools follows it when building a wheel, so an installed wheel holds real files
# at this same path. Not resolved: resolving would swap the package path for the
# checkout path and make error messages depend on how the package was installed.
RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass(frozen=True)
class ModelSpec:
    """What the engine and the CLI need to know about a model family.

    - ``config_cls``: frozen dataclass for the recipe's ``[model]`` table; its
      defaults are the paper's settings.
    - ``build(cfg)``: returns a :class:`~i2icli.models.base.Family` (networks,
      training phases and steps, inference).
    - ``dataset(cfg, split)``: the training/test dataset for this family; items
      are dicts of tensors (see :mod:`i2icli.data.keyed` for the keyed-sampling
      contract that makes augmentation reproducible across resume and ranks).
    - ``default_recipe``: recipe used by ``i2i train NAME`` without ``--recipe``
      (a path relative to ``recipes/NAME/``).
    - ``accepts``: the :class:`~i2icli.guidance.Guidance` fields this model's
      ``translate`` takes (e.g. ``("direction",)`` for U-GAT-IT,
      ``("exemplar", "region")`` for LOMIT); :func:`i2icli.guidance.validate`
      refuses every other field with a one-line error naming its option.
    - ``requires``: fields that must be given; ``"a|b"`` means either.
    - ``defaults``: values filled in when an accepted field is not given
      (``{"direction": "a2b"}``).
    - ``synthetic``: the built-in synthetic store (``i2i prepare synthetic
      digits|faces``) that the model's ``tiny.toml`` trains on: the demo, the
      contract test over the registry and the wheel check use it.
    """

    name: str
    config_cls: type
    build: Callable[[RunConfig], Family]
    dataset: Callable[[RunConfig, str], KeyedDataset]
    default_recipe: str
    summary: str
    accepts: tuple[str, ...] = ("direction",)
    requires: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    synthetic: Literal["digits", "faces"] | None = None

    def __post_init__(self) -> None:
        from i2icli.guidance import FIELDS

        for f in (*self.accepts, *(a for r in self.requires for a in r.split("|")), *self.defaults):
            if f not in FIELDS:
                raise ValueError(f"model {self.name!r}: unknown guidance field {f!r}; fields: {', '.join(FIELDS)}")

    @property
    def exemplar_guided(self) -> bool:
        return "exemplar" in self.accepts

    def recipe_path(self, name: str | None = None) -> Path:
        return RECIPES_DIR / self.name / (name or self.default_recipe)

    def recipes(self) -> list[str]:
        """Names of the recipes this model ships (``--recipe NAME`` picks one)."""
        folder = RECIPES_DIR / self.name
        return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []

    def find_recipe(self, recipe: str | Path | None) -> Path:
        """The recipe file for ``i2i train NAME --recipe RECIPE``.

        ``None`` is the default recipe; an existing file is used as given; a bare
        name such as ``tiny`` or ``tiny.toml`` (no folder part) is one of the
        shipped recipes, so ``--recipe tiny`` works the same from a checkout
        and from an installed wheel. A file in the working directory wins over
        a shipped recipe of the same name.
        """
        if recipe is None:
            return self.recipe_path()
        path = Path(recipe)
        if path.is_file() or len(path.parts) != 1:
            return path
        shipped = self.recipe_path(path.name if path.suffix == ".toml" else f"{path.name}.toml")
        if shipped.is_file():
            return shipped
        raise ConfigError(f"{recipe}: recipe not found: no such file, and {self.name} ships no recipe of that name "
                          f"(shipped: {', '.join(self.recipes()) or 'none'})")


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def _load_builtin() -> None:
    import i2icli.models  # noqa: F401  (registers the built-in models)


def get(name: str) -> ModelSpec:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; registered models: {', '.join(names()) or '(none)'}") from None


def names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def config_cls_for(name: str) -> type:
    return get(name).config_cls
