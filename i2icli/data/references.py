"""Reference (exemplar) draws for keyed datasets: which other image guides the translation of item ``index``.

Exemplar- and reference-guided models (LOMIT, EGSC-IT, BridgeGAN's
reference-based mode, SEGIN) train on an image *and* a second, labelled image
of the same split.  A sampler here maps ``(index, rng)`` to the reference's
index; ``rng`` is the item's :func:`~i2icli.data.keyed.keyed_rng`, so the
reference, like the augmentation, depends on ``(seed, key)`` alone and is the
same in any worker, on any rank and after a resume.

- :class:`LabelReferences`: over attribute labels (N, A) in {0, 1}, with the
  policies

  * ``"random"``: uniform over the *other* images (LOMIT, Section 3: the
    exemplar is another training image; the public code pairs two shuffled
    batches, which is the same distribution up to self-pairs);
  * ``"any"``: uniform over all images, the item itself included (what a
    second, independently shuffled loader gives);
  * ``"differ"``: uniform over the images whose labels differ from the item's
    in at least one attribute (BridgeGAN's reference-based training needs a
    non-zero ``l_t - l_s``; not in the LOMIT paper);
  * ``"flip:<attribute>"``: uniform over the images whose ``<attribute>``
    has the opposite value (BridgeGAN's test code picks references with the
    edited attribute set for sources without it);
  * a callable ``policy(index, labels, rng) -> int`` for anything else (the
    result is range-checked).

- :class:`DomainReferences`: over domain ids (N,) in ``[0, D)``: a target
  domain ``"other"`` (uniform over the D - 1 other domains: every pair is a
  cross-domain translation) or ``"any"`` (uniform over all D, so a fraction
  1/D of the pairs are intra-domain), then an image uniform within the target
  domain.  ``"any"`` is the distribution of StarGAN v2's reference loader
  (clovaai/stargan-v2 ``core/data_loader.py``: a class-balanced sampler,
  independent of the source image); BridgeGAN's AFHQ setup is said to follow
  StarGAN v2 (supplementary), its exact reference draw is not published.

Impossible requests (fewer than two images, one domain, labels that never
differ) are refused when the sampler is built, with a one-line
:class:`~i2icli.errors.DataError` naming the store and the fix; an unknown
policy is a :class:`~i2icli.errors.ConfigError` naming the option.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from i2icli.errors import ConfigError, DataError

LabelPolicyFn = Callable[[int, np.ndarray, np.random.Generator], int]
"""``policy(index, labels (N, A) float32, rng) -> reference index`` for :class:`LabelReferences`."""

LABEL_POLICIES = ("random", "any", "differ", "flip:<attribute>")
DOMAIN_TARGETS = ("other", "any")

_DIFFER_TRIES = 64  # rejection-sampling attempts before "differ" enumerates the candidates


def other_index(index: int, n: int, rng: np.random.Generator) -> int:
    """An index uniform over ``range(n)`` without ``index`` (one draw; ``n >= 2``)."""
    j = int(rng.integers(n - 1))
    return j + (j >= index)


class LabelReferences:
    """Draws a reference index for item ``index`` of an attribute-labelled split (see the module docstring).

    ``labels``: (N, A) array in {0, 1}; ``label_names``: the A column names
    (for ``flip:<attribute>`` and messages); ``source``: what the labels belong
    to, e.g. ``"data/faces.h5 (train split)"``, the start of every error;
    ``option``: the recipe key that chose ``policy``, named in the fixes.
    """

    def __init__(self, labels: np.ndarray, label_names: Sequence[str], policy: str | LabelPolicyFn = "random", *,
                 source: str = "dataset", option: str = "reference policy"):
        self.labels = np.asarray(labels)
        if self.labels.ndim != 2 or self.labels.shape[1] != len(label_names):
            raise ValueError(f"labels must be (N, {len(label_names)}), got {self.labels.shape}")
        self.label_names = tuple(label_names)
        self.policy = policy
        self.n = len(self.labels)
        self._flip_pools: tuple[np.ndarray, np.ndarray] | None = None
        self._flip_column = -1
        if callable(policy):
            if self.n < 1:
                raise DataError(f"{source}: has no images to draw a reference from; prepare it with `i2i prepare ...`")
            return
        if not isinstance(policy, str) or not (policy in ("random", "any", "differ") or policy.startswith("flip:")):
            raise ConfigError(f"{option} = {policy!r} is not a reference policy; "
                              f"use one of {', '.join(LABEL_POLICIES)}")
        need = 1 if policy == "any" else 2
        if self.n < need:
            raise DataError(f"{source}: has {self.n} image(s), a reference other than the item needs at least two; "
                            f"prepare more images (or set {option} = \"any\")")
        if policy == "differ" and len(np.unique(self.labels, axis=0)) < 2:
            raise DataError(f"{source}: every image has the same labels ({', '.join(self.label_names)}), so no "
                            f"reference can differ; set {option} = \"random\"")
        if policy.startswith("flip:"):
            name = policy[len("flip:"):]
            if name not in self.label_names:
                raise ConfigError(f"{option} = {policy!r}: no attribute {name!r}; the labels are "
                                  f"{', '.join(self.label_names)}")
            self._flip_column = self.label_names.index(name)
            on = self.labels[:, self._flip_column] > 0.5
            self._flip_pools = (np.flatnonzero(~on), np.flatnonzero(on))
            if not on.any() or on.all():
                raise DataError(f"{source}: every image has {name} = {int(on[0])}, so no reference can flip it; "
                                f"use a store where {name} varies or set {option} = \"random\"")

    def __call__(self, index: int, rng: np.random.Generator) -> int:
        """The reference's index for item ``index``; consumes draws from ``rng`` only."""
        policy = self.policy
        if callable(policy):
            j = policy(index, self.labels, rng)
            if not isinstance(j, (int, np.integer)) or not 0 <= int(j) < self.n:
                raise ValueError(f"reference policy {getattr(policy, '__name__', policy)!r} returned {j!r} for item "
                                 f"{index}; it must return an int in [0, {self.n})")
            return int(j)
        if policy == "any":
            return int(rng.integers(self.n))
        if self._flip_pools is not None:
            pool = self._flip_pools[0 if self.labels[index, self._flip_column] > 0.5 else 1]
            return int(pool[rng.integers(len(pool))])
        labels = self.labels
        # "random" returns the first draw; "differ" rejects draws with equal labels.  Each draw is uniform over
        # the others, so an accepted one is uniform over the differing images, as is the (rare) fallback.
        # The draw sequence is LOMIT's original exemplar sampler's (its runs must not change).
        for _ in range(_DIFFER_TRIES):
            j = other_index(index, self.n, rng)
            if policy == "random" or (labels[j] != labels[index]).any():
                return j
        return int(rng.choice(np.flatnonzero((labels != labels[index]).any(axis=1))))


