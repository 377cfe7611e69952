"""Spectrally normalised conv / linear layers that scale the output instead of the weight.

Spectral normalisation (Miyato et al., ICLR 2018, Sec. 2.1, Eq. 8 and
Algorithm 1) replaces a layer's weight W by W / sigma(W), with sigma estimated
by one power iteration per training forward::

    v <- W^T u / ||W^T u||,  u <- W v / ||W v||      (u, v: buffers, no gradient)
    sigma = u^T W v                                  (gradient flows through W)

``torch.nn.utils.parametrizations.spectral_norm`` materialises W / sigma on
every forward (a full copy of the weight: 134 MB for the 2048-channel conv of
U-GAT-IT's global discriminator) and back-propagates through that division
(two more full-size passes).  A convolution and a linear map are linear in the
weight, so

    conv(x, W / sigma) + b  ==  conv(x, W) * (1 / sigma) + b

and the layers here compute the right-hand side: convolve with the raw weight,
then one fused ``addcmul`` applies 1/sigma and the bias to the (much smaller)
output.  Autograd gives the same gradients as torch's layer: the conv weight
gradient is scaled by 1/sigma, and the gradient of sigma,
``-sum(grad_y * conv(x, W)) / sigma^2 == -sum(grad_Wsn * W) / sigma^2``, reaches W
through ``sigma = u^T W v`` as the outer product u v^T, exactly as through
torch's division.

State and checkpoints are unchanged: the layers *are* torch's
spectral-norm parametrisation (``parametrizations.weight.original``, ``._u``,
``._v``; ``layer.weight`` still returns W / sigma, ``eval()`` stops the power
iteration), so ``state_dict`` keys, :func:`i2icli.nn.init.init_normal_` and
``parametrize.is_parametrized`` work as before.  Only ``forward`` differs: it
runs the parametrisation's own power method (same number of iterations per
call, so u and v evolve exactly as with torch's layer) and never builds
W / sigma.  ``tests/test_nn_spectral.py`` checks outputs, gradients and u/v
updates against ``torch.nn.utils.parametrizations.spectral_norm``.

Scaling the output also lets one forward pass stand for several calls
(:func:`stacked_calls`): a GAN discriminator scores real and fake images in
two calls, each advancing the power iteration once and so seeing its own
sigma; stacked, the batch is convolved once and chunk k is scaled by call k's
1/sigma_k -- the same u, v, outputs and gradients as the two calls, for one
weight read and one weight gradient.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _torch_spectral_norm

from i2icli.nn.init import weight_parametrizations

_Layer = TypeVar("_Layer", bound=nn.Module)
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]  # nn.Conv2d's


def _spectral_parts(layer: SpectralNormConv2d | SpectralNormLinear) -> tuple[Tensor, list[Tensor]]:
    """(raw weight W, [1 / sigma per call]) of a spectrally normalised ``layer``.

    Mirrors ``_SpectralNorm.forward`` of torch (in training mode the power
    method on the reshaped weight, then sigma = u^T W v with cloned u, v) but
    returns 1/sigma instead of dividing the weight by it -- once per stacked
    call (:func:`stacked_calls`), in call order.
    """
    param = weight_parametrizations(layer)
    sn: Any = param[0]  # torch's private _SpectralNorm; _attach checked the pieces used here
    weight = param.original
    weight_mat = sn._reshape_weight_to_matrix(weight)
    inv_sigmas = []
    for _ in range(layer.stacked_calls):
        if sn.training:
            sn._power_method(weight_mat, sn.n_power_iterations)
        u = sn._u.clone(memory_format=torch.contiguous_format)
        v = sn._v.clone(memory_format=torch.contiguous_format)
        inv_sigmas.append(torch.vdot(u, torch.mv(weight_mat, v)).reciprocal())
    return weight, inv_sigmas


def _scale_and_bias(y: Tensor, inv_sigmas: list[Tensor], bias: Tensor | None, channel_dim: int) -> Tensor:
    """``y / sigma + bias``; with several stacked calls, batch chunk k is scaled by its own 1/sigma_k."""
    if len(inv_sigmas) == 1:
        scale = inv_sigmas[0]  # 0-dim
    else:
        calls, batch = len(inv_sigmas), y.shape[0]
        if batch % calls:
            raise ValueError(f"a batch of {batch} cannot hold {calls} stacked calls of equal size")
        scale = torch.stack(inv_sigmas).repeat_interleave(batch // calls).view(-1, *[1] * (y.dim() - 1))
    if bias is None:
        return y * scale
    shape = [1] * y.dim()
    shape[channel_dim] = -1
    return torch.addcmul(bias.view(shape), y, scale)


class _OutputScaledSN:
    """Mixin: the number of forward calls one batch stands for (see :func:`stacked_calls`)."""

    stacked_calls: int = 1


class SpectralNormConv2d(_OutputScaledSN, nn.Conv2d):
    """``nn.Conv2d`` with spectral normalisation applied to its output (see the module docstring).

    Build it with :func:`spectral_norm_conv2d`; constructed directly it is a
    plain ``nn.Conv2d`` until torch's parametrisation is attached.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not parametrize.is_parametrized(self, "weight"):
            return super().forward(x)
        weight, inv_sigmas = _spectral_parts(self)
        return _scale_and_bias(self._conv_forward(x, weight, None), inv_sigmas, self.bias, 1)


