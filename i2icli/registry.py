"""Model registry: a name maps to a typed :class:`ModelSpec`.

A model is added by one file in ``i2icli/models/`` that calls :func:`register`
at import time, plus one import line in ``i2icli/models/__init__.py``.
Registering a name twice is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from i2icli.errors import ConfigError

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from i2icli.config import RunConfig
    from i2icli.models.base import Family

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"


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
    - ``guidance``: "direction" models translate A->B / B->A (U-GAT-IT);
      "exemplar" models need a reference image (LOMIT, EGSC-IT, ...);
      "label" models take target attributes.
    """

    name: str
    config_cls: type
    build: Callable[["RunConfig"], "Family"]
    dataset: Callable[["RunConfig", str], "Dataset"]
    default_recipe: str
    summary: str
    guidance: Literal["direction", "exemplar", "label", "none"] = "direction"

    def recipe_path(self, name: str | None = None) -> Path:
        return RECIPES_DIR / self.name / (name or self.default_recipe)


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
