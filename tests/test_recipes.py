"""Reward recipes: parsing with file-and-key errors, the combination methods computed by
hand, per-component normalization, a PRM as an outcome reward, and real model loading."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data.errors import DataError
from rewardlab.load import load_recipe, load_rewards
from rewardlab.protocols import (
    ComponentRewardModel,
    MissingReferenceError,
    ReferenceRewardModel,
    score_components,
)
from rewardlab.registry import UnknownNameError
from rewardlab.robust.recipe import (
    CombineSpec,
    Recipe,
    RunningZ,
    StepOutcomeReward,
    batch_z,
    group_z,
    step_outcome,
)

PROMPTS = ["p", "p", "q", "q"]
RESPONSES = ["The answer is 4.", "The answer is 5.", "The answer is 9.", "I do not know"]
REFS = ["4", "4", "9", "9"]


class ByResponse:
    """A model reward looked up by response."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return np.array([self.table[r] for r in responses], dtype=float)


RM = ByResponse(dict(zip(RESPONSES, [2.0, 3.0, -1.0, 0.5])))


def fake_loader(models: dict[str, object]):
    def load(path: Path, aggregate=None, center=None, **params):
        return models[Path(path).name]

    return load


def write(tmp_path: Path, recipe: dict, name: str = "recipe.json") -> Path:
    for sub in ("rm", "prm"):
        (tmp_path / sub).mkdir(exist_ok=True)
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(recipe))
    else:
        import yaml

        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def test_a_verifier_name_is_a_one_component_recipe() -> None:
    recipe = load_rewards("math")
    assert isinstance(recipe, ReferenceRewardModel) and isinstance(recipe, ComponentRewardModel)
    assert recipe.requires_reference
    total, parts = recipe.score_components(PROMPTS, RESPONSES, REFS)
    assert total.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert list(parts) == ["math"] and parts["math"].tolist() == [1.0, 0.0, 1.0, 0.0]
    with pytest.raises(UnknownNameError, match=r"unknown reward 'mth'; did you mean 'math'"):
        load_rewards("mth")
    assert not load_rewards("format").requires_reference


def test_weighted_sum_from_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "components": {"correct": {"verifier": "math"}, "rm": {"model": "rm"},
                       "fmt": {"verifier": "format", "params": {"partial_credit": True}}},
        "combine": {"method": "weighted_sum", "weights": {"correct": 2.0, "rm": 0.5}},
    }, "recipe.yaml")
    recipe = load_recipe(path, fake_loader({"rm": RM}))
    total, parts = recipe.score_components(PROMPTS, RESPONSES, REFS)
    # fmt: no tags at all → 0 for every response; weight 1 by default
    np.testing.assert_allclose(total, [2 * 1 + 0.5 * 2.0, 0.5 * 3.0, 2 * 1 - 0.5, 0.5 * 0.5])
    assert list(parts) == ["correct", "rm", "fmt"]
    np.testing.assert_array_equal(parts["rm"], [2.0, 3.0, -1.0, 0.5])


def test_gate_counts_the_model_only_when_the_verifier_passes() -> None:
    combine = CombineSpec("gate", {}, {"gate": "correct", "reward": "rm", "pass_threshold": 1.0,
                                       "otherwise": -1.0})
    recipe = Recipe({"correct": load_rewards("math").components["math"], "rm": RM}, combine)
    total, parts = recipe.score_components(PROMPTS, RESPONSES, REFS)
    np.testing.assert_allclose(total, [2.0, -1.0, -1.0, -1.0])
    np.testing.assert_array_equal(parts["correct"], [1, 0, 1, 0])


def test_bonus_is_the_tulu3_verifiable_reward_added_to_the_rm(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "components": {"rm": {"model": "rm"}, "correct": {"verifier": "math"}},
        "combine": {"method": "bonus", "reward": "rm", "bonus": "correct"},
    })
    recipe = load_recipe(path, fake_loader({"rm": RM}))
    # α = 10 by default
    np.testing.assert_allclose(recipe.score(PROMPTS, RESPONSES, REFS), [12.0, 3.0, 9.0, 0.5])


def test_constrained_uses_sigmoid_weights_and_updates_after_each_batch(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "components": {"rm": {"model": "rm"}, "correct": {"verifier": "math"}},
        "combine": {"method": "constrained", "thresholds": {"rm": 1.0}, "lr": 1.0,
                    "weights": {"correct": 3.0}},
    })
    recipe = load_recipe(path, fake_loader({"rm": RM}))
    rm = np.array([2.0, 3.0, -1.0, 0.5])
    first = recipe.score(PROMPTS, RESPONSES, REFS)
    np.testing.assert_allclose(first, 0.5 * rm + 3.0 * np.array([1, 0, 1, 0]))
    # mean rm = 1.125 > θ = 1: λ ← 0 − 1·¼·0.125
    lam = -0.25 * 0.125
    np.testing.assert_allclose(recipe.constrained_.multipliers_, [lam])
    second = recipe.score(PROMPTS, RESPONSES, REFS)
    sig = 1 / (1 + math.exp(-lam))
    np.testing.assert_allclose(second, sig * rm + 3.0 * np.array([1, 0, 1, 0]))


