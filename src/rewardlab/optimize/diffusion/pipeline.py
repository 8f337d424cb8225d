"""What the diffusion optimizers need of a generator: a denoiser, a noise schedule, the
prompts' conditioning and a decoder to pixels.

A :class:`Denoiser` holds

* ``unet``: a diffusers ``UNet2DModel`` or ``UNet2DConditionModel`` (anything
  called as ``unet(x_t, t, **conditioning).sample``);
* ``scheduler``: a diffusers ``DDPMScheduler`` or ``DDIMScheduler`` (its
  ``alphas_cumprod``, ``set_timesteps``, ``config.prediction_type``,
  ``config.clip_sample``; :mod:`rewardlab.optimize.diffusion.sampler` does the
  steps itself, so every step's Gaussian is explicit);
* ``condition(prompts) -> dict``: the keyword arguments of the UNet for a batch
  of prompts, each a tensor whose first axis is the batch (``class_labels``,
  ``encoder_hidden_states``); ``{}`` for an unconditional model;
* ``decode(latents) -> pixels``: an N×H×W×3 tensor in [0, 1], differentiable
  (the VAE of a latent model; a rescaling of a pixel-space model);
* ``latent_shape``: (C, H, W) of x_T.

:func:`from_pipeline` reads these from a diffusers pipeline object: a
Stable-Diffusion-shaped one (``unet``, ``vae``, ``text_encoder``,
``tokenizer``, ``scheduler``: the text encoder's last hidden state
conditions the UNet, as ``StableDiffusionPipeline.encode_prompt`` gives it
without classifier-free guidance, and the VAE decodes ``latents /
scaling_factor``), or a pixel-space one (``unet``, ``scheduler``;
``class_labels`` from a function of the prompts for a class-conditional
UNet). The same code runs the lab's 8×8 digit generator and a real Stable
Diffusion checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

Conditioning = dict[str, torch.Tensor]


@dataclass
class Denoiser:
    """A diffusion generator as the optimizers see it (module doc)."""

    unet: torch.nn.Module
    scheduler: Any
    condition: Callable[[Sequence[str]], Conditioning]
    decode: Callable[[torch.Tensor], torch.Tensor]
    latent_shape: tuple[int, int, int]

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws of x_T ~ N(0, I) of ``latent_shape`` (float32, on the UNet's device; drawn
        on the generator's device, so a CPU generator gives the same draws everywhere)."""
        return gaussian((n, *self.latent_shape), generator, self.device)


def gaussian(shape: tuple[int, ...], generator: torch.Generator | None,
             device: torch.device) -> torch.Tensor:
    """N(0, I) draws of ``shape`` from ``generator`` (on its device), moved to ``device``."""
    where = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=where).to(device)


def select(conditioning: Conditioning, index: torch.Tensor | slice) -> Conditioning:
    """The conditioning of the rows ``index`` (every tensor indexed on its first axis)."""
    return {key: value[index] for key, value in conditioning.items()}


def concat(*conditionings: Conditioning) -> Conditioning:
    """Conditionings of several batches as one batch."""
    keys = conditionings[0].keys()
    return {key: torch.cat([c[key] for c in conditionings]) for key in keys}


def pixel_decoder(channels_last: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """``decode`` of a pixel-space model trained on [−1, 1]: (x + 1)/2 clipped to [0, 1],
    as N×H×W×3 (a one-channel image repeated to grey RGB)."""

    def decode(latents: torch.Tensor) -> torch.Tensor:
        pixels = ((latents + 1.0) / 2.0).clamp(0.0, 1.0)
        if pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        return pixels.permute(0, 2, 3, 1) if channels_last else pixels

    return decode


def _text_condition(pipe: Any) -> Callable[[Sequence[str]], Conditioning]:
    tokenizer, encoder = pipe.tokenizer, pipe.text_encoder

    def condition(prompts: Sequence[str]) -> Conditioning:
        ids = tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length,
                        truncation=True, return_tensors="pt").input_ids
        with torch.no_grad():
            hidden = encoder(ids.to(encoder.device))[0]
        return {"encoder_hidden_states": hidden}

    return condition


def _vae_decoder(vae: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    scale = float(vae.config.scaling_factor)

    def decode(latents: torch.Tensor) -> torch.Tensor:
        images = vae.decode(latents / scale).sample
        return ((images + 1.0) / 2.0).clamp(0.0, 1.0).permute(0, 2, 3, 1)

    return decode


def from_pipeline(
    pipe: Any, class_labels: Callable[[Sequence[str]], torch.Tensor] | None = None
) -> Denoiser:
    """A :class:`Denoiser` from a diffusers pipeline (module doc); ``class_labels`` maps
    prompts to the class ids of a class-conditional pixel-space UNet."""
    unet, scheduler = getattr(pipe, "unet", None), getattr(pipe, "scheduler", None)
    if unet is None or scheduler is None:
        raise ValueError(f"{type(pipe).__name__} has no unet and scheduler; a diffusion "
                         "optimizer needs both")
    size = unet.config.sample_size
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    shape = (int(unet.config.in_channels), int(height), int(width))
    if getattr(pipe, "vae", None) is not None and getattr(pipe, "text_encoder", None) is not None:
        return Denoiser(unet, scheduler, _text_condition(pipe), _vae_decoder(pipe.vae), shape)
    if class_labels is not None:
        def condition(prompts: Sequence[str]) -> Conditioning:
            return {"class_labels": class_labels(prompts)}
    else:
        def condition(prompts: Sequence[str]) -> Conditioning:
            return {}
    return Denoiser(unet, scheduler, condition, pixel_decoder(), shape)
