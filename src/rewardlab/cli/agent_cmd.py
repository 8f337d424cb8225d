"""``rewardlab lab agent``: rewards for decision-making agents, learned from preferences.

Runs :func:`rewardlab.lab.agent.experiment.run_agent_lab` (Christiano et al.,
2017: segment pairs of the policy's own episodes, a synthetic Boltzmann
labeller, a reward ensemble, Stable-Baselines3 on the learned reward) against
the same policy trained on the true reward, and writes ``results.json``,
``report.html``, PNGs, the labelled pairs and the reward models under
``--out``. The flags are made from :class:`rewardlab.verbs.lab.AgentSpec`,
:class:`rewardlab.lab.agent.options.AgentLabOptions` and
:class:`~rewardlab.lab.agent.options.AgentRewardOptions` (the reward ensemble's);
:func:`rewardlab.verbs.lab.agent` runs it; one progress bar per phase (seed × true
reward or query strategy).
"""

from __future__ import annotations

from dataclasses import replace

import typer

from rewardlab.cli.common import console, progress_bars, user_errors
from rewardlab.cli.flags import with_options
from rewardlab.lab.agent.options import AgentLabOptions, AgentRewardOptions, reward_options
from rewardlab.verbs.lab import AgentSpec


@with_options(spec=AgentSpec, options=AgentLabOptions, reward=AgentRewardOptions)
def agent(spec: AgentSpec = None, options: AgentLabOptions = None,
          reward: AgentRewardOptions = None) -> None:
    """Policies trained on a reward learned from segment preferences vs on the true reward."""
    from rewardlab.lab.agent.report import summary_rows
    from rewardlab.verbs.lab import agent as run

    with user_errors():
        spec = replace(spec, options=replace(options, reward=reward_options(reward)))
        with progress_bars() as progress:
            made = run(spec, progress)
    for row in summary_rows(made.result.to_dict()):
        learned, true = row["learned_reward_return"], row["true_reward_return"]
        typer.echo(f"{row['queries']:<13} seed {row['seed']!s:<5} learned-reward policy "
                   f"{learned:8.1f}   true-reward policy {true:8.1f}")
    console.print(f"wrote {made.written['report.html']} in {made.result.seconds:.0f} s")
