"""Typed guidance: what a translation is asked to do, validated in one place.

Every model translates through ``Family.translate(x, guidance)`` with one
:class:`Guidance` value.  A model's :class:`~i2icli.registry.ModelSpec` says
which fields it accepts and which it requires (``accepts`` / ``requires``);
:func:`validate` checks a request against that before any image is read, and
refuses each unsupported field with a one-line error that names the
command-line option, so ``i2i translate``, ``i2i eval --pairs``, sample grids
and Python callers all agree.

Fields (the CLI option in brackets):

- ``direction`` (``--direction a2b|b2a``): two-domain models (U-GAT-IT, EGSC-IT).
- ``exemplar`` (``--exemplar``): reference images (B or 1, 3, H, W) in [-1, 1]
  (LOMIT, EGSC-IT, SEGIN, BridgeGAN reference mode).
- ``attributes`` (``--attr NAME=0|1``, repeated; ``--attr NAME`` = take it from
  the exemplar): target attribute values; ``None`` as a value means "as the
  reference has it" (BridgeGAN).
- ``domain`` (``--domain NAME``): target domain of an N-domain model.
- ``seed`` (``--seed``): seed of the latent draws (several outputs per input).
- ``outputs`` (``--outputs N``): outputs per input (multi-modal models); the
  family returns ``output`` as (B * N, 3, H, W), input-major.
- ``region`` (``--region mask.png``): a user mask (B or 1, 1, H, W) in [0, 1]
  that replaces a predicted input mask (LOMIT).
- ``mix`` (``--mix t``): interpolation between label-based (0) and
  reference-based (1) guidance (BridgeGAN).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Literal

from torch import Tensor

from i2icli.errors import ConfigError

if TYPE_CHECKING:
    from i2icli.registry import ModelSpec

Direction = Literal["a2b", "b2a"]

FIELDS = ("direction", "exemplar", "attributes", "domain", "seed", "outputs", "region", "mix")

OPTION = {
    "direction": "--direction",
    "exemplar": "--exemplar",
    "attributes": "--attr",
    "domain": "--domain",
    "seed": "--seed",
    "outputs": "--outputs",
    "region": "--region",
    "mix": "--mix",
}


@dataclass(frozen=True)
class Guidance:
    """One translation request's guidance (see the module docstring). Unset fields are ``None``."""

    direction: Direction | None = None
    exemplar: Tensor | None = None
    attributes: tuple[tuple[str, int | None], ...] | None = None
    domain: str | None = None
    seed: int | None = None
    outputs: int | None = None
    region: Tensor | None = None
    mix: float | None = None

    def given(self) -> tuple[str, ...]:
        """Names of the fields that are set."""
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)

    @property
    def n_outputs(self) -> int:
        return self.outputs or 1

    def attribute_dict(self) -> dict[str, int | None]:
        return dict(self.attributes or ())

    def exemplar_for(self, x: Tensor) -> Tensor:
        """The exemplar batch broadcast to ``x``'s batch size, checked for shape (one-line errors)."""
        e = self.exemplar
        if e is None:
            raise ConfigError("this translation needs an exemplar image: pass --exemplar ref.png")
        if e.dim() != 4 or e.shape[1] != 3:
            raise ConfigError(f"--exemplar: expected images (B,3,H,W), got {tuple(e.shape)}")
        if e.shape[-2:] != x.shape[-2:]:
            raise ConfigError(f"--exemplar: exemplar size {tuple(e.shape[-2:])} differs from the input's "
                              f"{tuple(x.shape[-2:])}; resize both to the model's image size")
        if e.shape[0] == 1 and x.shape[0] > 1:
            e = e.expand(x.shape[0], -1, -1, -1)
        if e.shape[0] != x.shape[0]:
            raise ConfigError(f"--exemplar: {x.shape[0]} inputs but {e.shape[0]} exemplars")
        return e


def validate(spec: ModelSpec, g: Guidance) -> Guidance:
    """Check ``g`` against what ``spec`` accepts and requires; return it with defaults filled in.

    One-line :class:`ConfigError` naming the option for anything the model
    does not take, a required field that is missing, or a bad value.
    """
    given = set(g.given())
    refused = sorted(given - set(spec.accepts), key=FIELDS.index)
    if refused:
        opts = ", ".join(OPTION[f] for f in refused)
        takes = ", ".join(OPTION[f] for f in spec.accepts) or "no guidance options"
        raise ConfigError(f"{spec.name} does not take {opts}; it takes {takes}")
    for need in spec.requires:
        alternatives = need.split("|")
        if not given & set(alternatives):
            opts = " or ".join(OPTION[a] for a in alternatives)
            raise ConfigError(f"{spec.name} needs {opts}")
    if g.outputs is not None and g.outputs < 1:
        raise ConfigError(f"--outputs {g.outputs}: must be at least 1")
    if g.mix is not None and not 0.0 <= g.mix <= 1.0:
        raise ConfigError(f"--mix {g.mix}: must lie in [0, 1] (0: label-based, 1: reference-based)")
    if g.direction is not None and g.direction not in ("a2b", "b2a"):
        raise ConfigError(f"--direction {g.direction!r}: expected a2b or b2a")
    for name, value in g.attributes or ():
        if value not in (0, 1, None):
            raise ConfigError(f"--attr {name}={value}: the value must be 0 or 1")
    if g.direction is None and "direction" in spec.accepts and "direction" in spec.defaults:
        g = replace(g, direction=spec.defaults["direction"])
    return g


def parse_attr(items: list[str] | tuple[str, ...]) -> tuple[tuple[str, int | None], ...]:
    """``["Blond_Hair=1", "Smiling=0", "Male"]`` -> ``(("Blond_Hair", 1), ("Smiling", 0), ("Male", None))``."""
    out: list[tuple[str, int | None]] = []
    seen: set[str] = set()
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not name:
            raise ConfigError(f"--attr {item!r}: expected NAME=0, NAME=1 or NAME (take it from the exemplar)")
        if name in seen:
            raise ConfigError(f"--attr {name}: given twice")
        seen.add(name)
        if not sep:
            out.append((name, None))
            continue
        if text.strip() not in ("0", "1"):
            raise ConfigError(f"--attr {item!r}: the value must be 0 or 1")
        out.append((name, int(text.strip())))
    return tuple(out)
