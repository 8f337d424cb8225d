"""Outputs of ``lab agent``: ``results.json``, ``report.html`` (self-contained), PNGs,
each run's labelled pairs and its last reward model.

One figure per query strategy: the true return of each training episode
against policy steps (a moving mean over ``SMOOTH`` episodes), one line per
seed, solid for the policy trained on the learned reward and dashed grey for
the one trained on the true reward; the final evaluation means are in the
table. Figures are drawn by :func:`rewardlab.evaluate.report.png_base64`
(matplotlib, Agg) and embedded as base64; the same bytes are written as PNG
files. Pairs go to ``pairs/{strategy}_seed{seed}.npz``
(:func:`~rewardlab.data.trajectory_io.save_segment_pairs`), reward models to
``models/{strategy}_seed{seed}/``. Every file is written atomically.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import write_bytes_atomic, write_json_atomic
from rewardlab.data.trajectory_io import save_segment_pairs
from rewardlab.evaluate.report import png_base64
from rewardlab.lab.agent.experiment import AgentLabResult
from rewardlab.models.structured.trajectory_rm import save_trajectory_reward

SMOOTH = 10


def smoothed(curve: Sequence[Sequence[float]], window: int = SMOOTH) -> tuple[list, list]:
    """(steps, moving mean of the last ``window`` episode returns) of a return curve."""
    if not curve:
        return [], []
    steps = [float(s) for s, _ in curve]
    returns = np.asarray([r for _, r in curve], dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(returns)])
    lows = np.maximum(np.arange(1, len(returns) + 1) - window, 0)
    means = (cumulative[1:] - cumulative[lows]) / (np.arange(1, len(returns) + 1) - lows)
    return steps, means.tolist()


def _figure(strategy: str, runs: list[Mapping[str, Any]],
            baselines: list[Mapping[str, Any]]) -> str:
    def draw(ax) -> None:
        for i, baseline in enumerate(baselines):
            x, y = smoothed(baseline["curve"])
            ax.plot(x, y, "--", color="grey", lw=1,
                    label="true reward" if i == 0 else None)
        for i, run in enumerate(runs):
            x, y = smoothed(run["curve"])
            ax.plot(x, y, color=f"C{i}", label=f"learned reward, seed {run['seed']}")
        ax.set_xlabel("policy steps")
        ax.set_ylabel(f"true episode return (mean of last {SMOOTH})")
        ax.set_title(f"queries: {strategy}")
        ax.legend(loc="lower right", fontsize=8)

    return png_base64(draw, (7.5, 4.2))


def html_table(rows: list[dict[str, Any]], digits: int = 3) -> str:
    """An HTML table of ``rows`` (one column per key of the first), floats to ``digits``."""
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{v:.{digits}f}</td>" if isinstance(v, float) else
                         f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def html_page(title: str, heading: str, intro: str, summary: str, figures_title: str,
              figures: list[tuple[str, str]]) -> str:
    """The agent labs' report: heading, intro (HTML), a summary table, then the figures
    (``(caption, PNG base64)``) inline."""
    figs = "".join(f'<h3>{html.escape(t)}</h3><img alt="{html.escape(t)}" '
                   f'src="data:image/png;base64,{png}">' for t, png in figures)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:"
        "collapse;font-size:90%}td,th{border:1px solid #bbb;padding:3px 8px}img{max-width:"
        "100%;display:block;margin-bottom:1em}</style></head><body>"
        f"<h1>{heading}</h1>{intro}<h2>Summary</h2>{summary}<h2>{figures_title}</h2>{figs}"
        "</body></html>"
    )


def summary_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per strategy and seed: learned vs true return, hold-out accuracy, labels."""
    rows = []
    for strategy, summary in results["strategies"].items():
        for row in summary["per_seed"]:
            rows.append({"queries": strategy, **row})
        rows.append({"queries": strategy, "seed": "mean",
                     "learned_reward_return": summary["learned_reward_return"],
                     "true_reward_return": summary["true_reward_return"],
                     "holdout_accuracy": "", "labels": ""})
    return rows


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_html(results: Mapping[str, Any], figures: list[tuple[str, str]]) -> str:
    config = results["config"]
    meta = (f"env {config['env']}, {config['algorithm'].upper()}, {config['steps']} policy steps "
            f"in {config['iterations']} iterations, {config['comparisons']} comparisons of "
            f"{config['segment_length']}-step segments, oracle temperature "
            f"{config['temperature']}, noise {config['noise']}, {config['seeds']} seeds; "
            f"{results['timing']['total_seconds']:.0f} s; rewardlab "
            f"{html.escape(str(results['rewardlab_version']))}")
    intro = (
        f"<p>{html.escape(meta)}</p><p>Each learned-reward policy follows the preference loop "
        "of Christiano et al. (2017): segments of its own episodes, labelled by a synthetic "
        "Boltzmann labeller from the true return, train a reward ensemble that replaces the "
        "environment's reward. Returns are true returns of deterministic evaluation "
        "episodes; hold-out accuracy is the share of fresh segment pairs with different "
        f"true returns that the learned reward orders correctly. Headline "
        f"({html.escape(results['headline_strategy'])}): learned "
        f"{results['learned_reward_return']:.1f} vs true {results['true_reward_return']:.1f} "
        f"(ratio {_ratio(results['ratio'])}).</p>")
    return html_page("rewardlab lab agent", "Rewards learned from preferences vs the true reward",
                     intro, html_table(summary_rows(results)), "Return curves", figures)


def write_agent_report(result: AgentLabResult, out: str | Path) -> dict[str, Path]:
    """Write results.json, report.html, one PNG per strategy, pairs and models under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = result.to_dict()
    written: dict[str, Path] = {}
    figures = []
    for strategy in results["strategies"]:
        runs = [r for r in results["runs"] if r["strategy"] == strategy]
        png = _figure(strategy, runs, results["baselines"])
        figures.append((f"queries: {strategy}", png))
        name = f"curves_{strategy}.png"
        written[name] = write_bytes_atomic(out / name, base64.b64decode(png))
    for run in result.runs:
        stem = f"{run.strategy}_seed{run.seed}"
        (out / "pairs").mkdir(exist_ok=True)
        (out / "models").mkdir(exist_ok=True)
        written[f"pairs/{stem}.npz"] = save_segment_pairs(out / "pairs" / f"{stem}.npz",
                                                          run.records)
        written[f"models/{stem}"] = save_trajectory_reward(run.model, out / "models" / stem)
    written["results.json"] = write_json_atomic(out / "results.json", results)
    written["report.html"] = write_bytes_atomic(
        out / "report.html", render_html(results, figures).encode("utf-8")
    )
    return written
