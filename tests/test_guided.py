"""Generators, reward-guided beam search, FK steering and value-augmented sampling."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from rewardlab.optimize.generate import (
    Generator,
    SamplingConfig,
    StepGenerator,
    TransformersGenerator,
    nucleus_filter,
    step_end,
)
from rewardlab.optimize.guided import GuidedConfig, step_beam_search
from rewardlab.optimize.steering import (
    POTENTIALS,
    SteeringConfig,
    final_weights,
    fk_steer,
    potentials,
    resampling_weights,
)
from rewardlab.optimize.vas import (
    ValueAugmentedSampler,
    ValueFitConfig,
    VASConfig,
    collect_rollouts,
    fit_value_head,
    last_hidden,
)
from test_lm_rewards import build_tiny_lm

TREE = {(): ["a", "b"], ("a",): ["a1", "a2"], ("b",): ["b1"]}
VALUES = {"a": 1.0, "b": 0.5, "a\na1": 0.2, "a\na2": 0.3, "b\nb1": 2.0}


class Scripted:
    """Proposes the children of a node in rotation; leaves propose "" (end of turn)."""

    def __init__(self, tree=TREE):
        self.tree = tree
        self.turn: dict[tuple[str, ...], int] = {}

    def generate(self, prompt, n):
        return ["\n".join(self.tree[()][:1])] * n

    def propose(self, prompt, partial_steps, k):
        key = tuple(partial_steps)
        options = self.tree.get(key, [""])
        start = self.turn.get(key, 0)
        self.turn[key] = start + k
        return [options[(start + i) % len(options)] for i in range(k)]


class TableReward:
    def score(self, prompts, responses):
        return np.array([VALUES[r] for r in responses])


class TableProcessReward:
    """Step rewards: the table value of each prefix."""

    def score_steps(self, prompts, steps_list):
        return [
            np.array([VALUES["\n".join(s[: i + 1])] for i in range(len(s))]) for s in steps_list
        ]


def test_protocols_recognize_step_generators():
    assert isinstance(Scripted(), StepGenerator) and isinstance(Scripted(), Generator)


def test_beam_search_finds_the_path_greedy_search_misses():
    greedy = step_beam_search(
        Scripted(), TableReward(), "q", GuidedConfig(beam_width=1, expansions=2)
    )
    assert greedy.best.steps == ("a", "a2") and greedy.best.value == 0.3
    beam = step_beam_search(
        Scripted(), TableReward(), "q", GuidedConfig(beam_width=2, expansions=2)
    )
    assert beam.best.steps == ("b", "b1") and beam.best.value == 2.0
    assert beam.best.finished
    # step 1 proposes 2; step 2 proposes 2 per beam (a, b); step 3 proposes "" per beam
    assert beam.proposed == 2 + 4 + 4
    assert [b.steps for b in beam.history[0]] == [("a",), ("b",)]


def test_beam_search_with_a_process_reward_uses_the_step_reduction():
    last = step_beam_search(
        Scripted(), TableProcessReward(), "q", GuidedConfig(beam_width=2, expansions=2)
    )
    assert last.best.steps == ("b", "b1")  # last step reward 2.0
    worst = step_beam_search(
        Scripted(),
        TableProcessReward(),
        "q",
        GuidedConfig(beam_width=3, expansions=2, reduce="min"),
    )
    # min over steps: a→a1 0.2, a→a2 0.3, b→b1 0.5
    assert worst.best.steps == ("b", "b1") and worst.best.value == 0.5
    total = step_beam_search(
        Scripted(),
        TableProcessReward(),
        "q",
        GuidedConfig(beam_width=3, expansions=2, reduce="sum"),
    )
    assert total.best.value == pytest.approx(2.5)


def test_beam_search_stop_condition_ends_beams():
    result = step_beam_search(
        Scripted(),
        TableReward(),
        "q",
        GuidedConfig(beam_width=2, expansions=2),
        stop=lambda steps: len(steps) == 1,
    )
    assert result.best.steps == ("a",) and result.best.finished and result.proposed == 2


def test_potentials_and_resampling_weights_by_hand():
    history = np.array([[0.0, 1.0], [3.0, 2.0], [0.0, 0.0]])
    assert potentials(history, "max", last_resampled=1).tolist() == [1.0, 3.0, 0.0]
    assert potentials(history, "sum", last_resampled=1).tolist() == [1.0, 5.0, 0.0]
    assert potentials(history, "difference", last_resampled=1).tolist() == [1.0, -1.0, 0.0]
    # no resampling yet: the difference telescopes from r_0 = 0
    assert potentials(history, "difference", last_resampled=0).tolist() == [1.0, 2.0, 0.0]
    assert potentials(history[:, :1], "difference", last_resampled=0).tolist() == [0.0, 3.0, 0.0]
    lam = 2.0
    for kind, phi in (("max", [1, 3, 0]), ("sum", [1, 5, 0]), ("difference", [1, -1, 0])):
        e = [math.exp(lam * p) for p in phi]
        expected = [x / sum(e) for x in e]
        np.testing.assert_allclose(
            resampling_weights(history, kind, lam, last_resampled=1), expected, rtol=1e-12
        )
    np.testing.assert_allclose(
        resampling_weights(history, "max", 0.0, last_resampled=1), [1 / 3] * 3
    )
    with pytest.raises(ValueError, match="last_resampled"):
        potentials(history, "difference", last_resampled=2)


def test_difference_potential_spans_the_steps_since_the_last_resampling():
    # the repro: r = (1, 1) and (0, 0), last resampling at t = 0
    history = np.array([[1.0, 1.0], [0.0, 0.0]])
    e = math.exp(1.0)
    np.testing.assert_allclose(
        resampling_weights(history, "difference", 1.0, last_resampled=0),
        [e / (e + 1), 1 / (e + 1)],  # (0.731, 0.269)
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        resampling_weights(history, "difference", 1.0, last_resampled=1), [0.5, 0.5]
    )


def test_final_weights_by_hand():
    # exp(λ r_T) / ∏G with λ = 2: log weights 2·1 − 0.5 = 1.5 and 2·0 − (−1) = 1
    weights = final_weights(np.array([1.0, 0.0]), np.array([0.5, -1.0]), 2.0)
    np.testing.assert_allclose(weights, [1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(0.5))])


def test_fk_steering_tracks_the_potentials_of_each_lineage():
    # Scripted: step 1 proposes a, b, a, b (rewards 1, .5, 1, .5); step 2 a1/a2 or b1
    # (rewards .2/.3 or 2); resampling after step 2 only
    lam = 1.0
    for kind in POTENTIALS:
        config = SteeringConfig(
            n_particles=4, max_steps=3, lam=lam, potential=kind, resample_every=2, seed=1
        )
        result = fk_steer(Scripted(), TableReward(), "q", config)
        assert len(result.ancestors) == 1
        for particle in result.particles:
            r1, r2, r3 = particle.rewards
            assert r3 == r2  # finished at step 3, keeps its reward
            phi = {"max": max(r1, r2), "sum": r1 + r2, "difference": r2}[kind]
            assert particle.log_potential == pytest.approx(lam * phi)
        final = np.array([p.rewards[-1] for p in result.particles])
        logs = np.array([p.log_potential for p in result.particles])
        expected = np.exp(lam * final - logs)
        np.testing.assert_allclose(result.weights, expected / expected.sum(), rtol=1e-12)
        if kind == "difference":  # resampled at the last reward change: uniform weights
            np.testing.assert_allclose(result.weights, [0.25] * 4)


class CoinTree:
    """Three steps, each "L" with probability 0.7 or "R", then the empty step."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def generate(self, prompt, n):
        return ["L\nL\nL"] * n

    def propose(self, prompt, partial_steps, k):
        if len(partial_steps) == 3:
            return [""] * k
        return ["L" if u < 0.7 else "R" for u in self.rng.random(k)]


