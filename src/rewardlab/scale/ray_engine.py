"""Batch scoring on a Ray cluster with Ray Data and an actor pool.

Ray Data reads the JSONL or Parquet input in blocks; ``map_batches`` with a
callable class runs ``num_actors`` long-lived actors, each of which loads the
model once (``model_factory(model_dir)``, by default
``rewardlab.load.load_reward_model``) and scores ``batch_size`` rows per call
with :func:`rewardlab.scale.tables.score_table` (Moritz et al., "Ray: A
Distributed Framework for Emerging AI Applications", OSDI 2018; Ray Data's
"stateful transforms" pattern). The driver streams the scored blocks back in
input order (``DataContext.execution_options.preserve_order``) into the same
atomic writer as the local engine, so the output equals
:func:`rewardlab.scale.local.score_file_local`'s row for row.

``address=None`` joins the cluster of ``RAY_ADDRESS`` if set, else starts a
local one (shut down again afterwards); ``address="auto"`` joins a running
cluster. ``num_cpus_per_actor`` and ``num_gpus_per_actor`` are each actor's
reservation; leave CPUs for Ray Data's read tasks (on a 2-CPU machine, two
actors of one CPU each would starve them).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from rewardlab.data.errors import DataError
from rewardlab.data.io import read_rows
from rewardlab.scale.tables import AtomicTableWriter, file_format, score_table

ModelFactory = Callable[[str], Any]


def load_from_dir(model_dir: str) -> Any:
    """The default factory: ``rewardlab.load.load_reward_model(model_dir)``."""
    from rewardlab.load import load_reward_model

    return load_reward_model(model_dir)


class ScoreActor:
    """Ray Data callable class: loads the model once, then scores batches."""

    def __init__(self, model_factory: ModelFactory, model_dir: str) -> None:
        self.model = model_factory(model_dir)

    def __call__(self, batch: Any) -> Any:
        return score_table(self.model, batch)


def _check_header(path: Path, in_format: str) -> None:
    """Fail fast, before starting Ray, when the file or its columns are missing."""
    if not path.is_file():
        raise DataError("no such file", path=str(path))
    if in_format == "parquet":
        names = set(pq.read_schema(path).names)
    else:
        with contextlib.closing(read_rows(path)) as rows:
            first = next(rows, None)
        if first is None:
            raise DataError("no rows to score", path=str(path))
        names = set(first[1])
    for field in ("prompt", "response"):
        if field not in names:
            raise DataError("missing column", path=str(path), field=field)


def _data_error(err: BaseException, path: str) -> DataError | None:
    """The :class:`DataError` an actor raised, rebuilt from Ray's error text.

    Ray re-raises actor failures as ``RayTaskError(UserCodeException)`` whose
    cause is gone by the time it reaches the driver; only the traceback text
    survives, so the field and message are read back from it.
    """
    match = re.search(r"DataError: (?:<input>: )?(?:field '([^']+)': )?([^\n]+)", str(err))
    if match is None:
        return None
    return DataError(match.group(2).strip(), path=path, field=match.group(1))


def _require_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise ImportError("Ray scoring needs ray[data]: pip install 'rewardlab[scale]'") from err
    return ray


def score_file_ray(
    model_dir: str | os.PathLike[str],
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    address: str | None = None,
    num_actors: int = 2,
    batch_size: int = 256,
    model_factory: ModelFactory = load_from_dir,
    num_cpus_per_actor: float = 1.0,
    num_gpus_per_actor: float = 0.0,
) -> int:
    """Score ``input_path`` into ``output_path`` on Ray; return the row count."""
    if num_actors < 1 or batch_size < 1:
        raise ValueError(f"num_actors and batch_size must be >= 1, got {num_actors}, {batch_size}")
    in_format = file_format(input_path)
    file_format(output_path)
    _check_header(Path(input_path), in_format)
    ray = _require_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    keep_order = context.execution_options.preserve_order
    context.execution_options.preserve_order = True
    try:
        path = str(Path(input_path).resolve())
        if in_format == "parquet":
            dataset = ray.data.read_parquet(path)
        else:
            dataset = ray.data.read_json(path, lines=True)
        scored = dataset.map_batches(
            ScoreActor,
            fn_constructor_args=(model_factory, str(model_dir)),
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=num_actors),
            num_cpus=num_cpus_per_actor,
            num_gpus=num_gpus_per_actor or None,
        )
        with AtomicTableWriter(output_path) as writer:
            for block in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
                writer.write(block)
        return writer.rows
    except ray.exceptions.RayError as err:
        data_error = _data_error(err, str(input_path))
        if data_error is None:
            raise
        raise data_error from None
    finally:
        context.execution_options.preserve_order = keep_order
        if started:
            ray.shutdown()
