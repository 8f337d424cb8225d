"""Smallest L∞ pixel perturbations that reach a reward target: PGD, or SPSA by queries.

Adversarial examples (Szegedy et al., 2014, "Intriguing properties of neural
networks") show that an imperceptible perturbation δ can move a network's
output at will; for a reward model, r(x, y⁻ + δ) > r(x, y⁺) with a tiny
‖δ‖∞ is a pair the model lets a generator win by noise. For each image
y ∈ [0, 1]^{H×W×3} (``uint8 / 255``) and target τ this module searches, for
each ε of an increasing grid ε_1 < … < ε_L (multiples of 1/255), for δ with
‖δ‖∞ ≤ ε and r(x, round(y + δ)) > τ, and reports the smallest ε that works.

* **PGD** (projected gradient ascent, Madry et al., 2018, "Towards Deep
  Learning Models Resistant to Adversarial Attacks") when the model is a
  :class:`~rewardlab.protocols.PixelRewardModel`:
  δ ← Π_ε(δ + α · sign ∇_y r(x, y + δ)), then y + δ clipped to [0, 1];
  α = 2.5 ε / steps (Madry et al.'s choice), δ starts at 0, and the δ found
  for ε_l starts the search for ε_{l+1} (it lies in the larger ball).
* **SPSA** (Spall, 1992; as an attack, Uesato et al., 2018, "Adversarial Risk
  and the Dangers of Evaluating Against Weak Attacks") when the model has no
  pixel gradient: ĝ = mean_k [r(y + δ + cΔ_k) − r(y + δ − cΔ_k)] / (2c) · Δ_k
  with Rademacher Δ_k, each query the model's own ``score`` on ``uint8``
  images; then the same signed step and projection, kept on the 1/255 grid.

Success is always checked with ``score`` on the ``uint8`` image
round(255 · (y + δ)) that a generator could emit. With ε a multiple of 1/255
and y on that grid, rounding keeps ‖round(y + δ) − y‖∞ ≤ ε, so a reported ε
bounds the realized perturbation exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.protocols import RewardModel

LEVELS = 255.0


@dataclass
class PixelSearch:
    """Settings of one search (see the module doc)."""

    epsilons: tuple[float, ...]
    steps: int = 20
    spsa_samples: int = 8
    spsa_delta: int = 2
    """SPSA's c in grey levels (c = spsa_delta / 255)."""
    seed: int = 0


@dataclass
class SearchResult:
    """Per image: the smallest ε that reached the target (None: none did), the realized
    ``uint8`` image and reward at that ε (else at the largest ε), and model queries spent."""

    smallest: list[float | None]
    images: list[np.ndarray]
    rewards: np.ndarray
    queries: int = 0
    per_epsilon: list[np.ndarray] = field(default_factory=list)


def epsilon_grid(epsilon: float, levels: int) -> tuple[float, ...]:
    """ε_max · 2^−k for k = levels−1 … 0, each rounded to a multiple of 1/255 (at least
    1/255), without repeats: ε = 8/255, 4 levels → 1, 2, 4, 8 (/255)."""
    if not 0 < epsilon <= 1:
        raise ValueError(f"option 'epsilon': must be in (0, 1], got {epsilon}")
    if levels < 1:
        raise ValueError(f"option 'levels': must be at least 1, got {levels}")
    top = max(1, round(epsilon * LEVELS))
    grid = sorted({max(1, round(top / 2**k)) for k in range(levels)})
    return tuple(g / LEVELS for g in grid)