class MisleadingReward:
    """Partial solutions earn 0.5 per "L"; complete ones 1 per "R"."""

    def score(self, prompts, responses):
        steps = [r.split("\n") for r in responses]
        return np.array([s.count("R") if len(s) == 3 else 0.5 * s.count("L") for s in steps])


@pytest.mark.parametrize("resample_every", [1, 2, 3])
@pytest.mark.parametrize("kind", POTENTIALS)
def test_fk_steering_weighted_particles_target_the_tilted_distribution(kind, resample_every):
    # target over the 8 leaves: p(leaf) · exp(λ r(leaf)), p = 0.7^#L 0.3^#R, r = #R.
    # The partial rewards point the other way, so steering without the final
    # correction (or with r_t − r_{t−1} across skipped steps) misses it by a TV of
    # 0.13 to 0.48; four pooled runs of 2,500 particles land within 0.035.
    lam = 1.0
    leaves = list(itertools.product("LR", repeat=3))
    tilted = np.array(
        [0.7 ** leaf.count("L") * 0.3 ** leaf.count("R") * math.exp(lam * leaf.count("R"))
         for leaf in leaves]
    )
    target = tilted / tilted.sum()
    estimate = np.zeros(len(leaves))
    for seed in range(4):
        config = SteeringConfig(
            n_particles=2500, max_steps=4, lam=lam, potential=kind,
            resample_every=resample_every, seed=seed,
        )
        result = fk_steer(CoinTree(seed), MisleadingReward(), "q", config)
        assert result.weights.sum() == pytest.approx(1.0)
        for particle, weight in zip(result.particles, result.weights, strict=True):
            estimate[leaves.index(particle.steps)] += weight / 4
    assert 0.5 * np.abs(estimate - target).sum() < 0.06


