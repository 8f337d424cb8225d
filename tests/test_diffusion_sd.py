"""The diffusion optimizers on a Stable-Diffusion-shaped pipeline built offline from tiny random
configs (UNet2DConditionModel, AutoencoderKL, CLIPTextModel, DDIMScheduler: the components
of diffusers' own ``StableDiffusionPipelineFastTests.get_dummy_components``), with a tiny
CLIP score as the reward: the code that runs on a real SD checkpoint.

The sampler is checked against the pipeline's own ``__call__`` (deterministic DDIM, no
classifier-free guidance, the same x_T): same images. Then one step of each optimizer
runs: best-of-n, DRaFT, DDPO, FK steering, ReNO and D3PO.
"""

from __future__ import annotations

import dataclasses

import pytest

diffusers = pytest.importorskip("diffusers")
import torch  # noqa: E402

from rewardlab.load import load_reward_model  # noqa: E402
from rewardlab.optimize.diffusion.bon import best_of_n  # noqa: E402
from rewardlab.optimize.diffusion.d3po import d3po_step  # noqa: E402
from rewardlab.optimize.diffusion.ddpo import DDPOSettings, PerPromptStats, ddpo_step  # noqa: E402
from rewardlab.optimize.diffusion.draft import draft_step  # noqa: E402
from rewardlab.optimize.diffusion.fk import fk_steer  # noqa: E402
from rewardlab.optimize.diffusion.pipeline import from_pipeline  # noqa: E402
from rewardlab.optimize.diffusion.reno import reno_step  # noqa: E402
from rewardlab.optimize.diffusion.rewards import trainable_copy  # noqa: E402
from rewardlab.optimize.diffusion.sampler import sample  # noqa: E402
from tiny_clip import clip_tokenizer, save_clip  # noqa: E402

PROMPTS = ["a red cat", "a blue dog"]


