"""Feynman-Kac steering: steer a diffusion sampler at inference time toward high reward with
interacting particles, no training.

Singhal, Horvitz, Teehan, Ren, Yu, Cho & Ranganath 2025, "A General Framework for
Inference-time Scaling and Steering of Diffusion Models" (FK steering, Alg. 1):
k particles per prompt run the base sampler; at step i each particle's potential
uses the reward of its predicted image, r_i = r(decode(x̂₀(x_{t_i}))), and with the
*difference* potential G_i = exp(λ(r_i − r_{i−1})) (r_{−1} = 0) the product over
the steps telescopes to exp(λ·r(x₀)) (the last step maps x_{t_S} to its x̂₀, so the
final r is the image's), making the particle system a sequential Monte Carlo
sampler of the tilted target

    p_λ(x₀ | c) ∝ p(x₀ | c)·exp(λ·r(c, x₀)).

Every ``resample_every`` steps (and never after the last) the particles of a prompt
are resampled multinomially with probabilities ∝ the product of their potentials
since the last resampling; after the last step one particle per prompt is drawn
with the remaining weights, a draw from p_λ as k → ∞ (``tests`` check the tilted
mean on a linear-Gaussian sampler, where p_λ is known in closed form). λ → 0 is
the base sampler; large λ approaches best-of-k with resampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rewardlab.optimize.diffusion.pipeline import Denoiser, gaussian
from rewardlab.optimize.diffusion.rewards import PixelReward, as_tensor
from rewardlab.optimize.diffusion.sampler import gaussian_step, make_schedule


@dataclass
class Steered:
    """One image per prompt (drawn by the final weights), every particle's final latents
    and rewards (prompt-major: particle j of prompt p is row p·k + j) and log-weights."""

    pixels: torch.Tensor
    latents: torch.Tensor
    particles: torch.Tensor
    rewards: torch.Tensor
    log_weights: torch.Tensor


def _resample(log_w: torch.Tensor, k: int, generator: torch.Generator | None) -> torch.Tensor:
    """Row indices: for each prompt, k multinomial draws among its k particles ∝ exp(log_w)."""
    groups = log_w.reshape(-1, k)
    probs = torch.softmax(groups, dim=1)
    picks = torch.multinomial(probs.cpu(), k, replacement=True, generator=generator)
    return (picks + k * torch.arange(len(groups))[:, None]).reshape(-1)


def fk_steer(
    denoiser: Denoiser, prompts: Sequence[str], particles: int, reward: PixelReward,
    steps: int, lam: float, resample_every: int = 1, eta: float = 1.0,
    generator: torch.Generator | None = None,
) -> Steered:
    """FK steering with the difference potential (module doc)."""
    if particles < 1 or resample_every < 1:
        raise ValueError(f"fields 'particles', 'resample_every': need >= 1, got {particles}, "
                         f"{resample_every}")
    k = particles
    many = [p for p in prompts for _ in range(k)]
    schedule = make_schedule(denoiser.scheduler, steps, eta)
    with torch.no_grad():
        x = denoiser.noise(len(many), generator)
        conditioning = {key: value.to(x.device)
                        for key, value in denoiser.condition(many).items()}
        log_w = torch.zeros(len(many), dtype=torch.float64)
        previous = torch.zeros(len(many), dtype=torch.float64)
        for i in range(len(schedule)):
            step = gaussian_step(denoiser, denoiser.unet, x, schedule, i, conditioning)
            current = as_tensor(reward(many, denoiser.decode(step.x0)), len(many)).double()
            log_w += lam * (current - previous).cpu()
            previous = current.cpu()
            last = i == len(schedule) - 1
            if not last and (i + 1) % resample_every == 0:
                rows = _resample(log_w, k, generator)
                x, previous = step.mean[rows.to(x.device)], previous[rows]
                if step.std > 0:
                    x = x + step.std * gaussian(tuple(x.shape), generator, x.device)
                log_w = torch.zeros_like(log_w)
                continue
            x = step.mean if step.std == 0 else (
                step.mean + step.std * gaussian(tuple(x.shape), generator, x.device))
        final = _resample(log_w, k, generator).reshape(-1, k)[:, 0]
        chosen = final.to(x.device)
        return Steered(denoiser.decode(x[chosen]), x[chosen], x, previous.float(), log_w)

