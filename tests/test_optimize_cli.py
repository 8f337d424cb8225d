"""End-to-end ``bon`` and ``build`` commands on a small app built from their ``register``."""

from __future__ import annotations

import json
import math

import pytest
import typer
from typer.testing import CliRunner

from rewardlab.cli import bon_cmd, build_cmd
from rewardlab.data.io import read_rows
from rewardlab.models.baselines import LengthReward


def read_jsonl(path) -> list[dict]:
    return [row for _, row in read_rows(path)]


def squash(text: str) -> str:
    """Output without whitespace, so console line wrapping does not matter."""
    return "".join(text.split())


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    bon_cmd.register(app)
    build_cmd.register(app)
    return app


@pytest.fixture
def pool_file(tmp_path):
    rows = [
        {"prompt": "q1", "response": "a", "proxy": 0.1, "gold": 1.0},
        {"prompt": "q1", "response": "b b", "proxy": 0.5, "gold": 2.0},
        {"prompt": "q2", "response": "x", "proxy": 1.0, "gold": 0.0},
        {"prompt": "q1", "response": "c c c", "proxy": 0.3, "gold": 0.0},
        {"prompt": "q1", "response": "d d d d", "proxy": 0.9, "gold": -1.0},
        {"prompt": "q2", "response": "y y", "proxy": 3.0, "gold": 4.0},
    ]
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_bon_with_scores_column(app, pool_file, tmp_path):
    out = tmp_path / "res" / "bon.json"
    args = ["bon", "--scores-column", "proxy", "--gold-column", "gold", "--data"]
    result = CliRunner().invoke(app, [*args, str(pool_file), "--n", "1,2,4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert (report["prompts"], report["samples"]) == (2, 6)
    one, two, four = report["curve"]
    # n=1: mean gold per prompt, q1 (1+2+0−1)/4 = 0.5, q2 2.0
    assert one["gold"] == pytest.approx((0.5 + 2.0) / 2)
    # n=2: q1 is the worked example (1/6); q2 always picks y (gold 4)
    assert two["gold"] == pytest.approx((1 / 6 + 4.0) / 2)
    assert two["kl"] == pytest.approx(math.log(2) - 0.5)
    # exact KL without replacement, mean over prompts: q1 (4 candidates) picks ranks with
    # p = (0, 1/6, 2/6, 3/6); q2 (2 candidates) always picks y: log 2
    q1 = (1 / 6) * math.log(4 / 6) + (2 / 6) * math.log(8 / 6) + (3 / 6) * math.log(2)
    assert two["kl_exact"] == pytest.approx((q1 + math.log(2)) / 2)
    assert "kl_exact_with_replacement" in two and "pool 0.534" in result.output
    # n=4: only q1; picks d (proxy 0.9, gold −1); q2 is skipped
    assert (four["gold"], four["prompts"], four["skipped"]) == (pytest.approx(-1.0), 1, 1)
    assert four["proxy"] == pytest.approx(0.9)
    assert "wrote" in result.output


def test_bon_with_model(app, pool_file, tmp_path, monkeypatch):
    loaded = []
    monkeypatch.setattr(
        "rewardlab.load.load_reward_model",
        lambda path, **options: loaded.append(path) or LengthReward(),
    )
    out = tmp_path / "bon.json"
    args = ["bon", "--model", str(tmp_path / "rm"), "--data", str(pool_file)]
    result = CliRunner().invoke(app, [*args, "--n", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert loaded == [str(tmp_path / "rm")]
    # q1 by length picks "d d d d": proxy 4
    assert json.loads(out.read_text())["curve"][0]["proxy"] == pytest.approx(4.0)


def test_bon_bad_input(app, pool_file, tmp_path):
    runner = CliRunner()
    out = str(tmp_path / "x.json")
    by_column = ["bon", "--scores-column", "proxy", "--out", out, "--data"]
    neither = runner.invoke(app, ["bon", "--data", str(pool_file), "--out", out])
    assert neither.exit_code == 2  # a bad option, refused before the data is read
    assert squash("exactly one of --model, --scores-column and --rewards") in squash(
        neither.output)
    bad_n = runner.invoke(app, [*by_column, str(pool_file), "--n", "1,x"])
    assert bad_n.exit_code == 2 and "comma-separatedintegers" in squash(bad_n.output)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "q", "response": "a", "proxy": 1}\n{"prompt": "q"}\n')
    missing = runner.invoke(app, [*by_column, str(broken)])
    assert missing.exit_code == 1
    assert squash(f"{broken}:2: field 'response'") in squash(missing.output)
    assert not (tmp_path / "x.json").exists()


def test_build_sft_and_pairs(app, pool_file, tmp_path):
    runner = CliRunner()
    common = ["--scores-column", "proxy", "--data", str(pool_file)]
    sft = tmp_path / "sft.jsonl"
    result = runner.invoke(app, ["build", "sft", "--method", "top1", *common, "--out", str(sft)])
    assert result.exit_code == 0, result.output
    assert [(r["prompt"], r["completion"]) for r in read_jsonl(sft)] == [
        ("q1", "d d d d"),
        ("q2", "y y"),
    ]
    chat = tmp_path / "chat.jsonl"
    result = runner.invoke(
        app,
        [
            "build",
            "sft",
            "--method",
            "topk",
            "--k",
            "2",
            "--conversational",
            *common,
            "--out",
            str(chat),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [r["messages"][1]["content"] for r in read_jsonl(chat)] == ["d d d d", "b b", "y y", "x"]
    filtered = tmp_path / "pf.jsonl"
    result = runner.invoke(
        app,
        [
            "build",
            "sft",
            "--method",
            "filtration",
            "--gold-column",
            "gold",
            *common,
            "--out",
            str(filtered),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "r2_kept" in result.output and len(read_jsonl(filtered)) == 4
    pairs = tmp_path / "pairs.jsonl"
    result = runner.invoke(
        app, ["build", "pairs", "--method", "reward-augmented", *common, "--out", str(pairs)]
    )
    assert result.exit_code == 0, result.output
    rows = read_jsonl(pairs)
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows[:2]] == [
        ("Generate a response of score 0.9:\n\nq1", "d d d d", "a"),
        ("Generate a response of score 0.1:\n\nq1", "a", "d d d d"),
    ]


def test_build_unknown_or_misplaced_method(app, pool_file, tmp_path):
    runner = CliRunner()
    common = [
        "--scores-column",
        "proxy",
        "--data",
        str(pool_file),
        "--out",
        str(tmp_path / "o"),
    ]
    typo = runner.invoke(app, ["build", "pairs", "--method", "best-wrst", *common])
    unboxed = typo.output.replace("│", "")  # the Rich error panel of this test app
    assert typo.exit_code == 2 and squash("did you mean 'best-worst'") in squash(unboxed)
    misplaced = runner.invoke(app, ["build", "pairs", "--method", "tags", *common])
    assert misplaced.exit_code == 2
    assert "`rewardlabbuildsft`" in squash(misplaced.output.replace("│", ""))
