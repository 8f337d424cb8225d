"""``rewardlab eval`` and ``rewardlab compare``: parse the flags, call the verb, print.

The flags are made from :class:`~rewardlab.verbs.evaluate.EvalSpec` and
:class:`~rewardlab.verbs.compare.CompareSpec`, the loading options and the
attack probe's options (:class:`~rewardlab.evaluate.probe_options.AttackOptions`);
the verbs (:func:`rewardlab.verbs.evaluate.evaluate`,
:func:`rewardlab.verbs.compare.compare`) do the work.
"""

from __future__ import annotations

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.sources import with_loading, with_reward_source
from rewardlab.evaluate.probe_options import AttackOptions
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.robust.aggregate import AggregateOptions
from rewardlab.verbs.compare import CompareSpec
from rewardlab.verbs.evaluate import EvalSpec


def register(app: typer.Typer) -> None:
    command(app, "eval")(evaluate)
    command(app, "compare", renamed={"--models": "--model"})(compare)


@with_reward_source(EvalSpec, attack=AttackOptions)
def evaluate(spec: EvalSpec = None, hub: HubModelOptions = None, judge: JudgeOptions = None,
             aggregation: AggregateOptions = None, attack: AttackOptions = None) -> None:
    """Evaluate a reward or preference model: a suite (with its length-only baseline) plus
    audit probes. Metrics are saved beside the model only when it is a rewardlab directory."""
    from rewardlab.verbs.evaluate import evaluate as run

    with user_errors(), progress_bars() as progress:
        result = run(with_loading(spec, hub, judge, aggregation, attack=attack),
                     progress=progress, on_data=lambda summary: console.print(f"data: {summary}"))
    console.print(result.summary())
    console.print("wrote " + ", ".join(str(path) for path in result.written))


@with_reward_source(CompareSpec, aggregate=False)
def compare(spec: CompareSpec = None, hub: HubModelOptions = None,
            judge: JudgeOptions = None) -> None:
    """Agreement (Kendall τ, Spearman, pair agreement, ensemble disagreement) and STARC."""
    from rewardlab.verbs.compare import compare as run

    with user_errors(), progress_bars() as progress:
        result = run(with_loading(spec, hub, judge),
                     on_data=lambda summary: console.print(f"data: {summary}"),
                     progress=progress)
    for line in result.lines():
        console.print(line)
    console.print(f"wrote {result.out}")
