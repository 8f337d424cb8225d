"""Image backbones: the conv features recomputed by hand, CLIP features against a direct
transformers forward of a tiny random CLIP built offline, caching, and the default backbone
chosen from the responses' modality."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from rewardlab.features.backbones import (
    backbone_from_config,
    build_backbone,
    check_modality,
    default_backbone,
)
from rewardlab.features.image_conv import random_filters, word_buckets
from tiny_hf import save_tiny_clip

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RNG = np.random.default_rng(0)
IMAGES = [RNG.integers(0, 256, (10 + 3 * i, 9, 3), dtype=np.uint8) for i in range(3)]
PROMPTS = ["a red square", "Two dots, two!", ""]


def test_words_hash_to_signed_buckets_by_sha256():
    def bucket(word):
        h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return h % 16, (-1.0 if h >> 63 else 1.0)

    out = word_buckets(PROMPTS, 16)
    expected = np.zeros((3, 16))
    for i, words in enumerate([["a", "red", "square"], ["two", "dots", "two"], []]):
        for w in words:
            b, sign = bucket(w)
            expected[i, b] += sign
    norms = np.linalg.norm(expected, axis=1, keepdims=True)
    expected = np.divide(expected, norms, out=np.zeros_like(expected), where=norms > 0)
    np.testing.assert_allclose(out, expected, atol=1e-7)


def test_random_filters_have_zero_mean_and_unit_norm_and_follow_the_seed():
    w = random_filters(4, seed=3)
    assert w.shape == (4, 3, 5, 5)
    np.testing.assert_allclose(w.mean(axis=(1, 2, 3)), 0, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(w.reshape(4, -1), axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(w, random_filters(4, seed=3))
    assert not np.allclose(w, random_filters(4, seed=4))


def test_conv_features_recomputed_by_hand():
    backbone = build_backbone("conv", size=12, filters=2, grid=2, thumbnail=4, prompt_buckets=8)
    f = backbone.encode(PROMPTS, IMAGES)
    assert f.shape == (3, backbone.dim) == (3, 2 * 2 * 2**2 + 4**2 + 4 + 8 * 4**2 + 1)
    x = np.stack([np.asarray(Image.fromarray(im).resize((12, 12), Image.BILINEAR))
                  for im in IMAGES]).astype(np.float32) / 255.0
    z = torch.nn.functional.conv2d(torch.from_numpy(x).permute(0, 3, 1, 2),
                                   torch.from_numpy(random_filters(2, 0)), padding=2)
    rect = torch.cat([z.clamp(min=0), (-z).clamp(min=0)], 1).numpy()  # (3, 4, 12, 12)
    pooled = rect.reshape(3, 4, 2, 6, 2, 6).mean(axis=(3, 5)).reshape(3, -1)
    np.testing.assert_allclose(f[:, :16], pooled, atol=1e-5)
    luma = [im.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255
            for im in IMAGES]
    thumbs = np.stack([np.asarray(Image.fromarray(y, mode="F").resize((4, 4), Image.BOX))
                       for y in luma]).reshape(3, 16)
    np.testing.assert_allclose(f[:, 16:32], thumbs, atol=1e-5)
    np.testing.assert_allclose(f[:, 32:35], x.mean(axis=(1, 2)), atol=1e-5)
    y12 = x @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(f[:, 35], y12.reshape(3, -1).std(axis=1), atol=1e-5)
    shape = thumbs - thumbs.mean(axis=1, keepdims=True)
    shape /= np.linalg.norm(shape, axis=1, keepdims=True)
    cross = np.stack([np.kron(w, s) for w, s in zip(word_buckets(PROMPTS, 8), shape)])
    np.testing.assert_allclose(f[:, 36:-1], cross, atol=1e-5)
    assert not f[2, 36:-1].any()  # no words: no prompt term
    np.testing.assert_allclose(f[:, -1], np.log1p([90, 117, 144]), rtol=1e-6)
    assert backbone.length_column == backbone.dim - 1


def test_conv_features_take_every_image_form_and_rebuild_from_config():
    backbone = build_backbone("conv", size=16, filters=2, grid=2, prompt_buckets=8)
    png = [Image.fromarray(im) for im in IMAGES]
    np.testing.assert_array_equal(backbone.encode(PROMPTS, png), backbone.encode(PROMPTS, IMAGES))
    rebuilt = backbone_from_config(backbone.config())
    assert rebuilt.config() == backbone.config()
    np.testing.assert_array_equal(rebuilt.encode(PROMPTS, IMAGES), backbone.encode(PROMPTS, IMAGES))
    with pytest.raises(ValueError, match="filters must be a positive integer"):
        build_backbone("conv", filters=0)
    with pytest.raises(ValueError, match="backbone 'conv' takes no argument"):
        build_backbone("conv:x")


def test_the_default_backbone_follows_the_responses_and_a_mismatch_is_refused():
    assert default_backbone(["a text"]) == "encoder"
    assert default_backbone(IMAGES) == "conv"
    with pytest.raises(ValueError, match="backbone 'conv' featurizes image responses, but these"
                                         " are text; backbones for text: encoder, hashing"):
        check_modality(build_backbone("conv"), ["a text"])


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "model")


def direct_clip(folder, prompts, images):
    """Image and text embeddings by a direct transformers forward (no rewardlab code)."""
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

    model = CLIPModel.from_pretrained(folder).eval()
    pixels = CLIPImageProcessor.from_pretrained(folder)(
        images=[Image.fromarray(im) for im in images], return_tensors="pt")["pixel_values"]
    tokens = AutoTokenizer.from_pretrained(folder)(list(prompts), padding=True,
                                                   return_tensors="pt")
    with torch.inference_mode():
        v = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output)
        t = model.text_projection(model.text_model(**tokens).pooler_output)
    v = (v / v.norm(dim=-1, keepdim=True)).numpy()
    t = (t / t.norm(dim=-1, keepdim=True)).numpy()
    return v, t


def test_clip_features_are_the_normalized_embeddings_and_their_product(clip_folder):
    backbone = build_backbone(f"clip-vision:{clip_folder}")
    prompts = ["a red cat", "a dog", "a red cat"]
    f = backbone.encode(prompts, IMAGES)
    v, t = direct_clip(clip_folder, prompts, IMAGES)
    assert f.shape == (3, backbone.dim) == (3, 16 + 16 + 1)
    np.testing.assert_allclose(f[:, :16], v, atol=1e-5)
    np.testing.assert_allclose(f[:, 16:32], v * t, atol=1e-5)
    np.testing.assert_allclose(f[:, 16:32].sum(axis=1), (v * t).sum(axis=1), atol=1e-5)  # cos
    np.testing.assert_allclose(f[:, -1], np.log1p([90, 117, 144]), rtol=1e-6)


def test_clip_embeddings_are_cached_by_pixels(clip_folder, tmp_path):
    cache = str(tmp_path / "cache")
    backbone = build_backbone(f"clip-vision:{clip_folder}", cache_dir=cache)
    first = backbone.encode(PROMPTS[:2], IMAGES[:2])
    again = build_backbone(f"clip-vision:{clip_folder}", cache_dir=cache)
    pngs = [Image.fromarray(im) for im in IMAGES[:2]]
    np.testing.assert_array_equal(again.encode(PROMPTS[:2], pngs), first)
    assert again._cache("image", 32).lookup(IMAGES[:2])[1] == []  # both images in the cache
    assert len(list((tmp_path / "cache").rglob("*.safetensors"))) == 2  # image + text shard


def test_a_vision_only_folder_sees_no_prompt(tmp_path):
    folder = save_tiny_clip(tmp_path / "vision", vision_only=True)
    backbone = build_backbone(f"clip-vision:{folder}")
    a = backbone.encode(["a cat", "a cat"], IMAGES[:2])
    b = backbone.encode(["a dog", "two dots"], IMAGES[:2])
    assert a.shape == (2, 16 + 1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a[:, :16], axis=1), 1, atol=1e-6)
    rebuilt = backbone_from_config(backbone.config())
    np.testing.assert_array_equal(rebuilt.encode(["x", "y"], IMAGES[:2]), a)


def test_a_folder_that_is_not_clip_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        build_backbone(f"clip-vision:{tmp_path}").encode(["x"], IMAGES[:1])
    with pytest.raises(ValueError, match="needs a folder"):
        build_backbone("clip-vision")


def test_real_photographs_from_scikit_image_in_every_form():
    """scikit-image's bundled sample photographs (colour, gray, RGBA), decoded and
    featurized; a JPEG re-encoding lands close to the original in feature space."""
    import io

    from rewardlab.data.images import ImageDecodeError, decode_image
    from rewardlab.data.modality import response_statistics

    skdata = pytest.importorskip("skimage.data", reason="pip install 'rewardlab[image]'")
    astronaut, camera, logo = skdata.astronaut(), skdata.camera(), skdata.logo()
    assert decode_image(camera).shape == (512, 512, 3)
    np.testing.assert_array_equal(decode_image(logo), logo[:, :, :3])
    with pytest.raises(ImageDecodeError, match="got dtype bool"):
        decode_image(skdata.horse())
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, format="JPEG", quality=90)
    jpeg = buffer.getvalue()
    assert np.abs(decode_image(jpeg).astype(int) - astronaut).mean() < 4
    stats = response_statistics([camera])
    np.testing.assert_allclose(stats["brightness"], camera.mean() / 255, rtol=1e-9)
    np.testing.assert_allclose(stats["contrast"], camera.std() / 255, rtol=1e-9)
    backbone = build_backbone("conv")
    photos = [astronaut, jpeg, skdata.coffee(), camera]
    f = backbone.encode(["an astronaut"] * 2 + ["coffee", "a camera"], photos)
    assert f.shape == (4, backbone.dim) and np.all(np.isfinite(f))
    def cosine(a, b):
        return a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert cosine(f[0], f[1]) > 0.99 > cosine(f[0], f[2])
