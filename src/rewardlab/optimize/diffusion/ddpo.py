"""DDPO: policy gradient over the denoising steps, with PPO's clipped ratio.

Black, Janner, Du, Kostrikov & Levine 2023, "Training Diffusion Models with
Reinforcement Learning" (DDPO_IS, eq. 4): each stochastic step is a Gaussian
policy π_θ(x_{t'} | x_t, c) = N(μ_θ(x_t), σ_t²I)
(:func:`rewardlab.optimize.diffusion.sampler.gaussian_step`), the whole image's
reward r(x₀, c) is every step's return, and with the log-densities of the sampling
model (π_old) kept on the path,

    ρ_t = exp(log π_θ(x_{t'} | x_t) − log π_old(x_{t'} | x_t)),
    L(θ) = mean_{i,t} max(−A_i ρ_t, −A_i clip(ρ_t, 1 − ε, 1 + ε)),

as TRL's ``DDPOTrainer.loss`` and ``calculate_loss`` compute it (huggingface/trl
``trl/trainer/ddpo_trainer.py``): log-densities are means over the latent's
dimensions, advantages are clipped to ±``adv_clip_max`` first, and the loss of the
steps is averaged into one update (TRL accumulates the gradient over the
timesteps). The advantage A_i is the reward normalized per prompt
(:class:`PerPromptStats`, ddpo-pytorch's and TRL's ``PerPromptStatTracker``):
(r − mean)/(std + 10⁻⁶) over the rewards this prompt has had in the last
``buffer_size`` samples, or over the whole batch while the prompt has fewer than
``min_count``. Defaults from TRL's ``DDPOConfig``: ε = 10⁻⁴, adv_clip_max = 5,
buffer 16, min count 16.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rewardlab.optimize.diffusion.pipeline import Denoiser
from rewardlab.optimize.diffusion.rewards import PixelReward, as_tensor
from rewardlab.optimize.diffusion.sampler import (
    Trajectory,
    gaussian_log_prob,
    gaussian_step,
    sample,
)


class PerPromptStats:
    """Per-prompt reward normalization (module doc)."""

    def __init__(self, buffer_size: int = 16, min_count: int = 16) -> None:
        self.buffer_size = buffer_size
        self.min_count = min_count
        self.history: dict[str, deque] = {}

    def advantages(self, prompts: Sequence[str], rewards: np.ndarray) -> np.ndarray:
        """(r − mean)/(std + 10⁻⁶) of each reward, its prompt's buffer updated first."""
        rewards = np.asarray(rewards, dtype=np.float64)
        names = np.asarray(list(prompts))
        out = np.empty_like(rewards)
        for prompt in np.unique(names):
            mine = rewards[names == prompt]
            seen = self.history.setdefault(str(prompt), deque(maxlen=self.buffer_size))
            seen.extend(mine.tolist())
            pool = rewards if len(seen) < self.min_count else np.asarray(seen)
            out[names == prompt] = (mine - pool.mean()) / (pool.std() + 1e-6)
        return out


def ddpo_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
              clip_range: float) -> torch.Tensor:
    """mean(max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε))) with ρ = exp(log π − log π_old)."""
    ratio = torch.exp(log_prob - old_log_prob)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    return torch.maximum(unclipped, clipped).mean()


@dataclass(frozen=True)
class DDPOSettings:
    """ε (``clip_range``), the advantage clip, and passes over each sampled batch."""

    clip_range: float = 1e-4
    adv_clip_max: float = 5.0
    inner_epochs: int = 1
    max_grad_norm: float | None = 1.0


def ddpo_step(
    denoiser: Denoiser, unet: torch.nn.Module, optimizer: torch.optim.Optimizer,
    prompts: Sequence[str], reward: PixelReward, steps: int, stats: PerPromptStats,
    settings: DDPOSettings = DDPOSettings(), eta: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, Trajectory]:
    """Sample a batch from ``unet`` with its path, score it, and take ``inner_epochs``
    clipped policy-gradient updates on it (module doc): ``(mean reward, trajectory)``."""
    if eta <= 0:
        raise ValueError(f"field 'eta': DDPO needs stochastic steps (eta > 0), got {eta}")
    with torch.no_grad():
        run = sample(denoiser, prompts, steps, eta, generator, unet=unet, keep_path=True)
        rewards = as_tensor(reward(list(prompts), run.pixels), len(prompts))
    advantages = torch.as_tensor(stats.advantages(prompts, rewards.double().numpy()),
                                 dtype=torch.float32)
    advantages = advantages.clamp(-settings.adv_clip_max, settings.adv_clip_max)
    conditioning = {k: v.to(run.latents.device) for k, v in denoiser.condition(prompts).items()}
    stochastic = [i for i in range(len(run.schedule)) if run.schedule.sigma(i) > 0]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for _ in range(settings.inner_epochs):
        losses = []
        for column, i in enumerate(stochastic):
            step = gaussian_step(denoiser, unet, run.states[i], run.schedule, i, conditioning)
            log_prob = gaussian_log_prob(run.states[i + 1], step.mean, step.std)
            losses.append(ddpo_loss(log_prob, run.log_probs[:, column], advantages,
                                    settings.clip_range))
        loss = torch.stack(losses).mean()
        optimizer.zero_grad()
        loss.backward()
        if settings.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
    return float(rewards.mean()), run
