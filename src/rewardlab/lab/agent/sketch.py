"""Rollout strips: a few frames of an episode drawn from its observations.

Gymnasium's classic-control renderers need pygame (not a rewardlab
dependency), so frames are sketched with matplotlib from the state itself:

- CartPole (o = x, ẋ, θ, θ̇): the cart at x on the track (limits ±2.4, where
  the episode terminates), the pole at angle θ from upright;
- Pendulum (o = cos θ, sin θ, θ̇): the rod from the pivot at angle θ from
  upright;
- MountainCar and MountainCarContinuous (o = x, ẋ): the car at x on the hill
  y = sin 3x, the flag at x = 0.5;

any other environment gets its observation components against the step.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

CART_LIMIT = 2.4
FLAG = 0.5


def _cartpole(ax: Any, o: Sequence[float]) -> None:
    x, theta = float(o[0]), float(o[2])
    ax.plot([-CART_LIMIT, CART_LIMIT], [0, 0], color="#999", lw=1)
    for edge in (-CART_LIMIT, CART_LIMIT):
        ax.plot([edge, edge], [-0.15, 0.15], color="#c33", lw=1)
    ax.add_patch(_rect(x - 0.25, -0.08, 0.5, 0.16))
    ax.plot([x, x + np.sin(theta)], [0.08, 0.08 + np.cos(theta)], color="#a52", lw=2.5)
    ax.set_xlim(-2.8, 2.8)
    ax.set_ylim(-0.3, 1.2)


def _pendulum(ax: Any, o: Sequence[float]) -> None:
    cos, sin = float(o[0]), float(o[1])
    ax.plot([0, sin], [0, cos], color="#a52", lw=3)
    ax.plot([0], [0], "o", color="#333")
    ax.set_xlim(-1.2, 1.2)
    ax.set_ylim(-1.2, 1.2)


def _mountain_car(ax: Any, o: Sequence[float]) -> None:
    xs = np.linspace(-1.2, 0.6, 100)
    ax.plot(xs, np.sin(3 * xs), color="#999", lw=1)
    ax.plot([FLAG, FLAG], [np.sin(3 * FLAG), np.sin(3 * FLAG) + 0.4], color="#c33", lw=1.5)
    x = float(o[0])
    ax.plot([x], [np.sin(3 * x)], "s", color="#25a", ms=8)
    ax.set_xlim(-1.25, 0.65)
    ax.set_ylim(-1.1, 1.5)


def _rect(x: float, y: float, w: float, h: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, color="#25a")


SKETCHES = {"CartPole": _cartpole, "Pendulum": _pendulum, "MountainCar": _mountain_car,
            "MountainCarContinuous": _mountain_car}


def sketch_of(env_id: str) -> Any:
    """The frame sketch of an environment id (its name before ``-v``), or None."""
    return SKETCHES.get(env_id.split("-v")[0])


def strip_png(env_id: str, steps: Sequence[int], observations: Sequence[Sequence[float]],
              title: str) -> bytes:
    """PNG bytes of one row of frames (or of the observation components over the steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    draw = sketch_of(env_id)
    n = len(steps)
    if draw is None:
        fig, ax = plt.subplots(figsize=(7.0, 1.8))
        obs = np.asarray(observations, dtype=np.float64)
        for j in range(obs.shape[1]):
            ax.plot(steps, obs[:, j], marker=".", label=f"o[{j}]")
        ax.set_xlabel("step")
        ax.legend(fontsize=6, ncol=min(obs.shape[1], 6))
        axes = [ax]
    else:
        fig, axes = plt.subplots(1, n, figsize=(1.1 * n, 1.35))
        axes = np.atleast_1d(axes)
        for ax, step, o in zip(axes, steps, observations, strict=True):
            draw(ax, o)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal", adjustable="box")
            ax.set_title(f"t={step}", fontsize=7)
    fig.suptitle(title, fontsize=8)
    try:
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
    finally:
        plt.close(fig)
    return buf.getvalue()


def strip_base64(env_id: str, steps: Sequence[int], observations: Sequence[Sequence[float]],
                 title: str) -> str:
    return base64.b64encode(strip_png(env_id, steps, observations, title)).decode("ascii")
