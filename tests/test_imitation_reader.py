"""The reader of ``imitation``'s saved trajectories, checked against imitation itself.

``tests/data/imitation`` was written by the real imitation 1.0.1
(``make_fixture.py``: random-action rollouts with ``rollout.generate_trajectories``,
saved with ``serialize.save``) together with ``expected.npz``, every field as
imitation's own ``serialize.load`` returns it. When a Python with imitation is
available (``REWARDLAB_IMITATION_PYTHON``; imitation does not install beside
transformers 5) the fixture is also written afresh in a temporary folder and read
back. The pre-1.0 ``.npz`` layout is built with numpy exactly as imitation's old
``save`` wrote it (HumanCompatibleAI/imitation, ``src/imitation/data/types.py`` at
the parent of commit bbdcb298, ``save``), with its pickled infos.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data.errors import DataError
from rewardlab.data.imitation_format import read_imitation

FIXTURES = Path(__file__).resolve().parent / "data" / "imitation"
IMITATION_PYTHON = os.environ.get("REWARDLAB_IMITATION_PYTHON")


def check_against_expected(folder: Path, expected: np.lib.npyio.NpzFile, name: str) -> int:
    """Every trajectory of ``folder/name`` equals imitation's own reading; the number
    of truncated episodes."""
    trajectories = read_imitation(folder / name)
    assert len(trajectories) == int(expected[f"{name}_count"])
    truncated = 0
    for i, t in enumerate(trajectories):
        obs = expected[f"{name}_obs_{i}"]
        np.testing.assert_array_equal(t.observations.astype(np.float64), obs[:-1])
        np.testing.assert_array_equal(t.next_observations.astype(np.float64), obs[1:])
        np.testing.assert_array_equal(t.actions, expected[f"{name}_acts_{i}"])
        np.testing.assert_array_equal(t.rewards, expected[f"{name}_rews_{i}"])
        assert bool(expected[f"{name}_terminal_{i}"])  # imitation: every episode is terminal
        was_truncated = bool(expected[f"{name}_truncated_{i}"])
        truncated += was_truncated
        assert t.terminated == (not was_truncated)
        assert not t.dones[:-1].any()
        assert t.infos is not None and len(t.infos) == len(t)
    return truncated


def test_reads_the_committed_imitation_save():
    expected = np.load(FIXTURES / "expected.npz")
    # CartPole limited to 15 steps: some random episodes fall (terminated), some are cut
    truncated = check_against_expected(FIXTURES, expected, "cartpole")
    assert 0 < truncated < int(expected["cartpole_count"])
    cartpole = read_imitation(FIXTURES / "cartpole")
    assert cartpole[0].actions.dtype.kind == "i" and cartpole[0].observations.dtype == np.float32
    # Pendulum limited to 6 steps: continuous (T, 1) actions, every episode truncated
    assert check_against_expected(FIXTURES, expected, "pendulum") == 2
    assert read_imitation(FIXTURES / "pendulum")[0].actions.shape == (6, 1)


@pytest.mark.skipif(
    IMITATION_PYTHON is None or not Path(IMITATION_PYTHON).is_file(),
    reason="set REWARDLAB_IMITATION_PYTHON to a Python with imitation installed (it cannot "
    "share the main environment: it pins huggingface-hub<1, transformers 5 needs >=1)",
)
def test_reads_a_fresh_save_of_the_installed_imitation(tmp_path):
    subprocess.run([IMITATION_PYTHON, str(FIXTURES / "make_fixture.py"), str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    expected = np.load(tmp_path / "expected.npz")
    assert check_against_expected(tmp_path, expected, "cartpole") > 0
    check_against_expected(tmp_path, expected, "pendulum")


def old_imitation_npz(path: Path, trajectories: list[dict]) -> None:
    """imitation's pre-1.0 ``save``: concatenated fields, ``terminal`` per trajectory and
    ``indices`` = cumulative lengths of all but the last (infos as an object array)."""
    infos = [np.full(len(t["acts"]), {}) for t in trajectories]
    np.savez_compressed(
        path,
        obs=np.concatenate([t["obs"] for t in trajectories]),
        acts=np.concatenate([t["acts"] for t in trajectories]),
        infos=np.concatenate(infos),
        terminal=np.array([t["terminal"] for t in trajectories]),
        indices=np.cumsum([len(t["acts"]) for t in trajectories[:-1]]),
        rews=np.concatenate([t["rews"] for t in trajectories]),
    )


def test_reads_the_old_npz_layout_without_unpickling(tmp_path):
    rng = np.random.default_rng(3)
    trajectories = [
        {"obs": rng.normal(size=(n + 1, 2)), "acts": rng.integers(0, 3, size=n),
         "rews": rng.normal(size=n), "terminal": terminal}
        for n, terminal in ((3, True), (5, False), (1, True))
    ]
    old_imitation_npz(tmp_path / "old.npz", trajectories)
    loaded = read_imitation(tmp_path / "old.npz")
    assert len(loaded) == 3
    for t, original in zip(loaded, trajectories):
        np.testing.assert_array_equal(t.observations, original["obs"][:-1])
        np.testing.assert_array_equal(t.next_observations, original["obs"][1:])
        np.testing.assert_array_equal(t.actions, original["acts"])
        np.testing.assert_array_equal(t.rewards, original["rews"])
        assert t.terminated == original["terminal"] and t.infos is None


def test_bad_saves_are_one_error_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        read_imitation(tmp_path / "absent")
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="state.json: missing: not a Hugging Face datasets"):
        read_imitation(tmp_path / "folder")
    rng = np.random.default_rng(0)
    bad = [{"obs": rng.normal(size=(3, 2)), "acts": np.array([0, 1, 1]),
            "rews": np.zeros(3), "terminal": True}]  # one observation short
    old_imitation_npz(tmp_path / "short.npz", bad)
    with pytest.raises(DataError, match=r"short.npz \(trajectory 0\): field 'obs': expected "
                       "T \\+ 1 observations"):
        read_imitation(tmp_path / "short.npz")
    np.savez(tmp_path / "noacts.npz", obs=np.zeros((2, 1)), terminal=np.array([True]),
             indices=np.array([], dtype=np.int64))
    with pytest.raises(DataError, match="field 'acts': missing"):
        read_imitation(tmp_path / "noacts.npz")
