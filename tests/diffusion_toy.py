"""A 1-D diffusion sampler whose "UNet" is linear, ε̂(x, t) = a·x + b, so every DDPM step is
x' = c·x + d + σz with c, d, σ written out by hand from the scheduler's ᾱ (the DDIM
formulas at η = 1): the hand-computed side of the diffusion tests."""

from __future__ import annotations

import math

import diffusers
import torch

from rewardlab.optimize.diffusion.pipeline import Denoiser


class Linear(torch.nn.Module):
    """ε̂(x, t) = a·x + b, whatever t (float64 weights)."""

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x, t, **_):
        return type("Out", (), {"sample": self.a * x + self.b})()


def toy(clip: bool = False) -> tuple[Denoiser, Linear, Linear]:
    """(denoiser over the tuned Linear(0.3, 0.2), tuned, base Linear(0.1, −0.1)); decode is the
    identity, the latent one number."""
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=20, beta_schedule="linear",
                                        beta_start=0.01, beta_end=0.3, clip_sample=clip,
                                        timestep_spacing="trailing")
    tuned, base = Linear(0.3, 0.2), Linear(0.1, -0.1)
    denoiser = Denoiser(tuned, scheduler, lambda prompts: {}, lambda x: x, (1, 1, 1))
    return denoiser, tuned, base


def hand_chain(scheduler, steps: int, a: float, b: float, eta: float = 1.0
               ) -> list[tuple[float, float, float]]:
    """(c, d, σ) of each step for ε̂ = a·x + b: x̂₀ = (x − √(1−ᾱ)ε̂)/√ᾱ,
    μ = √ᾱ'·x̂₀ + √(1 − ᾱ' − σ²)·ε̂, σ² = η²·(1−ᾱ')/(1−ᾱ)·(1 − ᾱ/ᾱ') (DDPM's β̃ at η = 1)."""
    scheduler.set_timesteps(steps)
    ts = [int(t) for t in scheduler.timesteps]
    abar = scheduler.alphas_cumprod.double()
    out = []
    for i, t in enumerate(ts):
        a_t = float(abar[t])
        a_p = float(abar[ts[i + 1]]) if i + 1 < len(ts) else 1.0
        var = eta**2 * (1 - a_p) / (1 - a_t) * (1 - a_t / a_p)
        k = math.sqrt(1 - a_p - var)
        c = math.sqrt(a_p) * (1 - math.sqrt(1 - a_t) * a) / math.sqrt(a_t) + k * a
        d = -math.sqrt(a_p) * math.sqrt(1 - a_t) * b / math.sqrt(a_t) + k * b
        out.append((c, d, math.sqrt(var)))
    return out


def chain_of(scheduler, steps: int, unet: Linear, eta: float = 1.0
             ) -> list[tuple[float, float, float]]:
    return hand_chain(scheduler, steps, float(unet.a.detach()), float(unet.b.detach()), eta)


def coefficient_slopes(scheduler, steps: int) -> list[tuple[float, float, float, float]]:
    """(∂c/∂a, ∂d/∂a, ∂c/∂b, ∂d/∂b) of each step: c and d are affine in (a, b)."""
    zero = hand_chain(scheduler, steps, 0.0, 0.0)
    da = hand_chain(scheduler, steps, 1.0, 0.0)
    db = hand_chain(scheduler, steps, 0.0, 1.0)
    return [(ca - c0, dA - d0, cb - c0, dB - d0)
            for (c0, d0, _), (ca, dA, _), (cb, dB, _) in zip(zero, da, db, strict=True)]
