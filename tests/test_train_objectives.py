"""The generalized trainer: units from records, every loss family trained end to
end (library and `rewardlab train`), regularizers, init-from, save/load."""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.data.record import Comparison
from rewardlab.features.hashing import HashingBackbone
from rewardlab.models.heads import LinearHead
from rewardlab.models.io import load_model, save_model
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import train_reward_model
from rewardlab.models.training.regularizers import gradient_penalty, latent_adversarial_features
from rewardlab.models.training.units import pair_units, point_units, ranking_units

runner = CliRunner()


# ---------------------------------------------------------------- units


def test_pair_units_share_rows_flag_ties_and_take_rating_gaps():
    records = [
        Comparison("p", ("a", "b", "c"), (2, 0, 1), strength=1.5),
        Comparison("q", ("x", "y"), (0, 1), tie=True),
        Comparison("p", ("a", "d"), (1, 0), strength=0.5),
    ]
    table = pair_units(records, with_ties=True)
    texts = list(zip(table.prompts, table.responses, strict=True))
    assert texts == [("p", "c"), ("p", "a"), ("p", "b"), ("q", "x"), ("q", "y"), ("p", "d")]
    assert table.units.index.tolist() == [[0, 1], [0, 2], [1, 2], [3, 4], [5, 1]]
    assert table.units.tie.tolist() == [False, False, False, True, False]
    assert table.units.margin.tolist() == [1.5, 1.5, 1.5, 0.0, 0.5]
    assert pair_units(records).skipped_ties == 1 and pair_units(records).units.tie is None

    rated = [Comparison("p", ("a", "b"), (0, 1), ratings=({"judge": 1.9}, {"judge": 1.2}))]
    gap = pair_units(rated, strength_from="judge").units.margin
    assert gap.tolist() == pytest.approx([0.7])


def test_missing_strength_names_the_record():
    records = [Comparison("p", ("a", "b"), (0, 1), strength=1.0),
               Comparison("q", ("a", "b"), (0, 1), source="data.jsonl:7")]
    with pytest.raises(ValueError, match="data.jsonl:7: field 'strength'"):
        pair_units(records, needs_margin=True)
    with pytest.raises(ValueError, match=r"data.jsonl:7: field 'ratings\[0\].judge'"):
        pair_units(records[1:], strength_from="judge")


def test_ranking_units_put_unranked_last_and_pad():
    records = [
        Comparison("p", ("a", "b", "c"), (1,)),  # top-1 of three
        Comparison("q", ("x", "y"), (1, 0)),
        Comparison("r", ("only",)),
    ]
    table = ranking_units(records)
    assert table.units.index.tolist() == [[0, 1, 2], [3, 4, -1]]
    assert [table.responses[i] for i in (0, 1, 2)] == ["b", "a", "c"]
    assert table.units.n_ranked.tolist() == [1, 2] and table.skipped_unranked == 1


def test_point_units_average_repeated_texts_and_count_unrated():
    records = [
        Comparison("p", ("a", "b"), (0, 1), ratings=({"h": 4.0, "v": 1.0}, {"h": 1.0, "v": 0.0})),
        Comparison("p", ("a", "c"), (0, 1), ratings=({"h": 2.0, "v": 3.0}, {"h": 0.0, "v": 0.0})),
        Comparison("q", ("z",)),
    ]
    table = point_units(records)
    assert table.attributes == ("h", "v") and table.skipped_unrated == 1
    assert table.responses == ["a", "b", "c"]
    assert table.units.target.tolist() == [[3.0, 2.0], [1.0, 0.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match=r"field 'ratings\[0\].w'"):
        point_units(records, ("w",))


# ---------------------------------------------------------------- regularizers


def test_gradient_penalty_of_a_linear_head_is_its_squared_weight_norm():
    head = LinearHead(3, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 2.0, 2.0], [0.0, 3.0, 4.0]]))
    x = torch.randn(2, 5, 3, requires_grad=True)
    penalty = gradient_penalty(head(x), x)
    assert penalty.tolist() == pytest.approx([9.0, 25.0])
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    assert gradient_penalty(head(x), x, mask).tolist() == pytest.approx([9.0, 25.0])
    penalty.sum().backward()  # differentiable: it can be minimized
    assert head.weight.grad is not None


