"""The lab and demo verbs reproduce their commands: the same JSON (timings aside) and files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.lab.demo import DemoConfig
from rewardlab.lab.overopt.components import ComponentsConfig, ComponentsPG, ComponentsPool
from rewardlab.lab.overopt.config import OveroptConfig
from rewardlab.lab.overopt.pools import SyntheticPoolConfig
from rewardlab.lab.overopt.rl_curves import LabPGConfig, RLConfig
from rewardlab.lab.weak_to_strong import WeakToStrongConfig, WeakToStrongPool
from rewardlab.verbs.demo import DemoSpec, demo
from rewardlab.verbs.lab import (
    ConstrainedSpec,
    OveroptSpec,
    WeakToStrongSpec,
    constrained,
    overopt,
    weak_to_strong,
)

runner = CliRunner()
TIMINGS = {"fit_seconds", "encode_seconds", "seconds", "timing", "total_seconds"}


def without_timings(value):
    """``value`` with every wall-clock field dropped (the one thing allowed to differ)."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def invoke(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_overopt_verb_writes_what_the_command_writes(tmp_path):
    invoke("lab", "overopt", "--out", tmp_path / "cli", "--optimizer", "bon,pg",
           "--proxy-sizes", "60", "--ensemble", "2", "--aggregate", "uwo", "--aggregate-params",
           '{"uwo": {"lam": 2.0}}', "--pool-size", "12", "--test-prompts", "4", "--n-prompts",
           "60", "--val-prompts", "6", "--n", "1,2,12", "--pg-steps", "20", "--pg-lr", "2.0",
           "--seed", "3")
    config = OveroptConfig(optimizers=("bon", "pg"), proxy_sizes=(60,), ensemble=2,
                           aggregates=("uwo",), aggregate_params={"uwo": {"lam": 2.0}},
                           ns=(1, 2, 12), seed=3,
                           synthetic=SyntheticPoolConfig(pool_size=12, test_prompts=4,
                                                         n_prompts=60, val_prompts=6),
                           rl=RLConfig(pg=LabPGConfig(steps=20, lr=2.0)))
    made = overopt(OveroptSpec(out=tmp_path / "lib", config=config))
    cli = read(tmp_path / "cli" / "results.json")
    assert without_timings(cli) == without_timings(read(made.written["results.json"]))
    assert cli["config"]["aggregate_params"] == {"uwo": {"lam": 2.0}}
    assert made.results["settings"][-1]["aggregate"] == "uwo"
    assert cli["config"]["rl"]["pg"]["seed"] == 3  # the run's seed reaches the policy gradient
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == sorted(made.written)


def test_weak_to_strong_verb_writes_what_the_command_writes(tmp_path):
    sizes = ["--weak-pairs", "40", "--transfer-pairs", "60", "--n-prompts", "80",
             "--test-prompts", "4", "--val-prompts", "8", "--pool-size", "8"]
    printed = invoke("lab", "weak-to-strong", "--out", tmp_path / "cli.json", "--strong",
                     "hashing", "--label-noise", "0.1", *sizes)
    config = WeakToStrongConfig(strong="hashing", weak_pairs=40, transfer_pairs=60, noise=0.1,
                                synthetic=WeakToStrongPool(n_prompts=80, test_prompts=4,
                                                           val_prompts=8, pool_size=8))
    made = weak_to_strong(WeakToStrongSpec(out=tmp_path / "lib.json", config=config))
    assert without_timings(read(tmp_path / "cli.json")) == without_timings(
        read(made.written["results"]))
    accuracy = read(tmp_path / "cli.json")["gold_accuracy"]  # the numbers the docs quote
    assert (f"gold accuracy: weak {accuracy['weak']:.3f}  strong(w2s) {accuracy['w2s']:.3f}  "
            f"strong(gold) {accuracy['ceiling']:.3f}") in printed


def test_constrained_verb_writes_what_the_command_writes(tmp_path):
    sizes = ["--proxy-size", "60", "--n-prompts", "80", "--test-prompts", "4",
             "--val-prompts", "8", "--pool-size", "8", "--pg-steps", "30", "--seed", "2"]
    invoke("lab", "constrained", "--out", tmp_path / "cli.json", *sizes)
    config = ComponentsConfig(proxy_size=60, seed=2, pg=ComponentsPG(steps=30),
                              synthetic=ComponentsPool(n_prompts=80, test_prompts=4,
                                                       val_prompts=8, pool_size=8))
    made = constrained(ConstrainedSpec(out=tmp_path / "lib.json", config=config))
    cli = read(tmp_path / "cli.json")
    assert without_timings(cli) == without_timings(read(made.written["results"]))
    assert cli["config"]["pg"]["seed"] == 2 and cli["config"]["pg"]["steps"] == 30


def test_demo_verb_writes_what_the_command_writes(tmp_path):
    invoke("demo", "--out", tmp_path / "cli", "--backbone", "hashing", "--n-prompts", "40",
           "--n-pairs", "300", "--seed", "1")
    made = demo(DemoSpec(out=tmp_path / "lib", config=DemoConfig(
        backbone="hashing", n_prompts=40, n_pairs=300, seed=1)))
    cli = read(tmp_path / "cli" / "report.json")
    assert without_timings(cli) == without_timings(read(made.written["report.json"]))
    assert cli["test_vs_gold_order"] == made.results["test_vs_gold_order"]
    assert (tmp_path / "cli" / "summary.md").read_text() == made.summary
    for name in ("model.safetensors", "config.json"):
        assert (tmp_path / "cli" / "model" / name).read_bytes() == (
            tmp_path / "lib" / "model" / name).read_bytes()
