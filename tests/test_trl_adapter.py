"""The TRL reward-function adapter, a real GRPOTrainer run, and pairs.py output in DPOTrainer."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from rewardlab.data.io import write_jsonl
from rewardlab.integrations.trl import render_completion, render_prompt, reward_function
from rewardlab.models.baselines import LengthReward
from rewardlab.optimize.pairs import best_vs_worst
from rewardlab.optimize.pool import PromptPool


class Recorder:
    """Length reward that records every batch it scores."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []

    def score(self, prompts, responses) -> np.ndarray:
        self.calls.append((list(prompts), list(responses)))
        return LengthReward().score(prompts, responses)


class Uncertain:
    """reward = length, spread = 2 per response."""

    def score(self, prompts, responses) -> np.ndarray:
        return LengthReward().score(prompts, responses)

    def score_with_uncertainty(self, prompts, responses):
        return self.score(prompts, responses), np.full(len(prompts), 2.0)


def test_string_inputs_batches_and_name():
    model = Recorder()
    func = reward_function(model, batch_size=2)
    rewards = func(
        prompts=["p"] * 5,
        completions=["a", "a b", "", "a b c", "x y z w"],
        completion_ids=[[1]] * 5,
        trainer_state=None,
        log_extra=None,
        log_metric=None,
        answer=["col"] * 5,  # a dataset column arrives as a keyword argument too
    )
    assert rewards == [1.0, 2.0, 0.0, 3.0, 4.0]
    assert [len(p) for p, _ in model.calls] == [2, 2, 1]
    assert func.__name__ == "rewardlab_Recorder"
    assert reward_function(model, name="rm").__name__ == "rm"


def test_chat_inputs_are_flattened():
    prompt = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "more"},
    ]
    completion = [{"role": "assistant", "content": "one two three"}]
    expected_prompt = (
        "\n\nSystem: be brief\n\nHuman: hi\n\nAssistant: hello\n\nHuman: more\n\nAssistant:"
    )
    assert render_prompt(prompt) == expected_prompt
    assert render_prompt("plain") == "plain"
    assert render_completion(completion) == "one two three"
    model = Recorder()
    assert reward_function(model)(prompts=[prompt], completions=[completion]) == [3.0]
    assert model.calls == [([expected_prompt], ["one two three"])]
    with pytest.raises(ValueError, match="'role'"):
        render_prompt([{"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="'completions'"):
        render_completion([{"role": "user", "content": "x"}])


def test_tool_messages_and_tool_calls_are_rendered():
    call = {"type": "function", "function": {"name": "add", "arguments": {"b": 2, "a": 1}}}
    prompt = [
        {"role": "user", "content": "what is 1+2?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "name": "add", "content": "3"},
    ]
    call_text = '{"arguments": {"a": 1, "b": 2}, "name": "add"}'
    assert render_prompt(prompt) == (
        f"\n\nHuman: what is 1+2?\n\nAssistant: {call_text}\n\nTool: 3\n\nAssistant:"
    )
    # a completion that ends in a tool call (content None) renders the call's JSON
    lookup = {"function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    ends_in_call = [{"role": "assistant", "content": "let me check", "tool_calls": [lookup]}]
    assert render_completion(ends_in_call) == (
        'let me check\n{"arguments": "{\\"q\\": \\"x\\"}", "name": "lookup"}'
    )
    # an agentic completion scores its final assistant message
    agentic = [*prompt[1:], {"role": "assistant", "content": "it is three"}]
    model = Recorder()
    rewards = reward_function(model)(prompts=[prompt[:1]], completions=[agentic])
    assert rewards == [3.0] and model.calls[0][1] == ["it is three"]
    with pytest.raises(ValueError, match="'tool_calls'"):
        render_completion([{"role": "assistant", "content": None, "tool_calls": [{"x": 1}]}])
    with pytest.raises(ValueError, match="'content'"):
        render_completion([{"role": "assistant", "content": None}])


def test_uncertainty_penalty_aggregate_and_transform():
    prompts, completions = ["p", "p"], ["a b c", "a"]
    # reward − λ·spread = (3, 1) − 0.5·2
    assert reward_function(Uncertain(), uncertainty_penalty=0.5)(
        prompts=prompts, completions=completions
    ) == [2.0, 0.0]
    lower_bound = reward_function(Uncertain(), aggregate=lambda r, s: r / s)
    assert lower_bound(prompts=prompts, completions=completions) == [1.5, 0.5]
    squashed = reward_function(LengthReward(), transform=np.tanh)
    assert squashed(prompts=prompts, completions=completions) == pytest.approx(
        [math.tanh(3), math.tanh(1)]
    )
    assert reward_function(LengthReward(), transform=lambda r: np.full_like(r, np.nan))(
        prompts=prompts, completions=completions
    ) == [None, None]  # NaN rewards become None, which TRL ignores


def test_bad_configurations():
    with pytest.raises(ValueError, match="'model'"):
        reward_function(LengthReward(), uncertainty_penalty=1.0)
    with pytest.raises(ValueError, match="'uncertainty_penalty'"):
        reward_function(Uncertain(), aggregate=lambda r, s: r, uncertainty_penalty=1.0)
    with pytest.raises(ValueError, match="'completions'"):
        reward_function(LengthReward())(prompts=["a"], completions=["a", "b"])


WORDS = "the a cat dog sat on mat is good bad yes no what why how hello world".split()


def tiny_grpo_config(trl, output_dir):
    """Two GRPO steps of 4 prompts × 2 generations on the CPU, seeded, saving nothing."""
    return trl.GRPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=6,
        max_steps=2,
        logging_steps=1,
        learning_rate=1e-3,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        bf16=False,
        seed=0,
    )


@pytest.fixture(scope="module")
def tiny_lm():
    """A random 2-layer Llama with a word-level tokenizer, built offline."""
    torch = pytest.importorskip("torch")
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    backend.decoder = tokenizers.decoders.WordPiece(prefix="##")  # joins words with spaces
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}assistant {% endif %}"
    )
    config = transformers.LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=1,
    )
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config), tokenizer


