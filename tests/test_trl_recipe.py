"""Verifiers and recipes as TRL reward functions: the reference column, component metrics,
and a real GRPOTrainer run on a recipe of the math verifier and a trained model."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rewardlab.integrations.trl import reward_function
from rewardlab.protocols import MissingReferenceError
from rewardlab.robust.recipe import CombineSpec, Recipe
from rewardlab.verifiers import make_verifier
from test_trl_adapter import tiny_grpo_config, tiny_lm  # noqa: F401 - tiny_lm is a fixture

PROMPTS = ["q1", "q2", "q3"]
COMPLETIONS = ["The answer is 4.", "#### 9", "\\boxed{10}"]


class Metrics:
    """Collects what a reward function logs through TRL's ``log_metric``."""

    def __init__(self) -> None:
        self.logged: dict[str, list[float]] = {}

    def __call__(self, name: str, value: float) -> None:
        self.logged.setdefault(name, []).append(value)


def test_a_verifier_name_reads_the_solution_column_and_logs_its_mean():
    metrics = Metrics()
    func = reward_function("math")
    rewards = func(
        prompts=PROMPTS,
        completions=COMPLETIONS,
        solution=["4", "8", "10"],
        answer=["0", "0", "0"],  # solution comes first in the default order
        trainer_state=None,
        log_extra=None,
        log_metric=metrics,
    )
    assert rewards == [1.0, 0.0, 1.0] and func.__name__ == "rewardlab_math"
    assert metrics.logged == {"rewards/rewardlab_math/math/mean": [pytest.approx(2 / 3)]}
    # an older TRL passes no log_metric: the total alone
    assert func(prompts=PROMPTS, completions=COMPLETIONS, ground_truth=["4", "9", "1"]) == [
        1.0,
        1.0,
        0.0,
    ]


def test_the_reference_column_can_be_named_and_must_exist():
    func = reward_function("math", reference_column="gold", name="correct")
    assert func(prompts=PROMPTS, completions=COMPLETIONS, gold=["5", "9", "10"],
                solution=["4", "9", "10"]) == [0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"reference column 'gold' is not in the data \(columns: "
                                         r"solution\)"):
        func(prompts=PROMPTS, completions=COMPLETIONS, solution=["4"] * 3, log_metric=None)
    with pytest.raises(ValueError, match="none of the columns solution, answer, ground_truth"):
        reward_function("math")(prompts=PROMPTS, completions=COMPLETIONS, trainer_state=None)
    with pytest.raises(MissingReferenceError, match=r"field 'answer'; samples 1 have none"):
        reward_function("math")(prompts=PROMPTS, completions=COMPLETIONS, answer=["4", None, "1"])
    # a reference-free rule needs no column
    fmt = reward_function("format")(prompts=["p"], completions=["<think>a</think><answer>b</answer>"])
    assert fmt == [1.0]


class Words:
    """A model reward: 0.1 per word of the response."""

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([0.1 * len(r.split()) for r in responses])


class SeenReferences:
    """A reference-passing component that records every (prompt, response, reference); 0."""

    requires_reference = False

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str, object]]] = []

    def score(self, prompts, responses, references=None) -> np.ndarray:
        self.calls.append(list(zip(prompts, responses, references, strict=True)))
        return np.zeros(len(prompts))


def test_a_recipe_logs_every_component():
    recipe = Recipe(
        {"correct": make_verifier("math"), "rm": Words()},
        CombineSpec("bonus", {}, {"reward": "rm", "bonus": "correct", "alpha": 10.0}),
    )
    metrics = Metrics()
    rewards = reward_function(recipe, name="r")(
        prompts=PROMPTS, completions=COMPLETIONS, solution=["4", "8", "10"], log_metric=metrics
    )
    words = np.array([4, 2, 1]) * 0.1
    np.testing.assert_allclose(rewards, words + 10 * np.array([1, 0, 1]))
    assert metrics.logged["rewards/r/correct/mean"] == [pytest.approx(2 / 3)]
    assert metrics.logged["rewards/r/rm/mean"] == [pytest.approx(words.mean())]


def _trained_model(folder: Path):
    from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
    from rewardlab.features.hashing import HashingBackbone
    from rewardlab.load import load_reward_model
    from rewardlab.models.io import save_model
    from rewardlab.models.training.config import TrainConfig
    from rewardlab.models.training.fit import train_reward_model

    pairs = preference_pairs(generate_arena(ArenaConfig(n_prompts=10, seed=0)), 40, seed=0)
    model = train_reward_model(pairs, HashingBackbone(n_features=64), TrainConfig(epochs=1, seed=0))
    save_model(model[0], folder / "rm")
    return load_reward_model(folder / "rm")


def test_grpo_trainer_runs_on_a_math_and_model_recipe(tiny_lm, tmp_path):  # noqa: F811
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    policy, tokenizer = tiny_lm
    rm = _trained_model(tmp_path)
    seen = SeenReferences()
    recipe = Recipe(
        {"correct": make_verifier("math"), "rm": rm, "seen": seen},
        CombineSpec("weighted_sum", {"correct": 2.0, "seen": 0.0}),
    )
    texts = ["hello the cat", "what is good", "why the dog", "how is mat"]
    solutions = ["4", "7", "12", "3"]
    args = tiny_grpo_config(trl, tmp_path / "out")
    trainer = trl.GRPOTrainer(
        model=copy.deepcopy(policy),
        reward_funcs=reward_function(recipe, name="recipe"),
        args=args,
        train_dataset=datasets.Dataset.from_dict({"prompt": texts, "solution": solutions}),
        processing_class=tokenizer,
    )
    trainer.train()
    assert len(seen.calls) == 2  # one recipe call per step: 2 prompts × 2 generations
    gold = dict(zip(texts, solutions, strict=True))
    for call in seen.calls:
        assert len(call) == 4 and all(ref == gold[p] for p, _, ref in call)
    history = [h for h in trainer.state.log_history if "rewards/recipe/mean" in h]
    assert len(history) == 2
    math = make_verifier("math")
    for step, call in zip(history, seen.calls, strict=True):
        prompts, responses, refs = (list(x) for x in zip(*call, strict=True))
        correct = math.score(prompts, responses, refs)
        model = rm.score(prompts, responses)
        assert step["rewards/recipe/mean"] == pytest.approx(np.mean(2 * correct + model), abs=1e-5)
        assert step["rewards/recipe/correct/mean"] == pytest.approx(correct.mean())
        assert step["rewards/recipe/rm/mean"] == pytest.approx(model.mean(), abs=1e-5)
