"""Outputs of ``lab agent-overopt``: ``results.json``, ``report.html`` (self-contained)
and PNGs.

Figures (seed means, one line per variant): ``curves.png``, the gold (true)
return and the proxy (discounted learned return) against policy steps;
``kl.png``, the gold gain over step 0 against √KL with the fitted Gao RL form
d(α − β log d) dashed where it was fitted; ``strip_{variant}_{peak|last}.png``,
frames of the first evaluation episode
of the first seed at the gold peak and at the last checkpoint
(:mod:`rewardlab.lab.agent.sketch`). Every file is written atomically.
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
from rewardlab.lab.agent.overopt import AgentOveroptResult
from rewardlab.lab.agent.report import html_page, html_table
from rewardlab.lab.agent.sketch import strip_base64
from rewardlab.lab.scaling_fit import BonFit


def ordered(results: Mapping[str, Any]) -> dict[str, Any]:
    """The variant summaries in the order the run listed them (JSON keys are sorted)."""
    return {name: results["variants"][name] for name in results["config"]["variants"]}


def _curves(variants: Mapping[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (gold, proxy) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (name, summary) in enumerate(variants.items()):
        curve = summary["curve"]
        gold.plot(curve["steps"], curve["gold"], marker="o", ms=3, color=f"C{i}", label=name)
        proxy.plot(curve["steps"], curve["proxy"], marker="o", ms=3, color=f"C{i}", label=name)
    gold.set_title("gold: true return")
    proxy.set_title("proxy: discounted learned return")
    for ax in (gold, proxy):
        ax.set_xlabel("policy steps")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _encode(fig)


def _encode(fig: Any) -> str:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=80)
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _kl_figure(variants: Mapping[str, Any]) -> str:
    def draw(ax: Any) -> None:
        for i, (name, summary) in enumerate(variants.items()):
            curve = summary["curve"]
            gain = [g - curve["gold"][0] for g in curve["gold"]]
            ax.plot(curve["sqrt_kl"], gain, "o-", ms=3, color=f"C{i}", label=name)
            fit = summary["gold_fit"]
            if fit is not None:
                d = np.linspace(0, max(curve["sqrt_kl"]), 60)
                ax.plot(d, BonFit(**fit).predict(d), "--", color=f"C{i}", lw=1)
        ax.set_xlabel("√KL(π ‖ π₀) per episode")
        ax.set_ylabel("gold gain over step 0")
        ax.legend(fontsize=7)

    return png_base64(draw, (6.0, 3.8))


def summary_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per variant: gold at start, peak and end, the drop, the proxy at the gold
    peak and at the end, the fitted peak √KL and R² (– where no fit)."""
    rows = []
    for name, s in ordered(results).items():
        fit = s["gold_fit"] or {}
        rows.append({"variant": name, "gold_start": s["gold_start"], "gold_peak": s["gold_peak"],
                     "peak_steps": int(s["peak_steps"]), "gold_last": s["gold_last"],
                     "gold_drop": s["gold_drop"], "proxy_at_peak": s["proxy_at_peak"],
                     "proxy_last": s["proxy_last"],
                     "fit_d_peak": fit.get("d_peak") if fit.get("d_peak") else "–",
                     "fit_r2": fit.get("r2") if fit.get("r2") is not None else "–"})
    return rows


def render_html(results: Mapping[str, Any], figures: list[tuple[str, str]]) -> str:
    c = results["config"]
    meta = (f"env {c['env']}, {c['algorithm'].upper()}, {c['steps']} policy steps on a frozen "
            f"reward learned from {c['comparisons']} comparisons of {c['segment_length']}-step "
            f"segments of {c['random_episodes']} random-action episodes; {c['checkpoints']} "
            f"checkpoints of {c['eval_episodes']} "
            f"{'sampled' if c['sampled'] else 'deterministic'} episodes; ensemble {c['ensemble']}, UWO λ "
            f"{c['uwo_lam']}, gradient penalty {c['grad_penalty']}; {c['seeds']} seeds; "
            f"{results['timing']['total_seconds']:.0f} s; rewardlab "
            f"{html.escape(str(results['rewardlab_version']))}")
    intro = (
        f"<p>{html.escape(meta)}</p><p>Gold is the environment's true return of the "
        "policy's evaluation episodes; proxy is the discounted return under the learned "
        "reward the policy is trained on (per variant: one net, the ensemble's mean, WCO "
        "minimum, UWO mean − λ·variance, or one net with a gradient penalty). KL is "
        "Σ_t KL(π(·|s_t) ‖ π₀(·|s_t)) over the episodes' states, from the initial policy. "
        "Seed means.</p>")
    return html_page("rewardlab lab agent-overopt",
                     "Overoptimization of a learned reward in control", intro,
                     html_table(summary_rows(results), digits=2), "Figures", figures)


def write_overopt_report(result: AgentOveroptResult, out: str | Path) -> dict[str, Path]:
    """Write results.json, report.html, curves.png, kl.png and the strips under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = result.to_dict()
    variants = ordered(results)
    figures = [("gold and proxy against policy steps", _curves(variants)),
               ("gold gain against √KL (dashed: Gao RL fit)", _kl_figure(variants))]
    written = {name: write_bytes_atomic(out / name, base64.b64decode(png))
               for name, (_, png) in zip(("curves.png", "kl.png"), figures, strict=True)}
    env = results["config"]["env"]
    first = results["config"]["seed"]
    for run in results["runs"]:
        if run["seed"] != first:
            continue
        for when in ("peak", "last"):
            s = run["strips"][when]
            title = (f"{run['variant']}, {when} (checkpoint {s['checkpoint']}): episode of "
                     f"{s['length']} steps, gold {s['gold']:.1f}")
            png = strip_base64(env, s["steps"], s["observations"], title)
            figures.append((title, png))
            name = f"strip_{run['variant']}_{when}.png"
            written[name] = write_bytes_atomic(out / name, base64.b64decode(png))
    written["results.json"] = write_json_atomic(out / "results.json", results)
    written["report.html"] = write_bytes_atomic(
        out / "report.html", render_html(results, figures).encode("utf-8"))
    return written


def strip_names(variants: tuple[str, ...]) -> tuple[str, ...]:
    """The strip files a run writes (for checking ``--out`` before any work)."""
    return tuple(f"strip_{v}_{w}.png" for v in variants for w in ("peak", "last"))