def test_latent_adversarial_step_moves_features_eps_against_the_preference():
    """Linear r = w·x, BT on one pair: PGD moves x⁺ by −ε·w/‖w‖ and x⁻ by +ε·w/‖w‖,
    so Δ drops by exactly 2ε‖w‖ (w = (3, 4), ‖w‖ = 5)."""
    head = LinearHead(2, 1)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[3.0, 4.0]]))
    x = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])  # (K=1, rows: chosen, rejected)

    def bt(z):
        r = head(z)
        return -torch.nn.functional.logsigmoid(r[:, 0] - r[:, 1])

    moved = latent_adversarial_features(x, bt, eps=0.1, steps=3)
    torch.testing.assert_close(moved[0, 0], torch.tensor([1.0 - 0.06, 1.0 - 0.08]))
    torch.testing.assert_close(moved[0, 1], torch.tensor([0.06, 0.08]))
    with torch.no_grad():
        r, r_moved = head(x), head(moved)
    assert ((r[0, 0] - r[0, 1]) - (r_moved[0, 0] - r_moved[0, 1])).item() == pytest.approx(2 * 0.1 * 5)
    with pytest.raises(ValueError, match="eps"):
        latent_adversarial_features(x, bt, eps=0.0)


# ---------------------------------------------------------------- training


def quality(n: int, seed: int) -> list[Comparison]:
    """Correct answers (rated high, label 1) vs hedges (rated low, label 0)."""
    rng = np.random.default_rng(seed)
    cities = ["Paris", "Rome", "Madrid", "Berlin", "Vienna", "Lisbon"]
    records = []
    for i in range(n):
        k = int(rng.integers(len(cities)))
        good = f"The answer is {cities[k]}, certainly and correctly."
        bad = f"Not sure, maybe {cities[(k + 1) % len(cities)]}? I cannot say."
        records.append(Comparison(f"Q{i}: capital number {k}?", (good, bad), (0, 1), strength=2.0,
                                  ratings=({"help": 4.0, "label": 1.0}, {"help": 1.0, "label": 0.0})))
    return records


def accuracy(model, records) -> float:
    good = model.score([r.prompt for r in records], [r.chosen for r in records])
    bad = model.score([r.prompt for r in records], [r.rejected for r in records])
    return float(np.mean(good > bad))


@pytest.mark.parametrize(
    "loss,params",
    [("scaled-bt", {}), ("margin-bt", {}), ("label-smoothing", {"alpha": 0.1}),
     ("adaptive-margin", {}), ("davidson", {}), ("rao-kupper", {}), ("plackett-luce", {}),
     ("regression", {}), ("bce", {})],
)
def test_every_loss_learns_the_preference(loss, params):
    config = TrainConfig(loss=loss, loss_params=params, epochs=4, seed=0)
    model, report = train_reward_model(quality(120, 0), HashingBackbone(256), config, quality(30, 1))
    assert accuracy(model, quality(40, 2)) > 0.9
    assert report.n_train_pairs == (240 if report.unit_kind == "points" else 120)


def test_plain_bt_ignores_strengths_and_margin_bt_uses_them():
    train, val, test = quality(60, 0), quality(20, 1), quality(20, 2)
    bare = [replace(r, strength=None) for r in train]
    bare_val = [replace(r, strength=None) for r in val]

    def scores(records, val_records, loss="bt", **params):
        config = TrainConfig(loss=loss, loss_params=params, epochs=3, seed=0, l2=0.0)
        model, _ = train_reward_model(records, HashingBackbone(256), config, val_records)
        return model.score([r.prompt for r in test], [r.chosen for r in test])

    plain = scores(bare, bare_val)
    np.testing.assert_array_equal(scores(train, val), plain)  # strength 2.0 ignored
    np.testing.assert_array_equal(scores(train, val, strength_from="help"), plain)
    margin = scores(train, val, "margin-bt")
    np.testing.assert_array_equal(scores(train, val, use_margin=True), margin)
    assert np.abs(margin - plain).max() > 1e-3


