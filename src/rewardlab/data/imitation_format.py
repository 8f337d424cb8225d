"""Read trajectories saved by the ``imitation`` library, without importing it.

``imitation`` (HumanCompatibleAI/imitation) stores a sequence of
``TrajectoryWithRew`` (``src/imitation/data/types.py``): ``obs`` with T + 1
observations (the last one reached after the last action), ``acts`` (T, …),
``infos`` (T mappings or None), ``terminal`` (bool) and ``rews`` (T,).
``imitation.data.serialize.save`` writes them in two layouts over its history:

* 1.x (``huggingface_utils.trajectories_to_dataset(...).save_to_disk``): a
  Hugging Face ``datasets`` folder: ``state.json`` lists the Arrow stream
  files, one row per trajectory with list columns ``obs``, ``acts``, ``rews``,
  ``infos`` (each info jsonpickle-encoded) and a bool ``terminal``;
* before 1.0: one ``.npz`` of the concatenated ``obs``, ``acts``, ``infos``,
  ``rews``, the per-trajectory ``terminal`` flags and ``indices``, the
  cumulative lengths of all but the last trajectory (so trajectory i's
  observations end at ``indices[i] + i + 1``).

Both are read with pyarrow and numpy only; nothing is unpickled. A jsonpickle
info is read as the JSON it is (tagged objects stay plain mappings); the old
npz layout keeps infos as pickled objects, which are skipped (infos None).

A trajectory becomes a :class:`~rewardlab.data.trajectory.Trajectory` with
``observations = obs[:-1]``, ``next_observations = obs[1:]``, ``actions``,
``rewards`` and ``dones`` set on the last step when the episode terminated.
imitation calls every finished episode ``terminal``, also one cut by a time
limit; when the last step's info says ``"TimeLimit.truncated": true``
(Stable-Baselines3's VecEnv adds it) the episode was truncated, not
terminated, and is not done.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.trajectory import Trajectory
from rewardlab.data.trajectory_io import arrow_array

TRUNCATED_KEY = "TimeLimit.truncated"


def read_imitation(path: str | Path) -> list[Trajectory]:
    """The trajectories in an ``imitation`` save: a datasets folder (1.x) or an ``.npz``."""
    path = Path(path)
    if path.is_dir():
        return _read_dataset_folder(path)
    if path.is_file():
        return _read_old_npz(path)
    raise FileNotFoundError(f"{path}: no such file or folder (an imitation trajectory save)")


def _trajectory(
    where: str, obs: np.ndarray, acts: np.ndarray, rews: np.ndarray | None, terminal: bool,
    infos: tuple[Mapping[str, Any], ...] | None,
) -> Trajectory:
    if obs.ndim < 2 or len(obs) != len(acts) + 1 or len(acts) == 0:
        raise DataError(
            f"expected T + 1 observations for T >= 1 actions, got {len(obs)} and {len(acts)}",
            path=where, field="obs",
        )
    truncated = bool(infos and infos[-1].get(TRUNCATED_KEY, False))
    dones = np.zeros(len(acts), dtype=bool)
    dones[-1] = bool(terminal) and not truncated
    try:
        return Trajectory(obs[:-1], acts, rews, dones, obs[1:], infos)
    except ValueError as err:
        raise DataError(str(err), path=where) from None


# ------------------------------------------------------------ datasets folder (1.x)


def _read_dataset_folder(folder: Path) -> list[Trajectory]:
    import pyarrow as pa

    state_path = folder / "state.json"
    if not state_path.is_file():
        raise DataError("missing: not a Hugging Face datasets folder", path=str(state_path))
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        files = [entry["filename"] for entry in state["_data_files"]]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise DataError("expected a list of {filename} entries", path=str(state_path),
                        field="_data_files") from None
    tables = []
    for name in files:
        file = folder / Path(name).name
        try:
            with pa.memory_map(str(file)) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        except (OSError, pa.ArrowException) as err:
            raise DataError(f"not an Arrow stream ({err})", path=str(file)) from None
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    where = str(folder)
    for column in ("obs", "acts", "terminal"):
        if column not in table.column_names:
            raise DataError("missing column", path=where, field=column)
    out = []
    for i in range(table.num_rows):
        row_where = f"{where} (trajectory {i})"
        obs = arrow_array(table.column("obs")[i].values, row_where, "obs")
        acts = arrow_array(table.column("acts")[i].values, row_where, "acts")
        rews = (arrow_array(table.column("rews")[i].values, row_where, "rews")
                if "rews" in table.column_names else None)
        infos = (_infos(table.column("infos")[i].as_py(), row_where)
                 if "infos" in table.column_names else None)
        terminal = table.column("terminal")[i].as_py()
        out.append(_trajectory(row_where, obs, acts, rews, bool(terminal), infos))
    return out


def _infos(encoded: list[str] | None, where: str) -> tuple[Mapping[str, Any], ...] | None:
    if encoded is None:
        return None
    infos = []
    for text in encoded:
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            raise DataError("an info is not JSON (jsonpickle)", path=where, field="infos") from None
        infos.append(value if isinstance(value, Mapping) else {"value": value})
    return tuple(infos)


# ------------------------------------------------------------ npz (before 1.0)


def _read_old_npz(path: Path) -> list[Trajectory]:
    where = str(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"not an imitation .npz save ({err})", path=where) from None
    with data:
        arrays = {}
        for key in ("obs", "acts", "terminal", "indices", "rews"):
            if key in data.files:
                try:
                    arrays[key] = data[key]
                except ValueError:
                    raise DataError("holds Python objects (no pickle)", path=where,
                                    field=key) from None
            elif key != "rews":
                raise DataError("missing", path=where, field=key)
    terminal, indices = arrays["terminal"].reshape(-1), arrays["indices"].reshape(-1)
    if len(indices) != len(terminal) - 1:
        raise DataError(f"expected {len(terminal) - 1} split points for {len(terminal)} "
                        f"trajectories, got {len(indices)}", path=where, field="indices")
    obs = np.split(arrays["obs"], indices + np.arange(len(indices)) + 1)
    acts = np.split(arrays["acts"], indices)
    rews = np.split(arrays["rews"], indices) if "rews" in arrays else [None] * len(acts)
    return [
        _trajectory(f"{where} (trajectory {i})", o, a, r, bool(t), None)
        for i, (o, a, r, t) in enumerate(zip(obs, acts, rews, terminal, strict=True))
    ]
