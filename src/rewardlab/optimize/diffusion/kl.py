"""The KL between a tuned diffusion sampler and its base, as a sum of per-step Gaussian KLs.

Both samplers run the same schedule with the same variances σ_t² (fixed by
the scheduler and η, :mod:`rewardlab.optimize.diffusion.sampler`), so each
stochastic step is a pair of Gaussians with equal covariance and the KL of
the paths (x_T, …, x_{t_S}) factorizes by the chain rule of KL:

    KL(p_θ ‖ p₀) = E_{x ~ p_θ} Σ_t KL(N(μ_θ(x_t), σ_t²I) ‖ N(μ₀(x_t), σ_t²I))
                 = E_{x ~ p_θ} Σ_t ‖μ_θ(x_t) − μ₀(x_t)‖² / (2σ_t²)

(x_T ~ N(0, I) under both; Fan et al. 2023, "DPOK", regularize fine-tuning
with this sum as an upper bound on the KL of the final images; by the
data-processing inequality it bounds the KL of anything computed from the
path by one shared map). :func:`step_kl` is the summand; the sampler
(:func:`rewardlab.optimize.diffusion.sampler.sample`, :func:`~rewardlab.optimize.diffusion.sampler.path_kl`)
evaluates the reference's mean μ₀ on the tuned sampler's own states, so the
average over sampled paths is an unbiased estimate of the path KL.
:func:`log_ratio_step` is the plain Monte-Carlo alternative, log p_θ − log p₀
of the sampled transition: for x_{t'} = μ_θ + σz it equals
‖Δ‖²/(2σ²) + z·Δ/σ, whose mean is the same KL with more variance
(``tests/test_diffusion_kl.py`` checks both against the closed form of a
linear-Gaussian chain). Steps with σ_t = 0 (the last, deterministic step of a
DDPM schedule) carry no density and are not counted: the reported KL is that
of the stochastic part of the path, and the final image is each model's own
x̂₀ of the last state.
"""

from __future__ import annotations

import torch


def step_kl(mean: torch.Tensor, reference_mean: torch.Tensor, std: float) -> torch.Tensor:
    """‖μ_θ − μ₀‖² / (2σ²) per sample (summed over all but the first axis), shape (N,)."""
    if std <= 0:
        raise ValueError(f"field 'std': a Gaussian KL needs σ > 0, got {std}")
    dims = tuple(range(1, mean.ndim))
    return ((mean - reference_mean) ** 2).sum(dim=dims) / (2.0 * std**2)


def log_ratio_step(
    x_next: torch.Tensor, mean: torch.Tensor, reference_mean: torch.Tensor, std: float
) -> torch.Tensor:
    """log N(x'; μ_θ, σ²I) − log N(x'; μ₀, σ²I) per sample (summed over dimensions)."""
    dims = tuple(range(1, x_next.ndim))
    return (((x_next - reference_mean) ** 2).sum(dim=dims)
            - ((x_next - mean) ** 2).sum(dim=dims)) / (2.0 * std**2)
