"""The option walk (issue 25) of ``lab weak-to-strong``, ``lab constrained`` and ``lab
diffusion``: every declared option changes the results of a tiny run, or is refused (exit 2,
one line naming it) before the experiment starts (:mod:`option_walk`).

``weak-to-strong`` and ``constrained`` have one component each (every option is theirs);
``diffusion``'s components are its optimizers (``bon``, ``draft``, ``ddpo``, ``fk``, ``reno``,
``d3po``), each reading the generator's, the proxy's and the evaluation's options and its own.
"""

from __future__ import annotations

import pytest

from option_walk import Lab, every_option_is_walked, runner, walk_case
from rewardlab.cli.main import app
from rewardlab.lab.diffusion.options import DiffusionLabOptions, GeneratorConfig
from rewardlab.lab.overopt.components import ComponentsConfig, ComponentsPG, ComponentsPool
from rewardlab.lab.weak_to_strong import WeakToStrongConfig, WeakToStrongPool
from rewardlab.verbs.lab import ConstrainedSpec, DiffusionSpec, WeakToStrongSpec

OUT = {"--out": "where the results go: every run of the walk reads them there"}
ARENA = {"--n-prompts": ["--n-prompts", "90"], "--test-prompts": ["--test-prompts", "5"],
         "--val-prompts": ["--val-prompts", "9"], "--pool-size": ["--pool-size", "6"],
         "--length-correlation": ["--length-correlation", "0.3"]}
ARENA_TINY = ["--n-prompts", "80", "--test-prompts", "4", "--val-prompts", "8",
              "--pool-size", "8"]

W2S_VALUES = {**ARENA, "--weak": ["--weak", "encoder:{encoder}"],
              "--strong": ["--strong", "encoder:{encoder}"],
              "--weak-pairs": ["--weak-pairs", "30"], "--transfer-pairs": ["--transfer-pairs", "50"],
              "--label-noise": ["--label-noise", "0.1"], "--seed": ["--seed", "1"]}
WEAK_TO_STRONG = Lab(
    command=("lab", "weak-to-strong"),
    classes=(WeakToStrongSpec, WeakToStrongConfig, WeakToStrongPool),
    components={"w2s": ["--strong", "hashing", "--weak-pairs", "40", "--transfer-pairs", "60",
                        *ARENA_TINY]},
    reads={"w2s": set(W2S_VALUES)}, values=W2S_VALUES, selectors=OUT,
    starts=("rewardlab.lab.weak_to_strong", "run_weak_to_strong"), results="")

CONSTRAINED_VALUES = {
    **ARENA, "--proxy-size": ["--proxy-size", "50"], "--label-noise": ["--label-noise", "0.1"],
    "--lagrange-lr": ["--lagrange-lr", "0.5"], "--seed": ["--seed", "1"],
    "--pg-beta": ["--pg-beta", "0.5"], "--pg-steps": ["--pg-steps", "20"],
    "--pg-group": ["--pg-group", "4"], "--pg-lr": ["--pg-lr", "2.0"],
    "--pg-clip": ["--pg-clip", "0.2"]}
CONSTRAINED = Lab(
    command=("lab", "constrained"),
    classes=(ConstrainedSpec, ComponentsConfig, ComponentsPool, ComponentsPG),
    components={"constrained": ["--proxy-size", "60", "--pg-steps", "30", *ARENA_TINY]},
    reads={"constrained": set(CONSTRAINED_VALUES)}, values=CONSTRAINED_VALUES, selectors=OUT,
    starts=("rewardlab.lab.overopt.components", "run_components"), results="")

GENERATOR = {"--channels": ["--channels", "16"], "--train-steps": ["--train-steps", "3"],
             "--gen-batch-size": ["--gen-batch-size", "5"], "--gen-lr": ["--gen-lr", "0.01"],
             "--label-accuracy": ["--label-accuracy", "0.9"],
             "--train-timesteps": ["--train-timesteps", "12"], "--gen-seed": ["--gen-seed", "1"]}
DIFFUSION_SHARED = {
    **GENERATOR, "--sample-steps": ["--sample-steps", "3"],
    "--eval-prompts": ["--eval-prompts", "11"], "--proxy-sizes": ["--proxy-sizes", "30"],
    "--proxy-noise": ["--proxy-noise", "0.3"], "--ensemble": ["--ensemble", "2"],
    "--bootstrap": ["--bootstrap"], "--aggregate": ["--aggregate", "wco"],
    "--seed": ["--seed", "1"]}
