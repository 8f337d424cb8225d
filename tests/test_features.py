"""Backbones: how pairs are joined, hashing features, the encoder and its cache."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.features.backbones import backbone_from_config, build_backbone
from rewardlab.features.cache import EmbeddingCache
from rewardlab.features.hashing import HashingBackbone
from rewardlab.features.join import join_pair, join_truncated, prompt_token_budget


def whitespace_spans(texts):
    spans = []
    for text in texts:
        out, start = [], 0
        for word in text.split():
            begin = text.index(word, start)
            out.append((begin, begin + len(word)))
            start = begin + len(word)
        spans.append(out)
    return spans


def test_join_keeps_everything_when_it_fits():
    assert join_pair("Q?", "A.") == "Q?\n\nA."
    assert join_pair("", "A.") == "A."
    assert join_truncated(["a b c"], ["x y"], 64, whitespace_spans) == ["a b c\n\nx y"]


def test_join_cuts_prompt_from_the_left():
    prompt = " ".join(f"p{i}" for i in range(30))
    response = " ".join(f"r{i}" for i in range(10))
    # budget 32 tokens: 32 - 2 special - 0 separator words - 10 response = 20 prompt tokens
    assert prompt_token_budget(30, 10, 32) == 20
    (joined,) = join_truncated([prompt], [response], 32, whitespace_spans)
    kept_prompt, kept_response = joined.split("\n\n")
    assert kept_prompt.split() == [f"p{i}" for i in range(10, 30)]
    assert kept_response == response


def test_long_response_still_keeps_a_quarter_of_the_budget_for_the_prompt():
    assert prompt_token_budget(100, 500, 64) == 16
    assert prompt_token_budget(5, 500, 64) == 5


def test_hashing_features_shape_and_length_feature():
    backbone = HashingBackbone(n_features=64)
    x = backbone.encode(["q", "q"], ["one", "one two three"])
    assert x.shape == (2, backbone.dim) == (2, 257)
    np.testing.assert_allclose(x[:, -1], np.log1p([1, 3]), rtol=1e-6)
    assert not np.allclose(x[0, :-1], x[1, :-1])


def test_backbone_config_round_trip():
    backbone = build_backbone("hashing", n_features=128)
    rebuilt = backbone_from_config(backbone.config())
    np.testing.assert_array_equal(
        rebuilt.encode(["p"], ["some text"]), backbone.encode(["p"], ["some text"])
    )
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("bagofwords")


def test_cache_stores_and_finds_vectors(tmp_path):
    cache = EmbeddingCache("model-a", 128, tmp_path)
    found, missing = cache.lookup(["x", "y"])
    assert missing == [0, 1] and found == [None, None]
    cache.store(["x", "y"], np.array([[1, 2], [3, 4]], np.float32))
    reopened = EmbeddingCache("model-a", 128, tmp_path)
    found, missing = reopened.lookup(["y", "z", "x"])
    assert missing == [1]
    np.testing.assert_array_equal(found[0], [3, 4])
    np.testing.assert_array_equal(found[2], [1, 2])
    assert (reopened.hits, reopened.misses) == (2, 1)
    other_length = EmbeddingCache("model-a", 256, tmp_path)
    assert other_length.lookup(["x"])[1] == [0]
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.encoder
def test_encoder_matches_sentence_transformers_and_hits_cache(tmp_path):
    from sentence_transformers import SentenceTransformer

    from rewardlab.features.encoder import EncoderBackbone

    backbone = EncoderBackbone(cache_dir=str(tmp_path))
    prompts = ["What is the capital of France?", "Say hi."]
    responses = ["Paris is the capital of France.", "Hello there!"]
    features = backbone.encode(prompts, responses)
    assert backbone.encoder.layers == [2, 4, 6]
    assert features.shape == (2, 2 * 3 * 384 + 1) and backbone.length_column == 2304
    reference = SentenceTransformer(backbone.model_path, device="cpu")
    expected = reference.encode([f"{p}\n\n{r}" for p, r in zip(prompts, responses)] + responses)
    # the last of each text's three blocks is the model's own sentence embedding
    np.testing.assert_allclose(features[:, 768:1152], expected[:2], atol=1e-5)
    np.testing.assert_allclose(features[:, 1920:2304], expected[2:], atol=1e-5)
    np.testing.assert_allclose(features[:, -1], np.log1p([6, 2]), rtol=1e-6)
    assert backbone.cache.misses == 4 and backbone.cache.hits == 0

    again = EncoderBackbone(cache_dir=str(tmp_path))
    np.testing.assert_array_equal(again.encode(prompts, responses), features)
    assert again.cache.hits == 4 and again.cache.misses == 0
    assert again.encoder._model is None, "a full cache hit must not load the weights"


def test_cache_mode_read_uses_but_never_grows_the_cache(tmp_path, monkeypatch):
    """REWARDLAB_CACHE_MODE=read (what `rewardlab serve` sets) finds stored vectors but
    writes no shard and keeps no new vector in memory; off ignores the cache; a typo fails."""
    cache = EmbeddingCache("model", 128, tmp_path)
    cache.store(["known"], np.ones((1, 3), np.float32))
    monkeypatch.setenv("REWARDLAB_CACHE_MODE", "read")
    reader = EmbeddingCache("model", 128, tmp_path)
    found, missing = reader.lookup(["known", "new"])
    assert missing == [1] and np.array_equal(found[0], np.ones(3, np.float32))
    reader.store(["new"], np.zeros((1, 3), np.float32))
    assert len(list(cache.folder.glob("*.safetensors"))) == 1
    assert reader.lookup(["new"])[1] == [0]
    monkeypatch.setenv("REWARDLAB_CACHE_MODE", "off")
    assert EmbeddingCache("model", 128, tmp_path).lookup(["known"])[1] == [0]
    monkeypatch.setenv("REWARDLAB_CACHE_MODE", "sometimes")
    with pytest.raises(ValueError, match="REWARDLAB_CACHE_MODE"):
        EmbeddingCache("model", 128, tmp_path).lookup(["known"])
