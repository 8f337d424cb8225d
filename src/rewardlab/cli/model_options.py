"""The ``--model`` flags of the commands not yet made from a spec (``bon``, ``build``,
``forecast``): a command made from a spec takes them as fields of
:class:`~rewardlab.verbs.loading.RewardSource` and the loading options' own classes
(:mod:`rewardlab.cli.sources`), and refuses an option by the declarations of
:mod:`rewardlab.load.kinds`.

``--model`` is a spec string (:data:`MODEL_HELP` lists the forms;
:func:`rewardlab.load.load_reward_model` reads them). A comma list
``A,B,C`` of specs is one ensemble whose members are the models' scores,
reduced by ``--aggregate`` (:func:`rewardlab.load.load_reward_ensemble`).

A command decorated with :func:`with_model_loading` gains the flags of
:data:`LOADING_PARAMETERS` (``--max-length``, ``--dtype``, ``--device``,
``--token-budget``, ``--trust-remote-code``, ``--weights``, ``--chat-template`` and
the ``--judge-*`` flags) and receives them as one ``loading: ModelLoading``
argument; :func:`load_model_option` loads the model with them. They apply to
Hugging Face models and judges only (``--weights`` to classifiers, ``--judge-*`` to one
judge): given with models that read none of them, they are refused
(:func:`refuse_unused_flags`), not ignored. ``--device`` must exist on this machine,
``--weights`` be finite numbers, not all zero; both are checked as options (exit 2).
"""

from __future__ import annotations

import functools
import inspect
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from rewardlab.cli.common import choice, parse_csv
from rewardlab.models.lm.hub import CHAT_TEMPLATE_MODES, DTYPES, HubModelOptions, check_device

if typing.TYPE_CHECKING:
    from rewardlab.models.lm.judge_options import JudgeOptions

SPEC_HELP = (
    "Model spec: a rewardlab model directory, a Hugging Face sequence-classification folder "
    "(config.json), hf:ORG/NAME (read from the Hugging Face cache; works offline), or a judge "
    "judge:PATH | judge:hf:ORG/NAME | judge:smollm2."
)
MODEL_HELP = SPEC_HELP + (
    " A comma list A,B,C of specs is scored as one ensemble reduced by --aggregate (default "
    "mean)."
)


def model_option(required: bool = True, help: str = MODEL_HELP) -> Any:
    """The ``--model`` option (a spec string), required or defaulting to None."""
    return typer.Option(... if required else None, "--model", help=help)


AGGREGATE_HELP = (
    "Aggregation of an ensemble (a saved ensemble or a comma list of --model specs): "
    "{aggregations}; default mean."
)


def aggregate_option(help: str = AGGREGATE_HELP) -> Any:
    """The ``--aggregate`` option of a command that loads ``--model`` (a name of
    :data:`rewardlab.robust.aggregate.AGGREGATIONS`, checked when the options are parsed)."""
    from rewardlab.cli.choices import registered

    return typer.Option(None, "--aggregate", help=help, callback=registered("aggregation"))


@dataclass(frozen=True)
class ModelLoading:
    """The loading flags of ``--model`` (see :class:`HubModelOptions`, :class:`JudgeOptions`)."""

    max_length: int | None = None
    dtype: str = "auto"
    device: str | None = None
    token_budget: int = 16384
    trust_remote_code: bool = False
    weights: str | None = None
    chat_template: str = "auto"
    judge_pairwise_template: Path | None = None
    judge_rating_template: Path | None = None
    judge_rating: str = "scale"
    judge_max_field_tokens: int = 512

    def hub(self) -> HubModelOptions:
        """Hugging Face loading options; ``--weights`` is parsed as comma-separated numbers."""
        weights = parse_weights(self.weights)
        return HubModelOptions(
            max_length=self.max_length, dtype=self.dtype, device=self.device,
            token_budget=self.token_budget, trust_remote_code=self.trust_remote_code,
            weights=tuple(weights) if weights else None, chat_template=self.chat_template,
        )

    def judge(self) -> JudgeOptions:
        """Judge options (template files, rating kind, field cut); imported when used, as the
        judge module brings torch."""
        from rewardlab.models.lm.judge_options import RATINGS, JudgeOptions

        if self.judge_rating not in RATINGS:
            raise ValueError(
                f"--judge-rating: {self.judge_rating!r} is not one of {', '.join(RATINGS)}"
            )
        return JudgeOptions(
            pairwise_template=_str_or_none(self.judge_pairwise_template),
            rating_template=_str_or_none(self.judge_rating_template),
            rating=self.judge_rating,
            max_field_tokens=self.judge_max_field_tokens,
        )


def parse_weights(text: str | None) -> list[float]:
    """``--weights w1,w2,…``: finite numbers, not all zero (a zero reward is no reward)."""
    try:
        weights = parse_csv(text, float)
    except ValueError:
        weights = [math.nan]
    if not all(math.isfinite(w) for w in weights) or (weights and not any(weights)):
        raise ValueError(
            f"--weights: expected comma-separated finite numbers, not all zero, got {text!r}"
        )
    return weights


def _check_weights(value: str | None) -> str | None:
    try:
        parse_weights(value)
    except ValueError as err:
        raise typer.BadParameter(str(err).removeprefix("--weights: ")) from None
    return value


def _check_rating(value: str) -> str:
    if value == "scale":
        return value
    from rewardlab.models.lm.judge_options import RATINGS

    return choice(value, RATINGS, "--judge-rating")


def _check_device(value: str | None) -> str | None:
    if value is not None:
        try:
            check_device(value)
        except ValueError as err:
            raise typer.BadParameter(str(err).removeprefix("option 'device': ")) from None
    return value