DIFFUSION_OWN = {
    "bon": {"--bon-pool": ["--bon-pool", "3"]},
    "draft": {"--draft-k": ["--draft-k", "1"], "--draft-lr": ["--draft-lr", "0.001"],
              "--draft-updates": ["--draft-updates", "3"], "--draft-batch": ["--draft-batch", "3"],
              "--eval-every": ["--eval-every", "2"]},
    "ddpo": {"--ddpo-lr": ["--ddpo-lr", "0.001"], "--ddpo-updates": ["--ddpo-updates", "3"],
             "--ddpo-batch": ["--ddpo-batch", "16"], "--ddpo-clip": ["--ddpo-clip", "0.5"],
             "--ddpo-epochs": ["--ddpo-epochs", "2"], "--eval-every": ["--eval-every", "2"]},
    "fk": {"--fk-particles": ["--fk-particles", "3"], "--fk-lambdas": ["--fk-lambdas", "0,9"],
           "--fk-resample-every": ["--fk-resample-every", "1"]},
    "reno": {"--reno-lr": ["--reno-lr", "1.0"], "--reno-updates": ["--reno-updates", "3"],
             "--reno-grad-clip": ["--reno-grad-clip", "0.5"],
             "--reno-reg": ["--reno-reg", "0.5"], "--eval-every": ["--eval-every", "2"]},
    "d3po": {"--d3po-lr": ["--d3po-lr", "0.001"], "--d3po-updates": ["--d3po-updates", "3"],
             "--d3po-batch": ["--d3po-batch", "3"], "--d3po-beta": ["--d3po-beta", "1.0"],
             "--d3po-eps": ["--d3po-eps", "1e-6"], "--eval-every": ["--eval-every", "2"]},
}
DIFFUSION_TINY = ["--channels", "8", "--train-steps", "2", "--gen-batch-size", "4",
                  "--train-timesteps", "10", "--sample-steps", "2", "--eval-prompts", "10",
                  "--proxy-sizes", "20"]
DIFFUSION = Lab(
    command=("lab", "diffusion"),
    classes=(DiffusionSpec, DiffusionLabOptions, GeneratorConfig),
    components={
        "bon": [*DIFFUSION_TINY, "--optimizer", "bon", "--bon-pool", "2"],
        "draft": [*DIFFUSION_TINY, "--optimizer", "draft", "--draft-updates", "2",
                  "--draft-batch", "2", "--eval-every", "1"],
        "ddpo": [*DIFFUSION_TINY, "--optimizer", "ddpo", "--ddpo-updates", "2",
                 "--ddpo-batch", "8", "--eval-every", "1"],
        "fk": [*DIFFUSION_TINY, "--optimizer", "fk", "--fk-particles", "2", "--fk-lambdas",
               "0,4"],
        "reno": [*DIFFUSION_TINY, "--optimizer", "reno", "--reno-updates", "2",
                 "--eval-every", "1"],
        "d3po": [*DIFFUSION_TINY, "--optimizer", "d3po", "--d3po-updates", "2",
                 "--d3po-batch", "2", "--eval-every", "1"]},
    reads={name: set(DIFFUSION_SHARED) | set(own) for name, own in DIFFUSION_OWN.items()},
    values={**DIFFUSION_SHARED, **{k: v for own in DIFFUSION_OWN.values() for k, v in own.items()}},
    selectors={**OUT, "--optimizer": "the component walked"},
    needs={"--aggregate": ["--ensemble", "2"], "--ddpo-clip": ["--ddpo-epochs", "2"]},
    starts=("rewardlab.lab.diffusion.experiment", "run_diffusion_lab"))

LABS = {"weak-to-strong": WEAK_TO_STRONG, "constrained": CONSTRAINED, "diffusion": DIFFUSION}


pytestmark = pytest.mark.usefixtures("one_torch_thread", "hub_offline")


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from tiny_hf import save_encoder_rm

    return save_encoder_rm(tmp_path_factory.mktemp("encoder") / "encoder")


def with_encoder(lab: Lab, encoder) -> Lab:
    from dataclasses import replace

    values = {k: [a.format(encoder=encoder) for a in v] for k, v in lab.values.items()}
    return replace(lab, values=values)


@pytest.mark.parametrize("name", sorted(LABS))
def test_every_option_is_walked(name):
    every_option_is_walked(LABS[name])


@pytest.mark.parametrize(("component", "option"), WEAK_TO_STRONG.cases())
def test_weak_to_strong(component, option, baselines, encoder, tmp_path, monkeypatch):
    walk_case(with_encoder(WEAK_TO_STRONG, encoder), component, option, baselines, tmp_path,
              monkeypatch)


@pytest.mark.parametrize(("component", "option"), CONSTRAINED.cases())
def test_constrained(component, option, baselines, tmp_path, monkeypatch):
    walk_case(CONSTRAINED, component, option, baselines, tmp_path, monkeypatch)


@pytest.mark.parametrize(("component", "option"), DIFFUSION.cases())
def test_diffusion(component, option, baselines, tmp_path, monkeypatch):
    pytest.importorskip("diffusers")
    walk_case(DIFFUSION, component, option, baselines, tmp_path, monkeypatch)


@pytest.mark.parametrize(("option", "why"), [
    ("--aggregate", "need --ensemble 2 or more"), ("--ddpo-clip", "not read with --ddpo-epochs 1")])
def test_a_diffusion_option_without_what_it_is_read_under_is_refused(option, why, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setattr("rewardlab.lab.diffusion.experiment.run_diffusion_lab", None)
    result = runner.invoke(app, ["lab", "diffusion", "--out", str(tmp_path / "d"),
                                 *DIFFUSION.components["ddpo"], *DIFFUSION.values[option]])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output and why in result.output
    assert not (tmp_path / "d").exists()
