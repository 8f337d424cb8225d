"""``rewardlab lab agent`` end to end on a tiny budget, its outputs checked against each
other and against the true rewards, its one-line errors, and (slow) the CartPole bar."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.data.trajectory_io import load_segment_pairs
from rewardlab.lab.agent.options import AgentLabOptions
from rewardlab.load import load_reward_model

runner = CliRunner()
FILE_TINY = ["--steps", "512", "--iterations", "2", "--seeds", "1", "--eval-episodes", "2",
             "--segment-length", "10"]
"""A tiny run on a file of labels (which fixes how many there are)."""
TINY = [*FILE_TINY, "--comparisons", "12"]


def invoke(*args):
    return runner.invoke(app, ["lab", "agent", *map(str, args)])


def test_tiny_run_writes_consistent_results_report_pairs_and_models(tmp_path):
    out = tmp_path / "agent"
    result = invoke("--out", out, *TINY, "--queries", "random,disagreement")
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["headline_strategy"] == "random"
    runs = {r["strategy"]: r for r in results["runs"]}
    assert set(runs) == {"random", "disagreement"}
    # the headline is the first strategy's mean true return over seeds (one seed here)
    assert results["learned_reward_return"] == pytest.approx(np.mean(runs["random"]["eval_returns"]))
    assert results["true_reward_return"] == pytest.approx(
        np.mean(results["baselines"][0]["eval_returns"]))
    assert results["ratio"] == pytest.approx(
        results["learned_reward_return"] / results["true_reward_return"])
    # both policies got the same steps, in the same chunks
    assert runs["random"]["iterations"][-1]["policy_steps"] == results["baselines"][0]["policy_steps"]
    assert [it["labels"] for it in runs["random"]["iterations"]] == [3, 12]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2
    png = html.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "curves_random.png").read_bytes() == base64.b64decode(png)
    # the labelled pairs: a rational labeller prefers the larger true return, ties equal ones
    pairs = load_segment_pairs(out / "pairs" / "random_seed0.npz")
    assert len(pairs) == 12
    for record in pairs:
        first, second = (t.true_return() for t in record.responses)
        if record.tie:
            assert first == second
        else:
            assert (first > second) == (record.ranking == (0, 1))
    model = load_reward_model(out / "models" / "random_seed0")
    assert model.config["n_train_pairs"] == 12 and model.config["options"]["loss"] == "noisy-bt"
    scores = model.score([r.prompt for r in pairs], [r.responses[0] for r in pairs])
    assert scores.shape == (12,) and np.all(np.isfinite(scores))
    # learning from the file instead of the labeller
    again = invoke("--out", tmp_path / "file", *FILE_TINY, "--labels",
                   out / "pairs" / "random_seed0.npz")
    assert again.exit_code == 0, again.output
    fixed = json.loads((tmp_path / "file" / "results.json").read_text())
    assert fixed["headline_strategy"] == "file"
    assert [it["labels"] for it in fixed["runs"][0]["iterations"]] == [12, 12]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--queries", "rnd"], 2, "unknown value 'rnd'; did you mean 'random'"),
    (["--algorithm", "sac"], 1, "algorithm 'sac' needs continuous actions; CartPole-v1 has "
     "Discrete actions"),
    (["--env", "NoSuchEnv-v0"], 1, "env 'NoSuchEnv-v0'"),
    (["--loss", "bce"], 1, "loss 'bce' trains on points; the reward ensemble takes a pair loss"),
    (["--loss", "bt-x"], 2, "unknown loss 'bt-x'"),
    (["--labels", "absent.npz"], 1, "--labels absent.npz: no such file"),
    (["--iterations", "600"], 1, "iterations must be in [1, steps], got 600 for 512 steps"),
])
def test_bad_options_are_one_line(tmp_path, args, code, message):
    result = invoke("--out", tmp_path / "o", *(FILE_TINY if "--labels" in args else TINY), *args)
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "o" / "results.json").exists()


def test_label_and_step_schedules():
    options = AgentLabOptions(comparisons=300, initial_fraction=0.25, iterations=5, steps=30_001)
    assert options.label_schedule() == [75, 57, 56, 56, 56]
    assert sum(options.label_schedule()) == 300
    assert options.step_schedule() == [6000, 6000, 6000, 6000, 6001]
    assert AgentLabOptions(iterations=1, comparisons=7).label_schedule() == [7]
    assert AgentLabOptions(iterations=3, comparisons=2).label_schedule() == [1, 1, 0]


@pytest.mark.slow
def test_cartpole_bar(tmp_path):
    """``rewardlab lab agent --env CartPole-v1 --out DIR`` with the defaults: the policy
    trained on the learned reward reaches at least 80 % of the true-reward policy's return
    (means over 3 seeds) within 15 minutes."""
    start = time.perf_counter()
    result = invoke("--env", "CartPole-v1", "--out", tmp_path / "bar")
    seconds = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "bar" / "results.json").read_text())
    assert results["config"]["seeds"] >= 3
    assert results["learned_reward_return"] >= 0.8 * results["true_reward_return"]
    assert seconds < 15 * 60


def test_a_labels_file_for_another_environment_is_refused_before_training(tmp_path):
    from rewardlab.data.record import Comparison
    from rewardlab.data.trajectory import Trajectory
    from rewardlab.data.trajectory_io import save_segment_pairs

    segment = Trajectory(np.zeros((2, 3), np.float32), np.zeros((2, 1), np.float32),
                         np.zeros(2))
    path = save_segment_pairs(tmp_path / "pendulum.npz",
                              [Comparison("Pendulum-v1", (segment, segment), (0, 1))])
    result = invoke("--out", tmp_path / "o", *FILE_TINY, "--labels", path)
    assert result.exit_code == 1, result.output
    assert "segments have observations of shape (3,), CartPole-v1 has (4,)" in " ".join(
        result.output.split())
    assert not (tmp_path / "o").exists()
