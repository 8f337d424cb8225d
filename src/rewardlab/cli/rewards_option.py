"""The ``--rewards`` flags of the commands not yet made from a spec (``bon``, ``build``,
``forecast``): their Typer options, over the library pieces every command shares.

Loading is :func:`rewardlab.load.load_rewards` (``--unsafe-no-sandbox`` reaches
every component that runs code); references come from a column by the one rule
of :mod:`rewardlab.data.references`; rows are scored by :mod:`rewardlab.verbs.rows`.
A command made from a spec takes these as fields of
:class:`~rewardlab.verbs.loading.RewardSource` instead.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import typer

from rewardlab.data.references import REFERENCE_COLUMNS
from rewardlab.protocols import RewardModel
from rewardlab.verbs.rows import pool_scorer

FILE_REFERENCE_COLUMNS = REFERENCE_COLUMNS

__all__ = ["load_cli_rewards", "pool_scorer", "reference_column_option", "rewards_option",
           "unsafe_no_sandbox_option"]


def rewards_option(help: str = "Verifier name (math, choice, code, …) or recipe file.") -> Any:
    """The ``--rewards`` option (a verifier name or recipe file), defaulting to None."""
    return typer.Option(None, "--rewards", help=help)


_UNSAFE_NO_SANDBOX: ContextVar[bool] = ContextVar("rewardlab_unsafe_no_sandbox", default=False)


def _record_unsafe(value: bool) -> bool:
    _UNSAFE_NO_SANDBOX.set(bool(value))
    return value


def unsafe_no_sandbox_option() -> Any:
    """The ``--unsafe-no-sandbox`` flag (recorded for :func:`load_cli_rewards`)."""
    return typer.Option(
        False, "--unsafe-no-sandbox", callback=_record_unsafe,
        help="Where no sandbox can be made (bubblewrap missing), run the code reward's programs "
        "anyway, unisolated: they can read, write and connect wherever this process can.",
    )


def load_cli_rewards(spec: str) -> RewardModel:
    """``load_rewards(spec)`` with ``--unsafe-no-sandbox`` as given on the command line."""
    from rewardlab.load import load_rewards

    return load_rewards(spec, unsafe_no_sandbox=_UNSAFE_NO_SANDBOX.get())


def reference_column_option() -> Any:
    """The ``--reference-column`` option, defaulting to None (the first default column)."""
    return typer.Option(
        None, "--reference-column",
        help="Column with each row's reference for --rewards; default the first of "
        f"{', '.join(REFERENCE_COLUMNS)} present.",
    )
