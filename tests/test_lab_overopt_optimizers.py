"""``rewardlab lab overopt --optimizer bon,kl,pg`` end to end on a tiny arena, and a
candidate file with generator log-probabilities as the pool."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from rewardlab.cli import lab_cmd
from rewardlab.lab.overopt import OveroptConfig
from rewardlab.lab.overopt.file_pool import file_data


def _app() -> typer.Typer:
    app = typer.Typer()
    lab_cmd.register(app)

    @app.callback()
    def main() -> None:
        """A group, so that ``lab`` stays a subcommand."""

    return app


TINY_ARGS = ["--proxy-sizes", "60", "--ensemble", "3", "--aggregate", "wco,uwo",
             "--pool-size", "12", "--test-prompts", "5", "--prompts", "80", "--val-prompts", "8",
             "--ns", "1,2,4,12", "--pg-steps", "40"]


def test_cli_runs_every_optimizer_and_writes_curves_with_fits(tmp_path):
    out = tmp_path / "lab"
    result = CliRunner().invoke(
        _app(), ["lab", "overopt", "--out", str(out), "--optimizer", "bon,kl,pg", *TINY_ARGS]
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    settings = results["settings"]
    assert [(s["aggregate"], s["optimizer"]) for s in settings] == [
        (a, o) for a in ("single", "wco", "uwo") for o in ("bon", "kl", "pg")
    ]
    for s in settings:
        assert s["curve"] and all({"kl", "proxy", "gold"} <= set(p) for p in s["curve"])
        assert set(s["fit"]) >= {"form", "alpha", "beta", "r2"}
        assert s["fit"]["form"] == ("bon" if s["optimizer"] == "bon" else "rl")
    kl = next(s for s in settings if s["optimizer"] == "kl")
    pg = next(s for s in settings if s["optimizer"] == "pg")
    # π₀ (β = ∞, step 0) has the pool's mean gold and no KL; the curve ends near the argmax
    pool_mean = settings[0]["curve"][0]["gold"]  # best-of-1
    assert kl["curve"][0]["kl"] == 0.0 and kl["curve"][0]["gold"] == pytest.approx(pool_mean)
    assert pg["curve"][0]["gold"] == pytest.approx(pool_mean)
    assert [p["step"] for p in pg["curve"]] == list(range(0, 41, 10))
    assert kl["curve"][-1]["kl"] == pytest.approx(np.log(12), abs=0.05)
    assert [p["n"] for p in kl["bon_pool"]["curve"]] == [1, 2, 4, 12]
    assert kl["bon_pool"]["fit"]["form"] == "bon"
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2  # best-of-n figure + beyond-bon figure
    assert (out / "rl_hashing_60_0.25.png").read_bytes().startswith(b"\x89PNG")
    assert "Gold at equal KL" in html and "kl@1" in html and "pg@1" in html
    assert "pg" in result.output and "R²=" in result.output

    bad = CliRunner().invoke(_app(), ["lab", "overopt", "--out", str(out), "--optimizer", "ppo"])
    assert bad.exit_code == 2 and "--optimizer" in bad.output


def _write_pool(path, n_prompts=40, n_cand=6):
    """Gold = 1 for responses saying 'good', else 0; π₀ favours the first candidate."""
    rng = np.random.default_rng(0)
    lines = []
    for p in range(n_prompts):
        for c in range(n_cand):
            good = bool(rng.random() < 0.5)
            word = "good" if good else "bad"
            lines.append({"prompt": f"question {p}", "response": f"{word} answer {c} {p}",
                          "gold": float(good), "logprob": -1.0 if c == 0 else -3.0})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return lines


def test_a_candidate_file_with_logprobs_is_a_pool(tmp_path):
    path = tmp_path / "pool.jsonl"
    lines = _write_pool(path)
    data = file_data(path, 0.25, 0.1, seed=0)
    assert data.info["test_prompts"] == 10 and data.info["logprob"] is True
    assert data.test.logprob is not None and len(data.test) == 60
    assert all(r.meta["gold"][0] > r.meta["gold"][1] for r in data.train)
    assert not set(data.test.prompts) & {r.prompt for r in data.train}

    from rewardlab.lab.overopt import run_overopt

    config = OveroptConfig(pool=str(path), proxy_sizes=(40,), ensemble=2, aggregates=("wco",),
                           optimizers=("kl",), epochs=2, test_fraction=0.25, val_fraction=0.1)
    results = run_overopt(config)
    first = results["settings"][0]["curve"][0]
    # π₀ from the log-probabilities: the first candidate has e² times the others' mass
    weights = np.array([np.e**2] + [1.0] * 5) / (np.e**2 + 5)
    by_prompt = {}
    for line in lines:
        by_prompt.setdefault(line["prompt"], []).append(line["gold"])
    expected = np.mean([weights @ np.array(by_prompt[p]) for p in dict.fromkeys(data.test.prompts)])
    assert first["gold"] == pytest.approx(expected)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q", "response": "a", "gold": 1}\n{"prompt": "q", "response": 2, '
                   '"gold": 0}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: field 'response'"):
        file_data(bad, 0.25, 0.1, seed=0)


def test_arena_gold_splits_into_task_and_style_components():
    from rewardlab.data.synthetic import ArenaConfig, generate_arena
    from rewardlab.lab.overopt.components import component_golds, relabel

    arena = generate_arena(ArenaConfig(n_prompts=12, candidates_per_prompt=6, seed=3))
    for item, row in zip(arena.items, arena.candidates, strict=True):
        for cand in row:
            task, style = component_golds(item.text, cand.text)
            a = cand.attributes
            assert style == pytest.approx(0.3 * a["polite"] - 0.4 * a["padding"])
            assert task + style == pytest.approx(cand.gold)
    # relabelling by the style component follows Bradley–Terry on the style gap
    from rewardlab.data.record import Comparison

    def spread(k: int) -> tuple[float, str, str]:
        texts = [c.text for c in arena.candidates[k]]
        styles = [component_golds(arena.items[k].text, t)[1] for t in texts]
        hi, lo = int(np.argmax(styles)), int(np.argmin(styles))
        return styles[hi] - styles[lo], texts[hi], texts[lo]

    k = max(range(len(arena.items)), key=lambda i: spread(i)[0])
    gap, best, worst = spread(k)
    pairs = [Comparison(arena.items[k].text, (best, worst), (1, 0))] * 2000
    wins = np.mean([r.ranking == (0, 1) for r in relabel(pairs, 1, seed=0)])
    assert gap > 1.0 and wins == pytest.approx(1 / (1 + np.exp(-gap)), abs=0.03)


def test_cli_constrained_on_a_tiny_arena(tmp_path):
    out = tmp_path / "constrained.json"
    result = CliRunner().invoke(
        _app(),
        ["lab", "constrained", "--out", str(out), "--proxy-size", "80", "--pool-size", "16",
         "--test-prompts", "6", "--prompts", "80", "--val-prompts", "8", "--pg-steps", "60"],
    )
    assert result.exit_code == 0, result.output
    results = json.loads(out.read_text())
    assert set(results["proxy_points"]) == {"task", "style"}
    path = results["constrained"]["path"]
    assert path[0]["weights"] == [0.5, 0.5] and path[-1]["step"] == 60
    # the sum of component golds is the total gold at every logged step
    for point in path:
        assert sum(point["component_gold"]) == pytest.approx(point["gold"])
    assert "proxy point" in result.output
