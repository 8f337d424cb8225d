"""LLM judges: order-averaged pairwise preference, expected rating, template files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardlab.load import load_reward_model
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge import (
    PAIRWISE_FIELDS,
    JudgeOptions,
    LLMJudge,
    default_template,
    load_template,
)
from rewardlab.protocols import PreferenceModel, RewardModel
from tiny_hf import save_causal_lm

PROMPTS = ["what is the sky", "hello", "why is water blue"]
A = ["the sky is blue", "hello world", "it is the sky"]
B = ["red", "the cat is good", "no"]


@pytest.fixture(scope="module")
def lm_folder(tmp_path_factory):
    return save_causal_lm(tmp_path_factory.mktemp("judge") / "lm")


@pytest.fixture(scope="module")
def judge(lm_folder):
    return load_reward_model(f"judge:{lm_folder}")


def next_token_probs(judge: LLMJudge, text: str) -> np.ndarray:
    """Softmax of the last-position logits of one unpadded forward."""
    ids = judge.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    assert ids[0, 0] == judge.tokenizer.bos_token_id and ids[0, 1] != judge.tokenizer.bos_token_id
    with torch.no_grad():
        return torch.softmax(judge.model(input_ids=ids).logits[0, -1].double(), -1).numpy()


def token(judge: LLMJudge, s: str) -> int:
    (tid,) = judge.tokenizer(s, add_special_tokens=False)["input_ids"]
    return tid


def test_judge_is_both_kinds_of_model(judge):
    assert isinstance(judge, PreferenceModel) and isinstance(judge, RewardModel)


def test_pairwise_averages_both_orders_by_hand(judge):
    a_id, b_id = token(judge, "A"), token(judge, "B")

    def q(prompt, first, second):
        (text,) = judge.judging_texts(judge.pairwise_template, {
            "prompt": [prompt], "response_a": [first], "response_b": [second]})
        p = next_token_probs(judge, text)
        return p[a_id] / (p[a_id] + p[b_id])

    expected = [0.5 * (q(x, a, b) + 1 - q(x, b, a)) for x, a, b in zip(PROMPTS, A, B, strict=True)]
    p_ab = judge.prob(PROMPTS, A, B)
    np.testing.assert_allclose(p_ab, expected, atol=1e-6)
    np.testing.assert_allclose(p_ab + judge.prob(PROMPTS, B, A), 1.0, atol=1e-12)
    assert np.all(np.abs(p_ab - 0.5) > 1e-7)  # the judge does express a preference


def test_expected_rating_splits_ten_from_one_by_hand(judge):
    """"10" is two tokens ("1", "0"): P(1) = P("1") − P("1","0"), P(10) = P("1","0")."""
    (text,) = judge.judging_texts(judge.rating_template, {"prompt": [PROMPTS[0]],
                                                          "response": [A[0]]})
    p = next_token_probs(judge, text)
    one, zero = token(judge, "1"), token(judge, "0")
    p10 = p[one] * next_token_probs(judge, text + "1")[zero]
    mass = {k: p[token(judge, str(k))] for k in range(2, 10)}
    mass[1], mass[10] = p[one] - p10, p10
    expected = sum(k * v for k, v in mass.items()) / sum(mass.values())
    assert judge.score(PROMPTS[:1], A[:1])[0] == pytest.approx(expected, abs=1e-6)


def test_yes_no_rating_is_p_yes(lm_folder):
    judge = load_reward_model(f"judge:{lm_folder}", judge=JudgeOptions(rating="yes-no"))
    (text,) = judge.judging_texts(judge.rating_template, {"prompt": ["hello"],
                                                          "response": ["hello world"]})
    p = next_token_probs(judge, text)
    yes, no = p[token(judge, "Yes")], p[token(judge, "No")]
    assert judge.score(["hello"], ["hello world"])[0] == pytest.approx(yes / (yes + no), abs=1e-6)


def test_batching_does_not_change_judgments(lm_folder, judge):
    one = load_reward_model(f"judge:{lm_folder}", hub=HubModelOptions(token_budget=1))
    np.testing.assert_allclose(one.prob(PROMPTS, A, B), judge.prob(PROMPTS, A, B), atol=1e-6)
    np.testing.assert_allclose(one.score(PROMPTS, A), judge.score(PROMPTS, A), atol=1e-5)


def test_templates_are_files_users_can_replace(lm_folder, tmp_path):
    text = load_template(default_template("pairwise.txt"), PAIRWISE_FIELDS)
    assert all("{" + f + "}" in text for f in PAIRWISE_FIELDS)
    mine = tmp_path / "mine.txt"
    mine.write_text("Q: {prompt}\nA: {response_a}\nB: {response_b}\nBetter:")
    judge = load_reward_model(f"judge:{lm_folder}",
                              judge=JudgeOptions(pairwise_template=str(mine)))
    (filled,) = judge.judging_texts(judge.pairwise_template, {
        "prompt": ["hello"], "response_a": ["{x} one"], "response_b": ["two"]})
    assert "Q: hello\nA: {x} one\nB: two\nBetter:" in filled
    bad = tmp_path / "bad.txt"
    bad.write_text("Q: {prompt}\nA: {response_a}\nWhich?")
    with pytest.raises(ValueError, match=r"bad.txt: judge template lacks the placeholder "
                                         r"\{response_b\}"):
        load_reward_model(f"judge:{lm_folder}", judge=JudgeOptions(pairwise_template=str(bad)))
    with pytest.raises(ValueError, match="--judge-rating: unknown rating 'stars'"):
        JudgeOptions(rating="stars")


def test_long_fields_are_cut_prompt_keeps_its_end(lm_folder):
    judge = load_reward_model(f"judge:{lm_folder}", judge=JudgeOptions(max_field_tokens=3))
    (text,) = judge.judging_texts(judge.rating_template, {
        "prompt": ["one two three four five"], "response": ["a b c d e"]})
    assert "three four five" in text and "one two" not in text
    assert "a b c" in text and "c d" not in text


@pytest.mark.slow
def test_smollm2_judge_on_hh_rlhf_harmless(shared_data):
    """The shipped SmolLM2-135M-Instruct GGUF as a judge on 100 seeded HH harmless pairs."""
    from rewardlab.data.load import load_comparisons
    from rewardlab.evaluate.pairwise import evaluate_pairs

    records = load_comparisons(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz",
                               "hh-rlhf").records
    idx = np.random.default_rng(0).choice(len(records), size=100, replace=False)
    pairs = [records[i] for i in sorted(idx)]
    judge = load_reward_model("judge:smollm2")
    report = evaluate_pairs(judge, pairs)
    assert report["n_pairs"] == 100
    probs = judge.prob([p.prompt for p in pairs[:5]], [p.chosen for p in pairs[:5]],
                       [p.rejected for p in pairs[:5]])
    back = judge.prob([p.prompt for p in pairs[:5]], [p.rejected for p in pairs[:5]],
                      [p.chosen for p in pairs[:5]])
    np.testing.assert_allclose(probs + back, 1.0, atol=1e-12)
    # recorded: 0.39 (docs/results/models.md, benchmarks/judge_accuracy.py); many P are close to ½,
    # so a few pairs may flip under other BLAS builds
    assert report["accuracy"] == pytest.approx(0.39, abs=0.05)
    assert report["length_baseline_accuracy"] == pytest.approx(0.395)
