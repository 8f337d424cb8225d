"""The sampler and the per-step Gaussian KL of :mod:`rewardlab.optimize.diffusion`.

* A 1-D toy sampler whose "UNet" is linear (ε̂ = a·x + b) makes every step
  x' = c·x + d + σz, so the path is a Gaussian chain and its KL has a closed form
  computed here by hand from the scheduler's ᾱ: with m, v the mean and variance of x
  under the tuned chain, each step adds E[(Δc·x + Δd)²]/(2σ²) =
  (Δc²(v + m²) + 2ΔcΔd·m + Δd²)/(2σ²), then m ← c·m + d, v ← c²v + σ². The
  estimator (the sampler's per-step KL on sampled paths), a plain Monte-Carlo
  estimate (log p_θ − log p₀ of sampled paths, densities written out here) and the
  closed form agree.
* The sampler's DDPM chain equals diffusers' own ``DDPMScheduler.step`` loop given the
  same generator (the upstream sampler).
"""

from __future__ import annotations

import math

import pytest

diffusers = pytest.importorskip("diffusers")
import torch  # noqa: E402

from rewardlab.optimize.diffusion.kl import log_ratio_step, step_kl  # noqa: E402
from rewardlab.optimize.diffusion.pipeline import Denoiser  # noqa: E402
from rewardlab.optimize.diffusion.sampler import path_kl, sample  # noqa: E402


class Linear(torch.nn.Module):
    """ε̂(x, t) = a·x + b, whatever t."""

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x, t, **_):
        return type("Out", (), {"sample": self.a * x + self.b})()


def toy(clip: bool = False) -> tuple[Denoiser, Linear, Linear]:
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=20, beta_schedule="linear",
                                        beta_start=0.01, beta_end=0.3, clip_sample=clip,
                                        timestep_spacing="trailing")
    tuned, base = Linear(0.3, 0.2), Linear(0.1, -0.1)
    denoiser = Denoiser(tuned, scheduler, lambda prompts: {}, lambda x: x, (1, 1, 1))
    return denoiser, tuned, base


def hand_chain(scheduler, steps: int, unet: Linear) -> list[tuple[float, float, float]]:
    """(c, d, σ) of each step, from the DDIM/DDPM formulas with η = 1 written out."""
    scheduler.set_timesteps(steps)
    ts = [int(t) for t in scheduler.timesteps]
    abar = scheduler.alphas_cumprod.double()
    out = []
    for i, t in enumerate(ts):
        a_t = float(abar[t])
        a_p = float(abar[ts[i + 1]]) if i + 1 < len(ts) else 1.0
        var = (1 - a_p) / (1 - a_t) * (1 - a_t / a_p)  # DDPM's posterior variance β̃
        a, b = float(unet.a.detach()), float(unet.b.detach())
        # x̂₀ = (x − √(1−ᾱ)(a x + b))/√ᾱ ; μ = √ᾱ' x̂₀ + √(1 − ᾱ' − σ²)(a x + b)
        k = math.sqrt(1 - a_p - var)
        c = math.sqrt(a_p) * (1 - math.sqrt(1 - a_t) * a) / math.sqrt(a_t) + k * a
        d = -math.sqrt(a_p) * math.sqrt(1 - a_t) * b / math.sqrt(a_t) + k * b
        out.append((c, d, math.sqrt(var)))
    return out


def closed_form_kl(theta, ref) -> float:
    m, v, kl = 0.0, 1.0, 0.0
    for (c, d, s), (c0, d0, _) in zip(theta, ref, strict=True):
        if s > 0:
            dc, dd = c - c0, d - d0
            kl += (dc * dc * (v + m * m) + 2 * dc * dd * m + dd * dd) / (2 * s * s)
        m, v = c * m + d, c * c * v + s * s
    return kl


def test_step_kl_by_hand() -> None:
    mean = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    ref = torch.tensor([[0.0, 0.0], [0.0, 3.0]])
    # (1 + 4)/(2·0.25) = 10 and 9/(2·0.25) = 18
    assert step_kl(mean, ref, 0.5).tolist() == pytest.approx([10.0, 18.0])
    x = torch.tensor([[1.0, 1.0]])
    # log N(x; μ, σ²) − log N(x; μ₀, σ²) = (‖x − μ₀‖² − ‖x − μ‖²)/(2σ²) = (1 + 1 − 0 − 1)/0.5
    assert log_ratio_step(x, torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]),
                          0.5).tolist() == pytest.approx([2.0])
    with pytest.raises(ValueError, match="σ > 0"):
        step_kl(mean, ref, 0.0)


def test_path_kl_matches_the_closed_form_and_a_monte_carlo_estimate() -> None:
    denoiser, tuned, base = toy()
    steps, n = 5, 20000
    theta = hand_chain(denoiser.scheduler, steps, tuned)
    exact = closed_form_kl(theta, hand_chain(denoiser.scheduler, steps, base))
    assert exact > 0.05  # the two chains differ enough for the check to mean something
    with torch.no_grad():
        run = sample(denoiser, ["p"] * n, steps, generator=torch.Generator().manual_seed(0),
                     reference=base, keep_path=True)
    estimate = run.kl.double()
    assert run.kl_steps.shape == (n, steps - 1)  # the last step (ᾱ' = 1) has σ = 0
    se = float(estimate.std()) / math.sqrt(n)
    assert float(estimate.mean()) == pytest.approx(exact, abs=4 * se + 1e-9)
    # plain Monte Carlo: log p_θ(path) − log p₀(path), the densities written out here
    states = [s.double().reshape(-1) for s in run.states]
    log_ratio = torch.zeros(n, dtype=torch.float64)
    for i, ((c, d, s), (c0, d0, _)) in enumerate(
            zip(theta, hand_chain(denoiser.scheduler, steps, base), strict=True)):
        if s == 0:
            continue
        x, nxt = states[i], states[i + 1]
        log_ratio += ((nxt - c0 * x - d0) ** 2 - (nxt - c * x - d) ** 2) / (2 * s * s)
    mc_se = float(log_ratio.std()) / math.sqrt(n)
    assert float(log_ratio.mean()) == pytest.approx(exact, abs=4 * mc_se)
    assert se < mc_se  # the per-step Gaussian KL is the lower-variance estimate
    mean, spread = path_kl(denoiser, tuned, base, ["p"] * 4000, steps,
                           generator=torch.Generator().manual_seed(1))
    assert mean == pytest.approx(exact, abs=4 * spread)


def test_sampler_is_diffusers_ddpm_loop() -> None:
    """One image per prompt through our sampler and through ``DDPMScheduler.step`` (clipping
    x̂₀ as the lab's scheduler does), the same generator: the same samples."""
    denoiser, tuned, _ = toy(clip=True)
    with torch.no_grad():
        ours = sample(denoiser, ["p"] * 64, 5, generator=torch.Generator().manual_seed(3)).latents
        scheduler = denoiser.scheduler
        scheduler.set_timesteps(5)
        draws = torch.Generator().manual_seed(3)
        x = torch.randn((64, 1, 1, 1), generator=draws)
        for t in scheduler.timesteps:
            eps = tuned(x.double(), t).sample.float()
            x = scheduler.step(eps, t, x, generator=draws).prev_sample
    # diffusers adds √(1e-20)·z at the last step (σ = 0 there): 1e-10, not a difference
    torch.testing.assert_close(ours, x, atol=1e-6, rtol=0)