@pytest.fixture(scope="module")
def pipe():
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(4, 8), layers_per_block=1, sample_size=16, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        norm_num_groups=2)
    scheduler = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012,
                                        beta_schedule="scaled_linear", clip_sample=False,
                                        set_alpha_to_one=False, steps_offset=1)
    vae = diffusers.AutoencoderKL(
        block_out_channels=[4, 8], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4,
        norm_num_groups=2)
    tokenizer = clip_tokenizer()
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
        layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=2,
        vocab_size=len(tokenizer)))
    pipe = diffusers.StableDiffusionPipeline(
        unet=unet, scheduler=scheduler, vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def reward(tmp_path_factory):
    """A tiny CLIP score, differentiable in the pixels (``score_pixels``)."""
    model = load_reward_model(f"clip:{save_clip(tmp_path_factory.mktemp('clip') / 'clip')}")
    return model.score_pixels


def test_sampler_equals_the_pipeline(pipe, one_torch_thread) -> None:
    denoiser = from_pipeline(pipe)
    assert denoiser.latent_shape == (4, 16, 16)
    x_t = torch.randn((2, 4, 16, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = sample(denoiser, PROMPTS, 3, eta=0.0, noise=x_t).pixels
        theirs = pipe(PROMPTS, num_inference_steps=3, guidance_scale=1.0, eta=0.0,
                      latents=x_t.clone(), output_type="pt").images
    assert ours.shape == (2, 32, 32, 3)
    torch.testing.assert_close(ours, theirs.permute(0, 2, 3, 1), atol=1e-5, rtol=0)


def changed(before: dict, module: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_one_step_of_each_optimizer(pipe, reward, one_torch_thread) -> None:
    denoiser = from_pipeline(pipe)
    picked = best_of_n(denoiser, PROMPTS, 2, reward, 2,
                       generator=torch.Generator().manual_seed(1))
    assert picked.pixels.shape == (2, 32, 32, 3)
    assert picked.rewards.shape == (2, 2)
    assert picked.index.tolist() == picked.rewards.argmax(dim=1).tolist()

    unet = trainable_copy(pipe.unet)
    before = {k: v.clone() for k, v in unet.state_dict().items()}
    optimizer = torch.optim.SGD(unet.parameters(), lr=1e-2)
    mean_reward, run = draft_step(denoiser, unet, optimizer, PROMPTS, reward, 2, 1,
                                  generator=torch.Generator().manual_seed(2))
    assert run.pixels.shape == (2, 32, 32, 3) and mean_reward == mean_reward
    assert changed(before, unet)
    assert not changed({k: v.clone() for k, v in pipe.unet.state_dict().items()}, pipe.unet)

    unet = trainable_copy(pipe.unet)
    before = {k: v.clone() for k, v in unet.state_dict().items()}
    optimizer = torch.optim.SGD(unet.parameters(), lr=1e-2)
    _, run = ddpo_step(denoiser, unet, optimizer, PROMPTS * 2, reward, 2,
                       PerPromptStats(16, 1), DDPOSettings(clip_range=0.2),
                       generator=torch.Generator().manual_seed(3))
    assert run.log_probs.shape == (4, 2)  # DDIM with set_alpha_to_one=False: both steps noisy
    assert changed(before, unet)
    with torch.no_grad():
        kl = sample(denoiser, PROMPTS, 2, generator=torch.Generator().manual_seed(4), unet=unet,
                    reference=pipe.unet).kl
    assert kl.shape == (2,) and bool((kl > 0).all())


def test_one_step_of_steering_noise_and_preference_optimizers(pipe, reward,
                                                              one_torch_thread) -> None:
    frozen = trainable_copy(pipe.unet).requires_grad_(False).eval()
    denoiser = dataclasses.replace(from_pipeline(pipe), unet=frozen)
    steered = fk_steer(denoiser, PROMPTS, 3, reward, 2, lam=5.0,
                       generator=torch.Generator().manual_seed(5))
    assert steered.pixels.shape == (2, 32, 32, 3) and steered.particles.shape == (6, 4, 16, 16)

    noise = torch.randn((2, 4, 16, 16), generator=torch.Generator().manual_seed(6))
    start = noise.clone()
    noise.requires_grad_(True)
    rewards, run = reno_step(denoiser, noise, torch.optim.SGD([noise], lr=1.0), PROMPTS,
                             reward, 2, max_grad_norm=0.1)
    assert run.pixels.shape == (2, 32, 32, 3) and bool(torch.isfinite(rewards).all())
    assert not torch.equal(noise.detach(), start)
    assert all(p.grad is None for p in frozen.parameters())  # the UNet is not tuned

    unet = trainable_copy(pipe.unet)
    before = {k: v.clone() for k, v in unet.state_dict().items()}

    def brighter(prompts, a, b):
        return a.mean(dim=(1, 2, 3)) > b.mean(dim=(1, 2, 3))

    share, run = d3po_step(denoiser, unet, frozen, torch.optim.SGD(unet.parameters(), lr=1e-2),
                           PROMPTS, brighter, 2, generator=torch.Generator().manual_seed(7))
    assert run.pixels.shape == (4, 32, 32, 3) and 0.0 <= share <= 1.0
    assert changed(before, unet)


def test_draft_into_lora_adapters_only(pipe, reward, one_torch_thread) -> None:
    """docs/diffusion.md's LoRA recipe: peft adapters on the attention projections, the rest
    frozen; one DRaFT step moves the adapters and nothing else."""
    peft = pytest.importorskip("peft")
    unet = trainable_copy(pipe.unet).requires_grad_(False)
    unet.add_adapter(peft.LoraConfig(r=2, lora_alpha=2,
                                     target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    trained = {n for n, p in unet.named_parameters() if p.requires_grad}
    assert trained and all("lora" in n for n in trained)
    before = {n: p.detach().clone() for n, p in unet.named_parameters()}
    optimizer = torch.optim.SGD([p for p in unet.parameters() if p.requires_grad], lr=1e-1)
    draft_step(from_pipeline(pipe), unet, optimizer, PROMPTS, reward, 2, 1,
               generator=torch.Generator().manual_seed(8))
    moved = {n for n, p in unet.named_parameters() if not torch.equal(before[n], p.detach())}
    assert moved and moved <= trained
