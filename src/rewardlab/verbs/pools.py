"""The candidate pool of ``bon``, ``build`` and ``forecast``: read it and score it from one source.

A pool is rows ``{prompt, response, [gold], [score columns]}`` with many
candidates per prompt (:mod:`rewardlab.optimize.pool`). :class:`PoolSpec` (the
base of those commands' specs) says where its proxy reward comes from: exactly
one of ``model`` (any spec, or a comma list reduced by the aggregation,
:func:`rewardlab.verbs.loading.load_source`), ``rewards`` (a verifier or recipe
checking each response against its row's reference column,
:func:`rewardlab.verbs.rows.pool_scorer`) or ``scores_column`` (precomputed).
What each source reads is declared (:data:`SOURCE_READS`): an option given for
a source that is not the chosen one is refused (exit 2) before the data is read.

A preference model (``prob``: a GPM, a judge given alone) is read by comparing
candidates; each candidate's proxy is then its Copeland win rate among its
prompt's whole pool (:class:`~rewardlab.optimize.preference_bon.CopelandProxy`):
a judge's pairwise template is read, its rating options and ``batch_size`` are
refused (:func:`proxy_uses`). In a comma list a judge rates each candidate.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.options import OptionError, default_of, option, redefault, refuse_unread
from rewardlab.verbs.loading import MODEL_HELP, RewardSource, exactly_one, rewards_spec
from rewardlab.verbs.score import ScoreSpec

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``."""

POOL_HELP = (
    "Candidate pool (JSONL/JSON/CSV/Parquet): {prompt, response, [gold], [score columns]} "
    "rows, many per prompt."
)
POOL_MODEL_HELP = MODEL_HELP + (
    " A preference model (a GPM, a judge alone: it compares two responses) ranks each "
    "prompt's pool by Copeland win rate (round robin; a judge by its pairwise template, "
    "whole pools per call); best-of-n picks the top one. In a comma list a judge rates "
    "each candidate."
)
POOL_REWARDS_HELP = (
    "Verifier name (math, choice, code, …) or recipe file, instead of --model or "
    "--scores-column: each candidate is checked against its row's --reference-column."
)

SOURCE_READS: dict[str, tuple[str, ...]] = {
    "--model": ("hub", "judge", "aggregation", "batch_size"),
    "--rewards": ("reference_column", "unsafe_no_sandbox"),
    "--scores-column": (),
}
"""The options each source of proxy scores reads (the loader refuses, in turn, a loading
option that the model's kind does not read)."""


@dataclass(frozen=True, kw_only=True)
class PoolSpec(RewardSource):
    """A candidate pool and the source of its proxy scores (see the module doc)."""

    data: Path = option(help=POOL_HELP)
    model: str | None = option(None, POOL_MODEL_HELP)
    rewards: str | None = option(None, POOL_REWARDS_HELP, parse=rewards_spec)
    scores_column: str | None = option(None, "Column with precomputed proxy scores, instead "
                                       "of --model or --rewards.")
    reference_column: str | None = redefault(ScoreSpec, "reference_column", None)
    batch_size: int = option(256, "--model: pairs per model call.", min=1)


def check_source(spec: PoolSpec) -> str:
    """The flag of the one source given (``--model``, ``--scores-column``, ``--rewards``);
    an :class:`~rewardlab.options.OptionError` when none or several are, or an option of
    another source is given."""
    which = exactly_one({"--model": spec.model, "--scores-column": spec.scores_column,
                         "--rewards": spec.rewards})
    value = {"--model": spec.model, "--scores-column": spec.scores_column,
             "--rewards": spec.rewards}[which]
    refuse_unread(spec, SOURCE_READS, [which], f"{which} {value}")
    return which


def proxy_name(spec: PoolSpec) -> str:
    """How results name the proxy: the model spec, ``rewards:SPEC`` or ``column:NAME``."""
    if spec.model is not None:
        return spec.model
    return f"rewards:{spec.rewards}" if spec.rewards is not None else f"column:{spec.scores_column}"


def proxy_uses(model: str) -> tuple[str, ...]:
    """How a pool reads the proxy ``model`` (a spec or a comma list), for the loader's
    refusal of the options it leaves unread: a judge alone is a preference model, ranked by
    Copeland win rate through ``prob`` (its pairwise template; its rating ones are refused);
    anything else by its reward per response (``score``; a judge in a comma list rates)."""
    from rewardlab.load import model_kind, split_specs

    specs = split_specs(model)
    return ("prob",) if len(specs) == 1 and model_kind(specs[0]) == "judge" else ("score",)


def load_proxy(spec: PoolSpec, progress: Progress | None = None) -> tuple[Any, int]:
    """The proxy model of ``spec.model`` and the batch to score it with: a preference model
    (a judge alone, a GPM) is read by Copeland win rate within each prompt's pool (whole
    pools per call). Its loading goes to ``progress``
    (:func:`~rewardlab.verbs.loading.load_source`)."""
    from rewardlab.evaluate.preference import is_preference_model
    from rewardlab.optimize.preference_bon import CopelandProxy
    from rewardlab.verbs.loading import load_source

    uses = proxy_uses(spec.model)
    if uses == ("prob",):
        _refuse_batch_size(spec)
    model = load_source(spec, uses, progress)
    if is_preference_model(model):
        _refuse_batch_size(spec)
        return CopelandProxy(model), sys.maxsize
    return model, spec.batch_size


def _refuse_batch_size(spec: PoolSpec) -> None:
    """A preference model scores each prompt's whole pool per call: ``--batch-size`` given
    for it is refused."""
    if spec.batch_size != default_of(type(spec), "batch_size"):
        raise OptionError(f"--batch-size: not read by --model {spec.model} (a preference "
                          "model ranks each prompt's whole pool per call); leave it out")


def score_pool(spec: PoolSpec, gold_column: str | None = None,
               progress: Progress | None = None) -> list[Any]:
    """Read ``spec.data`` and score it from the spec's source (:func:`check_source` first);
    returns one :class:`~rewardlab.optimize.pool.PromptPool` per prompt. ``progress``
    follows the loading (``load``) and the scoring (``scoring candidates``: candidates
    scored of all, from 0)."""
    from rewardlab.optimize.pool import read_pool

    check_source(spec)
    if spec.scores_column is not None:
        return read_pool(spec.data, score_column=spec.scores_column, gold_column=gold_column)
    report = None if progress is None else (
        lambda done, total: progress("scoring candidates", done, total))
    if spec.rewards is not None:
        from rewardlab.verbs.loading import load_source
        from rewardlab.verbs.rows import pool_scorer

        scorer = pool_scorer(load_source(spec, progress=progress), Path(spec.data),
                             spec.reference_column, report)
        return read_pool(spec.data, row_scorer=scorer, gold_column=gold_column)
    model, batch_size = load_proxy(spec, progress)
    return read_pool(spec.data, model=model, gold_column=gold_column, batch_size=batch_size,
                     progress=report)
