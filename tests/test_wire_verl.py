"""verl's ground truth reaches a verifier, in-process and over HTTP, called the way verl's
reward managers call a custom reward function (``tests/trainer_clients.py``).

GSM8K (``../shared/data/gsm8k``): model solutions that OpenAI's release marks correct or not
(``example_model_solutions.jsonl``) must get 1.0 / 0.0 from ``rewards=math``, with the
ground truth as verl's GSM8K preprocessing writes it (the number after ``####``).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

import rewardlab.integrations.verl as verl_fn
from rewardlab.load import load_recipe, load_rewards
from rewardlab.serve.app import create_app
from rewardlab.serve.runner import BackgroundServer
from trainer_clients import extract_solution, verl_custom_reward_fn, verl_naive_call

SOLVERS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
GROUP_RECIPE = "components:\n  correct: {verifier: math, normalize: group}\n"


@pytest.fixture(autouse=True)
def _fresh_caches():
    yield
    for cached in (verl_fn._client, verl_fn._local, verl_fn._batch_dependent):
        cached.cache_clear()


@pytest.fixture(scope="module")
def gsm8k(shared_data):
    """(question, solution, ground truth, is_correct) for the first 20 problems × 4 solvers."""
    rows = []
    with open(shared_data / "gsm8k" / "example_model_solutions.jsonl", encoding="utf-8") as f:
        for line, _ in zip(f, range(20), strict=False):
            row = json.loads(line)
            truth = re.search(r"A: *(-?[\d,.]+)", row["ground_truth"]).group(1).replace(",", "")
            for solver in SOLVERS:
                rows.append((row["question"], row[solver]["solution"], truth,
                             float(row[solver]["is_correct"])))
    assert {r[3] for r in rows} == {0.0, 1.0}
    return rows


def test_in_process_math_scores_gsm8k_like_its_labels(gsm8k):
    fn = verl_custom_reward_fn(verl_fn.__file__, "compute_score", {"rewards": "math"})
    for question, solution, truth, correct in gsm8k:
        out = verl_naive_call(fn, "openai/gsm8k", solution, truth, {"question": question})
        assert out["reward_score"] == correct
        assert out["reward_extra_info"] == {"score": correct, "math": correct}


def test_gsm8k_reference_answers_and_verls_extra_keyword_arguments(shared_data):
    fn = verl_custom_reward_fn(verl_fn.__file__, "compute_score", {"rewards": "math"})
    with open(shared_data / "gsm8k" / "test.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line, _ in zip(f, range(10), strict=False)]
    for row in rows:
        truth = extract_solution(row["answer"])  # verl's reward_model.ground_truth
        wrong = row["answer"].rsplit("####", 1)[0] + f"#### {float(truth) + 1:g}"
        # verl's own reward model enabled: the reward loop adds two keyword arguments
        extra = {"reward_router_address": "10.0.0.1:9000", "reward_model_tokenizer": object()}
        right = verl_naive_call(fn, "openai/gsm8k", row["answer"], truth, {}, **extra)
        assert right["reward_score"] == 1.0
        assert verl_naive_call(fn, "openai/gsm8k", wrong, truth, {})["reward_score"] == 0.0


def test_over_http_the_ground_truth_goes_with_each_request(gsm8k):
    with BackgroundServer(create_app(load_rewards("math"))) as server:
        fn = verl_custom_reward_fn(verl_fn.__file__, "compute_score", {"url": server.url})
        got = [verl_naive_call(fn, "openai/gsm8k", s, t, {"question": q})["reward_score"]
               for q, s, t, _ in gsm8k[:24]]
        batch = verl_custom_reward_fn(verl_fn.__file__, "compute_score_batch",
                                      {"url": server.url, "batch_size": 5})
        scores = batch(data_sources=["openai/gsm8k"] * 24, solution_strs=[r[1] for r in gsm8k[:24]],
                       ground_truths=[r[2] for r in gsm8k[:24]],
                       extra_infos=[{"question": r[0]} for r in gsm8k[:24]])
    assert got == [r[3] for r in gsm8k[:24]]
    assert [s["score"] for s in scores] == got and [s["math"] for s in scores] == got


def test_a_group_recipe_is_refused_per_sample_and_kept_whole_per_batch(tmp_path):
    path = tmp_path / "grpo.yaml"
    path.write_text(GROUP_RECIPE)
    one = verl_custom_reward_fn(verl_fn.__file__, "compute_score", {"rewards": str(path)})
    with pytest.raises(ValueError, match="'correct' is normalized by group.*running"):
        one(data_source="d", solution_str="#### 4", ground_truth="4",
            extra_info={"question": "2+2?"})
    batch = {"data_sources": ["d"] * 4, "solution_strs": ["#### 4", "#### 5", "#### 6", "#### 6"],
             "ground_truths": ["4", "4", "6", "6"],
             "extra_infos": [{"question": q} for q in ("a", "a", "b", "b")]}
    # group z-scores of [1, 0] and [1, 1] with the sample std + 1e-6 (verl's GRPO form):
    # ±0.5 / (sqrt(0.5) + 1e-6), and 0 for a group without spread
    z = 0.5 / (0.5 ** 0.5 + 1e-6)
    expected = pytest.approx([z, -z, 0.0, 0.0], abs=1e-12)
    local = verl_custom_reward_fn(verl_fn.__file__, "compute_score_batch", {"rewards": str(path)})
    assert [s["score"] for s in local(**batch)] == expected
    with BackgroundServer(create_app(load_recipe(path))) as server:
        # batch_size 1 would cut every group; the server says the reward is batch dependent
        remote = verl_custom_reward_fn(verl_fn.__file__, "compute_score_batch",
                                       {"url": server.url, "batch_size": 1})
        assert [s["score"] for s in remote(**batch)] == expected
        assert httpx.get(f"{server.url}/info").json()["capabilities"]["batch_dependent"]


def test_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one of"):
        verl_fn.compute_score("d", "x", "1", {})
    with pytest.raises(ValueError, match="exactly one of"):
        verl_fn.compute_score("d", "x", "1", {}, url="http://x", rewards="math")
