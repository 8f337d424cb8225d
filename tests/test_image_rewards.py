"""Published image reward forms (CLIP score / PickScore, LAION aesthetic MLP, HPSv2) on
tiny random checkpoints built offline, each checked against a direct forward."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rewardlab.load import load_reward_model
from rewardlab.protocols import PixelRewardModel
from tiny_clip import IMAGE, save_aesthetic_mlp, save_clip

PROMPTS = ["a red cat", "the dog is blue", "a red cat", "green water"]


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    folder = save_clip(tmp_path_factory.mktemp("clip") / "clip", seed=0, logit_scale=2.3)
    save_aesthetic_mlp(folder / "aesthetic.safetensors")
    return folder


def images(seed: int = 0, shapes=((IMAGE, IMAGE), (40, 57), (IMAGE, IMAGE), (50, 33))):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]


def direct_clip(folder, prompts, pictures):
    """CLIPModel's own forward on the folder's tokenizer and PIL image processor:
    (logits_per_image diagonal, image_embeds, text_embeds, logit_scale)."""
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    model = CLIPModel.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    proc = AutoImageProcessor.from_pretrained(folder, backend="pil")
    text = tok(prompts, padding=True, return_tensors="pt")
    pixels = proc(images=pictures, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = model(input_ids=text["input_ids"], attention_mask=text["attention_mask"],
                    pixel_values=pixels)
    return (out.logits_per_image.diagonal().numpy(), out.image_embeds.numpy(),
            out.text_embeds.numpy(), float(model.logit_scale.detach().exp()))


def test_clip_score_is_logit_scale_times_cosine_of_a_direct_forward(clip_folder):
    pictures = images()
    model = load_reward_model(f"clip:{clip_folder}")
    got = model.score(PROMPTS, pictures)
    logits, image_embeds, text_embeds, scale = direct_clip(clip_folder, PROMPTS, pictures)
    cos = np.sum(image_embeds * text_embeds, axis=1) / (
        np.linalg.norm(image_embeds, axis=1) * np.linalg.norm(text_embeds, axis=1))
    np.testing.assert_allclose(got, scale * cos, atol=1e-5)
    np.testing.assert_allclose(got, logits, atol=1e-5)
    assert scale == pytest.approx(np.exp(2.3), rel=1e-6)


def test_a_clip_folder_without_a_kind_and_every_image_form_give_the_same_reward(clip_folder):
    from PIL import Image

    pictures = images()
    expected = load_reward_model(f"clip:{clip_folder}").score(PROMPTS, pictures)
    model = load_reward_model(clip_folder)  # detected from config.json: model_type clip
    png = []
    for picture in pictures:
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        png.append(buffer.getvalue())
    np.testing.assert_allclose(model.score(PROMPTS, png), expected, atol=1e-6)
    pil = [Image.fromarray(p) for p in pictures]
    np.testing.assert_allclose(model.score(PROMPTS, pil), expected, atol=1e-6)


def test_score_pixels_equals_score_without_resampling_and_has_gradients(clip_folder):
    model = load_reward_model(f"clip:{clip_folder}")
    assert isinstance(model, PixelRewardModel)
    same = images(shapes=((IMAGE, IMAGE),) * 4)
    pixels = torch.from_numpy(np.stack(same).astype(np.float32) / 255).requires_grad_(True)
    rewards = model.score_pixels(PROMPTS, pixels)
    np.testing.assert_allclose(rewards.detach().numpy(), model.score(PROMPTS, same), atol=1e-5)
    rewards.sum().backward()
    assert pixels.grad is not None and float(pixels.grad.abs().sum()) > 0
    resized = images(shapes=((40, 57),) * 2)
    pixels = torch.from_numpy(np.stack(resized).astype(np.float32) / 255)
    near = model.score_pixels(PROMPTS[:2], pixels).detach().numpy()
    # torch's antialiased bicubic on floats vs PIL's on uint8: about a grey level apart
    np.testing.assert_allclose(near, model.score(PROMPTS[:2], resized), atol=0.05)


def test_aesthetic_mlp_by_hand_on_normalized_clip_embeddings(clip_folder):
    from safetensors.numpy import load_file

    pictures = images(1)
    _, image_embeds, _, _ = direct_clip(clip_folder, PROMPTS, pictures)
    z = image_embeds / np.linalg.norm(image_embeds, axis=1, keepdims=True)
    weights = load_file(str(clip_folder / "aesthetic.safetensors"))
    for i in (0, 2, 4):  # linear layers, no activation between them (the LAION predictor)
        z = z @ weights[f"layers.{i}.weight"].T + weights[f"layers.{i}.bias"]
    for spec in (f"aesthetic:{clip_folder}", f"aesthetic:{clip_folder / 'aesthetic.safetensors'}"):
        got = load_reward_model(spec).score(["ignored"] * 4, pictures)
        np.testing.assert_allclose(got, z[:, 0], atol=1e-5)
    model = load_reward_model(f"aesthetic:{clip_folder}")
    square = images(shapes=((IMAGE, IMAGE),) * 3)
    pixels = torch.from_numpy(np.stack(square).astype(np.float32) / 255)
    np.testing.assert_allclose(model.score_pixels(["x"] * 3, pixels).numpy(),
                               model.score(["x"] * 3, square), atol=1e-5)


def test_the_first_laion_predictor_one_linear_layer_is_read_too(clip_folder, tmp_path):
    from safetensors.torch import save_file

    folder = tmp_path / "clip"
    shutil.copytree(clip_folder, folder)
    weight, bias = torch.randn(1, 16), torch.tensor([0.3])
    save_file({"weight": weight, "bias": bias}, str(folder / "aesthetic.safetensors"))
    pictures = images(2)
    _, image_embeds, _, _ = direct_clip(folder, PROMPTS, pictures)
    z = image_embeds / np.linalg.norm(image_embeds, axis=1, keepdims=True)
    got = load_reward_model(f"aesthetic:{folder}").score(PROMPTS, pictures)
    np.testing.assert_allclose(got, z @ weight.numpy()[0] + 0.3, atol=1e-5)


def test_pickles_are_refused_with_one_line(clip_folder, tmp_path):
    from rewardlab.cli.main import app

    folder = tmp_path / "clip"
    shutil.copytree(clip_folder, folder)
    (folder / "aesthetic.safetensors").unlink()
    (folder / "aesthetic.pth").write_bytes(b"\x80\x04K\x01.")  # a pickle: never opened
    with pytest.raises(ValueError, match="aesthetic.pth is a pickle"):
        load_reward_model(f"aesthetic:{folder}")
    with pytest.raises(ValueError, match="is a pickle"):
        load_reward_model(f"aesthetic:{folder / 'aesthetic.pth'}")
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="pytorch_model.bin are a pickle"):
        load_reward_model(f"clip:{folder}")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"prompt": "a", "response": "b"}) + "\n")
    result = CliRunner().invoke(app, ["score", "--model", f"aesthetic:{folder}", "--data",
                                      str(rows), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "is a pickle" in lines[0], result.output


def test_kind_typos_get_a_did_you_mean_and_text_is_refused(clip_folder):
    with pytest.raises(ValueError, match="did you mean 'clip'"):
        load_reward_model(f"clp:{clip_folder}")
    with pytest.raises(ValueError, match="did you mean 'aesthetic'"):
        load_reward_model(f"aesthetc:{clip_folder}")
    with pytest.raises(ValueError, match="scores image responses; these are text"):
        load_reward_model(f"clip:{clip_folder}").score(["a"], ["some text"])
    with pytest.raises(ValueError, match="no members to aggregate"):
        load_reward_model(f"clip:{clip_folder}", aggregate="min")


@pytest.mark.skipif(importlib.util.find_spec("open_clip") is not None,
                    reason="open_clip is installed: the refusal path cannot be reached")
def test_hpsv2_without_open_clip_is_refused_with_one_line(tmp_path):
    from safetensors.torch import save_file

    folder = tmp_path / "hps"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": {"embed_dim": 8}}))
    save_file({"logit_scale": torch.zeros(())}, str(folder / "open_clip_model.safetensors"))
    with pytest.raises(ValueError, match="need open_clip, which is not installed") as err:
        load_reward_model(f"hpsv2:{folder}")
    assert "\n" not in str(err.value)
    (folder / "open_clip_model.safetensors").rename(folder / "HPS_v2_compressed.pt")
    with pytest.raises(ValueError, match="HPS_v2_compressed.pt is a pickle"):
        load_reward_model(f"hpsv2:{folder}")


def test_hpsv2_equals_open_clip_cosine(tmp_path):
    """Runs where open_clip is installed: a tiny open_clip model through hpsv2:PATH equals
    encode_image · encode_text of open_clip itself."""
    open_clip = pytest.importorskip("open_clip")
    from safetensors.torch import save_file

    cfg = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 32,
                                           "patch_size": 8, "head_width": 16},
           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                        "layers": 2}}
    folder = tmp_path / "hps"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    torch.manual_seed(0)
    reference = open_clip.create_model(f"local-dir:{folder}", load_weights=False).eval()
    save_file(reference.state_dict(), str(folder / "open_clip_model.safetensors"))
    model = load_reward_model(f"hpsv2:{folder}")
    square = images(shapes=((32, 32),) * 4)
    x = torch.from_numpy(np.stack(square).astype(np.float32) / 255).permute(0, 3, 1, 2)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])[None, :, None, None]
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711])[None, :, None, None]
    tok = open_clip.get_tokenizer(f"local-dir:{folder}")
    with torch.no_grad():
        image = reference.encode_image((x - mean) / std, normalize=True)
        text = reference.encode_text(tok(PROMPTS), normalize=True)
    np.testing.assert_allclose(model.score(PROMPTS, square),
                               (image * text).sum(-1).numpy(), atol=1e-5)