def test_normalizers_by_hand() -> None:
    # z = (x − mean) / (sample std + 1e-6), the trainers' GRPO convention
    eps = 1e-6
    x = np.array([1.0, 3.0, 10.0, 10.0, 4.0])
    # mean 5.6; Σ(x − 5.6)² = 21.16 + 6.76 + 19.36 + 19.36 + 2.56 = 69.2, over n − 1 = 4
    np.testing.assert_allclose(batch_z(x), (x - 5.6) / (math.sqrt(69.2 / 4) + eps), rtol=1e-12)
    # groups: a → (1, 3): mean 2, std √2; b → (10, 10): zero spread → 0; c → one sample → 0
    a = 1 / (math.sqrt(2) + eps)
    np.testing.assert_allclose(group_z(x, ["a", "a", "b", "b", "c"]), [-a, a, 0, 0, 0], rtol=1e-12)
    running = RunningZ()
    np.testing.assert_allclose(running(np.array([1.0, 3.0]), ["a", "a"]), [-a, a], rtol=1e-12)
    # after (1, 3, 5): mean 3, sample variance (4 + 0 + 4) / 2 = 4
    np.testing.assert_allclose(running(np.array([5.0]), ["a"]), [2 / (2 + eps)], rtol=1e-12)
    assert running.count_ == 3


def test_group_z_equals_the_grpo_advantage_of_verl_and_trl() -> None:
    # verl compute_grpo_outcome_advantage (volcengine/verl b178a3c): per group
    # (x − mean) / (torch.std(x) + 1e-6), torch.std unbiased; TRL's GRPOTrainer
    # (huggingface/trl f2cd577) divides by nanstd (Bessel) + 1e-4 instead
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    values = rng.normal(size=24) * 3
    prompts = [f"p{i % 5}" for i in range(24)]
    x = torch.tensor(values)
    groups = {p: [i for i, q in enumerate(prompts) if q == p] for p in set(prompts)}
    verl, trl = torch.zeros(24, dtype=torch.float64), torch.zeros(24, dtype=torch.float64)
    for members in groups.values():
        g = x[members]
        verl[members] = (g - g.mean()) / (torch.std(g) + 1e-6)
        trl[members] = (g - g.mean()) / (g.std(correction=1) + 1e-4)
    np.testing.assert_allclose(group_z(values, prompts), verl.numpy(), rtol=1e-12)
    np.testing.assert_allclose(group_z(values, prompts), trl.numpy(), rtol=1e-3)
    population = np.concatenate([(values[m] - values[m].mean()) / values[m].std()
                                 for m in groups.values()])
    assert not np.allclose(np.concatenate([group_z(values, prompts)[m] for m in groups.values()]),
                           population, rtol=1e-3)


def test_group_normalization_in_a_recipe(tmp_path: Path) -> None:
    path = write(tmp_path, {"components": {"rm": {"model": "rm", "normalize": "group"}}})
    recipe = load_recipe(path, fake_loader({"rm": RM}))
    total, parts = recipe.score_components(PROMPTS, RESPONSES)
    # p: (2, 3) → ∓0.5 / (√0.5 + ε); q: (−1, 0.5) → ∓0.75 / (√1.125 + ε); parts stay raw
    p, q = 0.5 / (math.sqrt(0.5) + 1e-6), 0.75 / (math.sqrt(1.125) + 1e-6)
    np.testing.assert_allclose(total, [-p, p, -q, q], rtol=1e-12)
    np.testing.assert_array_equal(parts["rm"], [2.0, 3.0, -1.0, 0.5])


class FakePRM:
    """Step rewards 0.9, 0.8, … by step position."""

    def score_steps(self, prompts, steps_list):
        return [np.array([0.9 - 0.1 * k for k in range(len(s))]) for s in steps_list]


def test_prm_outcome_forms_and_reductions() -> None:
    r = np.array([0.9, 0.6, 0.8])
    assert step_outcome(r, "min", "none") == pytest.approx(0.6)
    assert step_outcome(r, "last", "none") == pytest.approx(0.8)
    assert step_outcome(r, "mean", "none") == pytest.approx(2.3 / 3)
    # Clip, η = 0.7: min(r − 0.7, 0) = (0, −0.1, 0)
    assert step_outcome(r, "sum", "clip", eta=0.7) == pytest.approx(-0.1)
    assert step_outcome(r, "min", "clip", eta=0.7) == pytest.approx(-0.1)
    # Delta without the last step: (0.9 − 0.6, 0.6, 0) → sum telescopes to r_1 = 0.9
    assert step_outcome(r, "sum", "delta") == pytest.approx(0.9)
    assert step_outcome(np.array([]), "min", "none") == 0.0
    model = StepOutcomeReward(FakePRM(), reduce="last")
    np.testing.assert_allclose(model.score(["p", "p"], ["a\nb\n\nc", "only"]), [0.7, 0.9])