def realize(base: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The ``uint8`` images round(255 · clip(y + δ, 0, 1)) of float y (N×H×W×3) and δ."""
    return np.clip(np.rint((base + delta) * LEVELS), 0, 255).astype(np.uint8)


def _score(model: RewardModel, prompts: Sequence[str], images: np.ndarray) -> np.ndarray:
    return np.asarray(model.score(list(prompts), list(images)), dtype=np.float64)


def pgd_step_fn(model: Any, prompts: Sequence[str]) -> Callable[[np.ndarray, list[int]], np.ndarray]:
    """∇_y Σ r(x, y) at float images y (N×H×W×3) for the rows ``rows``, from
    ``score_pixels``."""
    import torch

    def gradient(points: np.ndarray, rows: list[int]) -> np.ndarray:
        x = torch.from_numpy(points[rows].astype(np.float32)).requires_grad_(True)
        rewards = model.score_pixels([prompts[i] for i in rows], x)
        (grad,) = torch.autograd.grad(rewards.sum(), x)
        return grad.detach().cpu().numpy().astype(np.float64)

    return gradient


def spsa_step_fn(model: RewardModel, prompts: Sequence[str], search: PixelSearch,
                 rng: np.random.Generator, counter: list[int]
                 ) -> Callable[[np.ndarray, list[int]], np.ndarray]:
    """The SPSA estimate of ∇_y r(x, y) from ``2 · spsa_samples`` queries per image, all
    rows and samples in one ``score`` call; ``counter[0]`` counts queries."""
    c = search.spsa_delta / LEVELS

    def gradient(points: np.ndarray, rows: list[int]) -> np.ndarray:
        k = search.spsa_samples
        base = points[rows]
        signs = rng.choice([-1.0, 1.0], size=(len(rows), k, *base.shape[1:]))
        plus = realize(base[:, None], c * signs).reshape(-1, *base.shape[1:])
        minus = realize(base[:, None], -c * signs).reshape(-1, *base.shape[1:])
        batch_prompts = [prompts[i] for i in rows for _ in range(k)]
        r = _score(model, batch_prompts * 2, np.concatenate([plus, minus]))
        counter[0] += len(r)
        half = len(rows) * k
        diff = (r[:half] - r[half:]).reshape(len(rows), k) / (2 * c)
        return np.einsum("nk,nk...->n...", diff, signs) / k

    return gradient


def smallest_perturbation(
    model: RewardModel,
    prompts: Sequence[str],
    images: Sequence[np.ndarray],
    targets: np.ndarray,
    search: PixelSearch,
    gradients: bool,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """The smallest ε of ``search.epsilons`` at which r(x_i, round(y_i + δ_i)) > τ_i, for
    images of one shape (``uint8`` H×W×3), by PGD (``gradients``) or SPSA."""
    base = np.stack([np.asarray(y, dtype=np.float64) for y in images]) / LEVELS
    n = len(base)
    rng = np.random.default_rng(search.seed)
    counter = [0]
    step_fn = (pgd_step_fn(model, prompts) if gradients
               else spsa_step_fn(model, prompts, search, rng, counter))
    delta = np.zeros_like(base)
    smallest: list[float | None] = [None] * n
    best = realize(base, delta)
    rewards = _score(model, prompts, best)
    per_epsilon = []
    for level, eps in enumerate(search.epsilons):
        active = [i for i in range(n) if smallest[i] is None]
        if active:
            alpha = 2.5 * eps / search.steps
            if not gradients:
                alpha = max(1.0, round(alpha * LEVELS)) / LEVELS
            for _ in range(search.steps):
                grad = step_fn(base + delta, active)
                moved = delta[active] + alpha * np.sign(grad)
                moved = np.clip(moved, -eps, eps)
                delta[active] = np.clip(base[active] + moved, 0.0, 1.0) - base[active]
            realized = realize(base[active], delta[active])
            scored = _score(model, [prompts[i] for i in active], realized)
            counter[0] += len(active)
            for j, i in enumerate(active):
                best[i], rewards[i] = realized[j], scored[j]
                if scored[j] > targets[i]:
                    smallest[i] = eps
        per_epsilon.append(np.array([s is not None for s in smallest]))
        if progress is not None:
            progress(level + 1, len(search.epsilons))
    return SearchResult(smallest, list(best), rewards, counter[0], per_epsilon)
