"""``lab diffusion``'s ReNO curve: each evaluation prompt's initial noise optimized toward the
proxy through the base generator, which stays frozen.

Every evaluation prompt gets a draw ε₀ ~ N(0, I) and its own ReNO run
(:func:`rewardlab.optimize.diffusion.reno.reno_step`, Eyring et al. 2024): ``reno_updates``
steps of SGD with Nesterov momentum 0.9 on −r(c, G(ε, c)) + λ_reg·K(ε), each image's
gradient clipped to ``reno_grad_clip``, with G the deterministic sampler (η = 0, every
step differentiated). The clip, λ_reg and the 50 steps are the authors'; their
learning rate 5 moves SDXL-Turbo's 4×64×64 latent (‖ε‖ ≈ 128) by lr·clip/‖ε‖ ≈ 0.4% of
its norm per step, and ``reno_lr``'s default 0.3 = 5·√(64/16384) moves the lab's 64
values (‖ε‖ ≈ 8) by the same share. A checkpoint every ``eval_every`` updates reads the images of the
current noises (the ones the update's gradient came from).

KL axis: the generator is frozen and deterministic, so ReNO changes only where the
noise is, and the checkpoint reports the mean over prompts of

    KL(N(ε, I) ‖ N(ε₀, I)) = ‖ε − ε₀‖² / 2,

the KL of moving the noise distribution by ε − ε₀. It is exact when every draw moves by
the same vector; ReNO moves each draw by its own, so this is the cost of the move, not
the KL of the pushed-forward noise (whose Jacobian term has no cheap estimate here). It
grows with the distance the noise travels, like the path KL of the tuned optimizers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from rewardlab.lab.diffusion.images import checkpoint
from rewardlab.optimize.diffusion.reno import reno_step
from rewardlab.optimize.diffusion.sampler import sample

if TYPE_CHECKING:
    from rewardlab.lab.diffusion.experiment import Lab

Progress = Callable[[str, int, int], None]


def noise_move_kl(noise: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """‖ε − ε₀‖² / 2 per image (module doc), shape (N,)."""
    return 0.5 * ((noise - start) ** 2).reshape(len(noise), -1).sum(dim=1)


def reno_curve(lab: Lab, _name: str, progress: Progress | None
               ) -> tuple[list[dict], list[np.ndarray]]:
    """ReNO on every evaluation prompt's noise (module doc), a checkpoint every
    ``eval_every`` updates and after the last, each with its first ten images."""
    o, prompts = lab.options, lab.eval_prompts
    start = lab.denoiser.noise(len(prompts), torch.Generator().manual_seed(o.seed + 6))
    noise = start.clone().requires_grad_(True)
    sgd = torch.optim.SGD([noise], lr=o.reno_lr, momentum=0.9, nesterov=True)
    frozen = lab.denoiser.unet
    wanted = [p.requires_grad for p in frozen.parameters()]
    frozen.requires_grad_(False)  # the generator is not tuned: no weight gradients kept
    curve, images = [], []
    if progress is not None:
        progress("reno", 0, o.reno_updates)
    try:
        for update in range(o.reno_updates + 1):
            moved = noise_move_kl(noise.detach(), start)  # before the update below
            if update < o.reno_updates:
                rewards, run = reno_step(lab.denoiser, noise, sgd, prompts, lab.proxy,
                                         o.sample_steps, reg=o.reno_reg,
                                         max_grad_norm=o.reno_grad_clip)
            else:  # the last noises' images, no update after them
                with torch.no_grad():
                    run = sample(lab.denoiser, prompts, o.sample_steps, 0.0,
                                 noise=noise.detach())
                    rewards = lab.proxy(prompts, run.pixels)
            if update % o.eval_every == 0 or update == o.reno_updates:
                point, grid = checkpoint(prompts, run.pixels, moved, rewards)
                curve.append({"update": update, **point})
                images.append(grid)
            if progress is not None and update < o.reno_updates:
                progress("reno", update + 1, o.reno_updates)
    finally:
        for parameter, needs in zip(frozen.parameters(), wanted, strict=True):
            parameter.requires_grad_(needs)
    return curve, images
