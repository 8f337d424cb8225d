"""The forecast's HTML report: one self-contained page.

The figure (matplotlib, Agg, embedded as a base64 PNG by
:func:`rewardlab.evaluate.report.png_base64`, as the lab's report does) shows
the forecast gold gain along the axis (n on a log scale, or KL) with its
pointwise bootstrap band, every other method's curve dashed, the realized
curve of the whole pool when every prompt has gold (black), the forecast peak
(vertical line) with its interval (shaded), and the proxy's own gain on a
second axis (dotted). Below it: the verdict and a table of every method's
peak, interval and gain. Written atomically.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rewardlab.atomic import write_bytes_atomic
from rewardlab.evaluate.report import png_base64


def _figure(result: Mapping[str, Any]) -> str:
    key = "n" if result["optimizer"] == "bon" else "kl"
    curve = result["curve"]
    x = [p[key] for p in curve]

    def draw(ax) -> None:
        ax.fill_between(x, [p["low"] for p in curve], [p["high"] for p in curve],
                        color="C0", alpha=0.2, lw=0,
                        label=f"{round(100 * result['level'])}% band")
        ax.plot(x, [p["gold_gain"] for p in curve], "-", color="C0", lw=2,
                label=f"forecast ({result['method']}, {result['data']['budget']} prompts)")
        for i, (name, summary) in enumerate(result["methods"].items()):
            if name != result["method"] and "curve" in summary:
                ax.plot(x, summary["curve"], "--", color=f"C{i + 3}", lw=1, label=name)
        if "realized_gain" in curve[0]:
            ax.plot(x, [p["realized_gain"] for p in curve], "-", color="black", lw=1.2,
                    label=f"realized ({result['data']['prompts']} prompts)")
        low, high = result["interval"]
        ax.axvspan(low, high, color="C1", alpha=0.12)
        ax.axvline(result["peak"], color="C1", lw=1.2, label="forecast peak and interval")
        ax.axhline(0, color="grey", lw=0.5)
        right = ax.twinx()
        right.plot(x, [p["proxy_gain"] for p in curve], ":", color="C2")
        right.set_ylabel("proxy gain (dotted)")
        if key == "n":
            ax.set_xscale("log", base=2)
            ax.set_xlabel("n (best-of-n)")
        else:
            ax.set_xlabel("KL(π_β ‖ π₀) (nats)")
        ax.set_ylabel(f"gold − gold at {'n = 1' if key == 'n' else 'KL = 0'}")
        ax.legend(loc="best", fontsize=8)

    return png_base64(draw, (7.5, 4.2))


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return " – ".join(_cell(v) for v in value)
    return html.escape(str(value))


def _methods_table(result: Mapping[str, Any]) -> str:
    columns = ("peak", "interval", "censored", "gain", "gain_interval", "extrapolated")
    head = "".join(f"<th>{c}</th>" for c in ("method", *columns))
    rows = []
    for name, summary in result["methods"].items():
        if "error" in summary:
            rows.append(f"<tr><td>{html.escape(name)}</td>"
                        f"<td colspan='{len(columns)}'>{html.escape(summary['error'])}</td></tr>")
            continue
        cells = "".join(f"<td>{_cell(summary.get(c))}</td>" for c in columns)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    realized = result.get("realized")
    if realized is not None:
        cells = "".join(f"<td>{_cell(realized.get(c))}</td>" for c in columns)
        rows.append(f"<tr><td><b>realized</b></td>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def render_html(result: Mapping[str, Any]) -> str:
    """The report of a forecast (the dict of ``ForecastResult.to_dict``)."""
    data = result["data"]
    meta = ", ".join(f"{k}: {_cell(v)}" for k, v in (
        ("pool", data.get("path")), ("prompts", data["prompts"]),
        ("candidates", data["candidates"]), ("gold", data.get("gold")),
        ("budget", data["budget"]), ("bootstrap", result["settings"]["bootstrap"]),
        ("seed", result["settings"]["seed"]), ("rewardlab", result.get("rewardlab_version")),
    ))
    notes = "".join(f"<p>Note: {html.escape(n)}</p>" for n in result.get("notes", []))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>rewardlab forecast</title>"
        "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:"
        "collapse;font-size:90%}td,th{border:1px solid #bbb;padding:3px 8px}img{max-width:"
        "100%;display:block;margin-bottom:1em}</style></head><body>"
        "<h1>Overoptimization forecast</h1>"
        f"<p><b>{html.escape(result['verdict'])}</b></p><p>{meta}</p>"
        f"<img alt='forecast' src='data:image/png;base64,{_figure(result)}'>"
        f"{notes}<h2>Methods</h2>{_methods_table(result)}"
        "<p>Peaks are n (best-of-n) or KL in nats; censored: gold does not fall within the "
        "pool's reach, so the peak is reported at the reach.</p></body></html>"
    )


def write_html(result: Mapping[str, Any], path: str | Path) -> Path:
    """Write the report to ``path`` atomically."""
    return write_bytes_atomic(path, render_html(result).encode("utf-8"))