class DomainReferences:
    """Draws ``(reference index, target domain)`` for an item of domain ``domain_ids[index]`` (module docstring).

    ``domain_ids``: (N,) ints in ``[0, n_domains)``; ``target``: ``"other"``
    or ``"any"``; ``domain_names`` and ``source`` make the error messages.
    """

    def __init__(self, domain_ids: np.ndarray, domain_names: Sequence[str], target: Literal["other", "any"] = "other",
                 *, source: str = "dataset", option: str = "reference target"):
        if target not in DOMAIN_TARGETS:
            raise ConfigError(f"{option} = {target!r} is not a target-domain policy; "
                              f"use one of {', '.join(DOMAIN_TARGETS)}")
        self.domain_ids = np.asarray(domain_ids, dtype=np.int64)
        self.domain_names = tuple(domain_names)
        self.target = target
        d = len(self.domain_names)
        if d < (2 if target == "other" else 1):
            raise DataError(f"{source}: has {d} domain(s) ({', '.join(self.domain_names) or 'none'}); a reference "
                            "from another domain needs at least 2: select more with data.domains or prepare a store "
                            "with `i2i prepare afhq|unpaired`")
        self.members = [np.flatnonzero(self.domain_ids == k) for k in range(d)]
        for name, m in zip(self.domain_names, self.members, strict=True):
            if len(m) == 0:
                raise DataError(f"{source}: domain {name!r} has no images; drop it from data.domains or prepare "
                                "the store again")

    def __call__(self, index: int, rng: np.random.Generator) -> tuple[int, int]:
        """``(reference index, its domain)``: a target domain, then an image uniform within it."""
        d = len(self.members)
        if self.target == "other":
            t = int(rng.integers(d - 1))
            t += t >= int(self.domain_ids[index])
        else:
            t = int(rng.integers(d))
        pool = self.members[t]
        return int(pool[rng.integers(len(pool))]), t
