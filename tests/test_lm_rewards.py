"""LM-derived rewards on a tiny random Llama with a word-level tokenizer built offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardlab.models.lm.derived import (
    FollowUpReward,
    ImplicitProcessReward,
    LMScorer,
    LMScoringConfig,
    density_ratio_reward,
    dpo_implicit_reward,
    render_parts,
    to_messages,
)
from rewardlab.models.lm.loading import lm_cache_dir, load_causal_lm, truncated_copy

WORDS = (
    "user assistant system hello world yes no thanks good bad the answer is what why how "
    "1 2 3 4 5 = + . , ! ? that s not exactly i needed great wrong help perfect this it "
    "doesn t asked for a lot thank you at all"
).split()
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.add_special_tokens(specials)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>"
    )
    tok.chat_template = TEMPLATE
    return tok


def build_tiny_lm(seed: int = 0, layers: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return LlamaForCausalLM(config).eval(), tok


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_lm(0)


@pytest.fixture(scope="module")
def other():
    return build_tiny_lm(1)


PROMPTS = [
    "what is 2 + 2 ?",
    "\n\nHuman: hello\n\nAssistant: hello world\n\nHuman: why ?\n\nAssistant:",
]
RESPONSES = ["the answer is 4 .", "that is good"]


def manual_logprob(model, tok, prompt: str, response: str) -> tuple[float, int]:
    """log π(response + end-of-turn | rendered prompt), one unpadded forward, by hand."""
    messages = to_messages(prompt)
    context = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(
        [*messages, {"role": "assistant", "content": response}], tokenize=False
    )
    ctx_ids = tok(context, add_special_tokens=False)["input_ids"]
    target = tok(full[len(context) :], add_special_tokens=False)["input_ids"]
    ids = torch.tensor([ctx_ids + target])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].double(), -1)
    picked = [logp[len(ctx_ids) - 1 + t, target[t]].item() for t in range(len(target))]
    return float(sum(picked)), len(target)


def test_to_messages_splits_hh_transcripts():
    assert to_messages(PROMPTS[1]) == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hello world"},
        {"role": "user", "content": "why ?"},
    ]
    assert to_messages("plain question") == [{"role": "user", "content": "plain question"}]


def test_render_parts_splits_the_template_around_new_turns(tiny):
    _, tok = tiny
    before, bridge, after = render_parts(
        tok, [{"role": "user", "content": "hi"}], ["assistant", "user"]
    )
    assert before == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert bridge == "<|im_end|>\n<|im_start|>user\n"
    assert after == "<|im_end|>\n"


def test_response_logprob_masks_the_prompt_and_matches_a_manual_forward(tiny):
    model, tok = tiny
    scorer = LMScorer(model, tok, LMScoringConfig(batch_size=2))
    got = scorer.response_logprobs(PROMPTS, RESPONSES)  # one padded batch of unequal rows
    for i in range(2):
        expected, _ = manual_logprob(model, tok, PROMPTS[i], RESPONSES[i])
        assert got[i] == pytest.approx(expected, abs=1e-4)
    # response "the answer is 4 ." = 5 words + <|im_end|>; nothing of the prompt is counted
    context, (target,) = scorer.encode(PROMPTS[0], [RESPONSES[0]])
    assert len(target) == manual_logprob(model, tok, PROMPTS[0], RESPONSES[0])[1] == 6
    assert tok.convert_ids_to_tokens(target) == ["the", "answer", "is", "4", ".", "<|im_end|>"]
    per_token = scorer.token_logprobs([context], [target])[0]
    assert per_token.shape == (6,)
    assert np.all(per_token < 0)


def test_long_inputs_keep_the_response_head_and_the_context_tail(tiny):
    model, tok = tiny
    scorer = LMScorer(model, tok, LMScoringConfig(max_length=8, min_context=3))
    context, (target,) = scorer.encode("hello world yes no good bad", ["1 2 3 4 5 = +"])
    # budget for the response = 8 − min(len(context), 3) = 5 tokens; context keeps its last 3
    assert tok.convert_ids_to_tokens(target) == ["1", "2", "3", "4", "5"]
    assert tok.convert_ids_to_tokens(context) == ["<|im_end|>", "<|im_start|>", "assistant"]


def test_dpo_implicit_reward_is_zero_for_identical_models_and_beta_times_the_gap(tiny, other):
    policy = LMScorer(*tiny)
    assert np.array_equal(dpo_implicit_reward(policy, policy).score(PROMPTS, RESPONSES), [0.0, 0.0])
    reference = LMScorer(*other)
    got = dpo_implicit_reward(policy, reference, beta=0.5).score(PROMPTS, RESPONSES)
    for i in range(2):
        lp_pi, _ = manual_logprob(*tiny, PROMPTS[i], RESPONSES[i])
        lp_ref, _ = manual_logprob(*other, PROMPTS[i], RESPONSES[i])
        assert got[i] == pytest.approx(0.5 * (lp_pi - lp_ref), abs=1e-4)
    with pytest.raises(ValueError, match="beta"):
        dpo_implicit_reward(policy, reference, beta=0.0)


def test_density_ratio_is_strong_minus_weak_log_likelihood(tiny):
    model, tok = tiny
    weak_model = truncated_copy(model, 1)
    assert len(weak_model.model.layers) == 1 and len(model.model.layers) == 2
    got = density_ratio_reward(LMScorer(model, tok), LMScorer(weak_model, tok)).score(
        PROMPTS, RESPONSES
    )
    for i in range(2):
        strong, _ = manual_logprob(model, tok, PROMPTS[i], RESPONSES[i])
        weak, _ = manual_logprob(weak_model, tok, PROMPTS[i], RESPONSES[i])
        assert got[i] == pytest.approx(strong - weak, abs=1e-4)
        assert abs(got[i]) > 1e-3  # the truncated copy is a different model


def test_follow_up_reward_matches_a_manual_computation_of_each_follow_up(tiny):
    model, tok = tiny
    scorer = LMScorer(model, tok, LMScoringConfig(batch_size=2))
    positive, negative = ("thanks , good .", "great help"), ("that is wrong",)
    followups = [*positive, *negative]
    cached = scorer.followup_logprobs(PROMPTS, RESPONSES, followups)
    for i in range(2):
        messages = to_messages(PROMPTS[i])
        text = (
            tok.apply_chat_template(
                [*messages, {"role": "assistant", "content": RESPONSES[i]}], tokenize=False
            )
            + "<|im_start|>user\n"
        )
        prefix = tok(text, add_special_tokens=False)["input_ids"]
        for j, follow in enumerate(followups):
            f_ids = tok(follow, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([prefix + f_ids])
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits[0].double(), -1)
            expected = sum(logp[len(prefix) - 1 + t, f_ids[t]].item() for t in range(len(f_ids)))
            assert cached[i, j] == pytest.approx(expected, abs=1e-4)
    reward = FollowUpReward(scorer, positive, negative).score(PROMPTS, RESPONSES)
    expected = (cached[:, 0] + cached[:, 1]) / 2 - cached[:, 2]
    np.testing.assert_allclose(reward, expected, atol=1e-9)


def test_implicit_process_reward_sums_token_ratios_per_line(tiny, other):
    policy, reference = LMScorer(*tiny), LMScorer(*other)
    steps = ["2 + 2 = 4", "the answer is 4 ."]
    prm = ImplicitProcessReward(policy, reference, beta=0.5)
    (got,) = prm.score_steps([PROMPTS[0]], [steps])
    assert got.shape == (2,)
    tok = tiny[1]
    context = tok.apply_chat_template(
        to_messages(PROMPTS[0]), tokenize=False, add_generation_prompt=True
    )
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    first = tok("2 + 2 = 4\n", add_special_tokens=False)["input_ids"]  # 5 tokens
    second = tok("the answer is 4 .", add_special_tokens=False)["input_ids"]  # open turn
    ids = torch.tensor([ctx + first + second])
    per_model = []
    for model in (tiny[0], other[0]):
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].double(), -1)
        target = first + second
        lps = [logp[len(ctx) - 1 + t, target[t]].item() for t in range(len(target))]
        per_model.append((sum(lps[:5]), sum(lps[5:])))
    expected = [0.5 * (per_model[0][k] - per_model[1][k]) for k in range(2)]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert prm.score([PROMPTS[0]], ["\n".join(steps)])[0] == pytest.approx(sum(expected), abs=1e-4)
    (zero,) = ImplicitProcessReward(policy, policy).score_steps([PROMPTS[0]], [steps])
    assert np.array_equal(zero, [0.0, 0.0])


def test_saved_folder_loads_back_with_the_same_logits(tiny, tmp_path):
    model, tok = tiny
    model.save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    loaded, loaded_tok = load_causal_lm(tmp_path / "lm")
    ids = torch.tensor([[4, 5, 6, 7]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, loaded(ids).logits, atol=1e-6)
    assert loaded_tok.chat_template == TEMPLATE


def test_lm_cache_dir_sits_beside_the_embedding_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("REWARDLAB_CACHE", str(tmp_path / "embeddings"))
    assert lm_cache_dir() == (tmp_path / "lm").resolve()


def test_truncated_copy_rejects_bad_depths(tiny):
    with pytest.raises(ValueError, match="keep_layers"):
        truncated_copy(tiny[0], 3)


@pytest.mark.slow
def test_real_smollm2_prefers_the_right_answer():
    """Converts (or reuses) SmolLM2-135M-Instruct and checks its likelihoods make sense."""
    from rewardlab.models.lm.loading import find_smollm2_gguf

    try:
        find_smollm2_gguf()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    scorer = LMScorer.from_path(config=LMScoringConfig(max_length=128))
    prompt = "What is the capital of France?"
    lp = scorer.response_logprobs(
        [prompt, prompt], ["The capital of France is Paris.", "The capital of France is Berlin."]
    )
    assert lp[0] > lp[1]
    weak = LMScorer(truncated_copy(scorer.model, 20), scorer.tokenizer, scorer.config)
    assert np.isfinite(density_ratio_reward(scorer, weak).score([prompt], ["Paris."])).all()


def test_to_messages_accepts_a_transcript_without_the_leading_blank_line():
    assert to_messages("Human: hi\n\nAssistant:") == [{"role": "user", "content": "hi"}]
    text = "Compare these:\n\nHuman: x\n\nAssistant: y"
    assert to_messages(text) == [{"role": "user", "content": text}]
