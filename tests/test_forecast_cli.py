"""``rewardlab forecast`` end to end on tiny pools, the library verb, and bad inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.lab.forecast import FORECAST_METHODS, ForecastOptions, forecast
from rewardlab.lab.forecast.axis import bon_axis, n_grid
from rewardlab.lab.forecast.peaks import interpolated_peak
from rewardlab.optimize.bon import expected_best_of_n

runner = CliRunner()


def write_pool(path: Path, prompts: int = 120, size: int = 16, seed: int = 0,
               labelled: int | None = None) -> Path:
    """Proxy z ~ N(0, 1); gold = z − 0.35 z² + noise, so best-of-n gold peaks inside the pool;
    gold only on the first ``labelled`` prompts (null on the others)."""
    rng = np.random.default_rng(seed)
    lines = []
    for p in range(prompts):
        z = rng.standard_normal(size)
        gold = z - 0.35 * z * z + rng.normal(0, 0.3, size)
        for i in range(size):
            row = {"prompt": f"q{p}", "response": f"answer {p}-{i}", "proxy": float(z[i]),
                   "gold": float(gold[i]) if labelled is None or p < labelled else None}
            lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_groups(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    groups: dict[str, list] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        groups.setdefault(row["prompt"], []).append((row["proxy"], row["gold"]))
    return {p: (np.array([c[0] for c in v]), np.array([c[1] for c in v]))
            for p, v in groups.items()}


def gain_curve(groups: list[tuple[np.ndarray, np.ndarray]], ns: list[int]) -> np.ndarray:
    """Mean over prompts of E[gold of best-of-n] − E[gold], straight from the estimator."""
    return np.mean([[expected_best_of_n(s, n, g) - g.mean() for n in ns] for s, g in groups],
                   axis=0)


def test_the_bar_command_writes_peak_interval_and_verdict(tmp_path):
    pool = write_pool(tmp_path / "pool.jsonl")
    out = tmp_path / "f.json"
    result = runner.invoke(app, ["forecast", "--scores-column", "proxy", "--data", str(pool),
                                 "--gold-column", "gold", "--gold-budget", "100",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    peak, (low, high), text = report["peak"], report["interval"], report["verdict"]
    assert isinstance(peak, float) and low <= peak <= high
    assert 1 < peak < 16 and not report["censored"]
    assert f"n ≈ {round(peak)} " in text and f"safe up to n ≈ {round(low)};" in text
    assert text in result.output
    # the gain at the peak is the best grid point of the budget prompts' unbiased curve
    groups = read_groups(pool)
    ns = n_grid(16)
    budget = [groups[f"q{i}"] for i in report["data"]["budget_prompts"]]
    assert len(budget) == 100
    assert report["gain"] == pytest.approx(gain_curve(budget, ns).max(), abs=1e-9)
    forecast_curve = [p["gold_gain"] for p in report["curve"]]
    np.testing.assert_allclose(forecast_curve, gain_curve(budget, ns), atol=1e-9)
    # every prompt has gold: the realized peak is the grid argmax over all 120
    everyone = gain_curve(list(groups.values()), ns)
    assert report["realized"]["grid_peak"] == ns[int(np.argmax(everyone))]
    assert report["realized"]["peak"] == pytest.approx(interpolated_peak(bon_axis(16), everyone))
    assert [p["n"] for p in report["curve"]] == ns
    assert set(report["methods"]) == set(FORECAST_METHODS.names())  # every method by default
    # "falls before n = 64" is judged up to the reach, n = 16, where gold is past its peak
    assert report["falls"]["before"] == 64 and report["falls"]["forecast"] is True
    assert report["falls"]["realized"] is bool(everyone[-1] < everyone.max())


def test_html_report_and_kl_optimizer(tmp_path):
    pool = write_pool(tmp_path / "pool.jsonl", prompts=40)
    out, page = tmp_path / "kl.json", tmp_path / "report.html"
    result = runner.invoke(app, ["forecast", "--scores-column", "proxy", "--data", str(pool),
                                 "--gold-column", "gold", "--gold-budget", "30", "--optimizer",
                                 "kl", "--bootstrap", "50", "--method", "gao", "--out", str(out),
                                 "--html", str(page)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["optimizer"] == "kl" and report["method"] == "gao"
    assert "KL ≈" in report["verdict"] and report["falls"] is None
    assert all("beta" in p and "kl" in p for p in report["curve"])
    text = page.read_text()
    assert "data:image/png;base64," in text and report["verdict"] in text
    assert "realized" in text


def test_gold_model_is_called_on_the_budget_only(tmp_path):
    pool = write_pool(tmp_path / "pool.jsonl", prompts=30, labelled=0)
    seen: list[str] = []

    class Judge:
        def score(self, prompts, responses):
            seen.extend(prompts)
            return np.array([-len(r) + hash(r) % 7 for r in responses], dtype=float)

    result = forecast(ForecastOptions(pool, scores_column="proxy", gold_budget=12,
                                      bootstrap=20), gold_model=Judge())
    budget = {f"q{i}" for i in result.data["budget_prompts"]}
    assert len(budget) == 12 and set(seen) == budget and len(seen) == 12 * 16
    assert result.data["gold"] == "model" and result.realized is None


def test_seed_changes_the_budget_and_is_reproducible(tmp_path):
    pool = write_pool(tmp_path / "pool.jsonl", prompts=30)
    options = ForecastOptions(pool, gold_column="gold", scores_column="proxy", gold_budget=10,
                              bootstrap=20)
    first, again = forecast(options), forecast(options)
    assert first.to_dict() == again.to_dict()
    other = forecast(ForecastOptions(**{**options.__dict__, "seed": 1}))
    assert other.data["budget_prompts"] != first.data["budget_prompts"]


def run_bad(args: list, code: int, *expected: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def test_bad_inputs_are_one_line(tmp_path):
    out = tmp_path / "f.json"
    base = ["forecast", "--scores-column", "proxy", "--out", out]
    few = write_pool(tmp_path / "few.jsonl", prompts=20, labelled=8)
    run_bad([*base, "--data", few, "--gold-column", "gold", "--gold-budget", "10"], 1,
            "gold_budget", "10 prompts asked for", "only 8 labelled prompts in", "few.jsonl")
    run_bad([*base, "--data", few, "--gold-column", "judge"], 1, "few.jsonl", "'judge'",
            "no row has the gold column")
    rows = [json.loads(line) for line in few.read_text().splitlines()]
    rows[3]["gold"] = None  # prompt q0 half labelled, line 4
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_bad([*base, "--data", partial, "--gold-column", "gold", "--gold-budget", "5"], 1,
            "partial.jsonl:4", "'gold'", "other candidates of this prompt have gold")
    single = tmp_path / "single.jsonl"
    single.write_text(few.read_text() + json.dumps(
        {"prompt": "lonely", "response": "r", "proxy": 1.0, "gold": 0.5}) + "\n")
    run_bad([*base, "--data", single, "--gold-column", "gold", "--gold-budget", "5"], 1,
            f"single.jsonl:{20 * 16 + 1}", "1 candidate")
    run_bad([*base, "--data", few, "--gold-column", "gold", "--gold-model", "judge:x"], 2,
            "--gold-column")
    run_bad([*base, "--data", few, "--gold-column", "gold", "--method", "empricial"], 2,
            "did you mean 'empirical'")
    run_bad(["forecast", "--data", few, "--gold-column", "gold", "--out", out], 2,
            "exactly one of --model, --scores-column and --rewards")
    run_bad([*base, "--data", few, "--gold-column", "gold", "--gold-budget", "1"], 2,
            "--gold-budget")
    assert not out.exists()


def test_help_renders_literally():
    result = runner.invoke(app, ["forecast", "--help"])
    assert result.exit_code == 0
    flat = re.sub(r"[\s│]+", " ", result.output)
    assert "rows {prompt, response, ...} with many candidates" in flat
    assert "empirical | gao" in flat


def test_model_proxy_equals_its_scores_as_a_column(tmp_path):
    """``--model DIR`` scores the pool itself; the forecast equals the one from a column
    holding that model's own scores."""
    from rewardlab.features.hashing import HashingBackbone
    from rewardlab.models.heads import HEADS
    from rewardlab.models.io import save_model
    from rewardlab.models.normalizer import Normalizer
    from rewardlab.models.reward_model import TrainedRewardModel

    backbone = HashingBackbone(16)
    config = {"feature_dim": backbone.dim, "n_members": 1,
              "head": {"name": "linear", "params": {}}, "backbone": backbone.config()}
    model = TrainedRewardModel(backbone, Normalizer(backbone.dim),
                               HEADS.get("linear")(backbone.dim, 1), config)
    folder = save_model(model, tmp_path / "rm")
    pool = write_pool(tmp_path / "pool.jsonl", prompts=25, size=8)
    rows = [json.loads(line) for line in pool.read_text().splitlines()]
    scores = model.score([r["prompt"] for r in rows], [r["response"] for r in rows])
    for row, value in zip(rows, scores, strict=True):
        row["own"] = float(value)
    scored = tmp_path / "scored.jsonl"
    scored.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["--gold-column", "gold", "--gold-budget", "20", "--bootstrap", "30"]
    for source, data, out in ((["--model", folder], pool, "m.json"),
                              (["--scores-column", "own"], scored, "c.json")):
        result = runner.invoke(app, ["forecast", *map(str, source), "--data", str(data),
                                     *common, "--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    by_model, by_column = (json.loads((tmp_path / n).read_text()) for n in ("m.json", "c.json"))
    assert by_model["verdict"] == by_column["verdict"]
    for key in ("peak", "interval", "gain", "gain_interval"):
        assert by_model[key] == pytest.approx(by_column[key], rel=1e-9)
    for key in ("gold_gain", "proxy_gain", "realized_gain", "low", "high"):
        assert [p[key] for p in by_model["curve"]] == pytest.approx(
            [p[key] for p in by_column["curve"]], rel=1e-9, abs=1e-12)


def test_csv_pool_with_empty_gold_cells(tmp_path):
    """Empty CSV cells are unlabelled prompts: the budget comes from the labelled ones."""
    pool = write_pool(tmp_path / "pool.jsonl", prompts=30, size=8, labelled=20)
    rows = [json.loads(line) for line in pool.read_text().splitlines()]
    csv = tmp_path / "pool.csv"
    lines = ["prompt,response,proxy,gold"] + [
        f"{r['prompt']},{r['response']},{r['proxy']},{'' if r['gold'] is None else r['gold']}"
        for r in rows
    ]
    csv.write_text("\n".join(lines) + "\n")
    result = forecast(ForecastOptions(csv, gold_column="gold", scores_column="proxy",
                                      gold_budget=20, bootstrap=20))
    assert result.data["labelled_prompts"] == 20 and result.realized is None
    assert result.data["budget_prompts"] == list(range(20))


def test_disagreement_along_the_axis_is_the_spread_of_the_pick(tmp_path):
    """With a per-candidate spread (an ensemble's), the curve holds the unbiased expected
    spread of the best-of-n pick, and a note gives its growth to the forecast peak."""
    from rewardlab.lab.forecast import forecast_pools
    from rewardlab.optimize.bon import best_of_n_curve
    from rewardlab.optimize.pool import PromptPool

    rng = np.random.default_rng(3)
    pools = []
    for p in range(20):
        z = rng.standard_normal(16)
        pools.append(PromptPool(f"q{p}", tuple(map(str, range(16))), z,
                                gold=z - 0.4 * z * z, spread=np.abs(z) + 0.1))
    result = forecast_pools(pools, list(range(20)), ForecastOptions(Path("x"), bootstrap=20))
    ns = [p["n"] for p in result.curve]
    expected = best_of_n_curve([PromptPool(p.prompt, p.responses, p.scores, gold=p.spread)
                                for p in pools], [int(n) for n in ns])
    np.testing.assert_allclose([p["disagreement"] for p in result.curve],
                               [p["gold"] for p in expected], rtol=1e-12)
    assert len(result.notes) == 1 and "disagreement" in result.notes[0]
