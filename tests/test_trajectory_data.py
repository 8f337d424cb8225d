"""Trajectories as responses: the dataclass's checks, the modality, segments, and the
npz/parquet files of trajectories and labelled segment pairs with their one-line errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rewardlab.data.errors import DataError
from rewardlab.data.modality import decode_responses, modality_of, response_digest
from rewardlab.data.record import Comparison
from rewardlab.data.trajectory import Trajectory, trajectory_bytes
from rewardlab.data.trajectory_io import (
    load_segment_pairs,
    load_trajectories,
    save_segment_pairs,
    save_trajectories,
)


def episode(steps: int = 5, terminated: bool = True, seed: int = 0, box: bool = False):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(steps + 1, 3)).astype(np.float32)
    actions = (rng.normal(size=(steps, 2)).astype(np.float32) if box
               else rng.integers(0, 2, size=steps))
    dones = np.zeros(steps, dtype=bool)
    dones[-1] = terminated
    return Trajectory(obs[:-1], actions, rng.normal(size=steps), dones, obs[1:])


def same(a: Trajectory, b: Trajectory) -> None:
    for name in ("observations", "actions", "rewards", "dones", "next_observations"):
        left, right = getattr(a, name), getattr(b, name)
        assert (left is None) == (right is None), name
        if left is not None:
            np.testing.assert_array_equal(left, right, err_msg=name)
            assert left.dtype == right.dtype, name


# ------------------------------------------------------------------ the dataclass


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"observations": np.zeros(3)}, "field 'observations': expected shape"),
    ({"observations": np.full((2, 1), np.nan)}, "field 'observations': contains NaN"),
    ({"actions": np.zeros(3)}, r"field 'actions': expected shape \(2, \.\.\.\)"),
    ({"rewards": np.zeros(3)}, r"field 'rewards': expected shape \(2,\)"),
    ({"dones": np.array([True, False])}, "field 'dones': only the last step"),
    ({"dones": np.array([0, 2])}, "field 'dones': expected booleans"),
    ({"next_observations": np.zeros((2, 2))}, r"field 'next_observations': expected shape \(2, 1\)"),
    ({"actions": np.array(["a", "b"])}, "field 'actions': expected numbers"),
    ({"infos": ({},)}, "field 'infos': expected 2 mappings"),
])
def test_a_malformed_trajectory_is_one_error_naming_the_field(kwargs, message):
    base = {"observations": np.zeros((2, 1)), "actions": np.zeros(2, dtype=np.int64)}
    with pytest.raises(ValueError, match=message):
        Trajectory(**{**base, **kwargs})


def test_arrays_are_read_only_and_the_caller_keeps_its_own():
    obs = np.zeros((3, 2), np.float32)
    trajectory = Trajectory(obs, np.zeros(3, np.int64))
    with pytest.raises(ValueError):
        trajectory.observations[0, 0] = 1.0
    obs[0, 0] = 5.0  # the caller's array stays writable (the trajectory holds a view)
    assert trajectory.observations[0, 0] == 5.0


def test_segment_keeps_the_end_only_when_it_holds_the_last_step():
    full = episode(6, terminated=True)
    head, tail = full.segment(0, 3), full.segment(3, 6)
    assert not head.terminated and tail.terminated and full.terminated
    np.testing.assert_array_equal(tail.observations, full.observations[3:])
    assert head.true_return() + tail.true_return() == pytest.approx(full.true_return())
    with pytest.raises(ValueError, match=r"segment \[4, 8\) is not within 6 steps"):
        full.segment(4, 8)
    with pytest.raises(ValueError, match="field 'rewards': this trajectory has no rewards"):
        Trajectory(np.zeros((1, 1)), np.zeros(1)).true_return()


# ------------------------------------------------------------------ the modality


def test_trajectory_is_a_registered_modality_with_steps_and_a_digest():
    trajectory = episode(4)
    modality = modality_of(trajectory)
    assert modality.name == "trajectory"
    assert decode_responses([trajectory])[0] is trajectory
    assert modality.statistics(trajectory) == {"steps": 4.0}
    # the digest is sha256 of a header of dtypes/shapes and the arrays' bytes, in field order
    header = (
        b'{"actions": ["<i8", [4]], "dones": ["|b1", [4]], "next_observations": ["<f4", [4, 3]], '
        b'"observations": ["<f4", [4, 3]], "rewards": ["<f8", [4]]}'
    )
    body = b"".join(np.ascontiguousarray(a).tobytes() for a in (
        trajectory.observations, trajectory.actions, trajectory.rewards, trajectory.dones,
        trajectory.next_observations))
    assert trajectory_bytes(trajectory) == header + body
    assert response_digest(trajectory) == hashlib.sha256(header + body).hexdigest()
    changed = Trajectory(trajectory.observations, trajectory.actions, trajectory.rewards + 1e-9,
                         trajectory.dones, trajectory.next_observations)
    assert response_digest(changed) != response_digest(trajectory)
    infos = Trajectory(trajectory.observations, trajectory.actions, trajectory.rewards,
                       trajectory.dones, trajectory.next_observations, ({},) * 4)
    assert response_digest(infos) == response_digest(trajectory)  # infos are not hashed


# ------------------------------------------------------------------ files


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
@pytest.mark.parametrize("box", [False, True])
def test_trajectories_round_trip(tmp_path, suffix, box):
    trajectories = [episode(5, True, 0, box), episode(3, False, 1, box)]
    path = save_trajectories(tmp_path / f"t{suffix}", trajectories, ["CartPole-v1", "other"])
    prompts, loaded = load_trajectories(path)
    assert prompts == ["CartPole-v1", "other"]
    for a, b in zip(trajectories, loaded):
        same(a, b)


def pairs() -> list[Comparison]:
    a, b, c = episode(4, seed=1), episode(2, seed=2), episode(4, False, seed=3)
    return [Comparison("env", (a, b), (0, 1)), Comparison("env", (b, c), (1, 0)),
            Comparison("env", (c, a), (0, 1), tie=True)]


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_segment_pairs_round_trip_with_their_labels(tmp_path, suffix):
    records = pairs()
    loaded = load_segment_pairs(save_segment_pairs(tmp_path / f"p{suffix}", records))
    assert [(r.ranking, r.tie) for r in loaded] == [((0, 1), False), ((1, 0), False),
                                                   ((0, 1), True)]
    assert loaded[1].source.endswith(f"p{suffix}:2")
    for original, back in zip(records, loaded):
        for x, y in zip(original.responses, back.responses):
            same(x, y)
    data = np.load(tmp_path / f"p{suffix}") if suffix == ".npz" else None
    if data is not None:
        np.testing.assert_array_equal(data["labels"], [1.0, 0.0, 0.5])
        np.testing.assert_array_equal(data["first_lengths"], [4, 2, 4])


def test_bad_files_are_one_error_naming_file_and_field(tmp_path):
    path = save_segment_pairs(tmp_path / "p.npz", pairs())
    arrays = dict(np.load(path))
    cases = {
        "labels": ({"labels": np.array([1.0, 0.3, 0.5])}, r"field 'labels': pair 1: expected 1"),
        "lengths": ({"first_lengths": np.array([4, 2, 3])}, "field 'first_observations': "
                    r"expected 9 steps \(the sum of lengths\), got 10"),
        "format": ({"format": np.array("something")}, "field 'format': expected "
                   "'rewardlab-segment-pairs'"),
        "prompts": ({"prompts": np.array(["env"])}, "field 'prompts': 1 prompts but 3"),
        "rewards": ({"second_rewards": arrays["second_rewards"][:-1]}, "field 'second_rewards'"),
        "pickle": ({"labels": np.array([1, 0, {}], dtype=object)}, "field 'labels': holds Python"),
    }
    for name, (change, message) in cases.items():
        bad = tmp_path / f"bad_{name}.npz"
        np.savez(bad, **{**arrays, **change})
        with pytest.raises(DataError, match=message) as err:
            load_segment_pairs(bad)
        assert str(err.value).startswith(str(bad)), name
    missing = tmp_path / "missing.npz"
    np.savez(missing, **{k: v for k, v in arrays.items() if k != "second_actions"})
    with pytest.raises(DataError, match="field 'second_actions': missing"):
        load_segment_pairs(missing)
    with pytest.raises(DataError, match="expected 'rewardlab-trajectories'"):
        load_trajectories(path)
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"not a readable .npz file \(not a zip archive\)"):
        load_trajectories(tmp_path / "x.npz")
    with pytest.raises(ValueError, match="expected a .npz or .parquet file"):
        save_trajectories(tmp_path / "t.json", [episode()], "env")


def test_a_bad_trajectory_in_a_parquet_file_names_the_pair_and_side(tmp_path):
    import pyarrow.parquet as pq

    path = save_segment_pairs(tmp_path / "p.parquet", pairs())
    table = pq.read_table(path)
    dones = table.column("second_dones").to_pylist()
    dones[2] = [True, False, False, False]
    bad = table.set_column(table.column_names.index("second_dones"), "second_dones", [dones])
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"bad.parquet: pair 2, second segment: field 'dones': "
                       "only the last step"):
        load_segment_pairs(tmp_path / "bad.parquet")
