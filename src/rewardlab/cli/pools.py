"""The candidate pool of ``bon`` and ``build``: read it and score it from one source.

A pool is JSONL lines ``{prompt, response, [gold], [score columns]}`` with
many candidates per prompt (:mod:`rewardlab.optimize.pool`). Its proxy reward
comes from exactly one of ``--model`` (any spec, or a comma list reduced by
``--aggregate``), ``--rewards`` (a verifier or recipe checking each response
against its row's reference column, :mod:`rewardlab.cli.rewards_option`) or
``--scores-column``. A preference model (``prob``, no ``score``: a GPM, a judge)
has no scalar reward; each candidate's proxy is then its Copeland win rate
among its prompt's whole pool
(:func:`rewardlab.optimize.preference_bon.best_of_n_by_preference`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.cli.common import progress_bar
from rewardlab.cli.model_options import MODEL_HELP, ModelLoading, load_model_option
from rewardlab.cli.rewards_option import load_cli_rewards, pool_scorer
from rewardlab.optimize.pool import PromptPool, read_pool

BON_MODEL_HELP = MODEL_HELP + (
    " A preference model (prob, no score: a GPM, a judge) ranks each prompt's pool by "
    "Copeland win rate (round robin); best-of-n picks the top one."
)


POOL_HELP = (
    "Candidate pool (JSONL/JSON/CSV/Parquet): {prompt, response, [gold], [score columns]} "
    "rows, many per prompt."
)

POOL_REWARDS_HELP = (
    "Verifier name (math, choice, code, …) or recipe file, instead of --model or "
    "--scores-column: each candidate is checked against its row's --reference-column."
)


class CopelandProxy:
    """A preference model's proxy reward: each candidate's Copeland win rate among the
    candidates of the same prompt in one ``score`` call (give it whole pools)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        from rewardlab.optimize.preference_bon import best_of_n_by_preference

        groups: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(prompt, []).append(i)
        _, wins = best_of_n_by_preference(
            self.model, list(groups), [[responses[i] for i in idx] for idx in groups.values()]
        )
        scores = np.empty(len(prompts), dtype=np.float64)
        for idx, w in zip(groups.values(), wins, strict=True):
            scores[idx] = w
        return scores


def load_pools(
    path: Path,
    model: str | None,
    scores_column: str | None,
    gold_column: str | None,
    batch_size: int = 256,
    loading: ModelLoading | None = None,
    aggregate: str | None = None,
    rewards: str | None = None,
    reference_column: str | None = None,
) -> list[PromptPool]:
    """Read the pool at ``path`` and score it with ``--model`` (lazy import, progress bar), with
    ``--rewards`` (references from ``reference_column`` or the default columns) or a
    column; a preference model scores whole pools by Copeland win rate
    (:class:`CopelandProxy`)."""
    if sum(source is not None for source in (model, scores_column, rewards)) != 1:
        raise ValueError("give exactly one of --model and --scores-column (or --rewards)")
    if reference_column is not None and rewards is None:
        raise ValueError("--reference-column: only with --rewards")
    if aggregate is not None and rewards is not None:
        raise ValueError("--aggregate: not with --rewards (a recipe combines its components)")
    if aggregate is not None and model is None:
        raise ValueError("--aggregate: only with --model (it reduces an ensemble's members)")
    if rewards is not None:
        scorer = pool_scorer(load_cli_rewards(rewards), path, reference_column)
        return read_pool(path, row_scorer=scorer, gold_column=gold_column)
    if model is None:
        return read_pool(path, score_column=scores_column, gold_column=gold_column)
    from rewardlab.evaluate.preference import is_preference_model

    reward_model = load_model_option(model, loading, aggregate)
    if is_preference_model(reward_model):
        reward_model, batch_size = CopelandProxy(reward_model), sys.maxsize
    with progress_bar("scoring candidates") as progress:
        return read_pool(
            path,
            model=reward_model,
            gold_column=gold_column,
            batch_size=batch_size,
            progress=progress,
        )