def test_prm_component_in_a_recipe(tmp_path: Path) -> None:
    path = write(tmp_path, {"components": {"prm": {
        "model": "prm", "steps": {"reduce": "sum", "form": "clip", "eta": 0.85}}}})
    recipe = load_recipe(path, fake_loader({"prm": FakePRM()}))
    # steps 0.9, 0.8 → clip (0, −0.05) → sum −0.05
    np.testing.assert_allclose(recipe.score(["p"], ["a\nb"]), [-0.05])


def test_transform_wraps_a_model_component(tmp_path: Path) -> None:
    path = write(tmp_path, {"components": {"rm": {"model": "rm",
                                                   "transform": {"clip": {"lo": 0, "hi": 2.5}}}}})
    recipe = load_recipe(path, fake_loader({"rm": RM}))
    np.testing.assert_allclose(recipe.score(PROMPTS, RESPONSES), [2.0, 2.5, 0.0, 0.5])


def test_a_real_saved_model_loads_through_load_reward_model(tmp_path: Path) -> None:
    from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
    from rewardlab.features.hashing import HashingBackbone
    from rewardlab.models.io import save_model
    from rewardlab.models.training.config import TrainConfig
    from rewardlab.models.training.fit import train_reward_model

    pairs = preference_pairs(generate_arena(ArenaConfig(n_prompts=10, seed=0)), 40, seed=0)
    model = train_reward_model(pairs, HashingBackbone(n_features=64),
                               TrainConfig(epochs=1, seed=0))[0]
    save_model(model, tmp_path / "rm")
    path = write(tmp_path, {"components": {"rm": {"model": "rm"}, "correct": {"verifier": "math"}},
                            "combine": {"method": "bonus", "reward": "rm", "bonus": "correct",
                                        "alpha": 5}})
    total, parts = load_recipe(path).score_components(PROMPTS, RESPONSES, REFS)
    np.testing.assert_allclose(parts["rm"], model.score(PROMPTS, RESPONSES))
    np.testing.assert_allclose(total, parts["rm"] + 5 * np.array([1, 0, 1, 0]))


def test_missing_references_name_the_caller_field(tmp_path: Path) -> None:
    path = write(tmp_path, {"components": {"rm": {"model": "rm"}, "correct": {"verifier": "math"}}})
    recipe = load_recipe(path, fake_loader({"rm": RM}))
    with pytest.raises(MissingReferenceError, match=r"field 'labels', but none was given"):
        score_components(recipe, PROMPTS, RESPONSES, None, field="labels")
    with pytest.raises(MissingReferenceError, match=r"field 'answer'; samples 2 have none"):
        score_components(recipe, PROMPTS, RESPONSES, ["4", "4", None, "9"], field="answer")


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"components": {"correct": {"verifier": "mth"}}},
         r"field 'components\.correct\.verifier': unknown verifier 'mth'; did you mean 'math'"),
        ({"components": {"rm": {"modle": "rm"}}},
         r"field 'components\.rm\.modle': unknown key 'modle'; did you mean 'model'"),
        ({"components": {"rm": {"model": "rm"}}, "combine": {"weights": {"r": 1}}},
         r"field 'combine\.weights\.r': unknown component 'r'; did you mean 'rm'"),
        ({"components": {"rm": {"model": "rm"}}, "combine": {"method": "gated"}},
         r"field 'combine\.method': unknown combination method 'gated'; did you mean 'gate'"),
        ({"components": {"rm": {"model": "rm"}}, "combine": {"method": "gate", "reward": "rm"}},
         r"field 'combine\.gate': the gate method needs this option"),
        ({"components": {"rm": {"model": "missing"}}},
         r"field 'components\.rm\.model': no model at .*missing"),
        ({"components": {"rm": {"model": "rm", "normalize": "grop"}}},
         r"unknown normalization 'grop'; did you mean 'group'"),
        ({"components": {"c": {"verifier": "math", "normalize": "batch", "steps": {}}}},
         r"field 'components\.c\.steps': only model components take this option"),
        ({"components": {"c": {"verifier": "math", "model": "rm"}}},
         r"give exactly one of 'verifier'"),
        ({"components": {}}, r"field 'components': a recipe needs at least one component"),
    ],
)
def test_bad_recipes_name_the_file_and_the_key(tmp_path: Path, recipe: dict, message: str) -> None:
    path = write(tmp_path, recipe)
    with pytest.raises(DataError, match=message) as err:
        load_recipe(path, fake_loader({"rm": RM}))
    assert str(err.value).startswith(str(path))


def test_bad_verifier_params_and_bad_json_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, {"components": {"len": {"verifier": "overlong"}}})
    with pytest.raises(DataError, match=r"field 'components\.len': verifier 'overlong': bad para"):
        load_recipe(path)
    broken = tmp_path / "broken.json"
    broken.write_text('{"components": \n {')
    with pytest.raises(DataError, match=r"broken\.json:2: not valid JSON"):
        load_recipe(broken)
