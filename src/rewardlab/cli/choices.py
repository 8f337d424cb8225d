"""Option help made from the registries: the names a ``--head``, ``--loss``, … accepts.

A help text names a registry with a placeholder (``"Loss: {losses}."``);
:func:`fill_placeholders` replaces it by the registered names when the help is
shown (:mod:`rewardlab.cli.command`). The registries are imported only then, so
a new loss, head, aggregation, probe, build method, backbone or data format
appears in ``--help`` without editing anything; the committed reference
(:mod:`rewardlab.cli.reference`) words them generically and stays current.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def _alternatives(names: Iterable[str]) -> str:
    return " | ".join(names)


def _registry(kind: str):
    """The registry behind an option kind, imported only when a help text is shown or an
    option is checked (so the CLI starts without torch)."""
    if kind == "aggregation":
        from rewardlab.robust.aggregate import AGGREGATIONS

        return AGGREGATIONS
    if kind == "probe":
        from rewardlab.evaluate.probes import PROBES  # the package registers every probe

        return PROBES
    if kind == "format":
        from rewardlab.data.formats import FORMATS

        return FORMATS
    if kind == "sft method":
        from rewardlab.optimize.methods import SFT_METHODS

        return SFT_METHODS
    if kind == "pairs method":
        from rewardlab.optimize.methods import PAIR_METHODS

        return PAIR_METHODS
    if kind == "backbone":
        from rewardlab.features.backbones import BACKBONES

        return BACKBONES
    if kind == "forecast method":
        from rewardlab.lab.forecast.methods import FORECAST_METHODS

        return FORECAST_METHODS
    raise ValueError(f"no registry for option kind {kind!r}")


def heads() -> str:
    """Scalar heads, then the structured model families."""
    from rewardlab.models.heads import HEADS
    from rewardlab.models.structured import STRUCTURED

    return f"{_alternatives(HEADS.names())}, or a structured model: " + _alternatives(
        STRUCTURED.names()
    )


def head_names() -> list[str]:
    """Every ``--head`` name: the scalar heads and the structured model families."""
    from rewardlab.models.heads import HEADS
    from rewardlab.models.structured import STRUCTURED

    return sorted({*HEADS.names(), *STRUCTURED.names()})


def losses() -> str:
    """Each loss with the first clause of its module docstring (``Objective.summary``)."""
    from rewardlab.models.losses import LOSSES

    return "; ".join(
        f"{name} ({LOSSES.get(name).summary.split(' (')[0].rstrip('.')})" for name in LOSSES
    )


def aggregations() -> str:
    return _alternatives(_registry("aggregation").names())


def probes() -> str:
    return ",".join(_registry("probe").names())


def suites() -> str:
    from rewardlab.evaluate.suite import SUITES

    return _alternatives(SUITES)


def sft_methods() -> str:
    return _alternatives(_registry("sft method").names())


def pair_methods() -> str:
    return _alternatives(_registry("pairs method").names())


def backbones() -> str:
    """Each backbone kind (``encoder:PATH`` forms in their summaries)."""
    registry = _registry("backbone")
    return "; ".join(f"{name}: {registry.get(name).summary}" for name in registry)


def formats() -> str:
    return _alternatives(_registry("format").names())


def forecast_methods() -> str:
    return _alternatives(_registry("forecast method").names())


def _defaults(field: str) -> str:
    """``field``'s default in each family's config dataclass: heads, structured models and
    ``transformer:PATH``."""
    from rewardlab.models.lm.transformer_train import TransformerTrainConfig
    from rewardlab.models.structured import STRUCTURED
    from rewardlab.models.training.config import TrainConfig

    parts = [f"head {getattr(TrainConfig, field)}"]
    parts += [f"{name} {getattr(STRUCTURED.get(name).options, field)}" for name in STRUCTURED]
    if field == "lr":  # None: chosen by whether LoRA is on
        full = TransformerTrainConfig(model="").learning_rate
        lora = TransformerTrainConfig(model="", lora=True).learning_rate
        parts.append(f"transformer {full:g} (LoRA {lora:g})")
    else:
        parts.append(f"transformer {getattr(TransformerTrainConfig, field)}")
    return ", ".join(parts)


PLACEHOLDERS: dict[str, Callable[[], str]] = {
    "{heads}": heads,
    "{losses}": losses,
    "{aggregations}": aggregations,
    "{probes}": probes,
    "{suites}": suites,
    "{sft_methods}": sft_methods,
    "{pair_methods}": pair_methods,
    "{backbones}": backbones,
    "{formats}": formats,
    "{forecast_methods}": forecast_methods,
    "{defaults:epochs}": lambda: _defaults("epochs"),
    "{defaults:lr}": lambda: _defaults("lr"),
    "{defaults:batch_size}": lambda: _defaults("batch_size"),
}
"""Placeholder → the text it stands for, made from a registry or config dataclass."""


IN_REFERENCE: dict[str, str] = {
    "{heads}": "any registered head or structured model",
    "{losses}": "any registered loss",
    "{aggregations}": "any registered aggregation",
    "{probes}": "registered probes",
    "{suites}": "a registered suite",
    "{sft_methods}": "a registered SFT method",
    "{pair_methods}": "a registered pairs method",
    "{backbones}": "a registered backbone",
    "{formats}": "a registered data format",
    "{forecast_methods}": "a registered forecast method",
    "{defaults:epochs}": "each family's own",
    "{defaults:lr}": "each family's own",
    "{defaults:batch_size}": "each family's own",
}
"""What each placeholder says in ``docs/cli.md``: the names themselves are listed by
``--help`` only, so registering a component never makes the committed reference stale."""


def fill_placeholders(text: str, reference: bool = False) -> str:
    """``text`` with each placeholder of :data:`PLACEHOLDERS` it contains filled in
    (with the :data:`IN_REFERENCE` wording when writing ``docs/cli.md``)."""
    for placeholder, make in PLACEHOLDERS.items():
        if placeholder in text:
            text = text.replace(placeholder, IN_REFERENCE[placeholder] if reference else make())
    return text


def registered(
    kind: str,
    extra: tuple[str, ...] = (),
    many: bool = False,
    elsewhere: dict[str, str] | None = None,
):
    """A Typer callback: the option's value (each item of a comma list when ``many``)
    must be a registered ``kind`` name or one of ``extra``. A typo is a bad option
    (exit 2) naming the option and the closest names, before any data is read; a name
    of another registry in ``elsewhere`` ({kind: command}) says which command takes it."""
    import typer

    def check(value: str | None) -> str | None:
        from rewardlab.registry import UnknownNameError

        if many:
            names = [n.strip() for n in (value or "").split(",") if n.strip()]
        else:
            names = [value]
        for name in names:
            if name is None or name in extra:
                continue
            try:
                _registry(kind).get(name)
            except UnknownNameError as err:
                for other, where in (elsewhere or {}).items():
                    if name in _registry(other):
                        raise typer.BadParameter(f"{name!r} belongs to `{where}`") from None
                raise typer.BadParameter(str(err)) from None
        return value

    return check