def test_nucleus_filter_and_step_boundaries():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    assert torch.isinf(nucleus_filter(logits, 0.6)).tolist() == [[False, False, True]]
    assert torch.isinf(nucleus_filter(logits, 0.5)).tolist() == [[False, True, True]]
    assert step_end("x = 1\ny", "line") == 6 and step_end("x = 1", "line") is None
    assert step_end("It is 4. Then", "sentence") == 9 and step_end("It is 4", "sentence") is None


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_lm(0)


def greedy_manual(model, context, steps):
    ids = list(context)
    out = []
    for _ in range(steps):
        with torch.no_grad():
            nxt = int(model(torch.tensor([ids])).logits[0, -1].argmax())
        out.append(nxt)
        ids.append(nxt)
    return out


def test_transformers_generator_is_seeded_and_near_greedy_at_tiny_top_p(tiny):
    model, tok = tiny
    gen = TransformersGenerator(model, tok, SamplingConfig(max_new_tokens=4, top_p=1e-6))
    context = gen.context_ids("what is 2 + 2 ?")
    expected = greedy_manual(model, context, 4)
    eos = tok.eos_token_id
    kept = expected[: expected.index(eos)] if eos in expected else expected
    words = tok.decode(kept, skip_special_tokens=True)
    assert gen.generate("what is 2 + 2 ?", 2) == [words.strip()] * 2
    sampler = TransformersGenerator(
        model, tok, SamplingConfig(max_new_tokens=6, max_step_tokens=8, temperature=2.0)
    )
    first = sampler.generate("hello", 3)
    assert first == sampler.generate("hello", 3)
    steps = sampler.propose("hello", ["good"], 3)
    assert len(steps) == 3 and all("\n" not in s for s in steps)


