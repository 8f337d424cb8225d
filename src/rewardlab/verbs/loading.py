"""Where a command's reward comes from: ``--model`` or ``--rewards``, and how it is loaded.

:class:`RewardSource` holds the fields every command that scores shares; a
command's spec extends it (``EvalSpec(RewardSource)``), and the CLI offers the
loading options (:class:`~rewardlab.models.lm.hub.HubModelOptions`,
:class:`~rewardlab.models.lm.judge_options.JudgeOptions`) and the ensemble
reading (:class:`~rewardlab.robust.aggregate.AggregateOptions`) as flags of
their own classes. :func:`load_source` loads it through the one loader
(:func:`rewardlab.load.load`), which refuses an option that the spec's kind
does not read; :func:`exactly_one` is the one rule and message for sources
that exclude each other (``--model``, ``--rewards``, ``--scores-column``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.options import OptionError, option
from rewardlab.robust.aggregate import AggregateOptions

SPEC_HELP = (
    "Model spec: a rewardlab model directory, a Hugging Face sequence-classification folder "
    "(config.json), hf:ORG/NAME (read from the Hugging Face cache; works offline), a judge "
    "judge:PATH | judge:hf:ORG/NAME | judge:smollm2, or an image reward clip:PATH | "
    "aesthetic:PATH | hpsv2:PATH."
)
MODEL_HELP = SPEC_HELP + (
    " A comma list A,B,C of specs is scored as one ensemble reduced by --aggregate (default "
    "mean). Or give --rewards."
)
REWARDS_HELP = ("Verifier name (math, choice, exact, format, json_schema, code, …) or recipe "
                "file (.yaml/.yml/.json), instead of --model.")


def rewards_spec(text: str) -> str:
    """``--rewards``: a registered verifier or a recipe file (a typo is exit 2, at parse)."""
    from rewardlab.load.rewards import check_rewards_spec
    from rewardlab.registry import UnknownNameError

    try:
        return check_rewards_spec(text)
    except UnknownNameError as err:
        raise ValueError(str(err)) from None


def rewards_list(text: str) -> str:
    """``--rewards A,B``: each a registered verifier or a recipe file (checked at parse)."""
    for part in text.split(","):
        if part.strip():
            rewards_spec(part.strip())
    return text


@dataclass(frozen=True, kw_only=True)
class RewardSource:
    """The reward of a command: a model spec or a verifier/recipe, and how it is loaded."""

    model: str | None = option(None, MODEL_HELP)
    rewards: str | None = option(None, REWARDS_HELP, parse=rewards_spec, metavar="NAME|FILE")
    unsafe_no_sandbox: bool = option(
        False, "Where no sandbox can be made (bubblewrap missing), run the code reward's "
        "programs anyway, unisolated: they can read, write and connect wherever this process "
        "can.")
    aggregation: AggregateOptions = option(default_factory=AggregateOptions, cli=False,
                                           help="How an ensemble's members are reduced.")
    hub: HubModelOptions = option(default_factory=HubModelOptions, cli=False,
                                  help="Loading options of Hugging Face models.")
    judge: JudgeOptions = option(default_factory=JudgeOptions, cli=False,
                                 help="Options of a judge.")


def exactly_one(sources: Mapping[str, Any]) -> str:
    """The one flag of ``sources`` (flag → value) that is given; :class:`OptionError`
    naming them all when none or several are."""
    given = [flag for flag, value in sources.items() if value is not None]
    if len(given) == 1:
        return given[0]
    flags = list(sources)
    listed = " and ".join(flags) if len(flags) == 2 else (
        ", ".join(flags[:-1]) + " and " + flags[-1])
    said = f"; got {' and '.join(given)}" if given else ""
    raise OptionError(f"{flags[0]}: give exactly one of {listed}{said}")


def load_source(source: RewardSource, uses: Iterable[str] = ("score", "prob"),
                progress: Callable[[str, int, int], None] | None = None) -> Any:
    """The reward model of ``source`` (:func:`rewardlab.load.load`), the aggregation's
    parameters checked against its declaration first; ``uses``: how the command scores
    (``score``, ``prob``). ``progress("load", 0, 1)`` as the loading starts (a large model
    takes seconds to read) and ``progress("load", 1, 1)`` once it is loaded."""
    from rewardlab.load import load

    exactly_one({"--model": source.model, "--rewards": source.rewards})
    aggregation = source.aggregation
    params = aggregation.params()  # an unknown or ill-typed parameter: refused by name
    if progress is not None:
        progress("load", 0, 1)
    model = load(source.model, source.rewards, hub=source.hub, judge=source.judge,
                 aggregate=aggregation.aggregate, aggregate_params=params,
                 unsafe_no_sandbox=source.unsafe_no_sandbox, uses=uses)
    if progress is not None:
        progress("load", 1, 1)
    return model


def report_batches(model: Any, progress: Callable[[str, int, int], None] | None) -> Any:
    """``model``, its forward batches reported as ``progress("forward batches", done,
    total)`` within each pass over its inputs when it is a language model that counts them
    (a judge, a Hugging Face classifier: their ``batch_progress``)."""
    if progress is not None and hasattr(model, "batch_progress"):
        model.batch_progress = lambda done, total: progress("forward batches", done, total)
    return model


def require_no_reference(model: Any, source: RewardSource, command: str) -> Any:
    """``model`` unless it checks responses against references, which ``command``'s data
    (preference pairs) does not carry: :class:`OptionError` naming ``--rewards``."""
    if getattr(model, "requires_reference", False):
        raise OptionError(
            f"--rewards: {source.rewards} checks each response against a reference (ground "
            f"truth), which the preference pairs {command} reads carry none of; give a reward "
            "that needs none (format, length, json_schema with a schema, or a recipe of such)")
    return model


def member_count(model: Any) -> int | None:
    """How many reward members ``model`` scores (an aggregated ensemble's, a saved
    ensemble's ``n_members``); ``None`` when it has no members (a judge, a preference
    model)."""
    from rewardlab.robust.ensemble import ModelEnsemble

    inner = getattr(model, "members", model)
    if isinstance(inner, ModelEnsemble):
        return len(inner.models)
    return getattr(inner, "n_members", None)
