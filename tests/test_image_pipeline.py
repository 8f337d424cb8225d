"""One code path for every modality: the same pipeline runs on text and on images.

``run_pipeline`` trains an ensemble, reads it through aggregations, MC dropout,
transforms, the eval suite with calibration and probes, best-of-n, the dataset
builders, compare/STARC and save/load; it never asks what a response is. It runs on the
synthetic arena's text and on the digits' images, and every number is checked against
a computation written here from the member scores (numpy), not read back.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardlab.data.io import write_jsonl
from rewardlab.data.modality import modality_of, response_digest
from rewardlab.data.record import Comparison
from rewardlab.data.synthetic import ArenaConfig, generate_arena
from rewardlab.data.synthetic import preference_pairs as arena_pairs
from rewardlab.data.synthetic.digits import DigitsConfig, digit_pairs, generate_digits
from rewardlab.evaluate.agreement import compare_models
from rewardlab.evaluate.starc import starc_between
from rewardlab.evaluate.suite import run_evaluation
from rewardlab.features.backbones import build_backbone
from rewardlab.models.io import load_model, save_model
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.optimize.bon import best_of_n_curve
from rewardlab.optimize.pairs import best_vs_worst
from rewardlab.optimize.pool import group_by_prompt, score_texts
from rewardlab.optimize.rejection import rejection_sample
from rewardlab.robust.ensemble import AggregatedRewardModel
from rewardlab.robust.transforms import Clipped, LogSigmoidCentered, ZNormalized

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def text_task():
    """(train pairs, test pairs, pools of (prompt, candidates, golds), backbone)."""
    arena = generate_arena(ArenaConfig(n_prompts=40, candidates_per_prompt=5, seed=0))
    pairs = [p for p in arena_pairs(arena, 260, seed=1) if len(set(p.responses)) == 2]
    pools = [(item.text, [c.text for c in row], [c.gold for c in row])
             for item, row in zip(arena.items[:6], arena.candidates[:6])]
    return pairs[:200], pairs[200:], pools, build_backbone("hashing", n_features=64)


def image_task():
    digits = generate_digits(DigitsConfig(n_prompts=40, candidates_per_prompt=5, seed=0))
    train = [p for p in digit_pairs(digits, np.arange(30), 150, seed=1) if not p.tie]
    test = [p for p in digit_pairs(digits, np.arange(30, 40), 40, seed=2) if not p.tie]
    pools = [(digits.prompts[i], [c.image for c in digits.candidates[i]],
              [c.gold for c in digits.candidates[i]]) for i in range(30, 36)]
    return train, test, pools, build_backbone("conv", size=16, filters=4, prompt_buckets=32)


def run_pipeline(train, test, pools, backbone, tmp_path) -> None:
    fast = {"epochs": 8, "batch_size": 32, "l2": 0.1, "seed": 0}
    ensemble, _ = train_reward_model(train, backbone,
                                     TrainConfig(**fast, n_members=3, bootstrap=True))
    prompts = [p.prompt for p in test] * 2
    responses = [p.chosen for p in test] + [p.rejected for p in test]
    members = ensemble.score_members(prompts, responses)
    assert members.shape == (3, len(prompts)) and members.std(axis=0).max() > 0

    # aggregations and the ensemble's own uncertainty
    np.testing.assert_allclose(ensemble.score(prompts, responses), members.mean(axis=0))
    uwo = AggregatedRewardModel(ensemble, "uwo", lam=0.5).score(prompts, responses)
    np.testing.assert_allclose(uwo, members.mean(axis=0) - 0.5 * members.var(axis=0))
    wco = AggregatedRewardModel(ensemble, "wco").score(prompts, responses)
    np.testing.assert_allclose(wco, members.min(axis=0))
    mean, spread = ensemble.score_with_uncertainty(prompts, responses)
    np.testing.assert_allclose(spread, members.std(axis=0))

    # MC dropout on a single model with a dropout head
    mlp, _ = train_reward_model(train, backbone, TrainConfig(
        **fast, head="mlp", head_params={"hidden": 16, "dropout": 0.3}))
    value, mc = mlp.score_with_uncertainty(prompts[:6], responses[:6])
    np.testing.assert_allclose(value, mlp.score(prompts[:6], responses[:6]))
    assert np.all(mc > 0)
    np.testing.assert_array_equal(mlp.score_with_uncertainty(prompts[:6], responses[:6])[1], mc)

    # transforms
    scores = ensemble.score(prompts, responses)
    z = ZNormalized(ensemble, prompts, responses).score(prompts[:4], responses[:4])
    np.testing.assert_allclose(z, (scores[:4] - scores.mean()) / scores.std(), rtol=1e-9)
    np.testing.assert_allclose(Clipped(ensemble, -0.1, 0.1).score(prompts, responses),
                               np.clip(scores, -0.1, 0.1))
    refs = {prompts[0]: [responses[0], responses[len(test)]]}
    centered = LogSigmoidCentered(ensemble, refs, quantile=0.5)
    ref = np.quantile(scores[[0, len(test)]], 0.5)
    np.testing.assert_allclose(centered.score(prompts[:1], responses[:1]),
                               -np.log1p(np.exp(-(scores[0] - ref))), rtol=1e-9)

    # the eval suite: accuracy, calibration and probes on the same scores
    result = run_evaluation(ensemble, test, probes=["statistics", "length", "offtopic"])
    n = len(test)
    wins = np.where(scores[:n] > scores[n:], 1.0, np.where(scores[:n] < scores[n:], 0.0, 0.5))
    assert result["metrics"]["accuracy"] == pytest.approx(wins.mean())
    p = 1 / (1 + np.exp(-(scores[:n] - scores[n:])))
    assert result["metrics"]["brier"] == pytest.approx(np.mean((p - 1) ** 2))
    assert set(result["suite_results"]["baselines"]) == set(
        modality_of(test[0].chosen).statistics(modality_of(test[0].chosen).decode(test[0].chosen)))
    assert result["metrics"]["statistic_max_abs_pearson"] is not None

    # best-of-n over scored pools with a gold
    flat_p = [prompt for prompt, cands, _ in pools for _ in cands]
    flat_r = [c for _, cands, _ in pools for c in cands]
    gold = np.array([g for _, _, golds in pools for g in golds])
    proxy, _ = score_texts(ensemble, flat_p, flat_r, batch_size=7)
    grouped = group_by_prompt(flat_p, flat_r, proxy, gold=gold)
    k = len(pools[0][1])
    curve = {row["n"]: row for row in best_of_n_curve(grouped, [1, k])}
    assert curve[1]["proxy"] == pytest.approx(np.mean([g.scores.mean() for g in grouped]))
    assert curve[k]["proxy"] == pytest.approx(np.mean([g.scores.max() for g in grouped]))
    assert curve[k]["gold"] == pytest.approx(
        np.mean([g.gold[np.argmax(g.scores)] for g in grouped]))

    # dataset builders: the best candidate by the proxy, written as JSONL
    top = rejection_sample(grouped)
    built = best_vs_worst(grouped)
    for pool, row, pair in zip(grouped, top, built.rows):
        best, worst = int(np.argmax(pool.scores)), int(np.argmin(pool.scores))
        assert response_digest(row["completion"]) == response_digest(pool.responses[best])
        assert response_digest(pair["rejected"]) == response_digest(pool.responses[worst])
    write_jsonl(tmp_path / "top.jsonl", top)
    written = json.loads((tmp_path / "top.jsonl").read_text().splitlines()[0])
    expected = top[0]["completion"]
    if not isinstance(expected, str):  # an image is written as its digest, never as bytes
        expected = {"sha256": response_digest(expected)}
    assert written["completion"] == expected

    # compare and STARC between two models
    other, _ = train_reward_model(train, backbone, TrainConfig(**{**fast, "seed": 1}))
    agreement = compare_models([ensemble, other], test)
    d_a = scores[:n] - scores[n:]
    o = other.score(prompts, responses)
    d_b = o[:n] - o[n:]
    assert agreement["pairwise"]["0-1"]["pair_agreement"] == pytest.approx(
        np.mean(np.sign(d_a) == np.sign(d_b)))
    distance = starc_between(ensemble, other, [pp for pp, _, _ in pools],
                             [cands for _, cands, _ in pools])
    assert 0.0 <= distance <= 2.0
    assert starc_between(ensemble, ensemble, [pp for pp, _, _ in pools],
                         [cands for _, cands, _ in pools]) == pytest.approx(0.0, abs=1e-9)

    # save and load: the same scores
    save_model(ensemble, tmp_path / "model")
    np.testing.assert_allclose(load_model(tmp_path / "model").score(prompts, responses), scores,
                               atol=1e-6)


@pytest.mark.parametrize("task", [text_task, image_task], ids=["text", "image"])
def test_the_same_pipeline_runs_on_every_modality(task, tmp_path):
    train, test, pools, backbone = task()
    kinds = {modality_of(r).name for p in train + test for r in p.responses}
    assert len(kinds) == 1
    run_pipeline(train, test, pools, backbone, tmp_path)


def test_an_image_model_from_records_of_bytes_and_paths_scores_arrays_the_same(tmp_path):
    """Records may hold PNG bytes or files; a trained model scores any form of an image."""
    from rewardlab.data.images import encode_png

    train, test, _, backbone = image_task()
    as_bytes = [Comparison(p.prompt, tuple(encode_png(r) for r in p.responses), p.ranking)
                for p in train]
    model, _ = train_reward_model(as_bytes, backbone, TrainConfig(epochs=4, l2=0.1))
    reference, _ = train_reward_model(train, backbone, TrainConfig(epochs=4, l2=0.1))
    prompts = [p.prompt for p in test]
    files = []
    for i, p in enumerate(test):
        path = tmp_path / f"{i}.png"
        path.write_bytes(encode_png(p.chosen))
        files.append(path)
    arrays = [p.chosen for p in test]
    np.testing.assert_allclose(model.score(prompts, files), reference.score(prompts, arrays),
                               atol=1e-6)


@pytest.mark.parametrize("loss", ["davidson", "plackett-luce", "label-smoothing"])
def test_other_losses_train_on_images(loss):
    """The digits' ties train Davidson; rankings of several images train Plackett-Luce."""
    from rewardlab.evaluate.pairwise import evaluate_pairs

    digits = generate_digits(DigitsConfig(n_prompts=40, candidates_per_prompt=5, seed=0))
    pairs = digit_pairs(digits, np.arange(30), 150, seed=1)
    assert any(p.tie for p in pairs)
    rankings = [
        Comparison(digits.prompts[i], tuple(c.image for c in digits.candidates[i]),
                   tuple(int(j) for j in np.argsort([-c.gold for c in digits.candidates[i]])))
        for i in range(30)
    ]
    records = rankings if loss == "plackett-luce" else pairs
    backbone = build_backbone("conv", size=16, filters=4, prompt_buckets=32)
    model, report = train_reward_model(records, backbone, TrainConfig(loss=loss, epochs=6,
                                                                      l2=0.1))
    assert report.n_train_pairs > 0 and model.config["loss"]["name"] == loss
    test = [p for p in digit_pairs(digits, np.arange(30, 40), 40, seed=2) if not p.tie]
    assert evaluate_pairs(model, test)["accuracy"] > 0.6