def test_regression_predicts_each_attribute_and_save_load_round_trips(tmp_path):
    config = TrainConfig(loss="regression", epochs=40, lr=5e-2, batch_size=32, seed=0)
    model, report = train_reward_model(quality(150, 0), HashingBackbone(256), config, quality(30, 1))
    assert model.config["head"]["name"] == "multi-attribute"
    assert model.config["head"]["params"]["attributes"] == ["help", "label"]
    test = quality(30, 2)
    x = model.normalizer(torch.from_numpy(model.features([r.prompt for r in test], [r.chosen for r in test])))
    with torch.no_grad():
        per_attribute = model.head.attribute_rewards(x[None]).mean(dim=1)[0]
    assert per_attribute.tolist() == pytest.approx([4.0, 1.0], abs=0.5)
    loaded = load_model(save_model(model, tmp_path / "rm"))
    prompts, responses = [r.prompt for r in test], [r.rejected for r in test]
    np.testing.assert_array_equal(loaded.score_members(prompts, responses),
                                  model.score_members(prompts, responses))


def test_davidson_learns_the_tie_rate_and_saves_it():
    pairs = quality(80, 0)
    ties = [replace(r, responses=(r.chosen, r.chosen + " Indeed."), tie=True) for r in quality(80, 3)]
    config = TrainConfig(loss="davidson", epochs=30, lr=5e-2, batch_size=16, seed=0)
    many, _ = train_reward_model(pairs + ties, HashingBackbone(256), config)
    few, _ = train_reward_model(pairs + ties[:5], HashingBackbone(256), config)
    nu_many = math.exp(many.config["loss"]["learned"]["log_nu"][0])
    nu_few = math.exp(few.config["loss"]["learned"]["log_nu"][0])
    assert nu_many > 2 * nu_few  # half the data tied vs almost none


def test_k_wise_rankings_train_with_plackett_luce():
    rng = np.random.default_rng(0)
    levels = ["wrong and rude", "vague", "correct", "correct, clear and kind"]
    records = []
    for i in range(150):
        order = rng.permutation(4)
        responses = tuple(f"reply {i}: {levels[j]}" for j in order)
        ranking = tuple(int(np.where(order == j)[0][0]) for j in (3, 2, 1, 0))
        records.append(Comparison(f"q{i}", responses, ranking[: 1 + i % 3]))  # partial: top 1..3
    model, report = train_reward_model(records, HashingBackbone(256),
                                       TrainConfig(loss="plackett-luce", epochs=10, seed=0))
    assert report.unit_kind == "rankings"
    scores = model.score(["q"] * 4, [f"reply 999: {level}" for level in levels])
    assert list(np.argsort(scores)) == [0, 1, 2, 3]


def test_init_from_starts_at_the_given_weights():
    regression, _ = train_reward_model(quality(80, 0), HashingBackbone(256),
                                       TrainConfig(loss="regression", epochs=5, seed=0))
    frozen, _ = train_reward_model(quality(80, 4), HashingBackbone(256),
                                   TrainConfig(epochs=2, lr=0.0, seed=1), init=regression)
    assert frozen.config["head"]["name"] == "multi-attribute"
    assert frozen.config["init_from"]["loss"] == "regression"
    for name, value in regression.head.state_dict().items():
        torch.testing.assert_close(frozen.head.state_dict()[name], value)
    moved, _ = train_reward_model(quality(80, 4), HashingBackbone(256),
                                  TrainConfig(epochs=2, seed=1), init=regression)
    assert not torch.equal(moved.head.heads[0].weight, regression.head.heads[0].weight)
    with pytest.raises(ValueError, match="backbone"):
        train_reward_model(quality(20, 0), HashingBackbone(128), TrainConfig(), init=regression)


def test_regularizers_change_training_and_grad_penalty_shrinks_the_slope():
    def weight_norm(**options) -> float:
        config = TrainConfig(epochs=8, lr=1e-2, seed=0, l2=0.0, **options)
        model, _ = train_reward_model(quality(100, 0), HashingBackbone(256), config)
        return model.head.weight.detach().norm().item()

    plain = weight_norm()
    assert weight_norm(grad_penalty=1.0) < 0.75 * plain
    assert weight_norm(lat_eps=1.0, lat_steps=2) != pytest.approx(plain)


# ---------------------------------------------------------------- CLI


