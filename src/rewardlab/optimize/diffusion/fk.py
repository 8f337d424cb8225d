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

How far the steered image law q moves from the base p (the x-axis of Gao et al.'s
curves) has an upper bound the run estimates from its own weights (``kl_bound``, per
prompt). The SMC estimate of Z = E_p[exp(λ·r)] is Ẑ = Π_epochs (1/k)·Σ_j exp(log w_j)
(one factor at each resampling and one at the end). Viewing SMC as importance sampling
on the space of every particle (Andrieu, Doucet & Holenstein 2010), whose weight is
Ẑ/Z and whose marginal on the chosen particle is p_λ, gives KL(q ‖ p_λ) ≤ log Z −
E[log Ẑ], and with KL(q ‖ p) = KL(q ‖ p_λ) + λ·E_q[r] − log Z,

    KL(q ‖ p) ≤ λ·E_q[r(x₀)] − E[log Ẑ],

with E_q[r] read from the final weights, Σ_j w_j·r_j. It is 0 for k = 1 or λ = 0; with
no resampling along the way it is E[KL(w ‖ u)] ≤ log k, and it tends to KL(p_λ ‖ p) as
k → ∞ (``tests`` check it against λ²v/2, the tilted Gaussian's KL, on the toy sampler).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rewardlab.optimize.diffusion.pipeline import Denoiser, gaussian
from rewardlab.optimize.diffusion.rewards import PixelReward, as_tensor
from rewardlab.optimize.diffusion.sampler import gaussian_step, make_schedule


@dataclass
class Steered:
    """One image per prompt (drawn by the final weights), every particle's final latents
    and rewards (prompt-major: particle j of prompt p is row p·k + j), log-weights and each
    prompt's estimate of the bound on KL(q ‖ p) (module doc)."""

    pixels: torch.Tensor
    latents: torch.Tensor
    particles: torch.Tensor
    rewards: torch.Tensor
    log_weights: torch.Tensor
    kl_bound: torch.Tensor


def log_mean_weight(log_w: torch.Tensor, k: int) -> torch.Tensor:
    """log (1/k)·Σ_j exp(log w_j) of each prompt (k particles per prompt, prompt-major): one
    epoch's factor of log Ẑ."""
    return torch.logsumexp(log_w.reshape(-1, k), dim=1) - math.log(k)


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
        log_z = torch.zeros(len(prompts), dtype=torch.float64)
        for i in range(len(schedule)):
            step = gaussian_step(denoiser, denoiser.unet, x, schedule, i, conditioning)
            current = as_tensor(reward(many, denoiser.decode(step.x0)), len(many)).double()
            log_w += lam * (current - previous).cpu()
            previous = current.cpu()
            last = i == len(schedule) - 1
            if not last and (i + 1) % resample_every == 0:
                log_z += log_mean_weight(log_w, k)
                rows = _resample(log_w, k, generator)
                x, previous = step.mean[rows.to(x.device)], previous[rows]
                if step.std > 0:
                    x = x + step.std * gaussian(tuple(x.shape), generator, x.device)
                log_w = torch.zeros_like(log_w)
                continue
            x = step.mean if step.std == 0 else (
                step.mean + step.std * gaussian(tuple(x.shape), generator, x.device))
        log_z += log_mean_weight(log_w, k)
        weights = torch.softmax(log_w.reshape(-1, k), dim=1)
        kl_bound = lam * (weights * previous.reshape(-1, k)).sum(dim=1) - log_z
        final = _resample(log_w, k, generator).reshape(-1, k)[:, 0]
        chosen = final.to(x.device)
        return Steered(denoiser.decode(x[chosen]), x[chosen], x, previous.float(), log_w,
                       kl_bound)

