"""``rewardlab lab agent-overopt``: overoptimization of a frozen learned reward in control.

Runs :func:`rewardlab.verbs.lab.agent_overopt` (a reward learned from segment
preferences of random-action episodes, frozen; a policy trained on it for
longer and longer; gold = true return, proxy = learned return, KL from the
initial policy; variants: one net, an ensemble read as mean / WCO / UWO, one net
with a gradient penalty, and the control trained on the true reward), which writes
``results.json``, ``report.html`` and PNGs
under ``--out``. The flags are made from
:class:`~rewardlab.lab.agent.overopt_options.AgentOveroptOptions` and
:class:`~rewardlab.lab.agent.overopt_options.AgentOveroptReward`; one progress
bar per phase (seed × variant).
"""

from __future__ import annotations

from dataclasses import replace

import typer

from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.flags import with_options
from rewardlab.lab.agent.overopt_options import AgentOveroptOptions, AgentOveroptReward
from rewardlab.verbs.lab import AgentOveroptSpec


@with_options(spec=AgentOveroptSpec, options=AgentOveroptOptions, reward=AgentOveroptReward)
def agent_overopt(spec: AgentOveroptSpec = None, options: AgentOveroptOptions = None,
                  reward: AgentOveroptReward = None) -> None:
    """Train a policy longer and longer on a frozen learned reward: proxy vs gold vs KL."""
    from rewardlab.lab.agent.overopt_report import summary_rows
    from rewardlab.verbs.lab import agent_overopt as run

    with user_errors():
        spec = replace(spec, options=replace(options, reward=reward.training_options()))
        with progress_bars() as progress:
            made = run(spec, progress)
    for row in summary_rows(made.result.to_dict()):
        typer.echo(f"{row['variant']:<10} gold {row['gold_start']:7.1f} → peak "
                   f"{row['gold_peak']:7.1f} at {row['peak_steps']:>6} steps → last "
                   f"{row['gold_last']:7.1f}   proxy at peak {row['proxy_at_peak']:7.2f} → last "
                   f"{row['proxy_last']:7.2f}")
    console.print(f"wrote {made.written['report.html']} in {made.result.seconds:.0f} s")
