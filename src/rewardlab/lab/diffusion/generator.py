"""The lab's image generator: a small class-conditional diffusion model of handwritten digits,
trained by rewardlab on scikit-learn's bundled scans and cached on disk.

Model: a diffusers ``UNet2DModel`` (``DownBlock2D``/``UpBlock2D`` blocks of
:attr:`GeneratorConfig.channels`, one ResNet layer per block, a class
embedding of the 10 digits) on 8×8 grey images scaled to [−1, 1], with a
``DDPMScheduler`` (T timesteps, the cosine schedule of Nichol & Dhariwal 2021,
ε-prediction, x̂₀ clipped to [−1, 1]). Training is DDPM's simple loss
(Ho et al. 2020, eq. 14): E‖ε − ε_θ(√ᾱ_t x₀ + √(1−ᾱ_t) ε, t, c)‖² with
t ~ U{0, …, T−1}, by AdamW under a one-cycle learning rate.

The class c shown with a scan is its digit with probability
``label_accuracy`` and a uniformly drawn digit otherwise, so the model learns
p(x | c) = a·p(x | digit c) + (1 − a)·p(x) and follows its prompt imperfectly
(at a = 0.5 about half of its samples show the asked digit): the base policy
leaves gold to gain, as the text lab's generators of random skill do.

The prompt's digit (:func:`rewardlab.data.synthetic.digits.prompt_digit`) is
the class. :meth:`DigitsGenerator.denoiser` decodes an 8×8 sample to the
digits task's 32×32×3 image (nearest upscaling ×4, as the preference set
renders its scans; the gold's 8×8 block average of it is the sample itself).

Cache: like the embedding cache (:mod:`rewardlab.features.cache`) and the LM cache
(:func:`rewardlab.models.lm.loading.lm_cache_dir`), under
``$REWARDLAB_CACHE/../generators`` (default ``~/.cache/rewardlab/generators``),
one folder per :meth:`GeneratorConfig.key` (a hash of every training option
and the code's format version), written atomically
(:func:`rewardlab.atomic.atomic_directory`) as a diffusers folder (``unet/``
and ``scheduler/``, safetensors and JSON, nothing pickled) with
``generator.json``. ``$REWARDLAB_CACHE_MODE`` is obeyed (``read``: use, never
write; ``off``: always train). A folder that does not load is trained again
and replaced. Training is seeded and never downloads anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rewardlab.atomic import atomic_directory, write_json_atomic
from rewardlab.data.synthetic.digits import load_scans, prompt_digit
from rewardlab.features.cache import cache_mode
from rewardlab.lab.diffusion.options import GeneratorConfig
from rewardlab.optimize.diffusion.pipeline import Denoiser, pixel_decoder

UPSCALE = 4
"""Nearest-neighbour upscaling of the 8×8 samples: the digits task's 32×32 images."""
ProgressCallback = Callable[[int, int], None]


def generator_cache_dir() -> Path:
    """``$REWARDLAB_CACHE/../generators`` when the variable is set (beside the LM cache),
    else ``~/.cache/rewardlab/generators``."""
    root = os.environ.get("REWARDLAB_CACHE")
    if root:
        return Path(root).resolve().parent / "generators"
    return Path.home() / ".cache" / "rewardlab" / "generators"


def _diffusers() -> Any:
    try:
        import diffusers
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("the diffusion lab needs diffusers: pip install 'rewardlab[diffusion]'"
                          ) from error
    return diffusers


def build_unet(config: GeneratorConfig) -> torch.nn.Module:
    """A fresh UNet2DModel of ``config`` (seeded)."""
    diffusers = _diffusers()
    torch.manual_seed(config.gen_seed)
    depth = len(config.channels)
    return diffusers.UNet2DModel(
        sample_size=8, in_channels=1, out_channels=1, block_out_channels=config.channels,
        down_block_types=("DownBlock2D",) * depth, up_block_types=("UpBlock2D",) * depth,
        layers_per_block=1, norm_num_groups=8, num_class_embeds=10,
    )


def build_scheduler(config: GeneratorConfig) -> Any:
    return _diffusers().DDPMScheduler(num_train_timesteps=config.train_timesteps,
                                      beta_schedule="squaredcos_cap_v2", clip_sample=True,
                                      timestep_spacing="trailing",
                                      prediction_type="epsilon")


def digit_labels(prompts: Sequence[str]) -> torch.Tensor:
    """The class of each prompt: the digit it asks for."""
    return torch.tensor([prompt_digit(p) for p in prompts], dtype=torch.long)


