"""D3PO: direct preference optimization on denoising trajectories, from pairwise preferences
and no reward model.

Yang, Tao, Lyu, Ge, Huo, Wang, Li & Huang 2024, "Using Human Feedback to Fine-tune
Diffusion Models without Any Reward Model" (D3PO, eq. 13): two trajectories are
sampled for each prompt, a preference (a person, or any pairwise judge) says which
final image is better, and every denoising step of the pair gets DPO's loss with the
frozen base as the reference. As the authors' code computes it
(yk7333/d3po ``scripts/train_with_rm.py``), with h = (+1, −1) when the first image is
preferred and (−1, +1) otherwise, and per stochastic step t,

    ρ_k = clip(exp(log π_θ(x^k_{t'} | x^k_t) − log π_ref(x^k_{t'} | x^k_t)), 1 − ε, 1 + ε),
    L_t = −mean_pairs log σ(β·(h₀·log ρ₀ + h₁·log ρ₁)),

averaged over the steps into one update (log-densities are means over the latent's
dimensions, :func:`rewardlab.optimize.diffusion.sampler.gaussian_log_prob`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from rewardlab.optimize.diffusion.pipeline import Denoiser
from rewardlab.optimize.diffusion.sampler import (
    Trajectory,
    gaussian_log_prob,
    gaussian_step,
    sample,
)

Preference = Callable[[Sequence[str], torch.Tensor, torch.Tensor], torch.Tensor]
"""``prefer(prompts, pixels_a, pixels_b)``: a bool tensor, True where image a is preferred."""


def d3po_loss(log_prob: torch.Tensor, ref_log_prob: torch.Tensor, first_preferred: torch.Tensor,
              beta: float, eps: float) -> torch.Tensor:
    """L_t of one step (module doc); ``log_prob`` and ``ref_log_prob`` are (2, N): the first
    and second trajectory of each of N pairs."""
    ratio = torch.clamp(torch.exp(log_prob - ref_log_prob), 1.0 - eps, 1.0 + eps)
    sign = torch.where(first_preferred, 1.0, -1.0).to(log_prob.dtype)
    z = beta * (torch.log(ratio[0]) * sign - torch.log(ratio[1]) * sign)
    return -torch.nn.functional.logsigmoid(z).mean()


def d3po_step(
    denoiser: Denoiser, unet: torch.nn.Module, reference: torch.nn.Module,
    optimizer: torch.optim.Optimizer, prompts: Sequence[str], prefer: Preference, steps: int,
    beta: float = 0.1, eps: float = 0.1, eta: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, Trajectory]:
    """Sample two trajectories per prompt from ``unet``, ask ``prefer`` which is better, and
    take one D3PO update: ``(share of first images preferred, both trajectories)`` (rows
    0…N−1 the first of each pair, N…2N−1 the second)."""
    if eta <= 0:
        raise ValueError(f"field 'eta': D3PO needs stochastic steps (eta > 0), got {eta}")
    n = len(prompts)
    both = list(prompts) * 2
    with torch.no_grad():
        run = sample(denoiser, both, steps, eta, generator, unet=unet, keep_path=True)
        first = torch.as_tensor(prefer(list(prompts), run.pixels[:n], run.pixels[n:]),
                                dtype=torch.bool)
    if first.shape != (n,):
        raise ValueError(f"the preference returned shape {tuple(first.shape)} for {n} pairs")
    conditioning = {k: v.to(run.latents.device) for k, v in denoiser.condition(both).items()}
    losses = []
    for i in (i for i in range(len(run.schedule)) if run.schedule.sigma(i) > 0):
        state, nxt = run.states[i], run.states[i + 1]
        step = gaussian_step(denoiser, unet, state, run.schedule, i, conditioning)
        with torch.no_grad():
            ref = gaussian_step(denoiser, reference, state, run.schedule, i, conditioning)
        log_prob = gaussian_log_prob(nxt, step.mean, step.std).reshape(2, n)
        ref_log_prob = gaussian_log_prob(nxt, ref.mean, ref.std).reshape(2, n)
        losses.append(d3po_loss(log_prob, ref_log_prob, first, beta, eps))
    loss = torch.stack(losses).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(first.float().mean()), run