def invoke(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def arena(tmp_path_factory):
    """A tiny AlpacaEval folder: per instruction a correct (judge 1.9), a wrong (1.1)
    and a so-so output (1.5, tied with the baseline's own 1.5)."""
    folder = tmp_path_factory.mktemp("alpaca")
    topics = ["the moon", "tides", "rainbows", "volcanoes", "magnets", "bread", "bees", "clouds"]
    instructions, outputs = [], []
    for i in range(64):
        topic = topics[i % len(topics)]
        instructions.append({"id": i, "instruction": f"Explain {topic} (case {i}).", "dataset": "toy",
                             "baseline_generator": "base", "baseline_output": f"Something about {topic}."})
        outputs += [
            {"id": i, "generator": "good", "preference": 1.9,
             "output": f"A precise, correct explanation of {topic} with an example."},
            {"id": i, "generator": "bad", "preference": 1.1, "output": "lol no idea, ask someone else"},
            {"id": i, "generator": "meh", "preference": 1.5, "output": f"Hmm, {topic} is a thing."},
        ]
    (folder / "instructions.jsonl").write_text("\n".join(json.dumps(r) for r in instructions))
    with gzip.open(folder / "outputs.jsonl.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in outputs))
    return folder


def train_cli(arena, out, *options, epochs: int = 6) -> dict:
    invoke("train", "--data", arena, "--backbone", "hashing", "--out", out, "--test-fraction", "0.25",
           "--epochs", epochs, "--pairs-per-prompt", "6", *options)
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize(
    "loss,params,kind",
    [("scaled-bt", '{"strength_from": "judge"}', "pairs"),
     ("plackett-luce", None, "rankings")],
)
def test_cli_trains_pairwise_and_ranking_losses(arena, tmp_path, loss, params, kind):
    extra = ["--loss-params", params] if params else []
    metrics = train_cli(arena, tmp_path / "m", "--loss", loss, *extra, "--grad-penalty", "0.01")
    assert metrics["train"]["unit_kind"] == kind
    assert metrics["test"]["accuracy"] > 0.9
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["loss"]["name"] == loss and config["train"]["grad_penalty"] == 0.01


def test_cli_davidson_learns_from_ties(arena, tmp_path):
    metrics = train_cli(arena, tmp_path / "m", "--loss", "davidson", "--min-gap", "0")
    assert metrics["train"]["unit_kind"] == "ties" and metrics["train"]["skipped_ties"] == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert len(config["loss"]["learned"]["log_nu"]) == 1
    assert metrics["test"]["accuracy"] > 0.9


def test_cli_regression_then_bt_from_it(arena, tmp_path):
    metrics = train_cli(arena, tmp_path / "reg", "--loss", "regression",
                        "--loss-params", '{"attributes": ["judge"]}', "--lr", "0.02", epochs=30)
    assert metrics["train"]["unit_kind"] == "points" and metrics["test"]["accuracy"] > 0.9
    bt = train_cli(arena, tmp_path / "bt", "--init-from", tmp_path / "reg", "--lat-eps", "0.5")
    assert bt["init_from"] == str(tmp_path / "reg") and bt["test"]["accuracy"] > 0.9
    config = json.loads((tmp_path / "bt" / "config.json").read_text())
    assert config["head"]["name"] == "multi-attribute" and config["init_from"]["loss"] == "regression"
    assert config["train"]["lat_eps"] == 0.5


def test_cli_bce_on_labelled_responses(tmp_path):
    data = tmp_path / "labels.jsonl"
    rows = []
    for i in range(120):
        rows.append({"prompt": f"Task {i}", "response": f"Done: all {i % 7} tests pass.", "label": 1})
        rows.append({"prompt": f"Task {i}", "response": "Traceback: error, crashed.", "label": 0})
    data.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "m"
    invoke("train", "--data", data, "--format", "ratings", "--backbone", "hashing", "--out", out,
           "--loss", "bce", "--epochs", "5")
    model = load_model(out)
    reward = model.score(["Task 999", "Task 999"], ["Done: all 3 tests pass.", "Traceback: error, crashed."])
    assert reward[0] > 0 > reward[1]  # σ(r) is P(success)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "response": "r", "label": 2}))
    result = runner.invoke(app, ["train", "--data", str(bad), "--format", "ratings", "--backbone",
                                 "hashing", "--out", str(tmp_path / "x"), "--loss", "bce"])
    assert result.exit_code == 1 and "labels must be 0 or 1" in result.output
