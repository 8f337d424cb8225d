"""ReNO: reward-based noise optimization, gradient ascent on the initial noise of a frozen
generator.

Eyring, Karthik, Roth, Dosovitskiy & Akata 2024, "ReNO: Enhancing One-step
Text-to-Image Models through Reward-based Noise Optimization" (eq. 3–5): with the
generator's image G(ε, c) a differentiable function of its initial noise,

    ε ← ε − lr·∇_ε [ −r(c, G(ε, c)) + λ_reg·K(ε) ],

where K(ε) = −log p_{χ_d}(‖ε‖) = −(d − 1)·log‖ε‖ + ‖ε‖²/2 + const keeps ‖ε‖ where
an N(0, I_d) draw's norm lies (d the latent's size), so ε stays a plausible noise.
ReNO runs one-step models; here G is the deterministic sampler (η = 0, DDIM) with
the gradient through every step (:func:`rewardlab.optimize.diffusion.sampler.sample`
with ``grad_steps=S``). The UNet is not tuned: freeze it (``requires_grad_(False)``)
so no gradient is kept for its weights. Each row of ε is its own ReNO run: the loss is
summed over the rows (so row i's gradient is that of its own image alone) and, with
``max_grad_norm``, each row's gradient is clipped to that norm, as the authors' code clips
its one image's (ExplainableML/ReNO ``training/trainer.py`` and ``arguments.py`` at commit
172e9973be395db744f1869632a8b1ed0fcdb7a3: SGD with Nesterov momentum 0.9, lr 5, gradient
norm clipped to 0.1, λ_reg = 0.01, 50 iterations), so a batch of N prompts takes the
same update as N separate runs with an optimizer that acts element-wise (SGD, Adam).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from rewardlab.optimize.diffusion.pipeline import Denoiser
from rewardlab.optimize.diffusion.rewards import PixelReward, as_tensor
from rewardlab.optimize.diffusion.sampler import Trajectory, sample


def norm_penalty(noise: torch.Tensor) -> torch.Tensor:
    """K(ε) = −(d − 1)·log‖ε‖ + ‖ε‖²/2 per sample (the χ_d negative log-density of the norm,
    up to a constant), d the number of values in one sample."""
    flat = noise.reshape(len(noise), -1)
    d = flat.shape[1]
    squared = (flat**2).sum(dim=1)
    return -(d - 1) * 0.5 * torch.log(squared) + 0.5 * squared


def reno_step(
    denoiser: Denoiser, noise: torch.Tensor, optimizer: torch.optim.Optimizer,
    prompts: Sequence[str], reward: PixelReward, steps: int, reg: float = 0.01,
    max_grad_norm: float | None = None,
) -> tuple[torch.Tensor, Trajectory]:
    """One ReNO update of ``noise`` (a leaf tensor with ``requires_grad``, one row per prompt,
    the parameter of ``optimizer``): ``(each row's reward before the update, the trajectory
    that gave it)``; ``max_grad_norm`` clips each row's gradient (module doc)."""
    if not noise.requires_grad:
        raise ValueError("field 'noise': ReNO optimizes the noise; give it requires_grad=True")
    run = sample(denoiser, prompts, steps, 0.0, noise=noise, grad_steps=steps)
    rewards = as_tensor(reward(list(prompts), run.pixels), len(prompts))
    loss = (-rewards + reg * norm_penalty(noise)).sum()
    if not math.isfinite(float(loss.detach())):
        raise ValueError("ReNO's loss is not finite (a zero noise has no norm penalty)")
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        with torch.no_grad():
            norms = noise.grad.reshape(len(noise), -1).norm(dim=1)
            scale = torch.clamp(max_grad_norm / (norms + 1e-6), max=1.0)
            noise.grad.mul_(scale.reshape(-1, *[1] * (noise.ndim - 1)))
    optimizer.step()
    return rewards.detach(), run