@dataclass
class DigitsGenerator:
    """The trained UNet, its scheduler, its config and how it was obtained."""

    unet: torch.nn.Module
    scheduler: Any
    config: GeneratorConfig
    info: dict[str, Any]

    def denoiser(self, unet: torch.nn.Module | None = None) -> Denoiser:
        """The :class:`Denoiser` of this generator (``unet`` replaces its UNet)."""
        base = pixel_decoder()

        def decode(latents: torch.Tensor) -> torch.Tensor:
            pixels = base(latents)
            return pixels.repeat_interleave(UPSCALE, 1).repeat_interleave(UPSCALE, 2)

        def condition(prompts: Sequence[str]) -> dict[str, torch.Tensor]:
            return {"class_labels": digit_labels(prompts)}

        return Denoiser(unet or self.unet, self.scheduler, condition, decode, (1, 8, 8))


def train_generator(
    config: GeneratorConfig, progress: ProgressCallback | None = None
) -> DigitsGenerator:
    """Train the generator of ``config`` (module doc); deterministic in ``config.gen_seed``."""
    images, labels = load_scans()
    x_all = torch.tensor(images / 8.0 - 1.0, dtype=torch.float32)[:, None]
    y_all = torch.tensor(labels, dtype=torch.long)
    unet, scheduler = build_unet(config), build_scheduler(config)
    unet.train()
    optimizer = torch.optim.AdamW(unet.parameters(), lr=config.gen_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.gen_lr,
                                                   total_steps=config.train_steps, pct_start=0.1)
    draws = torch.Generator().manual_seed(config.gen_seed)
    start, losses = time.perf_counter(), []
    if progress is not None:
        progress(0, config.train_steps)
    for step in range(config.train_steps):
        index = torch.randint(0, len(x_all), (config.gen_batch_size,), generator=draws)
        shown = y_all[index].clone()
        wrong = torch.rand(config.gen_batch_size, generator=draws) >= config.label_accuracy
        shown[wrong] = torch.randint(0, 10, (int(wrong.sum()),), generator=draws)
        t = torch.randint(0, config.train_timesteps, (config.gen_batch_size,), generator=draws)
        eps = torch.randn(x_all[index].shape, generator=draws)
        noisy = scheduler.add_noise(x_all[index], eps, t)
        loss = ((unet(noisy, t, class_labels=shown).sample - eps) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if progress is not None and ((step + 1) % 20 == 0 or step + 1 == config.train_steps):
            progress(step + 1, config.train_steps)
    unet.eval().requires_grad_(False)
    info = {"config": dataclasses.asdict(config), "key": config.key(),
            "train_seconds": time.perf_counter() - start,
            "final_loss": float(np.mean(losses[-100:])), "torch_threads": torch.get_num_threads()}
    return DigitsGenerator(unet, scheduler, config, info)


def save_generator(generator: DigitsGenerator, folder: Path) -> None:
    """Write the generator as a diffusers folder, atomically."""
    with atomic_directory(folder) as staging:
        generator.unet.save_pretrained(staging / "unet", safe_serialization=True)
        generator.scheduler.save_pretrained(staging / "scheduler")
        write_json_atomic(staging / "generator.json", generator.info)


def load_generator(folder: Path, config: GeneratorConfig) -> DigitsGenerator:
    """Read a generator folder written by :func:`save_generator`."""
    diffusers = _diffusers()
    info = json.loads((folder / "generator.json").read_text(encoding="utf-8"))
    if info.get("key") != config.key():
        raise ValueError(f"{folder}: generator key {info.get('key')} is not {config.key()}")
    unet = diffusers.UNet2DModel.from_pretrained(folder / "unet").eval().requires_grad_(False)
    scheduler = diffusers.DDPMScheduler.from_pretrained(folder / "scheduler")
    return DigitsGenerator(unet, scheduler, config, info)


def cached_generator(
    config: GeneratorConfig, root: Path | None = None, progress: ProgressCallback | None = None
) -> tuple[DigitsGenerator, bool]:
    """``(generator, from_cache)``: the cached generator of ``config``, or a freshly trained
    one, stored unless ``$REWARDLAB_CACHE_MODE`` forbids it."""
    folder = (root or generator_cache_dir()) / config.key()
    mode = cache_mode()
    if mode != "off" and (folder / "generator.json").is_file():
        try:
            return load_generator(folder, config), True
        except Exception:  # noqa: BLE001 - a damaged cache entry is trained again
            pass
    generator = train_generator(config, progress)
    if mode == "readwrite":
        folder.parent.mkdir(parents=True, exist_ok=True)
        save_generator(generator, folder)
    return generator, False