class SpectralNormLinear(_OutputScaledSN, nn.Linear):
    """``nn.Linear`` with spectral normalisation applied to its output (see the module docstring)."""

    def forward(self, x: Tensor) -> Tensor:
        if not parametrize.is_parametrized(self, "weight"):
            return super().forward(x)
        weight, inv_sigmas = _spectral_parts(self)
        return _scale_and_bias(F.linear(x, weight), inv_sigmas, self.bias, -1)


@contextlib.contextmanager
def stacked_calls(module: nn.Module, calls: int) -> Iterator[None]:
    """Run ``calls`` forward passes of ``module`` as one pass over their concatenated batches.

    ``module(torch.cat([x1, x2]))`` inside ``with stacked_calls(module, 2)``
    equals ``module(x1)``, ``module(x2)`` called in that order -- for a module
    that treats samples independently (no batch norm) -- including the
    spectral-norm state: every output-scaled spectral-norm layer in
    ``module`` runs its power iteration once per call, exactly as the separate
    calls would, and scales batch chunk k by that call's 1/sigma_k.  The
    convolutions read each weight once for all calls and compute one weight
    gradient instead of ``calls`` accumulated ones.  Chunks must be equal in size.
    """
    if calls < 1:
        raise ValueError(f"calls must be >= 1, got {calls}")
    layers = [m for m in module.modules() if isinstance(m, _OutputScaledSN)]
    for m in layers:
        m.stacked_calls = calls
    try:
        yield
    finally:
        for m in layers:
            del m.stacked_calls  # back to the class default, 1


def _attach(layer: _Layer, n_power_iterations: int, eps: float) -> _Layer:
    _torch_spectral_norm(layer, n_power_iterations=n_power_iterations, eps=eps)
    sn = weight_parametrizations(layer)[0]
    # the private pieces _spectral_parts relies on; fail loudly if a torch release renames them
    for attr in ("_power_method", "_reshape_weight_to_matrix", "_u", "_v", "n_power_iterations"):
        if not hasattr(sn, attr):
            raise RuntimeError(f"torch's spectral-norm parametrisation has no {attr!r}; "
                               f"i2icli.nn.spectral needs updating for torch {torch.__version__}")
    return layer


def spectral_norm_conv2d(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                         padding: int = 0, *, padding_mode: PaddingMode = "zeros", bias: bool = True,
                         n_power_iterations: int = 1, eps: float = 1e-12) -> SpectralNormConv2d:
    """A spectrally normalised 2-D convolution (Miyato et al. 2018), state-dict compatible with
    ``spectral_norm(nn.Conv2d(...))``; ``n_power_iterations``/``eps`` as torch's defaults."""
    conv = SpectralNormConv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias,
                              padding_mode=padding_mode)
    return _attach(conv, n_power_iterations, eps)


def spectral_norm_linear(in_features: int, out_features: int, *, bias: bool = True, n_power_iterations: int = 1,
                         eps: float = 1e-12) -> SpectralNormLinear:
    """A spectrally normalised linear layer, state-dict compatible with ``spectral_norm(nn.Linear(...))``."""
    fc = SpectralNormLinear(in_features, out_features, bias=bias)
    return _attach(fc, n_power_iterations, eps)
