"""The image reward function called exactly as the diffusion trainers call theirs.

The calling code below is copied from the trainers (not imported: TRL removed
DDPO/AlignProp after 0.15, and ddpo-pytorch is not a package):

* TRL ``trl/trainer/ddpo_trainer.py`` at v0.14.0
  (commit 49711efab9e0cc3762d3228c9fd5a8064d489503), ``DDPOTrainer.compute_rewards``
  and the lines of ``step`` that use it;
* TRL ``trl/trainer/alignprop_trainer.py`` at the same commit,
  ``AlignPropTrainer.compute_rewards`` and ``calculate_loss``;
* kvablack/ddpo-pytorch ``scripts/train.py`` at commit
  1958463f020112c9a7bc85768d296daacc2e1b4b (lines 355 and 382-384).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rewardlab.integrations.diffusion import image_reward_function
from rewardlab.load import load_reward_model
from tiny_clip import save_aesthetic_mlp, save_clip


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    clip = save_clip(tmp_path_factory.mktemp("d") / "clip", seed=2)
    save_aesthetic_mlp(clip / "aesthetic.safetensors")
    return clip


# --- TRL v0.14.0, trl/trainer/ddpo_trainer.py, DDPOTrainer.compute_rewards (verbatim) ---
def ddpo_compute_rewards(self, prompt_image_pairs, is_async=False):
    if not is_async:
        rewards = []
        for images, prompts, prompt_metadata in prompt_image_pairs:
            reward, reward_metadata = self.reward_fn(images, prompts, prompt_metadata)
            rewards.append(
                (
                    torch.as_tensor(reward, device=self.accelerator.device),
                    reward_metadata,
                )
            )
    else:
        rewards = self.executor.map(lambda x: self.reward_fn(*x), prompt_image_pairs)
        rewards = [
            (torch.as_tensor(reward.result(), device=self.accelerator.device), reward_metadata.result())
            for reward, reward_metadata in rewards
        ]

    return zip(*rewards)


# --- TRL v0.14.0, trl/trainer/alignprop_trainer.py (verbatim) ---
def alignprop_compute_rewards(self, prompt_image_pairs):
    reward, reward_metadata = self.reward_fn(
        prompt_image_pairs["images"], prompt_image_pairs["prompts"], prompt_image_pairs["prompt_metadata"]
    )
    return reward


def alignprop_calculate_loss(self, rewards):
    loss = 10.0 - (rewards).mean()
    return loss


def prompt_fn():  # TRL's examples/scripts/ddpo.py prompt_fn returns (prompt, {})
    return np.random.choice(["cat", "dog", "red cat", "blue sky"]), {}


def sd_output_images(n: int, seed: int) -> torch.Tensor:
    """What a pipeline with output_type="pt" gives: N×3×H×W float in [0, 1]."""
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def expected(model, images: torch.Tensor, prompts) -> np.ndarray:
    pixels = (images * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return model.score(list(prompts), list(pixels))


def test_ddpo_trainer_calls_it_synchronously_and_asynchronously(folder):
    spec = f"clip:{folder}"
    model = load_reward_model(spec)
    np.random.seed(0)
    prompt_image_pairs = []
    for k in range(2):  # DDPOTrainer._generate_samples: prompts, metadata = zip(*[...])
        prompts, prompt_metadata = zip(*[prompt_fn() for _ in range(3)])
        prompt_image_pairs.append([sd_output_images(3, k), prompts, prompt_metadata])
    trainer = SimpleNamespace(accelerator=SimpleNamespace(device="cpu"),
                              executor=ThreadPoolExecutor(max_workers=2))
    for is_async in (False, True):
        # the asynchronous path calls .result() on what the function returns
        trainer.reward_fn = image_reward_function(spec, futures=is_async)
        rewards, rewards_metadata = ddpo_compute_rewards(trainer, prompt_image_pairs, is_async)
        rewards = torch.cat(rewards).cpu().numpy()  # DDPOTrainer.step
        want = np.concatenate([expected(model, im, p) for im, p, _ in prompt_image_pairs])
        np.testing.assert_allclose(rewards, want, atol=1e-5)
        assert rewards_metadata == ({}, {})
    trainer.executor.shutdown()


def test_alignprop_backpropagates_through_the_aesthetic_reward(folder):
    model = load_reward_model(f"aesthetic:{folder}")
    latent = torch.zeros(2, 3, 32, 32, requires_grad=True)
    images = torch.sigmoid(latent + sd_output_images(2, 5))  # stands for rgb_with_grad
    trainer = SimpleNamespace(reward_fn=image_reward_function(model))
    prompt_image_pairs = {"images": images, "prompts": ("cat", "dog"),
                          "prompt_metadata": ({}, {})}
    rewards = alignprop_compute_rewards(trainer, prompt_image_pairs)
    loss = alignprop_calculate_loss(trainer, rewards)
    loss.backward()
    assert latent.grad is not None and float(latent.grad.abs().sum()) > 0
    # the 32×32 images need no resampling: the differentiable reward is the published one
    np.testing.assert_allclose(rewards.detach().numpy(),
                               expected(model, images.detach(), ("cat", "dog")), atol=2e-3)
    with pytest.raises(ValueError, match="no pixel gradients"):
        image_reward_function(QueryOnly())(images, ("cat", "dog"), ({}, {}))


class QueryOnly:
    def score(self, prompts, responses):
        return np.zeros(len(prompts))


def test_ddpo_pytorch_train_loop_calls_it_through_an_executor(folder):
    model = load_reward_model(f"clip:{folder}")
    reward_fn = image_reward_function(model)
    executor = ThreadPoolExecutor(max_workers=1)
    prompts, prompt_metadata = ("cat", "red cat"), ({}, {})
    images = sd_output_images(2, 9)
    # --- kvablack/ddpo-pytorch scripts/train.py, lines 355 and 382-384 ---
    rewards = executor.submit(reward_fn, images, prompts, prompt_metadata)
    sample = {"rewards": rewards}
    rewards, reward_metadata = sample["rewards"].result()
    sample["rewards"] = torch.as_tensor(rewards, device="cpu")
    executor.shutdown()
    np.testing.assert_allclose(sample["rewards"].numpy(), expected(model, images, prompts),
                               atol=1e-5)
    pil = [__import__("PIL.Image").Image.fromarray(a) for a in
           (images * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()]
    from_pil, _ = reward_fn(pil, prompts, prompt_metadata)
    np.testing.assert_allclose(from_pil, sample["rewards"].numpy(), atol=1e-5)
