"""The report's part for the optimizers beyond best-of-n (``kl`` and ``pg``).

Per proxy (backbone × size × noise) one figure of gold against d = √KL:
left, the exact KL optimum (solid) with its fit d(α − β log d) (thin dashed)
and exact best-of-n on the same pool (dotted, markers); right, the
policy-gradient path (solid) with its fit (dashed); one colour per reading.
Two tables: gold at equal KL for best-of-n, the KL optimum and the PG path,
and the RL fits (α, β, d* = e^{α/β − 1}, R²) of every curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardlab.evaluate.report import png_base64
from rewardlab.lab.overopt.kl_optimum import at_kl
from rewardlab.lab.scaling_fit import BonFit


def _fit_line(fit: Mapping[str, Any], d_max: float) -> tuple[np.ndarray, np.ndarray] | None:
    if fit.get("alpha") is None:
        return None
    grid = np.linspace(0.0, d_max, 60)
    model = BonFit(fit["alpha"], fit["beta"], None, None, None, 0, fit["form"])
    return grid, np.asarray(model.predict(grid))


def rl_figure(group: Sequence[Mapping[str, Any]]) -> str:
    """Base64 PNG of one proxy's KL-optimum / best-of-n / PG curves (gold − gold at π₀)."""
    readings = list(dict.fromkeys(s["aggregate"] for s in group))

    def draw(ax) -> None:
        fig = ax.figure
        ax.remove()
        left, right = fig.subplots(1, 2, sharey=True)
        for setting in group:
            color = f"C{readings.index(setting['aggregate'])}"
            label = setting["aggregate"]
            panel = left if setting["optimizer"] == "kl" else right
            curve = setting["curve"]
            d = np.sqrt([p["kl"] for p in curve])
            panel.plot(d, [p["gold_delta"] for p in curve], "-", color=color, label=label)
            line = _fit_line(setting["fit"], float(d.max()))
            if line is not None:
                panel.plot(*line, "--", color=color, lw=0.8)
            if setting["optimizer"] == "kl":
                bon = setting["bon_pool"]["curve"]
                left.plot(np.sqrt([p["kl"] for p in bon]), [p["gold_delta"] for p in bon],
                          "o:", color=color, ms=3, alpha=0.8)
        for panel, title in ((left, "KL optimum (solid), best-of-n (dotted)"),
                             (right, "policy-gradient path")):
            panel.axhline(0, color="grey", lw=0.5)
            panel.set_xlabel("√KL(π ‖ π₀) (nats^½)")
            panel.set_title(title, fontsize=9)
            panel.legend(loc="lower right", fontsize=7)
        left.set_ylabel("gold − gold(π₀)  (fit d(α − β log d) dashed)")

    return png_base64(draw, (10.0, 4.2))


def equal_kl_rows(settings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per proxy and reading: gold at each compared KL for best-of-n (exact, same pool),
    the KL optimum and the PG path (``None`` where a curve does not reach that KL)."""
    rows: dict[tuple, dict[str, Any]] = {}
    for s in settings:
        if s.get("optimizer") not in ("kl", "pg"):
            continue
        key = (s["backbone"], s["proxy_size"], s["noise"], s["aggregate"])
        row = rows.setdefault(key, dict(zip(("backbone", "proxy_size", "noise", "aggregate"),
                                            key, strict=True)))
        kls = [float(k) for k in s["summary"]["gold_at_kl"]]
        for kl in kls:
            if s["optimizer"] == "kl":
                row[f"bon@{kl:g}"] = at_kl(s["bon_pool"]["curve"], kl)
                row[f"kl@{kl:g}"] = at_kl(s["curve"], kl)
            else:
                row[f"pg@{kl:g}"] = at_kl(s["curve"], kl)
    return [
        {**{k: v for k, v in row.items() if "@" not in k},
         **dict(sorted(((k, v) for k, v in row.items() if "@" in k),
                       key=lambda kv: (float(kv[0].split("@")[1]), kv[0])))}
        for row in rows.values()
    ]


def rl_fit_rows(settings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per KL-optimum, exact best-of-n and PG curve: peak, end and fit."""
    rows = []
    for s in settings:
        if s.get("optimizer") not in ("kl", "pg"):
            continue
        curves = [(s["optimizer"], s)]
        if s["optimizer"] == "kl":
            curves.insert(0, ("bon (pool)", s["bon_pool"]))
        for name, c in curves:
            summary, fit = c["summary"], c["fit"]
            rows.append(
                {
                    "backbone": s["backbone"],
                    "proxy_size": s["proxy_size"],
                    "noise": s["noise"],
                    "aggregate": s["aggregate"],
                    "optimizer": name,
                    "gold_start": summary["gold_start"],
                    "gold_peak": summary["gold_peak"],
                    "kl_at_peak": summary["kl_at_peak"],
                    "kl_max": summary["kl_max"],
                    "gold_at_kl_max": summary["gold_at_kl_max"],
                    "form": fit["form"],
                    "alpha": fit["alpha"],
                    "beta": fit["beta"],
                    "d_peak": fit["d_peak"],
                    "r2": fit["r2"],
                }
            )
    return rows
