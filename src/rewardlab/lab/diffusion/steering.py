"""``lab diffusion``'s FK-steering curve: inference-time steering of the base generator
toward the proxy, one point per tilt λ.

At each λ of ``fk_lambdas``, FK steering (:func:`rewardlab.optimize.diffusion.fk.fk_steer`,
Singhal et al. 2025) runs ``fk_particles`` particles per evaluation prompt with
resampling every ``fk_resample_every`` denoising steps and keeps one image per prompt.
The point's KL is the mean over prompts of the run's own bound
KL(q ‖ p) ≤ λ·E_q[r] − E[log Ẑ] (see that module), so the curve sits on Gao et al.'s
axis beside best-of-n's log n − (n − 1)/n; λ = 0 is the base sampler (KL 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from rewardlab.lab.diffusion.images import checkpoint
from rewardlab.optimize.diffusion.fk import fk_steer

if TYPE_CHECKING:
    from rewardlab.lab.diffusion.experiment import Lab

Progress = Callable[[str, int, int], None]


def fk_curve(lab: Lab, _name: str, progress: Progress | None
             ) -> tuple[list[dict], list[np.ndarray]]:
    """One point per λ (module doc), each with its first ten images (``_name``: the
    optimizer's, as every curve of :data:`~rewardlab.lab.diffusion.experiment.CURVES` takes).
    """
    o, prompts = lab.options, lab.eval_prompts
    curve, images = [], []
    if progress is not None:
        progress("fk", 0, len(o.fk_lambdas))
    for done, lam in enumerate(o.fk_lambdas, start=1):
        draws = torch.Generator().manual_seed(o.seed + 5)
        steered = fk_steer(lab.denoiser, prompts, o.fk_particles, lab.proxy, o.sample_steps,
                           lam, resample_every=o.fk_resample_every, generator=draws)
        with torch.no_grad():
            proxy = lab.proxy(prompts, steered.pixels)
        point, grid = checkpoint(prompts, steered.pixels, steered.kl_bound, proxy)
        curve.append({"lam": lam, "particles": o.fk_particles, **point})
        images.append(grid)
        if progress is not None:
            progress("fk", done, len(o.fk_lambdas))
    return curve, images