@pytest.mark.parametrize("chat", [False, True], ids=["text", "chat"])
def test_grpo_trainer_logs_rewards_from_the_adapter(tiny_lm, tmp_path, chat):
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    model, tokenizer = tiny_lm
    texts = ["hello the cat", "what is good", "why the dog", "how is mat"]
    prompts = [[{"role": "user", "content": t}] for t in texts] if chat else texts
    recorder = Recorder()
    args = tiny_grpo_config(trl, tmp_path)
    trainer = trl.GRPOTrainer(
        model=copy.deepcopy(model),
        reward_funcs=reward_function(recorder, name="length"),
        args=args,
        train_dataset=datasets.Dataset.from_dict({"prompt": prompts}),
        processing_class=tokenizer,
    )
    trainer.train()
    assert len(recorder.calls) == 2  # one scoring call per step: 2 prompts × 2 generations
    seen_prompts = {p for batch, _ in recorder.calls for p in batch}
    wanted = {f"\n\nHuman: {t}\n\nAssistant:" for t in texts} if chat else set(texts)
    assert seen_prompts <= wanted
    logged = [
        h["rewards/length/mean"] for h in trainer.state.log_history if "rewards/length/mean" in h
    ]
    expected = [np.mean([len(r.split()) for r in responses]) for _, responses in recorder.calls]
    assert logged == pytest.approx(expected)


def test_pairs_jsonl_loads_in_dpo_trainer(tiny_lm, tmp_path):
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    model, tokenizer = tiny_lm
    pools = [
        PromptPool(
            "hello the cat", (" sat on the mat", " no", " a cat"), np.array([4.0, 1.0, 2.0])
        ),
        PromptPool("what is good", (" yes good", " bad"), np.array([2.0, 1.0])),
    ]
    path = tmp_path / "pairs.jsonl"
    write_jsonl(path, best_vs_worst(pools).rows)
    dataset = datasets.load_dataset("json", data_files=str(path), split="train")
    args = trl.DPOConfig(
        output_dir=str(tmp_path / "dpo"),
        per_device_train_batch_size=2,
        max_steps=1,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        bf16=False,
    )
    policy = copy.deepcopy(model)
    trainer = trl.DPOTrainer(
        model=policy,
        ref_model=copy.deepcopy(model),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    first = trainer.train_dataset[0]
    vocab = tokenizer.get_vocab()
    assert first["chosen_ids"][:4] == [vocab[w] for w in ("sat", "on", "the", "mat")]
    assert first["rejected_ids"][0] == vocab["no"]
    trainer.train()
    # the policy starts equal to the reference, so the first DPO loss is −log σ(0) = log 2
    assert trainer.state.log_history[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)


def test_adapter_scores_through_a_served_model():
    from rewardlab.serve import BackgroundServer, RemoteRewardModel, create_app

    call = {"function": {"name": "search", "arguments": {"q": "x"}}}
    completions = [
        [{"role": "assistant", "content": None, "tool_calls": [call]}],
        [{"role": "assistant", "content": "two words"}],
    ]
    prompts = [[{"role": "user", "content": "find x"}]] * 2
    with BackgroundServer(create_app(LengthReward())) as server:
        with RemoteRewardModel(server.url) as remote:
            rewards = reward_function(remote)(prompts=prompts, completions=completions)
    # '{"arguments": {"q": "x"}, "name": "search"}' is 5 whitespace words
    assert rewards == [5.0, 2.0]
