"""The option walk (issue 25) of ``lab agent`` and ``lab agent-overopt``: every declared option
changes the results of a tiny run, or is refused (exit 2, one line naming it) before the
experiment starts (:mod:`option_walk`).

``lab agent``'s components are where its labels come from: the synthetic labeller asked by
each query strategy (``random``, ``disagreement``) or a file of labelled pairs (``--labels``);
``lab agent-overopt``'s are its variants (one reward net, an ensemble read three ways, a net
with a gradient penalty, and the control that trains on the true reward).
"""

from __future__ import annotations

import pytest

from option_walk import Lab, every_option_is_walked, runner, walk_case
from rewardlab.cli.main import app
from rewardlab.lab.agent.options import AgentLabOptions, AgentRewardOptions
from rewardlab.lab.agent.overopt_options import AgentOveroptOptions, AgentOveroptReward
from rewardlab.verbs.lab import AgentOveroptSpec, AgentSpec

CONTROL = {"--env": ["--env", "MountainCar-v0"], "--algorithm": ["--algorithm", "sac"],
           "--steps": ["--steps", "512"], "--comparisons": ["--comparisons", "8"],
           "--segment-length": ["--segment-length", "6"],
           "--temperature": ["--temperature", "1.0"], "--noise": ["--noise", "0.5"],
           "--seeds": ["--seeds", "2"], "--seed": ["--seed", "1"],
           "--eval-episodes": ["--eval-episodes", "2"], "--loss": ["--loss", "bt"]}
"""Options both labs share: a value away from the tiny runs'."""
SAC = {"--algorithm": ["--env", "Pendulum-v1"]}
"""SAC needs continuous actions: walked on Pendulum, against PPO on Pendulum."""
LONG_EPISODES = {"--env", "--algorithm"}
"""Walked on environments whose episodes are ten times CartPole's: slow runs only."""
FIXED_ENV = "the file's segments fix the environment (another is refused: test_lab_agent)"

AGENT_FILE = ["--steps", "256", "--iterations", "1", "--seeds", "1", "--eval-episodes", "1",
              "--segment-length", "5"]
AGENT_TINY = [*AGENT_FILE, "--comparisons", "6"]
AGENT_VALUES = {**CONTROL, "--iterations": ["--iterations", "2"],
                "--ensemble": ["--ensemble", "2"], "--grad-penalty": ["--grad-penalty", "0.5"]}
LABELLER = set(AGENT_VALUES)
AGENT = Lab(
    command=("lab", "agent"),
    classes=(AgentSpec, AgentLabOptions, AgentRewardOptions),
    components={"random": [*AGENT_TINY, "--queries", "random"],
                "disagreement": [*AGENT_TINY, "--queries", "disagreement"],
                "file": [*AGENT_FILE, "--labels", "{labels}"]},
    reads={"random": LABELLER, "disagreement": LABELLER,
           "file": LABELLER - {"--temperature", "--noise", "--comparisons"}},
    values=AGENT_VALUES,
    selectors={"--out": "where the results go: every run of the walk reads them there",
               "--queries": "the component walked (a query strategy)",
               "--labels": "the component walked (a file of labels)"},
    by_design={"--overwrite": "where models may be replaced (test_overwrite_reaches_the_models)"},
    needs=SAC, skip={("file", "--env"): FIXED_ENV, ("file", "--algorithm"): FIXED_ENV},
    slow=LONG_EPISODES,
    starts=("rewardlab.lab.agent.experiment", "run_agent_lab"))

OVEROPT_TINY = ["--steps", "128", "--checkpoints", "1", "--comparisons", "6",
                "--random-episodes", "2", "--seeds", "1", "--eval-episodes", "1",
                "--segment-length", "5"]
OVEROPT_VALUES = {**CONTROL, "--checkpoints": ["--checkpoints", "2"],
                  "--random-episodes": ["--random-episodes", "3"],
                  "--sampled": ["--sampled"], "--ensemble": ["--ensemble", "3"],
                  "--uwo-lambda": ["--uwo-lambda", "2.0"],
                  "--grad-penalty": ["--grad-penalty", "3.0"]}
SHARED = set(OVEROPT_VALUES) - {"--ensemble", "--uwo-lambda", "--grad-penalty"}
AGENT_OVEROPT = Lab(
    command=("lab", "agent-overopt"),
    classes=(AgentOveroptSpec, AgentOveroptOptions, AgentOveroptReward),
    components={"single": [*OVEROPT_TINY, "--variants", "single"],
                "mean": [*OVEROPT_TINY, "--variants", "mean", "--ensemble", "2"],
                "wco": [*OVEROPT_TINY, "--variants", "wco", "--ensemble", "2"],
                "uwo": [*OVEROPT_TINY, "--variants", "uwo", "--ensemble", "2"],
                "lipschitz": [*OVEROPT_TINY, "--variants", "lipschitz"],
                "true": [*OVEROPT_TINY, "--variants", "true"]},
    reads={"single": SHARED, "mean": SHARED | {"--ensemble"}, "wco": SHARED | {"--ensemble"},
           "uwo": SHARED | {"--ensemble", "--uwo-lambda"},
           "lipschitz": SHARED | {"--grad-penalty"}, "true": SHARED},
    values=OVEROPT_VALUES,
    selectors={"--out": "where the results go: every run of the walk reads them there",
               "--variants": "the component walked"},
    needs=SAC, slow=LONG_EPISODES, starts=("rewardlab.lab.agent.overopt", "run_agent_overopt"))


pytestmark = pytest.mark.usefixtures("one_torch_thread", "hub_offline")


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    """A file of labelled CartPole segment pairs, as a tiny run of the labeller writes it."""
    out = tmp_path_factory.mktemp("labels") / "run"
    result = runner.invoke(app, ["lab", "agent", "--out", str(out), *AGENT_TINY])
    assert result.exit_code == 0, result.output
    return out / "pairs" / "random_seed0.npz"


@pytest.mark.parametrize("lab", [AGENT, AGENT_OVEROPT], ids=["agent", "agent-overopt"])
def test_every_option_is_walked(lab):
    every_option_is_walked(lab)


@pytest.mark.parametrize(("component", "option"), AGENT.cases())
def test_agent(component, option, baselines, labels, tmp_path, monkeypatch):
    from dataclasses import replace

    with_file = {name: [a.format(labels=labels) for a in args]
                 for name, args in AGENT.components.items()}
    walk_case(replace(AGENT, components=with_file), component, option, baselines, tmp_path,
              monkeypatch)


@pytest.mark.parametrize(("component", "option"), AGENT_OVEROPT.cases())
def test_agent_overopt(component, option, baselines, tmp_path, monkeypatch):
    walk_case(AGENT_OVEROPT, component, option, baselines, tmp_path, monkeypatch)


def test_overwrite_reaches_the_models(tmp_path):
    """``--overwrite`` changes no result: it lets a run replace a model folder that holds
    other files, which is refused without it."""
    out = tmp_path / "agent"
    stray = out / "models" / "random_seed0" / "notes.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("mine")
    refused = runner.invoke(app, ["lab", "agent", "--out", str(out), *AGENT_TINY])
    assert refused.exit_code == 1 and "--overwrite" in refused.output
    assert stray.exists() and not (out / "results.json").exists()
    done = runner.invoke(app, ["lab", "agent", "--out", str(out), *AGENT_TINY, "--overwrite"])
    assert done.exit_code == 0, done.output
    assert not stray.exists() and (out / "results.json").exists()