def test_vas_picks_the_top_k_token_with_the_best_augmented_score(tiny):
    model, tok = tiny
    torch.manual_seed(3)
    heads = {"x": torch.nn.Linear(32, 1), "y": torch.nn.Linear(32, 1)}
    weights = {"x": 2.0, "y": -1.0}
    gen = TransformersGenerator(model, tok)
    context = gen.context_ids("hello")
    config = VASConfig(beta=5.0, top_k=4, temperature=0.0, max_new_tokens=3)
    sampler = ValueAugmentedSampler(model, tok, heads, weights, config, gen.context_ids)
    ids = list(context)
    expected = []
    with torch.no_grad():
        for _ in range(3):
            logp = model(torch.tensor([ids])).logits[0, -1].log_softmax(-1)
            top = logp.topk(4)
            scores = []
            for value, token in zip(top.values, top.indices):
                _, hidden = last_hidden(model, input_ids=torch.tensor([ids + [int(token)]]))
                h = hidden[0, -1]
                v = 2.0 * heads["x"](h) - 1.0 * heads["y"](h)
                scores.append(float(value) + 5.0 * float(v))
            token = int(top.indices[int(np.argmax(scores))])
            if token == tok.eos_token_id:
                break
            expected.append(token)
            ids.append(token)
    assert sampler.decode(context, weights, seed=0) == expected
    plain = ValueAugmentedSampler(model, tok, heads, weights, VASConfig(beta=0.0, temperature=0.0))
    assert plain.decode(context, weights, 0)[:1] == greedy_manual(model, context, 1)
    h = torch.randn(5, 32)
    with torch.no_grad():
        np.testing.assert_allclose(
            sampler.value(h, {"x": 0.5, "y": 3.0}).numpy(),
            (0.5 * heads["x"](h) + 3.0 * heads["y"](h)).squeeze(-1).numpy(),
            rtol=1e-6,
        )
    with pytest.raises(ValueError, match="unknown value heads"):
        sampler.value(h, {"z": 1.0})


def test_value_head_regresses_monte_carlo_returns(tiny):
    model, tok = tiny
    gen = TransformersGenerator(model, tok, SamplingConfig(max_new_tokens=5, temperature=1.5))

    class HasGood:
        def score(self, prompts, responses):
            return np.array([1.0 if "good" in r else -1.0 for r in responses])

    contexts, responses, rewards = collect_rollouts(gen, HasGood(), ["hello"], 2)
    assert len(contexts) == 2 and len(responses) == 2
    responses = ["good good yes", "bad bad no"]
    rewards = np.array([1.0, -1.0])
    head = fit_value_head(model, tok, contexts, responses, rewards, ValueFitConfig(epochs=200))
    with torch.no_grad():
        values = []
        for text in responses:
            ids = contexts[0] + tok(text, add_special_tokens=False)["input_ids"]
            _, hidden = last_hidden(model, input_ids=torch.tensor([ids]))
            values.append(head(hidden[0, len(contexts[0]) :]).squeeze(-1))
    # every state after a response token carries its rollout's return
    assert values[0].mean() > 0.5 and values[1].mean() < -0.5


def test_search_and_steering_run_on_a_real_lm_with_an_implicit_prm(tiny):
    from rewardlab.models.lm.derived import ImplicitProcessReward, LMScorer

    model, tok = tiny
    ref_model, _ = build_tiny_lm(1)
    prm = ImplicitProcessReward(LMScorer(model, tok), LMScorer(ref_model, tok), beta=1.0)
    gen = TransformersGenerator(model, tok, SamplingConfig(max_step_tokens=4, temperature=1.5))
    config = GuidedConfig(beam_width=2, expansions=2, max_steps=2)
    result = step_beam_search(gen, prm, "what is 2 + 2 ?", config)
    assert 1 <= len(result.best.steps) <= 2
    (rewards,) = prm.score_steps(["what is 2 + 2 ?"], [list(result.best.steps)])
    assert result.best.value == pytest.approx(rewards[-1], abs=1e-5)
    steered = fk_steer(gen, prm, "what is 2 + 2 ?", SteeringConfig(n_particles=3, max_steps=2))
    assert len(steered.particles) == 3
    assert steered.best.rewards[-1] == max(p.rewards[-1] for p in steered.particles)
