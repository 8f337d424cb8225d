"""Regularizers of the head's input space, used by the training loop.

Gradient penalty (local Lipschitz control; Blondé et al., "Lipschitzness is
all you need to tame off-policy generative adversarial imitation learning",
Machine Learning 2022; Gulrajani et al., 2017):

    R_gp = λ · E_x ‖∇_x r(x)‖²

over the (normalized) features x of the batch, per ensemble member.

Latent adversarial training (Casper et al., "Defending against unforeseen
failure modes with latent adversarial training", 2024; Sheshadri et al.,
"Latent Adversarial Training Improves Robustness to Persistent Harmful
Behaviors in LLMs", 2024): the head is trained on features moved within an
L2 ball of radius ε (per feature row) toward the worse outcome — the
perturbation δ maximizes the training loss (for pairs: lowers Δ) by
projected gradient ascent (Madry et al., 2018):

    δ ← Π_{‖δ‖ ≤ ε}( δ + α · g / ‖g‖ ),  g = ∇_δ L(x + δ),  δ₀ = 0,

for ``steps`` steps with α = 2.5·ε / steps, then L(x + δ) is minimized.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def gradient_penalty(
    rewards: torch.Tensor, features: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """E_x ‖∇_x r(x)‖² per member, (K,).

    ``rewards`` (K, M) must be computed from ``features`` (K, M, d) (which
    requires grad), one row each; ``mask`` (K, M) leaves padded rows out.
    The graph is kept so the penalty itself can be minimized.
    """
    (grad,) = torch.autograd.grad(rewards.sum(), features, create_graph=True)
    squared = grad.pow(2).sum(dim=-1)
    if mask is None:
        return squared.mean(dim=1)
    mask = mask.to(squared.dtype)
    return (squared * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def latent_adversarial_features(
    features: torch.Tensor,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    eps: float,
    steps: int = 1,
) -> torch.Tensor:
    """x + δ with ‖δ‖₂ ≤ ``eps`` per row, ascending ``loss_of`` (features → (K,))."""
    if eps <= 0 or steps < 1:
        raise ValueError(f"latent adversarial training needs eps > 0 and steps ≥ 1 (got {eps}, {steps})")
    features = features.detach()
    step = 2.5 * eps / steps
    delta = torch.zeros_like(features)
    for _ in range(steps):
        delta.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_of(features + delta).sum(), delta)
        delta = delta.detach() + step * grad / grad.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        norm = delta.norm(dim=-1, keepdim=True)
        delta = delta * torch.clamp(eps / norm.clamp(min=1e-12), max=1.0)
    return features + delta
