"""FK steering on a real (tiny, random) language model: independent proposals per
particle, and weighted particles that follow p · exp(λ r) computed from the LM's logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardlab.optimize.generate import SamplingConfig, TransformersGenerator
from rewardlab.optimize.steering import SteeringConfig, fk_steer
from tiny_hf import save_causal_lm

PROMPT = "what is the capital city ?"


class PrefixSeeded:
    """Like TransformersGenerator: the same prefix always gets the same draws."""

    def generate(self, prompt, n):
        return self.propose(prompt, [], n)

    def propose(self, prompt, partial_steps, k):
        if partial_steps:
            return [""] * k
        rng = np.random.default_rng(len(prompt))
        return [f"s{int(i)}" for i in rng.integers(0, 1000, size=k)]


class Zero:
    def score(self, prompts, responses):
        return np.zeros(len(responses))


def test_particles_sharing_a_prefix_draw_independent_steps() -> None:
    # one propose(prompt, (), 16) call: its 16 draws, not one draw copied 16 times
    config = SteeringConfig(n_particles=16, max_steps=1, resample_every=2)
    result = fk_steer(PrefixSeeded(), Zero(), "q", config)
    firsts = sorted(p.steps[0] for p in result.particles)
    assert len(set(firsts)) > 8
    assert firsts == sorted(PrefixSeeded().propose("q", [], 16))


class FirstStepReward:
    """r = 1 when the response's first step (line) is in ``good``, else 0."""

    def __init__(self, good: set[str]):
        self.good = good

    def score(self, prompts, responses):
        return np.array([float(r.split("\n")[0] in self.good) for r in responses])


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    folder = save_causal_lm(tmp_path_factory.mktemp("steer") / "lm")
    sampling = SamplingConfig(max_step_tokens=1, temperature=0.25, top_p=1.0)
    generator = TransformersGenerator.from_path(str(folder), sampling)
    return generator.model.eval(), generator.tokenizer


def test_fk_steering_on_a_real_lm_targets_the_tilted_first_token_distribution(tiny_llama):
    model, tok = tiny_llama
    temperature, lam, seeds = 0.25, 6.0, range(8)
    sampling = SamplingConfig(max_step_tokens=1, temperature=temperature, top_p=1.0)
    # p(first token) from a direct forward: the sampler's softmax(logits / T), top_p = 1
    context = TransformersGenerator(model, tok, sampling).context_ids(PROMPT)
    with torch.no_grad():
        logits = model(torch.tensor([context])).logits[0, -1].double()
    p_token = (logits / temperature).softmax(-1).numpy()
    # a step is one token, decoded and stripped; "" (end of turn, newline, special
    # tokens) finishes the particle with no steps
    first = [tok.decode([i], skip_special_tokens=True).strip() for i in range(len(p_token))]
    classes = sorted(set(first))
    p = np.zeros(len(classes))
    np.add.at(p, [classes.index(f) for f in first], p_token)
    # reward: 1 for the two first steps the LM finds most likely, tilted by exp(6)
    good = {c for c in sorted(classes, key=lambda c: -p[classes.index(c)]) if c}
    good = set(sorted(good, key=lambda c: -p[classes.index(c)])[:2])
    tilted = p * np.exp(lam * np.array([float(c in good) for c in classes]))
    target = tilted / tilted.sum()
    # the tilt is far from p, and no single first step holds the target alone
    assert 0.5 * np.abs(p - target).sum() > 0.4
    assert target.max() < 0.6
    estimate = np.zeros(len(classes))
    for seed in seeds:
        generator = TransformersGenerator(model, tok, SamplingConfig(
            max_step_tokens=1, temperature=temperature, top_p=1.0, seed=seed))
        config = SteeringConfig(n_particles=64, max_steps=3, lam=lam, potential="difference",
                                resample_every=2, seed=seed)
        result = fk_steer(generator, FirstStepReward(good), PROMPT, config)
        assert len({particle.steps for particle in result.particles}) > 1
        for particle, weight in zip(result.particles, result.weights, strict=True):
            step = particle.steps[0] if particle.steps else ""
            estimate[classes.index(step)] += weight / len(seeds)
    # over 16 disjoint groups of 8 seeds (seeds 0-127) this TV ranged 0.003-0.060;
    # collapsed particles (one draw per prefix) or no tilt miss by > 0.4
    assert 0.5 * np.abs(estimate - target).sum() < 0.1
