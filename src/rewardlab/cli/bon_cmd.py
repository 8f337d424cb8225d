"""``rewardlab bon``: the best-of-n curve of a reward model on a candidate pool.

Reads pool lines ``{prompt, response, [gold], [score columns]}`` (many
candidates per prompt), scores them with ``--model``, with ``--rewards`` (a
verifier or recipe checking each response against its row's reference column,
:mod:`rewardlab.cli.rewards_option`) or takes ``--scores-column``, and writes, for each n, the unbiased expected proxy and
gold reward of best-of-n, the upper bound ``kl`` = log n − (n−1)/n on its KL
(Beirami et al., 2024), and the exact KL over each prompt's pool, averaged
over prompts: ``kl_exact`` without replacement (the policy the proxy and gold
values belong to) and ``kl_exact_with_replacement``
(:mod:`rewardlab.optimize.bon`).

A preference model (``prob``, no ``score``: a GPM, a judge) has no scalar
reward; each candidate's proxy is then its Copeland win rate among its
prompt's whole pool (:func:`rewardlab.optimize.preference_bon.best_of_n_by_preference`,
n(n−1)/2 comparisons per prompt), and best-of-n picks the highest of those.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import typer

from rewardlab.cli.common import console, parse_csv, progress_bar, user_errors, write_json
from rewardlab.cli.model_options import (
    MODEL_HELP,
    ModelLoading,
    load_model_option,
    model_option,
    with_model_loading,
)
from rewardlab.cli.rewards_option import pool_scorer, reference_column_option, rewards_option
from rewardlab.optimize.bon import best_of_n_curve
from rewardlab.optimize.pool import PromptPool, read_pool


def parse_ns(text: str) -> list[int]:
    """``"1,2,4"`` → ``[1, 2, 4]``; ``ValueError`` naming ``--n`` on anything else."""
    try:
        ns = parse_csv(text, int)
    except ValueError:
        raise ValueError(f"--n: expected comma-separated integers, got {text!r}") from None
    if not ns or any(n < 1 for n in ns):
        raise ValueError(f"--n: every n must be a positive integer, got {text!r}")
    return ns


BON_MODEL_HELP = MODEL_HELP + (
    " A preference model (prob, no score: a GPM, a judge) ranks each prompt's pool by "
    "Copeland win rate (round robin); best-of-n picks the top one."
)


POOL_REWARDS_HELP = (
    "Verifier name (math, choice, code, …) or recipe file, instead of --model or "
    "--scores-column: each candidate is checked against its row's --reference-column."
)


def proxy_name(model: str | None, scores_column: str | None, rewards: str | None) -> str:
    """How the results name the proxy: the model spec, ``rewards:SPEC`` or ``column:NAME``."""
    if model is not None:
        return model
    return f"rewards:{rewards}" if rewards is not None else f"column:{scores_column}"


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
    candidates: Path,
    model: str | None,
    scores_column: str | None,
    gold_column: str | None,
    batch_size: int = 256,
    loading: ModelLoading | None = None,
    aggregate: str | None = None,
    rewards: str | None = None,
    reference_column: str | None = None,
) -> list[PromptPool]:
    """Read a pool and score it with ``--model`` (lazy import, progress bar), with
    ``--rewards`` (references from ``reference_column`` or the default columns) or a
    column; a preference model scores whole pools by Copeland win rate
    (:class:`CopelandProxy`)."""
    if sum(source is not None for source in (model, scores_column, rewards)) != 1:
        raise ValueError("give exactly one of --model and --scores-column (or --rewards)")
    if reference_column is not None and rewards is None:
        raise ValueError("--reference-column: only with --rewards")
    if rewards is not None:
        if aggregate is not None:
            raise ValueError("--aggregate: not with --rewards (a recipe combines its components)")
        from rewardlab.robust.recipe import load_rewards

        scorer = pool_scorer(load_rewards(rewards), candidates, reference_column)
        return read_pool(candidates, row_scorer=scorer, gold_column=gold_column)
    if model is None:
        return read_pool(candidates, score_column=scores_column, gold_column=gold_column)
    from rewardlab.evaluate.preference import is_preference_model

    reward_model = load_model_option(model, loading, aggregate)
    if is_preference_model(reward_model):
        reward_model, batch_size = CopelandProxy(reward_model), sys.maxsize
    with progress_bar("scoring candidates") as progress:
        return read_pool(
            candidates,
            model=reward_model,
            gold_column=gold_column,
            batch_size=batch_size,
            progress=progress,
        )


@with_model_loading
def bon(
    candidates: Path = typer.Option(..., "--candidates", help="pool JSONL: {prompt, response, …}"),
    out: Path = typer.Option(..., "--out", help="results JSON to write"),
    n: str = typer.Option("1,2,4,8,16", "--n", help="comma-separated values of n"),
    model: str | None = model_option(required=False, help=BON_MODEL_HELP),
    scores_column: str | None = typer.Option(
        None, "--scores-column", help="column with precomputed proxy scores"
    ),
    rewards: str | None = rewards_option(POOL_REWARDS_HELP),
    reference_column: str | None = reference_column_option(),
    gold_column: str | None = typer.Option(None, "--gold-column", help="column with gold scores"),
    batch_size: int = typer.Option(256, "--batch-size", min=1, help="pairs per model call"),
    aggregate: str | None = typer.Option(
        None, "--aggregate", help="Aggregation of an ensemble or of a comma list of --model "
        "specs (mean, wco, uwo, …)."
    ),
    loading: ModelLoading = None,
) -> None:
    """Expected proxy and gold reward of best-of-n, for each n, from a candidate pool.

    With a preference model the proxy is each candidate's Copeland win rate in its
    prompt's pool (best-of-n picks by Copeland)."""
    with user_errors():
        ns = parse_ns(n)
        pools = load_pools(candidates, model, scores_column, gold_column, batch_size, loading,
                           aggregate, rewards, reference_column)
        curve = best_of_n_curve(pools, ns)
        write_json(
            out,
            {
                "candidates": str(candidates),
                "proxy": proxy_name(model, scores_column, rewards),
                "gold": gold_column,
                "prompts": len(pools),
                "samples": sum(len(pool) for pool in pools),
                "curve": curve,
            },
        )
    for point in curve:
        gold = "" if point["gold"] is None else f"  gold {point['gold']:.4f}"
        proxy = "n/a" if point["proxy"] is None else f"{point['proxy']:.4f}"
        exact = "n/a" if point["kl_exact"] is None else f"{point['kl_exact']:.3f}"
        typer.echo(
            f"n={point['n']:<5} kl bound {point['kl']:.3f}, pool {exact}  proxy {proxy}{gold}"
            f"  ({point['prompts']} prompts, {point['skipped']} skipped)"
        )
    console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add ``bon`` to the application."""
    app.command("bon")(bon)
