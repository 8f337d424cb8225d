"""KL divergence of a Stable-Baselines3 policy from its initial copy, per state and per episode.

Per state s, for the action distributions of two policies π and π₀:

- discrete (categorical, log-probabilities ℓ = log π, ℓ₀ = log π₀):
  KL(π(·|s) ‖ π₀(·|s)) = Σ_a π(a|s)·(ℓ(a) − ℓ₀(a));
- continuous (diagonal Gaussians N(μ, σ²), N(μ₀, σ₀²), summed over action
  dimensions): KL = Σ_i [log(σ₀ᵢ/σᵢ) + (σᵢ² + (μᵢ − μ₀ᵢ)²)/(2σ₀ᵢ²) − ½].
  SAC's tanh-squashed Gaussian has the same KL as the Gaussian before the
  squash (KL is invariant under an invertible map of the variable), and
  gSDE's state-dependent noise is a diagonal Gaussian given the state.

Over a whole episode τ = (s₀, a₀, s₁, …) of π, the trajectory distributions
of π and π₀ share the dynamics, so their KL is the expected sum of the
per-state KLs along π's episodes (the chain rule of KL):

    KL(P_π ‖ P_π₀) = E_{τ∼π} Σ_t KL(π(·|s_t) ‖ π₀(·|s_t)),

the control analogue of Gao et al.'s (2023) sequence-level KL(π ‖ π_init).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def categorical_kl(log_p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """Σ_a p(a)·(log p(a) − log q(a)) over the last axis, from normalized log-probabilities."""
    log_p = np.asarray(log_p, np.float64)
    log_q = np.asarray(log_q, np.float64)
    return np.sum(np.exp(log_p) * (log_p - log_q), axis=-1)


def gaussian_kl(mean: np.ndarray, std: np.ndarray, mean0: np.ndarray,
                std0: np.ndarray) -> np.ndarray:
    """KL(N(μ, σ²) ‖ N(μ₀, σ₀²)) of diagonal Gaussians, summed over the last axis."""
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    mean0, std0 = np.asarray(mean0, np.float64), np.asarray(std0, np.float64)
    terms = np.log(std0 / std) + (std**2 + (mean - mean0) ** 2) / (2 * std0**2) - 0.5
    return terms.sum(axis=-1)


def frozen_copy(policy: Any) -> Any:
    """A copy of an SB3 policy with the same weights, built the way SB3's own ``save``
    rebuilds one (gSDE's sampled noise matrices cannot be deep-copied)."""
    clone = type(policy)(**policy._get_constructor_parameters())
    clone.load_state_dict(policy.state_dict())
    clone.set_training_mode(False)
    return clone


def _distribution(policy: Any, observations: np.ndarray) -> Any:
    """The torch distribution of ``policy``'s actions at ``observations`` (an
    on-policy ``get_distribution``, or SAC's actor before the tanh squash)."""
    obs, _ = policy.obs_to_tensor(observations)
    if hasattr(policy, "get_distribution"):
        return policy.get_distribution(obs).distribution
    mean, log_std, kwargs = policy.actor.get_action_dist_params(obs)
    return policy.actor.action_dist.proba_distribution(mean, log_std, **kwargs).distribution


def state_kl(policy: Any, reference: Any, observations: np.ndarray) -> np.ndarray:
    """KL(π(·|s) ‖ π₀(·|s)) at each of the (T, …) ``observations``, shape (T,)."""
    import torch

    if len(observations) == 0:
        return np.zeros(0)
    with torch.no_grad():
        p = _distribution(policy, observations)
        q = _distribution(reference, observations)
        if hasattr(p, "logits"):
            return categorical_kl(torch.log_softmax(p.logits, -1).numpy(),
                                  torch.log_softmax(q.logits, -1).numpy())
        return gaussian_kl(p.mean.numpy(), p.stddev.numpy(), q.mean.numpy(), q.stddev.numpy())


def episode_kl(policy: Any, reference: Any, observations: np.ndarray) -> float:
    """Σ_t KL(π(·|s_t) ‖ π₀(·|s_t)) over one episode's states."""
    return float(state_kl(policy, reference, observations).sum())
