"""The structured-model contract, over every family registered in ``STRUCTURED``:
options extend ``LoopOptions``, ``train(records, backbone, options, val_records,
on_epoch)``, save → load gives the same outputs, the same seed the same model,
validation records pick the epoch, bad names and options fail first; and the one
ranking → pairs expansion (``ranked_pairs``) with its skipped counts.

A family registered later gets these tests for free: its records are built from
its ``needs`` (text responses, or trajectories for ``segments`` and
``labelled_states``)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence

import numpy as np
import pytest

from rewardlab.data.record import Comparison
from rewardlab.data.trajectory import Trajectory
from rewardlab.features.backbones import build_backbone
from rewardlab.models.structured import (
    NEEDS,
    STRUCTURED,
    StructuredFamily,
    loader_for_format,
    structured_formats,
    train_structured,
)
from rewardlab.models.training.config import LOOP_OPTION_NAMES, LoopOptions
from rewardlab.models.training.units import pair_table, pair_units, ranked_pairs
from rewardlab.registry import UnknownNameError

FAMILIES = STRUCTURED.names()
FAST = {"epochs": 3, "batch_size": 16}
PROMPTS = ["question one", "question two", "question three"]
FIRST = ["a good, careful answer", "a bad rude reply", "a good answer"]
SECOND = ["a bad rude reply", "a good, careful answer", "bad"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def backbone():
    return build_backbone("hashing", n_features=64)


TRAJECTORY_NEEDS = ("segments", "labelled_states")


def trajectory(i: int, good: bool, steps: int = 4) -> Trajectory:
    """A short trajectory whose first observation feature is about +1 (good) or −1 (bad)."""
    rng = np.random.default_rng(1000 * i + good)
    obs = rng.normal(0.0, 0.3, size=(steps, 3)).astype(np.float32)
    obs[:, 0] += 1.0 if good else -1.0
    return Trajectory(obs, rng.integers(0, 2, size=steps), rewards=obs[:, 0].astype(np.float64))


TRAJ_FIRST = [trajectory(900, True), trajectory(901, False), trajectory(902, True)]


def trajectory_records(needs: str, n: int, flip: bool) -> list[Comparison]:
    """Segments where the good one is preferred, or trajectories whose observations are
    labelled success exactly when their first feature is positive (``flip``: the other way)."""
    out = []
    for i in range(n):
        good, bad = trajectory(i, True), trajectory(i, False)
        if needs == "segments":
            out.append(Comparison(f"q{i}", (good, bad), ranking=(1, 0) if flip else (0, 1)))
            continue
        labels = tuple(tuple(int((o[0] > 0) != flip) for o in t.observations)
                       for t in (good, bad))
        out.append(Comparison(f"q{i}", (good, bad), step_labels=labels))
    return out


def records_for(needs: str, n: int, flip: bool = False) -> list[Comparison]:
    """``n`` records of the kind ``needs`` names, where "good" beats "bad" (steps:
    a step with "bad" is wrong); ``flip`` labels them the other way round."""
    if needs in TRAJECTORY_NEEDS:
        return trajectory_records(needs, n, flip)
    out = []
    for i in range(n):
        good, bad = f"a good answer number {i}", f"a bad reply number {i}"
        ranking = (1, 0) if flip else (0, 1)
        group = "xy"[i % 2]
        if needs == "steps":
            steps = (("first step", f"good step {i}"), ("first step", f"bad step {i}"))
            labels = ((0, 0), (0, 1)) if flip else ((1, 1), (1, 0))
            out.append(Comparison(f"q{i}", ("\n".join(steps[0]), "\n".join(steps[1])),
                                  steps=steps, step_labels=labels))
            continue
        out.append(Comparison(
            f"q{i}", (good, bad), ranking=ranking,
            annotator=f"rater-{group}" if needs == "annotators" else None,
            category=group if needs == "categories" else None,
        ))
    return out


def outputs(model, needs: str, prompts: Sequence[str] = PROMPTS) -> np.ndarray:
    """What the model answers: ``score`` for a reward model, else ``prob``; trajectory
    families score trajectories."""
    if needs in TRAJECTORY_NEEDS:
        return np.asarray(model.score(prompts, TRAJ_FIRST))
    if callable(getattr(model, "score", None)):
        return np.asarray(model.score(prompts, FIRST))
    return np.asarray(model.prob(prompts, FIRST, SECOND))


@pytest.mark.parametrize("name", FAMILIES)
def test_family_meets_the_contract(name):
    family = STRUCTURED.get(name)
    assert issubclass(family.options, LoopOptions)
    assert set(LOOP_OPTION_NAMES) <= {f.name for f in dataclasses.fields(family.options)}
    assert list(inspect.signature(family.train).parameters) == [
        "records", "backbone", "options", "val_records", "on_epoch"
    ]
    assert list(inspect.signature(family.load).parameters) == ["directory", "backbone"]
    assert family.needs in NEEDS
    assert family.summary and "\n" not in family.summary
    assert loader_for_format(family.format) is family.load
    assert structured_formats().count(family.format) == 1


@pytest.mark.parametrize("name", FAMILIES)
def test_save_load_gives_the_same_outputs(name, backbone, tmp_path):
    family = STRUCTURED.get(name)
    model = train_structured(name, records_for(family.needs, 24), backbone, FAST)
    saved = family.save(model, tmp_path / name)
    assert saved == tmp_path / name
    loaded = loader_for_format(family.format)(saved)
    np.testing.assert_allclose(outputs(loaded, family.needs), outputs(model, family.needs),
                               atol=1e-6, rtol=0)
    assert loaded.config == model.config
    assert model.config["options"] == family.options(**FAST).to_dict()


@pytest.mark.parametrize("name", FAMILIES)
def test_the_seed_fixes_the_model(name, backbone):
    needs = STRUCTURED.get(name).needs
    records = records_for(needs, 24)
    first, again, other = (
        outputs(train_structured(name, records, backbone, dict(FAST, seed=seed)), needs)
        for seed in (0, 0, 1)
    )
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


@pytest.mark.parametrize("name", FAMILIES)
def test_validation_records_pick_the_epoch(name, backbone):
    """Validation labelled against the training labels soon gets worse: the loop
    stops ``patience`` epochs after the best validation loss and keeps that epoch's
    parameters, the ones a run of exactly that many epochs ends with."""
    needs = STRUCTURED.get(name).needs
    train, flipped = records_for(needs, 24), records_for(needs, 12, flip=True)
    options = {"epochs": 30, "batch_size": 8, "lr": 0.05, "patience": 2}
    logs: list[dict[str, float]] = []
    model = train_structured(name, train, backbone, options, val_records=flipped,
                             on_epoch=lambda epoch, log: logs.append(log))
    assert all(set(log) == {"train_loss", "val_loss", "val_accuracy"} for log in logs)
    best_epoch, best = 0, float("inf")
    for epoch, log in enumerate(logs, start=1):
        if log["val_loss"] < best - 1e-4:
            best_epoch, best = epoch, log["val_loss"]
    assert len(logs) == best_epoch + 2 < 30
    assert logs[-1]["val_accuracy"] < 0.5  # the validation labels are flipped
    short = train_structured(name, train, backbone, dict(options, epochs=best_epoch))
    np.testing.assert_allclose(outputs(model, needs), outputs(short, needs), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", FAMILIES)
def test_bad_name_or_option_fails_before_training(name):
    with pytest.raises(UnknownNameError, match=f"did you mean '{name}'"):
        train_structured(name + "x", None, None, {})  # nothing is read: None would fail
    with pytest.raises(ValueError, match="unknown option 'epochz'") as err:
        train_structured(name, None, None, {"epochz": 3})
    assert f"structured model {name!r}" in str(err.value)
    assert "epochs, batch_size, lr, weight_decay, patience, seed" in str(err.value)
    with pytest.raises(ValueError, match=r"option 'epochs' must be int, got '3'"):
        train_structured(name, None, None, {"epochs": "3"})
    with pytest.raises(ValueError, match=r"option 'lr' must be float, got True"):
        train_structured(name, None, None, {"lr": True})


@pytest.mark.parametrize(
    "name", [n for n in FAMILIES if STRUCTURED.get(n).needs not in ("steps", "labelled_states")]
)
def test_pair_families_count_ties_and_unranked_records(name, backbone):
    needs = STRUCTURED.get(name).needs
    tie, unranked = (((trajectory(50, True), trajectory(51, True)),
                      (trajectory(52, True), trajectory(53, False)))
                     if needs == "segments" else
                     (("same", "same too"), ("only one ranked", "other")))
    records = records_for(needs, 10) + [
        Comparison("q", tie, ranking=(0, 1), tie=True),
        Comparison("q", unranked, ranking=(0,)),
    ]
    model = train_structured(name, records, backbone, FAST)
    assert model.config["skipped"] == {"ties": 1, "unranked": 1}
    assert model.config["n_train_pairs"] == 10


def test_family_declaration_is_checked():
    family = STRUCTURED.get(FAMILIES[0])
    with pytest.raises(TypeError, match="extending LoopOptions"):
        dataclasses.replace(family, options=dict)
    with pytest.raises(ValueError, match="needs must be one of"):
        dataclasses.replace(family, needs="pairs")
    assert isinstance(family, StructuredFamily)
    assert loader_for_format("rewardlab-nothing") is None


# ------------------------------------------------------------ ranking → pairs


def test_ranked_pairs_expands_rankings_and_counts_what_gives_none():
    records = [
        Comparison("p", ("a", "b", "c"), ranking=(2, 0, 1), strength=0.5),
        Comparison("t", ("x", "y", "z"), ranking=(1, 0, 2), tie=True),
        Comparison("u", ("only",)),
        Comparison("v", ("one", "two"), ranking=(1,)),
    ]
    pairs = ranked_pairs(records)
    # C(3, 2) = 3 pairs of the first ranking, best first
    assert [(p.position, p.better, p.worse, p.tie) for p in pairs] == [
        (0, 2, 0, False), (0, 2, 1, False), (0, 0, 1, False)
    ]
    assert pairs.skipped() == {"ties": 1, "unranked": 2}
    with_ties = ranked_pairs(records, with_ties=True)
    assert [(p.position, p.better, p.worse, p.tie) for p in with_ties][3:] == [
        (1, 1, 0, True), (1, 1, 2, False), (1, 0, 2, False)
    ]
    assert with_ties.skipped() == {"ties": 0, "unranked": 2}
    # the head trainers' tables are the same expansion
    table = pair_table(records)
    assert (table.chosen, table.rejected) == (["c", "c", "a"], ["a", "b", "b"])
    assert (table.skipped_ties, table.skipped_unranked) == (1, 2)
    units = pair_units(records, with_ties=True)
    assert units.units.tie.tolist() == [False, False, False, True, False, False]
    assert (units.skipped_ties, units.skipped_unranked) == (0, 2)
