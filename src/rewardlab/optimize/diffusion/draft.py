"""DRaFT-K and AlignProp: backpropagate a differentiable reward through the last K denoising
steps into the UNet's weights.

Clark, Vicol, Swersky & Fleet 2024, "Directly Fine-Tuning Diffusion Models on
Differentiable Rewards" (DRaFT), Alg. 1 and §4.2 (DRaFT-K): sample x_T ~ N(0, I),
run the first S − K steps without gradients, the last K with them, and take a
gradient step on

    L(θ) = −(1/N) Σ_i r(c_i, decode(x₀^(i)(θ))),

where x₀(θ) depends on θ only through the last K steps (the truncation stops the
gradient at x_{t_K}, the state the untracked steps reached). K = 1 is DRaFT-1;
K = S backpropagates through the whole chain, AlignProp's full gradient
(Prabhudesai et al. 2023, "Aligning Text-to-Image Diffusion Models with Reward
Backpropagation", which also truncates at a random step to save memory). The
weights trained are those of the module given (all of them for the lab's small
UNet; a LoRA-wrapped UNet trains its adapters only). The sampler is
:func:`rewardlab.optimize.diffusion.sampler.sample` (``grad_steps=K``), so the
same step computes the path KL against the base when a reference is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rewardlab.optimize.diffusion.pipeline import Denoiser
from rewardlab.optimize.diffusion.rewards import PixelReward, as_tensor
from rewardlab.optimize.diffusion.sampler import Trajectory, sample


def draft_step(
    denoiser: Denoiser, unet: torch.nn.Module, optimizer: torch.optim.Optimizer,
    prompts: Sequence[str], reward: PixelReward, steps: int, k: int, eta: float = 1.0,
    generator: torch.Generator | None = None, max_grad_norm: float | None = None,
) -> tuple[float, Trajectory]:
    """One DRaFT-K update of ``unet`` (module doc): ``(mean reward before the update, the
    sampled trajectory)``; ``max_grad_norm`` clips the gradient's norm when given."""
    if not 1 <= k <= steps:
        raise ValueError(f"field 'k': DRaFT-K needs 1 <= K <= {steps} steps, got {k}")
    run = sample(denoiser, prompts, steps, eta, generator, unet=unet, grad_steps=k)
    rewards = as_tensor(reward(list(prompts), run.pixels), len(prompts))
    loss = -rewards.mean()
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(
            [p for group in optimizer.param_groups for p in group["params"]], max_grad_norm)
    optimizer.step()
    return float(rewards.detach().mean()), run
