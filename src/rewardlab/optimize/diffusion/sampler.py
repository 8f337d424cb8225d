"""The DDIM/DDPM sampler with every step's Gaussian explicit.

Song et al. 2021 ("Denoising Diffusion Implicit Models", eq. 12 and 16): with
ᾱ_t the scheduler's ``alphas_cumprod``, a step from x_t to the previous
timestep t' = t − T/S (T training timesteps, S sampling steps; ᾱ_{t'} is the
scheduler's ``final_alpha_cumprod``, or 1, below 0), as diffusers'
``DDIMScheduler.step`` computes it:

    x̂₀ = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t         (ε̂ the UNet's output; ``v_prediction``
                                            and ``sample`` outputs are converted)
    x̂₀ ← clip(x̂₀, ±r), ε̂ ← (x_t − √ᾱ_t·x̂₀)/√(1−ᾱ_t)
                                            when the scheduler clips (r = clip_sample_range)
    σ_t = η·√((1−ᾱ_{t'})/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_{t'})
    μ_t = √ᾱ_{t'}·x̂₀ + √(1 − ᾱ_{t'} − σ_t²)·ε̂
    x_{t'} = μ_t + σ_t·z,  z ~ N(0, I).

η = 1 is DDPM's ancestral sampler on the strided schedule (σ_t² is the
posterior variance β̃, and μ_t is ``DDPMScheduler.step``'s posterior mean, which
uses the clipped x̂₀ with x_t, hence ε̂ recomputed from the clipped x̂₀; that is
DDIM's ``use_clipped_model_output=True``; ``tests/test_diffusion_kl.py`` checks
the chain against diffusers' own DDPM loop), η = 0 is deterministic DDIM. Each step with σ_t > 0 is
a Gaussian policy π(x_{t'} | x_t) = N(μ_t, σ_t² I) (Black et al. 2023, DDPO,
§4.2); its log-density is reported, as ddpo-pytorch and TRL's DDPO do, as the
mean over the latent's dimensions of log N(x_{t'}; μ_t, σ_t²), so a ratio
exp(Δ log π) is the geometric mean of the per-dimension ratios. The last step
of a scheduler with ᾱ = 1 below 0 has σ = 0: it maps x_t to x̂₀
deterministically and has no density (DDPM adds no noise at t = 0).

:func:`sample` runs the chain for a batch of prompts, with gradients through
the last ``grad_steps`` steps only (0: none; S: all, e.g. ReNO and AlignProp;
the earlier steps run without a graph, DRaFT-K's truncation), and,
when a ``reference`` UNet is given, the reference's mean μ⁰_t on the same
states for the path KL (:mod:`rewardlab.optimize.diffusion.kl`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from rewardlab.optimize.diffusion.kl import step_kl
from rewardlab.optimize.diffusion.pipeline import Conditioning, Denoiser, gaussian


@dataclass(frozen=True)
class Schedule:
    """S sampling steps: the timesteps t_i, ᾱ at t_i and at the previous timestep, and η."""

    timesteps: torch.Tensor
    alpha_bar: torch.Tensor
    alpha_bar_prev: torch.Tensor
    eta: float

    def __len__(self) -> int:
        return len(self.timesteps)

    def sigma(self, i: int) -> float:
        """σ_{t_i} = η·√((1−ᾱ')/(1−ᾱ))·√(1 − ᾱ/ᾱ') of step i (module doc)."""
        a, prev = float(self.alpha_bar[i]), float(self.alpha_bar_prev[i])
        return self.eta * math.sqrt(max((1 - prev) / (1 - a) * (1 - a / prev), 0.0))


def make_schedule(scheduler, steps: int, eta: float) -> Schedule:
    """The schedule of ``steps`` sampling steps of a diffusers scheduler (``set_timesteps`` is
    called on it, as a pipeline would)."""
    if steps < 1:
        raise ValueError(f"field 'steps': need at least one sampling step, got {steps}")
    if not 0.0 <= eta:
        raise ValueError(f"field 'eta': must be >= 0, got {eta}")
    scheduler.set_timesteps(steps)
    timesteps = scheduler.timesteps.to(torch.long).cpu()
    alphas = scheduler.alphas_cumprod.to(torch.float64).cpu()
    final = getattr(scheduler, "final_alpha_cumprod", None)
    final = torch.tensor(1.0, dtype=torch.float64) if final is None else final.double().cpu()
    stride = int(scheduler.config.num_train_timesteps) // steps
    prev = timesteps - stride
    alpha_prev = torch.where(prev >= 0, alphas[prev.clamp_min(0)], final)
    return Schedule(timesteps, alphas[timesteps], alpha_prev, float(eta))


@dataclass
class StepGaussian:
    """One step's π(x_{t'} | x_t) = N(mean, std²) and the predicted x̂₀."""

    mean: torch.Tensor
    std: float
    x0: torch.Tensor


def gaussian_step(
    denoiser: Denoiser, unet: torch.nn.Module, x: torch.Tensor, schedule: Schedule, i: int,
    conditioning: Conditioning,
) -> StepGaussian:
    """The Gaussian of step i from state ``x`` under ``unet`` (module doc)."""
    config = denoiser.scheduler.config
    t = schedule.timesteps[i].to(x.device)
    dtype = next(unet.parameters()).dtype
    out = unet(x.to(dtype), t.expand(len(x)), **conditioning).sample.to(x.dtype)
    a, prev = float(schedule.alpha_bar[i]), float(schedule.alpha_bar_prev[i])
    kind = getattr(config, "prediction_type", "epsilon")
    if kind == "epsilon":
        x0, eps = (x - math.sqrt(1 - a) * out) / math.sqrt(a), out
    elif kind == "v_prediction":
        x0 = math.sqrt(a) * x - math.sqrt(1 - a) * out
        eps = math.sqrt(a) * out + math.sqrt(1 - a) * x
    elif kind == "sample":
        x0, eps = out, (x - math.sqrt(a) * out) / math.sqrt(1 - a)
    else:
        raise ValueError(f"prediction_type {kind!r}: expected epsilon, v_prediction or sample")
    if getattr(config, "clip_sample", False):
        limit = float(getattr(config, "clip_sample_range", 1.0))
        x0 = x0.clamp(-limit, limit)
        eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
    sigma = schedule.sigma(i)
    mean = math.sqrt(prev) * x0 + math.sqrt(max(1 - prev - sigma**2, 0.0)) * eps
    return StepGaussian(mean, sigma, x0)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
    """log N(x; mean, std² I), averaged over all but the first axis (DDPO's convention)."""
    dims = tuple(range(1, x.ndim))
    log_density = (-((x.detach() - mean) ** 2) / (2 * std**2) - math.log(std)
                   - 0.5 * math.log(2 * math.pi))
    return log_density.mean(dim=dims)


@dataclass
class Trajectory:
    """A sampled batch: the final latents and pixels, and per step (when kept) the states,
    log-densities under the sampling model, and KL terms against the reference."""

    latents: torch.Tensor
    pixels: torch.Tensor
    schedule: Schedule
    states: list[torch.Tensor] = field(default_factory=list)
    log_probs: torch.Tensor | None = None
    kl_steps: torch.Tensor | None = None

    @property
    def kl(self) -> torch.Tensor:
        """Σ_t KL(π_θ(·|x_t) ‖ π₀(·|x_t)) of each sample's path, shape (N,)."""
        if self.kl_steps is None:
            raise ValueError("this trajectory was sampled without a reference model")
        return self.kl_steps.sum(dim=1)


def sample(
    denoiser: Denoiser,
    prompts: Sequence[str],
    steps: int,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
    *,
    unet: torch.nn.Module | None = None,
    reference: torch.nn.Module | None = None,
    noise: torch.Tensor | None = None,
    grad_steps: int = 0,
    keep_path: bool = False,
    conditioning: Conditioning | None = None,
) -> Trajectory:
    """Sample one image per prompt (module doc).

    ``unet`` replaces the denoiser's (a tuned copy); ``reference`` adds each step's
    Gaussian KL against it (:func:`rewardlab.optimize.diffusion.kl.step_kl`);
    ``noise`` is x_T (drawn from ``generator`` otherwise); ``keep_path`` keeps the
    states x_{t_0} … x_{t_S} and the log-densities of the stochastic steps.
    """
    unet = unet or denoiser.unet
    schedule = make_schedule(denoiser.scheduler, steps, eta)
    conditioning = denoiser.condition(prompts) if conditioning is None else conditioning
    x = denoiser.noise(len(prompts), generator) if noise is None else noise
    conditioning = {key: value.to(x.device) for key, value in conditioning.items()}
    if not 0 <= grad_steps <= len(schedule):
        raise ValueError(f"field 'grad_steps': expected 0 to {len(schedule)}, got {grad_steps}")
    first_grad = len(schedule) - grad_steps
    states, log_probs, kls = [x.detach()], [], []
    for i in range(len(schedule)):
        with torch.set_grad_enabled(i >= first_grad and torch.is_grad_enabled()):
            step = gaussian_step(denoiser, unet, x, schedule, i, conditioning)
            z = gaussian(tuple(x.shape), generator, x.device) if step.std > 0 else None
            if reference is not None and step.std > 0:
                with torch.no_grad():
                    base = gaussian_step(denoiser, reference, x.detach(), schedule, i, conditioning)
                kls.append(step_kl(step.mean.detach(), base.mean, step.std))
            x = step.mean if z is None else step.mean + step.std * z
            if keep_path and z is not None:
                log_probs.append(gaussian_log_prob(x, step.mean.detach(), step.std))
        states.append(x.detach())
    pixels = denoiser.decode(x)
    return Trajectory(
        latents=x, pixels=pixels, schedule=schedule, states=states if keep_path else [],
        log_probs=torch.stack(log_probs, dim=1) if log_probs else None,
        kl_steps=torch.stack(kls, dim=1) if kls else (
            torch.zeros(len(prompts), 0) if reference is not None else None),
    )


def path_kl(
    denoiser: Denoiser,
    unet: torch.nn.Module,
    reference: torch.nn.Module,
    prompts: Sequence[str],
    steps: int,
    eta: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """(mean, standard error) over ``prompts`` of the path KL of ``unet`` from ``reference``,
    each prompt's path sampled once from ``unet``."""
    with torch.no_grad():
        kl = sample(denoiser, prompts, steps, eta, generator, unet=unet, reference=reference).kl
    values = kl.double()
    spread = float(values.std()) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return float(values.mean()), spread
