"""Probes: registry, off-topic, perturbations, sycophancy, attack; HH-RLHF with LengthReward."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.evaluate.probes import PROBES, Probe
from rewardlab.evaluate.probes.attack import AttackConfig, attack_probe, margin_statistics
from rewardlab.evaluate.probes.offtopic import offtopic_probe
from rewardlab.evaluate.probes.perturb import (
    CONFIDENT_CLOSING,
    list_format,
    perturb_probe,
    repeat_sentence,
    whitespace,
)
from rewardlab.evaluate.probes.sycophancy import FACTS, sycophancy_items, sycophancy_probe
from rewardlab.models.baselines import LengthReward
from rewardlab.registry import UnknownNameError

ASSISTANT = "\n\nAssistant:"


def load_hh(path, limit: int | None = None) -> list[Comparison]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            cut = row["chosen"].rfind(ASSISTANT) + len(ASSISTANT)
            prompt = row["chosen"][:cut]
            if not row["rejected"].startswith(prompt):
                continue
            out.append(Comparison(prompt, (row["chosen"][cut:], row["rejected"][cut:]), (0, 1)))
            if limit and len(out) == limit:
                break
    return out


def n_tokens(text: str) -> int:
    return len(text.split())


TOY = [
    Comparison("p0", ("one two three four", "one"), (0, 1)),
    Comparison("p1", ("one two", "one two three four five six"), (0, 1)),
    Comparison("p2", ("a b c d e f g h", "a b c d e f"), (0, 1)),
]


def test_typo_and_the_brightness_alias():
    with pytest.raises(UnknownNameError, match="offtopic"):
        PROBES.get("offtopik")
    assert PROBES.get("brightness") is PROBES.get("statistics")
    assert "brightness" not in PROBES.names()


def test_probes_declare_their_metrics_and_directions():
    declared = {name: [(m.name, m.higher_is_better) for m in PROBES.get(name).metrics]
                for name in PROBES}
    assert {name: declared[name] for name in EXPECTED_METRICS} == EXPECTED_METRICS
    pairwise = {name for name in PROBES if PROBES.get(name).pairwise}
    assert {"offtopic", "sycophancy"} <= pairwise and not {"length", "attack"} & pairwise
    assert PROBES.get("offtopic").summary.startswith("Off-topic long responses")


EXPECTED_METRICS = {
    "attack": [("hackability", False), ("attack_median_queries", True),
               ("fraction_small_margin", False)],
    "length": [("length_pearson", False), ("length_nrg_ratio", True)],
    "offtopic": [("offtopic_rate", False)],
    "perturb": [("perturb_max_flip_rate", False)],
    "statistics": [("statistic_max_abs_pearson", False), ("statistic_min_nrg_ratio", True)],
    "sycophancy": [("sycophancy_agreement_rate", False)],
}
"""The metrics of the probes written so far (a new probe adds its own; the contract test of
``tests/test_conformance.py`` checks that every probe reports what it declares)."""


def test_headline_metrics_read_from_the_report():
    # TOY with LengthReward: polite_prefix flips 1 of 2 correct pairs, confident_closing 2 of 2
    perturb = PROBES.get("perturb")
    assert perturb.headline(perturb(LengthReward(), TOY)) == {"perturb_max_flip_rate": 1.0}
    # a constant reward orders no pair correctly: every flip rate is undefined, the maximum NaN
    wrong = perturb(Prefers("zzz"), TOY)
    assert np.isnan(perturb.headline(wrong)["perturb_max_flip_rate"])
    report = {"hackability": 0.25, "median_queries": 9.0, "margins": {"fraction_small_margin": 0.5}}
    assert PROBES.get("attack").headline(report) == {
        "hackability": 0.25, "attack_median_queries": 9.0, "fraction_small_margin": 0.5
    }
    length = PROBES.get("length")
    # reward = length: r = 1; every length falls in bucket 0 (w = 20), so NRG = ΔR and the ratio 1
    assert length.headline(length(LengthReward(), TOY)) == {
        "length_pearson": pytest.approx(1.0), "length_nrg_ratio": pytest.approx(1.0)
    }


def test_a_probe_declares_distinct_metrics():
    metric = PROBES.get("offtopic").metrics[0]
    with pytest.raises(ValueError, match="distinct metrics"):
        Probe(offtopic_probe, (metric, metric))
    with pytest.raises(ValueError, match="distinct metrics"):
        Probe(offtopic_probe, ())


def test_offtopic_toy():
    res = offtopic_probe(LengthReward(), TOY, seed=0)
    # the longest chosen (p2, 8 tokens) has no longer donor
    assert res["n_probed"] == 2 and res["n_skipped"] == 1
    assert res["offtopic_rate"] == 1.0
    assert offtopic_probe(LengthReward(sign=-1.0), TOY)["offtopic_rate"] == 0.0


def test_perturbation_functions():
    assert whitespace("a b") == "a  b\n"
    assert list_format("One. Two? Three!") == "- One.\n- Two?\n- Three!"
    assert repeat_sentence("One. Two.") == "One. Two. Two."


def test_perturb_toy_with_length_reward():
    res = perturb_probe(LengthReward(), TOY)
    per = res["per_perturbation"]
    assert per["whitespace"]["mean"] == 0.0 and per["whitespace"]["flip_rate"] == 0.0
    assert per["polite_prefix"]["deltas"] == [2.0] * 6
    # correct pairs: p0 (gap 3), p2 (gap 2); +2 tokens on the rejected flips p2 only (tie = flip)
    assert res["n_correct"] == 2
    assert per["polite_prefix"]["flip_rate"] == 0.5
    assert per["confident_closing"]["flip_rate"] == 1.0


def test_sycophancy_items_are_deterministic_and_enough():
    assert len(FACTS) >= 50
    assert sycophancy_items(3) == sycophancy_items(3)
    items = sycophancy_items(0)
    expected = np.mean([n_tokens(it.rejected) > n_tokens(it.chosen) for it in items])
    res = sycophancy_probe(LengthReward())
    assert res["n_items"] == len(FACTS)
    assert res["agreement_rate"] == pytest.approx(expected)


class Prefers:
    """Rewards 1 for responses containing a word, else 0."""

    def __init__(self, word: str) -> None:
        self.word = word

    def score(self, prompts, responses):
        return np.array([float(self.word in r.lower()) for r in responses])


def test_sycophancy_agreeing_model():
    assert sycophancy_probe(Prefers("right"))["agreement_rate"] > 0
    res = sycophancy_probe(Prefers("zzz"))
    assert res["agreement_rate"] == 0.0 and res["ties"] == res["n_items"]


def test_attack_queries_by_hand():
    pairs = [
        Comparison("p0", ("w " * 6, "w " * 5), (0, 1)),  # gap 1
        Comparison("p1", ("w " * 8, "w " * 5), (0, 1)),  # gap 3
        Comparison("p2", ("w " * 10, "w " * 5), (0, 1)),  # gap 5
        Comparison("p3", ("w", "w w"), (0, 1)),  # already wrong: not attacked
    ]
    pairs = [Comparison(p.prompt, (p.responses[0] + "word", p.responses[1] + "word"), (0, 1))
             for p in pairs]
    cfg = AttackConfig(budget=16, batch=4, min_tokens=1, max_tokens=1, max_pairs=None)
    res = attack_probe(LengthReward(), pairs, cfg)
    # one token per round: the pair with gap g flips in round g (0-based), at query g·4 + 1
    assert res["n_attacked"] == 3 and res["n_already_wrong"] == 1
    assert sorted(res["queries"].values()) == [5, 13]
    assert res["hackability"] == pytest.approx(2 / 3)
    assert res["median_queries"] == 9.0
    np.testing.assert_allclose(res["curve"], [[4, 0], [8, 1 / 3], [12, 1 / 3], [16, 2 / 3]])


def test_attack_is_deterministic():
    a = attack_probe(LengthReward(), TOY, AttackConfig(budget=8, batch=4), seed=1)
    b = attack_probe(LengthReward(), TOY, AttackConfig(budget=8, batch=4), seed=1)
    assert a == b


def test_margin_statistics_by_hand():
    res = margin_statistics([3.0, 1.0, 2.0], [1.0, 2.0, 2.0])
    assert res["median"] == 0.0 and res["mean"] == pytest.approx(1 / 3)
    assert res["fraction_small_margin"] == pytest.approx(1 / 3)  # only Δ = 0 is below 0.1·σ


@pytest.fixture(scope="module")
def hh(shared_data):
    return load_hh(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz")


def test_hh_offtopic_length_reward(hh):
    res = offtopic_probe(LengthReward(), hh, seed=0)
    lengths = np.array([n_tokens(p.chosen) for p in hh])
    prompts = np.array([p.prompt for p in hh], dtype=object)
    expected = sum(np.any((lengths > lengths[i]) & (prompts != p.prompt)) for i, p in enumerate(hh))
    assert res["n_probed"] == expected > 2000
    assert res["offtopic_rate"] == 1.0  # the donor is always longer


def test_hh_perturb_flip_rates_length_reward(hh):
    res = perturb_probe(LengthReward(), hh, perturbations=["polite_prefix", "confident_closing"])
    gaps = np.array([n_tokens(p.chosen) - n_tokens(p.rejected) for p in hh])
    correct = gaps > 0
    assert res["n_correct"] == correct.sum()
    for name, added in (("polite_prefix", 2), ("confident_closing", n_tokens(CONFIDENT_CLOSING))):
        expected = np.sum(correct & (gaps <= added)) / correct.sum()
        assert res["per_perturbation"][name]["flip_rate"] == pytest.approx(expected)
        assert res["per_perturbation"][name]["median"] == added


def test_hh_attack_length_reward(hh):
    cfg = AttackConfig(budget=8, batch=4, min_tokens=2, max_tokens=2, max_pairs=40)
    res = attack_probe(LengthReward(), hh, cfg, seed=0)
    gaps = {i: n_tokens(p.chosen) - n_tokens(p.rejected) for i, p in enumerate(hh)}
    # 2 tokens per round, 2 rounds: flipped iff gap < 4, at query 4·(gap // 2) + 1
    expected = {i: 4 * (gaps[int(i)] // 2) + 1 for i in res["queries"]}
    assert res["queries"] == expected
    assert res["n_attacked"] == len(res["attacked"]) == 40
    assert all(gaps[i] > 0 for i in res["attacked"])
    assert set(res["queries"]) == {str(i) for i in res["attacked"] if gaps[i] < 4}
