"""The attack probe on image pairs: the smallest L∞ perturbation of y⁻ that flips a pair.

For each pair the model orders correctly, r(x, y⁺) > r(x, y⁻), the search of
:mod:`rewardlab.evaluate.adversarial` looks for the smallest ε on the grid
ε_max · 2^−k (multiples of 1/255) with ‖δ‖∞ ≤ ε and r(x, y⁻ + δ) > r(x, y⁺)
(Szegedy et al., 2014; PGD of Madry et al., 2018, when the model is a
:class:`~rewardlab.protocols.PixelRewardModel`, else SPSA queries, which the
report says in ``method`` and ``note``). With ``margin`` m the goal is instead
r(x, y⁻ + δ) ≥ r(x, y⁻) + m on every labelled pair ("raise a reward by a
margin"). Reported:

    hackability = #{pairs reached within ε_max} / #attacked,

the smallest ε per pair and its median over reached pairs, the model
evaluations spent on a pair until it was reached, (l + 1) · (steps · q + 1) for
the l-th ε of the grid (q = 1 forward-backward pass per PGD step, 2 · samples
scores per SPSA step, and one check with ``score`` per ε) and their median
(``median_queries``, the headline shared with the text attack), the curve of the
share reached at each ε, the largest realized ‖δ‖∞ (never above ε_max), the
reward gain r(y⁻ + δ) − r(y⁻), the margin statistics of the text attack, and
up to ``examples`` reached pairs with their original, perturbed and difference
images as PNG (the difference mid-grey at 0, ±ε at black/white) for the HTML
report.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from rewardlab.data.images import decode_image, encode_png
from rewardlab.data.record import Comparison
from rewardlab.evaluate.adversarial import PixelSearch, epsilon_grid, smallest_perturbation
from rewardlab.evaluate.pairwise import score_pairs
from rewardlab.evaluate.probes.attack import ATTACKS, margin_statistics
from rewardlab.evaluate.probes.common import distribution
from rewardlab.protocols import PixelRewardModel, RewardModel

THUMBNAIL = 256
"""Longest edge of the images kept for the report."""


@dataclass
class PixelAttackConfig:
    """``epsilon`` is ε_max (rounded to a multiple of 1/255), ``levels`` the grid size,
    ``steps`` the PGD/SPSA steps per ε, ``margin`` the raise-by-a-margin goal (None: flip),
    ``method`` ``auto`` (PGD when the model has pixel gradients), ``pgd`` or ``spsa``."""

    epsilon: float = 8 / 255
    levels: int = 4
    steps: int = 20
    margin: float | None = None
    method: str = "auto"
    spsa_samples: int = 8
    max_pairs: int | None = 16
    batch: int = 16
    examples: int = 3
    seed: int = 0


def _png64(pixels: np.ndarray) -> str:
    height, width = pixels.shape[:2]
    if max(height, width) > THUMBNAIL:
        from PIL import Image

        scale = THUMBNAIL / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.NEAREST))
    return base64.b64encode(encode_png(pixels)).decode("ascii")


def difference_image(original: np.ndarray, perturbed: np.ndarray, epsilon: float) -> np.ndarray:
    """δ shown as an image: 128 + 127 · δ / ε per channel (mid-grey = unchanged)."""
    delta = perturbed.astype(np.float64) - original.astype(np.float64)
    scale = 127.0 / max(epsilon * 255.0, 1.0)
    return np.clip(np.rint(128 + delta * scale), 0, 255).astype(np.uint8)


def _method(model: RewardModel, method: str) -> bool:
    """Whether to use gradients (PGD)."""
    if method not in ("auto", "pgd", "spsa"):
        raise ValueError(f"option 'method': {method!r} is not auto, pgd or spsa")
    has = isinstance(model, PixelRewardModel)
    if method == "pgd" and not has:
        raise ValueError("option 'method': pgd needs a model with score_pixels (pixel gradients)")
    return has and method != "spsa"


def pixel_attack(
    model: RewardModel,
    pairs: Sequence[Comparison],
    config: PixelAttackConfig | None = None,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    **overrides: object,
) -> dict:
    """Smallest-ε pixel attack on the rejected images (module doc); keyword ``overrides``
    named like :class:`PixelAttackConfig` fields replace them, others are ignored."""
    known = {f.name for f in fields(PixelAttackConfig)}
    cfg = replace(config if isinstance(config, PixelAttackConfig) else PixelAttackConfig(),
                  **{k: v for k, v in overrides.items() if k in known})
    if cfg.steps < 1 or cfg.batch < 1 or cfg.spsa_samples < 1:
        raise ValueError("field 'config': need steps, batch and spsa_samples ≥ 1")
    gradients = _method(model, cfg.method)
    grid = epsilon_grid(cfg.epsilon, cfg.levels)
    rng = np.random.default_rng(cfg.seed if seed is None else seed)
    base = score_pairs(model, pairs)
    order = [int(i) for i in rng.permutation(len(pairs))]
    if cfg.margin is None:
        targets = [i for i in order if base.chosen[i] > base.rejected[i]]
    else:
        targets = order
    targets = targets[: cfg.max_pairs] if cfg.max_pairs is not None else targets
    goal = {i: float(base.chosen[i]) if cfg.margin is None
            else float(base.rejected[i]) + cfg.margin for i in targets}
    originals = {i: decode_image(pairs[i].rejected) for i in targets}
    search = PixelSearch(grid, steps=cfg.steps, spsa_samples=cfg.spsa_samples,
                         seed=cfg.seed if seed is None else seed)
    smallest: dict[int, float | None] = {}
    perturbed: dict[int, np.ndarray] = {}
    after: dict[int, float] = {}
    queries = 0
    groups: dict[tuple[int, ...], list[int]] = {}
    for i in targets:
        groups.setdefault(originals[i].shape, []).append(i)
    chunks = [idx[s : s + cfg.batch] for idx in groups.values()
              for s in range(0, len(idx), cfg.batch)]
    for k, chunk in enumerate(chunks):
        found = smallest_perturbation(
            model, [pairs[i].prompt for i in chunk], [originals[i] for i in chunk],
            np.array([goal[i] for i in chunk]), search, gradients,
        )
        queries += found.queries
        for j, i in enumerate(chunk):
            smallest[i], perturbed[i], after[i] = found.smallest[j], found.images[j], \
                float(found.rewards[j])
        if progress is not None:
            progress(k + 1, len(chunks))
    reached = [i for i in targets if smallest[i] is not None]
    per_step = 1 if gradients else 2 * cfg.spsa_samples
    spent = {i: (grid.index(smallest[i]) + 1) * (cfg.steps * per_step + 1) for i in reached}
    linf = [int(np.abs(perturbed[i].astype(int) - originals[i].astype(int)).max())
            for i in targets]
    return {
        "method": "pgd" if gradients else "spsa",
        "note": "" if gradients else "query-only (SPSA): the model gives no pixel gradients, "
        "so a reached pair is certain but a missed one may be reachable",
        "goal": "flip" if cfg.margin is None else "margin",
        "margin": cfg.margin,
        "epsilon": grid[-1],
        "epsilons": list(grid),
        "steps": cfg.steps,
        "hackability": len(reached) / len(targets) if targets else None,
        "n_attacked": len(targets),
        "attacked": targets,
        "n_flipped": len(reached),
        "n_already_wrong": int(np.sum(base.chosen <= base.rejected)),
        "smallest_epsilon": {str(i): smallest[i] for i in reached},
        "median_epsilon": float(np.median([smallest[i] for i in reached])) if reached else None,
        "median_queries": float(np.median(list(spent.values()))) if reached else None,
        "queries_to_flip": {str(i): q for i, q in spent.items()},
        "queries": queries,
        "curve": [[eps, float(np.mean([smallest[i] is not None and smallest[i] <= eps
                                       for i in targets])) if targets else 0.0]
                  for eps in grid],
        "max_linf": max(linf) / 255.0 if linf else None,
        "reward_gain": distribution([after[i] - float(base.rejected[i]) for i in targets]),
        "examples": [_example(pairs[i], i, originals[i], perturbed[i], smallest[i],
                              float(base.rejected[i]), after[i], goal[i])
                     for i in reached[: cfg.examples]],
        "margins": margin_statistics(base.chosen, base.rejected),
    }


def _example(pair: Comparison, index: int, original: np.ndarray, perturbed: np.ndarray,
             epsilon: float | None, before: float, reached: float, target: float) -> dict:
    eps = float(epsilon or 0.0)
    return {
        "pair": index,
        "prompt": pair.prompt,
        "epsilon": eps,
        "reward_before": before,
        "reward_after": reached,
        "target": target,
        "images": {
            "original": _png64(original),
            "perturbed": _png64(perturbed),
            "difference": _png64(difference_image(original, perturbed, eps)),
        },
    }


ATTACKS.add("image", pixel_attack)
