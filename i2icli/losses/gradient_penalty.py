"""WGAN-GP gradient penalty (Gulrajani et al. 2017), as used by LOMIT Eq. 10.

    GP = E_x^[(||grad_x^ D(x^)||_2 - 1)^2],   x^ = a * x_real + (1 - a) * x_fake,  a ~ U(0, 1)

with one ``a`` per sample (the WGAN-GP paper's Algorithm 1; LOMIT's public
code and StarGAN do the same).  LOMIT weighs it with ``lambda_gp = 10``.

The gradient is taken with ``create_graph=True`` so that the penalty itself
can be back-propagated into the critic's parameters.  Only the input ``x^`` is
differentiated (``torch.autograd.grad(..., inputs=x^)``), never the
parameters, so the penalty also works when the critic is wrapped in
DistributedDataParallel: DDP synchronises parameter gradients in the final
``loss.backward()``, which now includes the penalty's second-order term.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def interpolate(real: Tensor, fake: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Random points on the lines between real and fake samples, detached, requiring grad."""
    if real.shape != fake.shape:
        raise ValueError(f"gradient penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ")
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype,
                       generator=generator)
    return (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)


def gradient_norm_penalty(critic_out: Tensor, inputs: Tensor) -> Tensor:
    """``mean((||d critic_out / d inputs||_2 - 1)^2)``; ``critic_out`` may be a patch map (summed per sample)."""
    (grad,) = torch.autograd.grad(outputs=critic_out.sum(), inputs=inputs, create_graph=True)
    norm = grad.flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """Eq. 10's penalty term (without ``lambda_gp``): a scalar tensor.

    ``critic`` maps images to scores (a PatchGAN map is fine: the gradient of
    the summed map is used, as in LOMIT's and StarGAN's code which back-propagate
    a ones tensor of the output's shape).
    """
    x_hat = interpolate(real, fake, generator)
    return gradient_norm_penalty(critic(x_hat), x_hat)
