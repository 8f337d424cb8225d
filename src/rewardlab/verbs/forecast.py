"""``forecast``: how far can this proxy be optimized before gold falls? As ``rewardlab forecast``.

::

    from rewardlab.verbs.forecast import ForecastSpec, forecast
    result = forecast(ForecastSpec(data="pool.jsonl", scores_column="proxy",
                                   gold_column="gold", out="forecast.json"))
    result.payload["verdict"]

The proxy comes from the spec's source (:mod:`rewardlab.verbs.pools`: a model,
a verifier or recipe, or a score column); gold from ``gold_column`` or
``gold_model`` (any model spec, called on the budget's prompts only). The
loading options reach whichever of the proxy model and the gold model reads
them (:func:`share_loading`; one that neither reads is refused), as does
``batch_size``. :func:`rewardlab.lab.forecast.forecast` does the
forecast; the JSON (and the HTML report when ``html`` is given) is written
atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rewardlab.lab.forecast.run import ForecastOptions
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.options import OptionError, check, default_of, option, option_fields, redefault
from rewardlab.verbs.loading import SPEC_HELP
from rewardlab.verbs.pools import PoolSpec, Progress

SETTINGS = ("gold_budget", "optimizer", "method", "bootstrap", "level", "falls_before", "seed")
"""The fields of :class:`~rewardlab.lab.forecast.run.ForecastOptions` the spec carries."""


@dataclass(frozen=True, kw_only=True)
class ForecastSpec(PoolSpec):
    """Everything ``forecast`` needs."""

    data: Path = redefault(ForecastOptions, "data")
    out: Path = option(help="Forecast JSON to write.")
    html: Path | None = option(None, "HTML report: the forecast curve with its band, the "
                               "realized curve when every prompt has gold.")
    gold_column: str | None = redefault(ForecastOptions, "gold_column", None)
    gold_model: str | None = option(None, "Instead of --gold-column: a gold reward, called only "
                                    "on the candidates of the budget's prompts. " + SPEC_HELP)
    gold_budget: int = redefault(ForecastOptions, "gold_budget", ForecastOptions.gold_budget)
    optimizer: str = redefault(ForecastOptions, "optimizer", ForecastOptions.optimizer)
    method: str = redefault(ForecastOptions, "method", ForecastOptions.method)
    bootstrap: int = redefault(ForecastOptions, "bootstrap", ForecastOptions.bootstrap)
    level: float = redefault(ForecastOptions, "level", ForecastOptions.level)
    falls_before: float | None = redefault(ForecastOptions, "falls_before", None)
    seed: int = redefault(ForecastOptions, "seed", ForecastOptions.seed)


@dataclass
class ForecastVerbResult:
    """The forecast (:class:`~rewardlab.lab.forecast.run.ForecastResult`), its JSON as
    written, and the files written."""

    forecast: Any
    payload: dict[str, Any]
    written: list[Path]


def check_spec(spec: ForecastSpec) -> tuple[ForecastSpec, HubModelOptions, JudgeOptions]:
    """Validate ``spec`` before any model or data is read; return the spec the proxy is
    loaded with and the gold model's loading options (:func:`share_loading`; ``spec`` and
    its own options when the gold is a column)."""
    from rewardlab.verbs.loading import exactly_one
    from rewardlab.verbs.outputs import check_out_file
    from rewardlab.verbs.pools import check_source

    check(spec)
    exactly_one({"--gold-column": spec.gold_column, "--gold-model": spec.gold_model})
    if spec.gold_model is None:
        check_source(spec)
        loading = spec, spec.hub, spec.judge
    else:  # the gold model reads the loading options and the batch size too
        check_source(replace(spec, hub=HubModelOptions(), judge=JudgeOptions(),
                             batch_size=default_of(ForecastSpec, "batch_size")))
        loading = share_loading(spec)
    check_out_file(spec.out)
    if spec.html is not None:
        check_out_file(spec.html, "--html")
    return loading


def share_loading(spec: ForecastSpec) -> tuple[ForecastSpec, HubModelOptions, JudgeOptions]:
    """The proxy's spec and the gold model's loading options when both are models: each
    gets the loading options its kind reads (:func:`rewardlab.load.kinds.unread_by`), and
    one that neither reads is an :class:`OptionError` naming both."""
    from rewardlab.load import split_specs
    from rewardlab.load.kinds import given_options, unread_by
    from rewardlab.verbs.pools import proxy_uses

    given = given_options(spec.hub, spec.judge)
    proxy = given if spec.model is None else unread_by(split_specs(spec.model), given,
                                                       proxy_uses(spec.model))
    gold = unread_by(split_specs(spec.gold_model), given, proxy_uses(spec.gold_model))
    neither = [option for option in proxy if option in gold]
    if neither:
        source = next(f"{flag} {value}" for flag, value in (
            ("--model", spec.model), ("--rewards", spec.rewards),
            ("--scores-column", spec.scores_column)) if value is not None)
        raise OptionError(f"{neither[0][1]}: not read by {source} nor by --gold-model "
                          f"{spec.gold_model}; leave it out")
    gold_options = _without(spec.hub, gold), _without(spec.judge, gold)
    return (replace(spec, hub=_without(spec.hub, proxy), judge=_without(spec.judge, proxy)),
            *gold_options)


def _without(options: Any, unread: list[tuple[str, str]]) -> Any:
    """``options`` with the fields named in ``unread`` back at their defaults."""
    names = {f.name for f in option_fields(type(options))}
    return replace(options, **{name: default_of(type(options), name) for name, _ in unread
                               if name in names})


def forecast(spec: ForecastSpec, progress: Progress | None = None) -> ForecastVerbResult:
    """Check ``spec``, load the proxy and the gold, forecast, write the JSON and the report;
    ``progress`` follows the loading (``load``, ``load gold``) and the forecast's phases
    (:func:`rewardlab.lab.forecast.run.forecast`)."""
    from rewardlab.atomic import write_json_atomic
    from rewardlab.lab.forecast import forecast as run
    from rewardlab.load import load
    from rewardlab.verbs.pools import load_proxy, proxy_uses

    spec, gold_hub, gold_judge = check_spec(spec)
    proxy = proxy_rows = gold = None
    batch_size = spec.batch_size
    if spec.model is not None:
        proxy, batch_size = load_proxy(spec, progress)
    if spec.rewards is not None:
        from rewardlab.verbs.loading import load_source
        from rewardlab.verbs.rows import pool_scorer

        report = None if progress is None else (lambda d, t: progress("scoring proxy", d, t))
        proxy_rows = pool_scorer(load_source(spec, progress=progress), Path(spec.data),
                                 spec.reference_column, report)
    if spec.gold_model is not None:
        if progress is not None:
            progress("load gold", 0, 1)
        gold = _scalar(load(model=spec.gold_model, hub=gold_hub, judge=gold_judge,
                            uses=proxy_uses(spec.gold_model)))
        if progress is not None:
            progress("load gold", 1, 1)
    options = ForecastOptions(data=Path(spec.data), gold_column=spec.gold_column,
                              scores_column=spec.scores_column, batch_size=batch_size,
                              **{name: getattr(spec, name) for name in SETTINGS})
    result = run(options, proxy=proxy, proxy_rows=proxy_rows, gold_model=gold,
                 progress=progress)
    payload = result.to_dict()
    written = [write_json_atomic(spec.out, payload)]
    if spec.html is not None:
        from rewardlab.lab.forecast.report import write_html

        write_html(payload, spec.html)
        written.append(Path(spec.html))
    return ForecastVerbResult(result, payload, written)


def _scalar(model: Any) -> Any:
    """A gold model with a scalar score: a preference model is read by Copeland win rate."""
    from rewardlab.evaluate.preference import is_preference_model
    from rewardlab.optimize.preference_bon import CopelandProxy

    return CopelandProxy(model) if is_preference_model(model) else model
