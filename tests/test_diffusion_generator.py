"""The diffusion lab's generator: a tiny config trains, samples the digits' image shape, and the
cache gives back the very weights it stored (and training is reproducible by seed)."""

from __future__ import annotations

import pytest

pytest.importorskip("diffusers")
import torch  # noqa: E402

from rewardlab.lab.diffusion.generator import (  # noqa: E402
    cached_generator,
    generator_cache_dir,
    train_generator,
)
from rewardlab.lab.diffusion.options import GeneratorConfig  # noqa: E402
from rewardlab.optimize.diffusion.sampler import sample  # noqa: E402

TINY = GeneratorConfig(channels=(8, 16), train_steps=3, gen_batch_size=8, train_timesteps=20)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_tiny_generator_trains_and_samples_digit_images(one_torch_thread) -> None:
    before = train_generator(GeneratorConfig(channels=(8, 16), train_steps=1, gen_batch_size=8,
                                             train_timesteps=20, gen_lr=1e-9))
    generator = train_generator(TINY)
    # three real optimizer steps moved the weights away from the (same-seed) initialization
    assert not _same_weights(before.unet, generator.unet)
    assert generator.info["final_loss"] > 0
    prompts = ["draw a neat 3", "a tidy handwritten seven", "write the digit 0, plain"]
    denoiser = generator.denoiser()
    assert denoiser.condition(prompts)["class_labels"].tolist() == [3, 7, 0]
    with torch.no_grad():
        run = sample(denoiser, prompts, steps=4, generator=torch.Generator().manual_seed(0))
    assert run.latents.shape == (3, 1, 8, 8)
    assert run.pixels.shape == (3, 32, 32, 3)
    assert float(run.pixels.min()) >= 0.0 and float(run.pixels.max()) <= 1.0
    # nearest ×4 upscaling of a grey image: every 4×4 block and all three channels are equal
    block = run.pixels[:, :4, :4, :]
    assert torch.equal(block, block[:, :1, :1, :1].expand_as(block))


def test_cache_returns_the_stored_weights_and_training_is_seeded(tmp_path, one_torch_thread
                                                                 ) -> None:
    first, from_cache = cached_generator(TINY, root=tmp_path)
    assert not from_cache
    assert (tmp_path / TINY.key() / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    second, from_cache = cached_generator(TINY, root=tmp_path)
    assert from_cache
    assert _same_weights(first.unet, second.unet)
    assert second.scheduler.config.num_train_timesteps == 20
    again = train_generator(TINY)  # no cache: the same seed trains the same weights
    assert _same_weights(first.unet, again.unet)
    other = GeneratorConfig(channels=(8, 16), train_steps=3, gen_batch_size=8,
                            train_timesteps=20, gen_seed=1)
    assert other.key() != TINY.key()


def test_cache_mode_off_and_read_never_write(tmp_path, monkeypatch, one_torch_thread) -> None:
    monkeypatch.setenv("REWARDLAB_CACHE_MODE", "read")
    _, from_cache = cached_generator(TINY, root=tmp_path)
    assert not from_cache and not (tmp_path / TINY.key()).exists()
    monkeypatch.setenv("REWARDLAB_CACHE", str(tmp_path / "embeddings"))
    assert generator_cache_dir() == (tmp_path / "generators").resolve()


def test_channels_must_suit_group_norm() -> None:
    with pytest.raises(ValueError, match="--channels"):
        GeneratorConfig(channels=(12, 16), train_steps=1)
