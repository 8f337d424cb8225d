"""``rewardlab data …``: annotate preference data with an ensemble; write the digits sets.

Each command parses its flags into its spec and calls its verb:
``data strength`` → :func:`rewardlab.verbs.strength.strength` (the flags of
:class:`~rewardlab.verbs.strength.StrengthSpec` and the loading options),
``data digits`` → :func:`rewardlab.verbs.digits.digits`.
"""

from __future__ import annotations

import typer

from rewardlab.cli.command import command
from rewardlab.cli.common import progress_bars, user_errors
from rewardlab.cli.flags import with_options
from rewardlab.cli.sources import with_loading, with_reward_source
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.verbs.digits import DigitsSpec
from rewardlab.verbs.strength import StrengthSpec


@with_reward_source(StrengthSpec, aggregate=False)
def strength(spec: StrengthSpec = None, hub: HubModelOptions = None,
             judge: JudgeOptions = None) -> None:
    """Ensemble preference strength per pair: mean and std of r(chosen) - r(rejected).

    strength_mean is relative to the row's own chosen/rejected (after any flip).
    """
    from rewardlab.verbs.strength import strength as run

    with user_errors(), progress_bars() as progress:
        result = run(with_loading(spec, hub, judge), progress=progress)
    typer.echo(result.summary())


@with_options(spec=DigitsSpec)
def digits(spec: DigitsSpec = None) -> None:
    """Write image preference sets built from scikit-learn's bundled digits:
    train/test as Pick-a-Pic Parquet (caption, jpg_0, jpg_1, label_0, label_1) and
    as JSONL naming PNG files (train.jsonl, images/)."""
    from rewardlab.verbs.digits import digits as run

    with user_errors():
        summary = run(spec)
    for name, counts in summary["files"].items():
        typer.echo(f"{name}: {counts['rows']} rows ({counts['ties']} ties): "
                   f"{spec.out / (name + '.parquet')}, {spec.out / (name + '.jsonl')}")


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    data_app = typer.Typer(
        help="Annotate and filter preference data; write the digits image sets.",
        no_args_is_help=True,
    )
    command(data_app, "strength")(strength)
    command(data_app, "digits")(digits)
    app.add_typer(data_app, name="data")
