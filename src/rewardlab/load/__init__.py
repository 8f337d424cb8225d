"""The one loader of rewards: every command, adapter and library call that takes a spec
goes through here.

::

    from rewardlab.load import load
    model = load(model="runs/rm")                        # any --model spec
    ensemble = load(model="hf:org/a,hf:org/b", aggregate="wco")
    recipe = load(rewards="math")                        # a verifier or a recipe file

:func:`load` takes exactly one of ``model`` (a spec, or a comma list of specs
scored as one ensemble) and ``rewards`` (a verifier name or recipe file,
:func:`~rewardlab.load.rewards.load_rewards`). The loading options
(:class:`~rewardlab.models.lm.hub.HubModelOptions`,
:class:`~rewardlab.models.lm.judge_options.JudgeOptions`) reach every spec
whose kind reads them (:mod:`rewardlab.load.kinds`); one that no spec reads is
refused (:class:`~rewardlab.options.OptionError`, naming the option as a flag)
before anything is loaded, as are ``aggregate`` for a model with nothing to
aggregate and ``unsafe_no_sandbox`` for a model that runs no code.

One spec: :func:`~rewardlab.load.specs.load_reward_model`; several:
:func:`~rewardlab.load.specs.load_reward_ensemble`. (:func:`rewardlab.models.io.load_model`
reads one format only, a directory of a model trained on a backbone.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rewardlab.load.kinds import ALL_USES, MODEL_KINDS, given_options, model_kind, refuse_unread
from rewardlab.load.rewards import load_recipe, load_rewards
from rewardlab.load.specs import (
    NothingToAggregate,
    is_rewardlab_directory,
    load_reward_ensemble,
    load_reward_model,
    split_specs,
)
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.options import OptionError


def require_score(model: Any, spec: str | None) -> Any:
    """``model`` when it has a reward per response (``score``); a preference model (a GPM,
    ``prob`` only) is a ``ValueError`` naming the commands that take it."""
    if not hasattr(model, "score"):
        raise ValueError(
            f"--model {spec}: a preference model (it compares two responses, prob) gives no "
            "reward per response; use it alone with eval, bon or build"
        )
    return model


def load(
    model: str | None = None,
    rewards: str | None = None,
    *,
    hub: HubModelOptions | None = None,
    judge: JudgeOptions | None = None,
    aggregate: str | None = None,
    aggregate_params: Mapping[str, float] | None = None,
    center: bool | None = None,
    unsafe_no_sandbox: bool = False,
    uses: Iterable[str] = ALL_USES,
) -> Any:
    """The reward of ``--model`` or ``--rewards`` (see the module doc); ``uses`` are the
    ways the caller scores with it (``score``, ``prob``), for the options read by one way
    only (a judge's rating and pairwise templates)."""
    hub, judge = hub or HubModelOptions(), judge or JudgeOptions()
    if (model is None) == (rewards is None):
        raise OptionError("--model: give exactly one of --model and --rewards")
    loading = given_options(hub, judge)
    if rewards is not None:
        unread = [flag for _, flag in loading]
        if aggregate is not None or aggregate_params:
            unread.insert(0, "--aggregate")
        if unread:
            raise OptionError(f"{unread[0]}: not read by --rewards {rewards} (a verifier or "
                              "recipe); leave it out")
        return load_rewards(rewards, unsafe_no_sandbox=unsafe_no_sandbox)
    if unsafe_no_sandbox:
        raise OptionError(f"--unsafe-no-sandbox: not read by --model {model} (it runs no "
                          "code); leave it out")
    specs = split_specs(model)
    refuse_unread(specs, loading, uses)
    params = dict(aggregate_params or {})
    try:
        if len(specs) > 1:
            ensemble = load_reward_ensemble(specs, aggregate=aggregate or "mean",
                                            center=bool(center), hub=hub, judge=judge, **params)
            for spec, member in zip(specs, ensemble.members.models, strict=True):
                require_score(member, spec)  # a preference model has no reward to average
            return ensemble
        return load_reward_model(model, aggregate=aggregate, center=center, hub=hub,
                                 judge=judge, **params)
    except NothingToAggregate as err:
        raise OptionError(f"--aggregate: {err}") from None


__all__ = [
    "MODEL_KINDS",
    "NothingToAggregate",
    "is_rewardlab_directory",
    "load",
    "load_recipe",
    "load_reward_ensemble",
    "load_reward_model",
    "load_rewards",
    "model_kind",
    "require_score",
    "split_specs",
]
