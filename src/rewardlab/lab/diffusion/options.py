"""The options of the diffusion lab's generator (no torch imported here, so the command line
reads its defaults and help from this dataclass; :mod:`rewardlab.options`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from rewardlab.options import comma_list, list_text, option

GENERATOR_FORMAT = 1
"""Version of the generator's training code; part of the cache key."""


@dataclass(frozen=True)
class GeneratorConfig:
    """The lab's generator: a class-conditional diffusers ``UNet2DModel`` on scikit-learn's
    8×8 digits, trained by :func:`rewardlab.lab.diffusion.generator.train_generator`."""

    channels: tuple[int, ...] = option(
        (16, 32), "Generator UNet block widths, one down and one up block each (multiples "
        "of 8).", parse=comma_list(int, 8), format=list_text)
    train_steps: int = option(1200, "Generator training steps (batches).", min=1)
    gen_batch_size: int = option(128, "Generator training batch size.", min=1)
    gen_lr: float = option(2e-3, "Generator peak learning rate (AdamW, one-cycle).", min=0.0,
                           open_min=True)
    label_accuracy: float = option(
        0.5, "Share of training scans shown with their own digit as the class (the rest get a "
        "uniformly drawn one): below 1 the generator follows its prompt imperfectly, so there "
        "is gold to gain.", min=0.0, max=1.0)
    train_timesteps: int = option(1000, "Diffusion timesteps T of the noise schedule.", min=2)
    gen_seed: int = option(0, "Seed of the generator's initialization and training draws.",
                           min=0)

    def key(self) -> str:
        """The cache key: a hash of every field and :data:`GENERATOR_FORMAT`."""
        payload = json.dumps({"format": GENERATOR_FORMAT, **dataclasses.asdict(self)},
                             sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
