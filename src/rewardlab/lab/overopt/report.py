"""Outputs of a lab run: ``results.json``, ``report.html`` (self-contained) and PNGs.

One figure per proxy (backbone × size × noise): gold reward of the best-of-n
pick relative to n = 1 (left) and proxy reward relative to n = 1 (right)
against d = √KL_bon (the fit's axis, :data:`~rewardlab.lab.overopt.proxies.BON_AXIS`),
one line per reading (single, mean, WCO, UWO), with the fitted d(α − βd) of
each gold curve dashed (Gao et al. 2023, fig. 1 layout).
Figures are drawn by :func:`rewardlab.evaluate.report.png_base64` (matplotlib, Agg,
base64 PNG) and embedded in the HTML; the same bytes are written as PNG files.
Runs with the ``kl`` or ``pg`` optimizers add, per proxy, the figure and the
tables of :mod:`rewardlab.lab.overopt.report_rl` (gold at equal KL; RL fits).
Every file is written atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import write_bytes_atomic, write_json_atomic
from rewardlab.evaluate.report import png_base64
from rewardlab.lab.overopt.proxies import BON_AXIS
from rewardlab.lab.overopt.report_rl import equal_kl_rows, rl_figure, rl_fit_rows


def is_bon(setting: Mapping[str, Any]) -> bool:
    """A best-of-n setting (results written before ``optimizer`` existed are all bon)."""
    return setting.get("optimizer", "bon") == "bon"


def proxy_groups(settings: list[Mapping[str, Any]]) -> dict[tuple, list[Mapping[str, Any]]]:
    """Settings grouped by (backbone, proxy size, noise), in run order."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for setting in settings:
        key = (setting["backbone"], setting["proxy_size"], setting["noise"])
        groups.setdefault(key, []).append(setting)
    return groups


def _figure(group: list[Mapping[str, Any]]) -> str:
    def draw(ax) -> None:
        right = ax.twinx()
        for i, setting in enumerate(group):
            color = f"C{i}"
            d = [p[BON_AXIS] for p in setting["curve"]]
            label = setting["aggregate"]
            ax.plot(d, [p["gold_delta"] for p in setting["curve"]], "o-", color=color, label=label)
            right.plot(d, [p["proxy_delta"] for p in setting["curve"]], ":", color=color, alpha=0.6)
            fit = setting["fit"]
            grid = np.linspace(0, max(d), 50)
            ax.plot(grid, grid * (fit["alpha"] - fit["beta"] * grid), "--", color=color, lw=0.8)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("√KL_bon (nats^½)")
        ax.set_ylabel("gold − gold(n=1)  (solid; fit dashed)")
        right.set_ylabel("proxy − proxy(n=1)  (dotted)")
        ax.legend(loc="lower left", fontsize=8)

    return png_base64(draw, (7.5, 4.2))


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def summary_rows(settings: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per setting: the table of the report and of the CLI."""
    rows = []
    for s in filter(is_bon, settings):
        summary, fit = s["summary"], s["fit"]
        rows.append(
            {
                "backbone": s["backbone"],
                "proxy_size": s["proxy_size"],
                "noise": s["noise"],
                "aggregate": s["aggregate"],
                "gold_n1": summary["gold_n1"],
                "gold_peak": summary["gold_peak"],
                "n_at_peak": summary["n_at_peak"],
                "gold_max_n": summary["gold_max_n"],
                "drop_from_peak": summary["drop_from_peak"],
                "proxy_gain_max_n": summary["proxy_gain_max_n"],
                "alpha": fit["alpha"],
                "beta": fit["beta"],
                "d_peak": fit["d_peak"],
                "r2": fit["r2"],
            }
        )
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r.values()) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_RL_TEXT = (
    "<h2>Beyond best-of-n</h2><p>kl: the exact optimum π_β ∝ π₀·exp(r/β) of each reading "
    "on the test pool, swept over β; bon (pool): best-of-n from π₀ on the same pool with "
    "its exact KL; pg: the policy-gradient path (REINFORCE with a group-mean baseline, or "
    "PPO clipping) with a KL penalty. Gold is E_π[gold]; fits are Gao et al.'s RL form "
    "R(d) = d(α − β log d) on d = √KL (peak d* = e^{α/β − 1}); best-of-n keeps "
    "d(α − βd).</p>"
)


def render_html(results: Mapping[str, Any], figures: list[tuple[str, str]],
                rl_figures: list[tuple[str, str]] = ()) -> str:
    """The report as one HTML string (figures as base64 PNGs)."""
    bon_table = _table(summary_rows(results["settings"]))
    data = results["data"]
    meta = ", ".join(
        f"{k}: {_cell(v)}"
        for k, v in (
            ("pool", data.get("source")),
            ("test prompts", data.get("test_prompts")),
            ("test candidates", data.get("test_candidates")),
            ("train fingerprint", data.get("train_fingerprint")),
            ("test fingerprint", data.get("test_fingerprint")),
            ("seed", results["config"].get("seed")),
            ("rewardlab", results.get("rewardlab_version")),
        )
    )
    def figs_of(items: list[tuple[str, str]]) -> str:
        return "".join(
            f'<h3>{html.escape(title)}</h3><img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{png}">'
            for title, png in items
        )

    figs = figs_of(figures)
    rl_part = ""
    if rl_figures:
        rl_part = (
            f"{_RL_TEXT}<h3>Gold at equal KL (nats)</h3>"
            f"{_table(equal_kl_rows(results['settings']))}"
            f"<h3>Curves and fits</h3>{_table(rl_fit_rows(results['settings']))}"
            f"{figs_of(list(rl_figures))}"
        )
    bon_part = f"<h2>Summary</h2>{bon_table}<h2>Curves</h2>{figs}" if figures else ""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>rewardlab overoptimization"
        "</title><style>body{font-family:sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #bbb;"
        "padding:3px 8px}img{max-width:100%;display:block;margin-bottom:1em}</style></head>"
        "<body><h1>Gold vs proxy under optimization</h1>"
        f"<p>{meta}</p><p>Gold and proxy are relative to n = 1; d = √KL_bon = "
        "√(log n − (n−1)/n); fit R(d) = d(α − βd) (Gao et al. 2023), peak d* = α/2β. "
        "single = member 0; mean/wco/uwo aggregate the centred ensemble "
        "(Coste et al. 2024).</p>"
        f"{bon_part}{rl_part}</body></html>"
    )


def write_report(results: Mapping[str, Any], out: str | Path) -> dict[str, Path]:
    """Write results.json, report.html and one PNG per proxy under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures, rl_figures = [], []
    written: dict[str, Path] = {}
    for (backbone, size, noise), group in proxy_groups(results["settings"]).items():
        title = f"{backbone}, {size} pairs, noise {noise}"
        stem = f"{backbone.replace(':', '_').replace('/', '_')}_{size}_{noise}"
        bon = [s for s in group if is_bon(s)]
        rl = [s for s in group if not is_bon(s)]
        for prefix, members, draw, sink in (("curve", bon, _figure, figures),
                                            ("rl", rl, rl_figure, rl_figures)):
            if not members:
                continue
            png = draw(members)
            sink.append((title, png))
            name = f"{prefix}_{stem}.png"
            write_bytes_atomic(out / name, base64.b64decode(png))
            written[name] = out / name
    write_json_atomic(out / "results.json", results)
    page = render_html(results, figures, rl_figures)
    write_bytes_atomic(out / "report.html", page.encode("utf-8"))
    written["results.json"] = out / "results.json"
    written["report.html"] = out / "report.html"
    return written
