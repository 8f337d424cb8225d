"""``rewardlab lab overopt`` end to end on a tiny synthetic arena (app built from
``register``), and the AlpacaEval split the lab trains and tests on."""

from __future__ import annotations

import base64
import json

import typer
from typer.testing import CliRunner

from rewardlab.cli import lab_cmd
from rewardlab.lab.overopt.pools import alpaca_eval_data


def test_cli_end_to_end_writes_json_html_and_png(tmp_path):
    app = typer.Typer()
    lab_cmd.register(app)

    @app.callback()
    def main() -> None:
        """A group, so that ``lab`` stays a subcommand."""

    out = tmp_path / "lab"
    result = CliRunner().invoke(
        app,
        ["lab", "overopt", "--out", str(out), "--proxy-sizes", "60", "--label-noise", "0,0.25",
         "--ensemble", "3", "--aggregate", "wco,uwo", "--pool-size", "12",
         "--test-prompts", "5", "--n-prompts", "80", "--val-prompts", "8", "--n", "1,2,4,12"],
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["noises"] == [0.0, 0.25]
    assert results["ns"] == [1, 2, 4, 12]
    assert {(s["noise"], s["aggregate"]) for s in results["settings"]} == {
        (e, a) for e in (0.0, 0.25) for a in ("single", "wco", "uwo")
    }
    assert results["data"]["test_prompts"] == 5 and results["data"]["test_candidates"] == 60
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2
    png = (out / "curve_hashing_60_0.25.png").read_bytes()
    assert png.startswith(b"\x89PNG") and base64.b64encode(png).decode() in html
    assert "wco" in result.output and "α=" in result.output

    bad = CliRunner().invoke(app, ["lab", "overopt", "--out", str(out), "--aggregate", "wcoo"])
    assert bad.exit_code == 2 and "--aggregate" in bad.output and "wco" in bad.output


def test_alpaca_eval_split_keeps_test_instructions_away_from_training(shared_data):
    data = alpaca_eval_data(shared_data / "alpaca-eval", 0.2, 0.1, seed=0)
    assert data.info["test_prompts"] == 161 and data.info["val_prompts"] == 80
    test_prompts = set(data.test.prompts)
    assert not test_prompts & {r.prompt for r in data.train}
    assert not test_prompts & {r.prompt for r in data.val}
    sizes = data.test.pool_sizes()
    assert min(sizes) >= 55 and max(sizes) <= 57 * 2  # a repeated instruction text merges
    assert data.test.gold.min() >= 1.0 and data.test.gold.max() <= 2.0
    assert len(data.train) > 4000
