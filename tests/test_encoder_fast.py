"""Packed (padding-free) encoder inference, token-budget batches, FLOP count, int8 mode."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from rewardlab.features.fast_encode import (
    PackedBert,
    encoder_flops,
    quantize_int8,
    supports_packing,
)
from rewardlab.features.tokens import token_budget_batches


def test_token_budget_batches_fill_the_budget_longest_first():
    # order by length: idx 1 (10), 3 (10), 0 (5), 2 (3), 4 (1)
    # first batch: longest 10 -> min(3, 20 // 10) = 2 texts; then longest 5 -> min(3, 4) = 3
    batches = token_budget_batches([5, 10, 3, 10, 1], token_budget=20, max_rows=3)
    assert [b.tolist() for b in batches] == [[1, 3], [0, 2, 4]]
    # a text longer than the budget still gets a batch of its own
    assert [b.tolist() for b in token_budget_batches([50, 2], 20, 8)] == [[0], [1]]
    with pytest.raises(ValueError, match="token_budget"):
        token_budget_batches([1], 0, 4)


def test_encoder_flops_by_hand():
    # d=2, d_ff=8: per token 2 * (4*4 + 2*2*8) = 96; 5 tokens -> 480
    # attention 4 * d * (2^2 + 3^2) = 8 * 13 = 104; one layer 584, two layers 1168
    assert encoder_flops([2, 3], n_layers=1, hidden=2, ffn=8) == 584
    assert encoder_flops([2, 3], n_layers=2, hidden=2, ffn=8) == 1168


def tiny_bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64)
    return BertModel(config).eval()


def padded_reference(model: BertModel, ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, ids))
    input_ids = torch.tensor([x + [0] * (width - len(x)) for x in ids])
    mask = (input_ids != 0).long()
    hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).float()
    return (hidden * m).sum(1) / m.sum(1), hidden[:, 0]


def test_packed_bert_equals_the_padded_model():
    model = tiny_bert()
    ids = [[1, 5, 7, 9, 2], [1, 4, 2], [1, 8, 8, 8, 8, 8, 3, 2], [1, 2]]
    with torch.inference_mode():
        mean_ref, cls_ref = padded_reference(model, ids)
        packed = PackedBert(model)
        torch.testing.assert_close(packed(ids, "mean"), mean_ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(packed(ids, "cls"), cls_ref, atol=1e-5, rtol=1e-5)
        # a text's embedding does not depend on what it is batched with
        torch.testing.assert_close(packed([ids[1]], "mean")[0], mean_ref[1], atol=1e-5, rtol=1e-5)


def test_packed_bert_pools_the_chosen_layers_in_order():
    model = tiny_bert()
    ids = [[1, 5, 7, 9, 2], [1, 4, 2], [1, 8, 8, 8, 8, 8, 3, 2]]
    width = max(map(len, ids))
    input_ids = torch.tensor([x + [0] * (width - len(x)) for x in ids])
    mask = (input_ids != 0).long()
    with torch.inference_mode():
        states = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        m = mask.unsqueeze(-1).float()
        means = [(h * m).sum(1) / m.sum(1) for h in states.hidden_states]  # 0 = embeddings
        packed = PackedBert(model)
        torch.testing.assert_close(
            packed(ids, "mean", [2, 0, 1]), torch.cat([means[2], means[0], means[1]], dim=1),
            atol=1e-5, rtol=1e-5,
        )
        torch.testing.assert_close(packed(ids, "cls", [1]), states.hidden_states[1][:, 0])


def test_layer_choices_resolve_and_bad_ones_are_refused():
    from rewardlab.features.encoder import default_layers, resolve_layers

    assert default_layers(6) == [2, 4, 6] and default_layers(12) == [4, 8, 12]
    assert default_layers(1) == [1]
    assert resolve_layers(None, 6) == [6]
    assert resolve_layers([-1, 0, -3], 6) == [6, 0, 4]
    assert resolve_layers(default_layers, 6) == [2, 4, 6]
    for bad in ([7], [-8], [2, 2], []):
        with pytest.raises(ValueError, match="layers"):
            resolve_layers(bad, 6)


def test_int8_mode_changes_outputs_but_stays_close():
    model = tiny_bert()
    ids = [[1, 5, 7, 9, 2], [1, 4, 2]]
    with torch.inference_mode():
        exact = PackedBert(model)(ids)
        quantized = quantize_int8(PackedBert(model))
        approx = quantized(ids)
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in quantized.modules())
    assert not torch.equal(exact, approx)
    cos = torch.nn.functional.cosine_similarity(exact, approx, dim=1)
    assert bool((cos > 0.9).all())


def test_packing_refuses_other_architectures():
    model = tiny_bert()
    model.config.position_embedding_type = "relative_key"
    assert not supports_packing(model)
    with pytest.raises(ValueError, match="BERT"):
        PackedBert(model)


def hh_texts(shared_data, n: int) -> list[str]:
    with gzip.open(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz", "rt") as handle:
        rows = [json.loads(next(handle)) for _ in range(n)]
    return [r["chosen"] for r in rows] + [r["chosen"].split("Assistant:")[-1] for r in rows]


@pytest.mark.encoder
def test_real_encoder_matches_sentence_transformers_across_budget_batches(shared_data):
    from sentence_transformers import SentenceTransformer

    from rewardlab.features.encoder import SentenceEncoder, bundled_encoder_path

    texts = hh_texts(shared_data, 4)
    path = bundled_encoder_path()
    encoder = SentenceEncoder(path, None, batch_size=3, max_tokens=400)
    lengths = [len(x) for x in encoder.token_ids(texts)]
    assert len(token_budget_batches(lengths, 400, 3)) >= 3, "several batches of unequal size"
    calls = []
    ours = encoder.encode(texts, progress=lambda done, total: calls.append((done, total)))
    reference = SentenceTransformer(path, device="cpu").encode(texts, batch_size=64)
    cosine = (ours * reference).sum(1)
    assert cosine.min() > 1 - 1e-6
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert calls[-1] == (len(texts), len(texts))


@pytest.mark.encoder
def test_layer_sets_have_their_own_cache_and_old_configs_load_the_last_layer(tmp_path):
    from rewardlab.features.backbones import backbone_from_config
    from rewardlab.features.encoder import EncoderBackbone

    default = EncoderBackbone(cache_dir=str(tmp_path))
    last = EncoderBackbone(cache_dir=str(tmp_path), layers=[-1])
    assert default.config()["layers"] == [2, 4, 6] and last.config()["layers"] == [6]
    assert default.dim == 2 * 1152 + 1 and last.dim == 769
    assert "|layers=2,4,6" in default.cache_identity()
    assert last.cache_identity() == last.cache_identity().split("|")[0], "last layer: old key"
    old = {k: v for k, v in last.config().items() if k != "layers"}
    rebuilt = backbone_from_config(old)
    assert rebuilt.encoder.layers == [6] and rebuilt.dim == 769
    assert backbone_from_config(default.config()).encoder.layers == [2, 4, 6]
    texts = ["one text", "and another, longer text"]
    both = default.embed(texts)
    np.testing.assert_allclose(both[:, 768:], last.embed(texts), atol=1e-6)


@pytest.mark.encoder
def test_quantized_backbone_has_its_own_cache_and_config(tmp_path, shared_data):
    from rewardlab.features.backbones import backbone_from_config
    from rewardlab.features.encoder import EncoderBackbone

    exact = EncoderBackbone(cache_dir=str(tmp_path))
    int8 = EncoderBackbone(cache_dir=str(tmp_path), quantize=True)
    assert exact.cache.folder != int8.cache.folder
    rebuilt = backbone_from_config(int8.config())
    assert rebuilt.quantize is True
    assert rebuilt.cache_identity() == int8.cache_identity() != exact.cache_identity()

    texts = hh_texts(shared_data, 2)
    a = exact.embed(texts)
    b = int8.embed(texts)
    assert not np.allclose(a, b, atol=1e-4), "int8 vectors differ from exact ones"
    assert (a * b).sum(1).min() > 0.5
    assert exact.cache.misses == int8.cache.misses == len(texts)


@pytest.mark.encoder
def test_unpackable_model_takes_the_padded_path(tmp_path):
    from transformers import AutoTokenizer

    from rewardlab.features.encoder import SentenceEncoder, bundled_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(bundled_encoder_path())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=4, intermediate_size=64,
                        position_embedding_type="relative_key")
    BertModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    encoder = SentenceEncoder(str(tmp_path), 64, batch_size=2, max_tokens=64)
    texts = ["a short one", "a somewhat longer text than the first", "mid length text"]
    out = encoder.encode(texts)
    assert not isinstance(encoder.runner, PackedBert)
    ids = encoder.token_ids(texts)
    with torch.inference_mode():
        expected, _ = padded_reference(encoder.model, ids)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-5)
