"""Any rewardlab image reward as the reward function of diffusion-model trainers.

TRL's ``DDPOTrainer`` and ``AlignPropTrainer`` (TRL ≤ 0.15, ``reward_function``
argument) and ddpo-pytorch (Black et al., 2023, "Training Diffusion Models with
Reinforcement Learning"; ``scripts/train.py``) call

    rewards, reward_metadata = reward_fn(images, prompts, prompt_metadata)

with ``images`` the pipeline's ``output_type="pt"`` output, a torch tensor
N×3×H×W in [0, 1] (or, in ddpo-pytorch's own reward functions, a list of PIL
images or an N×H×W×3 ``uint8`` array), ``prompts`` a tuple of strings and
``prompt_metadata`` a tuple of dicts. DDPO turns ``rewards`` into a tensor
(``torch.as_tensor``) and logs ``reward_metadata``; AlignProp (Prabhudesai et
al., 2023, "Aligning Text-to-Image Diffusion Models with Reward
Backpropagation") minimizes ``10 − rewards.mean()`` and backpropagates through
the reward into the images.

:func:`image_reward_function` returns such a function:

* images that need no gradient are brought to the ``uint8`` images the
  generator emits, ``round(255 · x)`` clipped to [0, 255] (as DDPO's reward
  examples do), and scored with ``model.score``: the numbers of ``rewardlab
  score`` and the server for the same pictures;
* a tensor that requires grad (AlignProp) is scored with the model's
  ``score_pixels`` (a :class:`~rewardlab.protocols.PixelRewardModel`:
  ``clip:``, ``aesthetic:``, ``hpsv2:``), so the reward is differentiable in
  the pixels; a model without pixel gradients is refused with one line.

``rewards`` is a float32 torch tensor on the images' device when the images
are a tensor, else a float64 numpy array; ``reward_metadata`` is ``{}``.

TRL's ``DDPOTrainer`` with ``async_reward_computation=True`` runs the function
in ``executor.map`` and then calls ``.result()`` on both values it returned
(``ddpo_trainer.py`` at v0.14.0, ``compute_rewards``), so a plain function
fails there; ``futures=True`` returns the two values as completed
``concurrent.futures.Future`` objects for that call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.protocols import PixelRewardModel, RewardModel

RewardFn = Callable[[Any, Sequence[str], Sequence[Any]], tuple[Any, dict]]


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def uint8_images(images: Any) -> list[Any]:
    """The images as the generator would emit them: a tensor N×3×H×W in [0, 1] becomes
    ``round(255 · x)`` clipped, N×H×W×3 ``uint8``; arrays and PIL images pass as they are."""
    if _is_tensor(images):
        pixels = (images.detach() * 255).round().clamp(0, 255).to("cpu").byte()
        return list(pixels.permute(0, 2, 3, 1).numpy())
    return list(images)


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def image_reward_function(model: RewardModel | str | Path, futures: bool = False) -> RewardFn:
    """``reward_fn(images, prompts, prompt_metadata) -> (rewards, {})`` for DDPO,
    AlignProp and ddpo-pytorch; ``model`` is a reward model or a ``--model`` spec;
    ``futures``: both values as completed futures (TRL DDPO's asynchronous path)."""
    if isinstance(model, str | Path):
        from rewardlab.load import load_reward_model

        model = load_reward_model(model)
    loaded = model

    def reward_fn(images: Any, prompts: Sequence[str], prompt_metadata: Sequence[Any] = ()
                  ) -> tuple[Any, Any]:
        rewards, metadata = score(images, prompts)
        return (_done(rewards), _done(metadata)) if futures else (rewards, metadata)

    def score(images: Any, prompts: Sequence[str]) -> tuple[Any, dict]:
        prompts = [str(p) for p in prompts]
        if _is_tensor(images) and images.requires_grad:
            if not isinstance(loaded, PixelRewardModel):
                raise ValueError(
                    f"{type(loaded).__name__} gives no pixel gradients (score_pixels), which "
                    "a trainer that backpropagates through the reward (AlignProp) needs"
                )
            return loaded.score_pixels(prompts, images.permute(0, 2, 3, 1)), {}
        rewards = np.asarray(loaded.score(prompts, uint8_images(images)), dtype=np.float64)
        if _is_tensor(images):
            import torch

            return torch.as_tensor(rewards, dtype=torch.float32, device=images.device), {}
        return rewards, {}

    reward_fn.__name__ = f"rewardlab_{getattr(loaded, 'form', type(loaded).__name__)}"
    return reward_fn