def _str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _check_dtype(value: str) -> str:
    if value not in DTYPES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(DTYPES)}")
    return value


def _check_chat_template(value: str) -> str:
    if value not in CHAT_TEMPLATE_MODES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(CHAT_TEMPLATE_MODES)}")
    return value


LOADING_PARAMETERS: dict[str, tuple[Any, Any]] = {
    "max_length": (int | None, typer.Option(
        None, "--max-length", min=8,
        help="Hugging Face models: tokens per input (default: the tokenizer's, at most 2048).")),
    "dtype": (str, typer.Option(
        "auto", "--dtype", callback=_check_dtype,
        help="Hugging Face models: auto | bf16 | fp16 | fp32 (auto = bf16 on CUDA, fp32 on "
        "CPU).")),
    "device": (str | None, typer.Option(
        None, "--device", callback=_check_device,
        help="Hugging Face models: torch device, cpu | cuda | cuda:N | mps (default: CUDA if "
        "present).")),
    "token_budget": (int, typer.Option(
        16384, "--token-budget", min=1,
        help="Hugging Face models: padded tokens per batch (inputs sorted by length).")),
    "trust_remote_code": (bool, typer.Option(
        False, "--trust-remote-code",
        help="Allow a Hugging Face model whose config runs its own code (auto_map).")),
    "weights": (str | None, typer.Option(
        None, "--weights", callback=_check_weights,
        help="Multi-output Hugging Face models: reward = sum of w_k * output_k, given as "
        "w1,w2,… (default: the mean of the outputs).")),
    "chat_template": (str, typer.Option(
        "auto", "--chat-template", callback=_check_chat_template,
        help="Hugging Face reward models with a chat template: auto (apply it once, unless the text "
        "already carries it: then read the text as sent) | always | never.")),
    "judge_pairwise_template": (Path | None, typer.Option(
        None, "--judge-pairwise-template",
        help="Judges: pairwise prompt file with {prompt}, {response_a}, {response_b}.")),
    "judge_rating_template": (Path | None, typer.Option(
        None, "--judge-rating-template",
        help="Judges: rating prompt file with {prompt}, {response}.")),
    "judge_rating": (str, typer.Option(
        "scale", "--judge-rating", callback=lambda v: _check_rating(v),
        help="Judges: scale (the expected 1-10 rating) | yes-no (P(Yes)).")),
    "judge_max_field_tokens": (int, typer.Option(
        512, "--judge-max-field-tokens", min=1,
        help="Judges: longest prompt/response in tokens (longer ones are cut).")),
}


def with_model_loading(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the :data:`LOADING_PARAMETERS` flags to ``command``; it receives ``loading``."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "loading"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, (kind, option) in LOADING_PARAMETERS.items()
    ]
    hints = {k: v for k, v in typing.get_type_hints(command).items() if k != "loading"}

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in LOADING_PARAMETERS}
        return command(*args, loading=ModelLoading(**values), **kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*kept, *added]
    )
    wrapper.__annotations__ = {
        **hints, **{name: kind for name, (kind, _) in LOADING_PARAMETERS.items()}
    }
    return wrapper


HUB_FLAGS = ("max_length", "dtype", "device", "token_budget", "trust_remote_code")
"""Flags of Hugging Face classifiers and judges; ``weights`` is a classifier's, ``judge_*``
a judge's (one judge spec, not a member of a comma list)."""


def refuse_unused_flags(specs: list[str], loading: ModelLoading) -> None:
    """``ValueError`` naming a loading flag set away from its default that none of ``specs``
    reads (``--weights`` with a rewardlab model, ``--judge-rating`` without a judge)."""
    defaults = ModelLoading()
    given = [name for name in LOADING_PARAMETERS
             if getattr(loading, name) != getattr(defaults, name)]
    if not given:
        return
    from rewardlab.load.kinds import JUDGE_PREFIX
    from rewardlab.load.specs import is_rewardlab_directory

    judges = [s for s in specs if s.startswith(JUDGE_PREFIX)]
    classifiers = [s for s in specs if s not in judges and not is_rewardlab_directory(s)]
    for name in given:
        if name.startswith("judge_"):
            used = len(specs) == 1 and bool(judges)
        else:
            used = bool(classifiers) if name == "weights" else bool(classifiers or judges)
        if not used:
            flag = "--" + name.replace("_", "-")
            what = ("a judge (--model judge:PATH, alone)" if name.startswith("judge_") else
                    "Hugging Face classifiers" if name == "weights" else
                    "Hugging Face models and judges")
            raise ValueError(f"{flag} applies to {what}; --model {','.join(specs)} has none")


def load_model_option(
    spec: str,
    loading: ModelLoading | None = None,
    aggregate: str | None = None,
    center: bool | None = None,
) -> Any:
    """The model of ``--model spec``: one model, or an ensemble of a comma list of specs."""
    from rewardlab.load import split_specs

    loading = loading or ModelLoading()
    specs = split_specs(spec)
    refuse_unused_flags(specs, loading)
    if len(specs) > 1:
        from rewardlab.load import load_reward_ensemble, require_score

        ensemble = load_reward_ensemble(specs, aggregate=aggregate or "mean",
                                        center=bool(center), hub=loading.hub())
        for member_spec, member in zip(specs, ensemble.members.models, strict=True):
            require_score(member, member_spec)  # a preference model has no reward to average
        return ensemble
    from rewardlab.load import load_reward_model

    return load_reward_model(spec, aggregate=aggregate, center=center, hub=loading.hub(),
                             judge=loading.judge())
