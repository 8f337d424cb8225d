"""Write the digits preference tasks as files: Pick-a-Pic Parquet and image JSONL.

Two tasks (:mod:`rewardlab.data.synthetic.digits`):

- ``gold``: the preference set with a known gold. The prompts are split by
  ``seed`` into train (80%) and test (20%) prompts; ``train_pairs`` labelled
  pairs are drawn from the train prompts and ``test_pairs`` from the test
  prompts (plus the ties drawn among them). Files: ``train``, ``test`` (labels
  with their 10% noise) and ``test-gold`` (the same test pairs ordered by the
  gold, so that ``rewardlab eval`` on it reports agreement with the gold
  order), each as ``.parquet`` (Pick-a-Pic columns plus ``gold_0``/``gold_1``)
  and ``.jsonl`` (``{prompt, chosen, rejected, gold_chosen, gold_rejected}``,
  with ``tie`` on ties).
- ``noise``: the clean-versus-noisy task. ``train_pairs`` and ``test_pairs``
  pairs on disjoint scans, each a scan preferred to the same scan with heavy
  Gaussian noise (σ = 0.5); files ``train`` and ``test`` in both forms.

The JSONL images are PNGs under ``DIR/images/`` named by their digest.
``DIR/digits.json`` records the task, its settings and the counts. Every file
is written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import write_json_atomic
from rewardlab.data.formats.images import write_image_jsonl
from rewardlab.data.formats.pickapic import write_pickapic
from rewardlab.data.record import Comparison
from rewardlab.data.synthetic.digits import (
    DigitsConfig,
    digit_pairs,
    generate_digits,
    load_scans,
    noise_pairs,
)

TASKS = ("gold", "noise")


def gold_ordered(pairs: Sequence[Comparison]) -> list[Comparison]:
    """The pairs with the label noise undone: ranked by the gold (ties stay ties)."""
    return [
        Comparison(p.prompt, p.responses,
                   (0, 1) if p.tie or p.meta["gold"][0] >= p.meta["gold"][1] else (1, 0),
                   tie=p.tie, category=p.category, meta={**p.meta, "flipped": False})
        for p in pairs
    ]


def _write(folder: Path, name: str, pairs: Sequence[Comparison], gold: bool) -> None:
    parquet_extra = jsonl_extra = None
    if gold:
        parquet_extra = [{"gold_0": float(p.meta["gold"][0]), "gold_1": float(p.meta["gold"][1])}
                         for p in pairs]
        jsonl_extra = [{"gold_chosen": float(p.meta["gold"][p.ranking[0]]),
                        "gold_rejected": float(p.meta["gold"][p.ranking[1]])} for p in pairs]
    write_pickapic(pairs, folder / f"{name}.parquet", parquet_extra)
    write_image_jsonl(pairs, folder / f"{name}.jsonl", extra=jsonl_extra)


def write_digits(
    out: str | Path,
    task: str = "gold",
    train_pairs: int = 1000,
    test_pairs: int = 500,
    config: DigitsConfig | None = None,
    label_noise: float = 0.1,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the files of ``task`` under ``out`` (created) and return the summary also
    written to ``out/digits.json``: the settings and, per file, rows and ties."""
    if task not in TASKS:
        raise ValueError(f"field 'task': expected one of {', '.join(TASKS)}, got {task!r}")
    folder = Path(out)
    summary: dict[str, Any] = {"task": task, "seed": seed, "files": {}}
    if task == "gold":
        config = config or DigitsConfig(seed=seed)
        digits = generate_digits(config)
        order = np.random.default_rng(seed).permutation(config.n_prompts)
        n_test = max(1, round(0.2 * config.n_prompts))
        test_idx, train_idx = order[:n_test], order[n_test:]
        train = digit_pairs(digits, train_idx, train_pairs, label_noise, seed=seed * 2 + 1)
        test = digit_pairs(digits, test_idx, test_pairs, label_noise, seed=seed * 2 + 2)
        splits = {"train": train, "test": test, "test-gold": gold_ordered(test)}
        summary.update(n_prompts=config.n_prompts, test_prompts=n_test,
                       candidates_per_prompt=config.candidates_per_prompt,
                       size_correlation=config.size_correlation, label_noise=label_noise)
    else:
        train = noise_pairs(train_pairs, seed=seed * 2 + 1)
        used = frozenset(p.meta["source"] for p in train)
        if test_pairs > len(load_scans()[0]) - len(used):
            raise ValueError(f"field 'test_pairs': only {len(load_scans()[0]) - len(used)} "
                             "scans are left for the test pairs")
        test = noise_pairs(test_pairs, seed=seed * 2 + 2, exclude=used)
        splits = {"train": train, "test": test}
    folder.mkdir(parents=True, exist_ok=True)  # only once every pair is drawn
    for name, pairs in splits.items():
        _write(folder, name, pairs, gold=task == "gold")
        summary["files"][name] = {"rows": len(pairs), "ties": sum(p.tie for p in pairs)}
    write_json_atomic(folder / "digits.json", summary)
    return summary
