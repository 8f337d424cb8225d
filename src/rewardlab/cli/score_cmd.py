"""``rewardlab score``: parse the flags, call :func:`rewardlab.verbs.score.score`, print.

The flags are made from :class:`~rewardlab.verbs.score.ScoreSpec` and the
loading options (:mod:`rewardlab.cli.sources`); the verb loads the reward
(any model spec, or a verifier or recipe with ``--rewards``), scores every row
and writes the output.
"""

from __future__ import annotations

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.sources import with_loading, with_reward_source
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.robust.aggregate import AggregateOptions
from rewardlab.verbs.score import ScoreSpec


def register(app: typer.Typer) -> None:
    command(app, "score", renamed={"--input": "--data", "--output": "--out"})(score)


@with_reward_source(ScoreSpec)
def score(spec: ScoreSpec = None, hub: HubModelOptions = None, judge: JudgeOptions = None,
          aggregation: AggregateOptions = None) -> None:
    """Score a file of responses; each output line gets ``reward`` (and ``uncertainty``;
    with --rewards, ``reward_<component>`` for each component of the recipe).

    The output is strict JSON: a non-finite number, in a copied input column or a
    reward, is written as ``null``."""
    from rewardlab.verbs.score import score as run

    with user_errors(), progress_bars() as progress:
        result = run(with_loading(spec, hub, judge, aggregation), progress)
    console.print(f"scored {len(result.rows)} responses; wrote {result.out}")
