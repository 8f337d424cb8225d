"""The flags of a command that loads a reward (``--model``/``--rewards``), made once.

A command whose spec extends :class:`~rewardlab.verbs.loading.RewardSource` is
decorated with :func:`with_reward_source`: besides the spec's own fields it gets
the flags of the loading options (:class:`~rewardlab.models.lm.hub.HubModelOptions`,
:class:`~rewardlab.models.lm.judge_options.JudgeOptions`) and, where the command
reads an ensemble, of :class:`~rewardlab.robust.aggregate.AggregateOptions`;
:func:`with_loading` puts them back into the spec. Which spec kind reads which
option is the loader's business (:mod:`rewardlab.load.kinds`): the verb refuses
one that the given spec does not read, before any data is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rewardlab.cli.flags import with_options
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.robust.aggregate import AggregateOptions


def with_reward_source(spec: type, aggregate: bool = True,
                       **groups: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """:func:`~rewardlab.cli.flags.with_options` with the spec, the loading options
    (arguments ``hub``, ``judge``), the ensemble reading when ``aggregate`` (argument
    ``aggregation``) and any other ``groups``."""
    loading: dict[str, type] = {"hub": HubModelOptions, "judge": JudgeOptions}
    if aggregate:
        loading["aggregation"] = AggregateOptions
    return with_options(spec=spec, **loading, **groups)


def with_loading(spec: Any, hub: HubModelOptions, judge: JudgeOptions,
                 aggregation: AggregateOptions | None = None, **others: Any) -> Any:
    """``spec`` holding the options the flags made."""
    extra = {} if aggregation is None else {"aggregation": aggregation}
    return replace(spec, hub=hub, judge=judge, **extra, **others)
