"""Self-contained HTML report of a :func:`rewardlab.evaluate.suite.run_evaluation` result.

Figures are drawn with matplotlib (Agg backend) and embedded as base64 PNG
``<img>`` tags, so the file needs no network and no other files: a summary
table (metric, value, higher-is-better), per-subset accuracy bars, the
reliability diagram (accuracy vs confidence per bin, with the diagonal),
reward vs length scatter, perturbation box plots of the reward change and the
attack curve (fraction of pairs flipped vs queries, or vs the L∞ budget ε in
grey levels for the pixel attack). The pixel attack's examples are shown as
images, original, perturbed and difference side by side, with ε and the rewards
before and after. A figure is left out when its data is absent. The file is written atomically (temporary file in
the same folder, then ``os.replace``).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rewardlab.atomic import write_text_atomic


def png_base64(draw: Callable[[Any], None], size: tuple[float, float] = (7.0, 4.0)) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    try:
        draw(ax)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _per_subset(results: Mapping[str, Any]) -> dict[str, float]:
    suite = results.get("suite_results", {})
    if "per_subset" in suite:
        return dict(suite["per_subset"])
    return {k: v["accuracy"] for k, v in suite.get("per_category", {}).items()}


def _figures(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    figs: list[tuple[str, str]] = []
    subsets = _per_subset(results)
    if subsets:
        def bars(ax):
            names = list(subsets)
            ax.barh(names, [subsets[n] for n in names], color="#4c72b0")
            ax.set_xlim(0, 1)
            ax.set_xlabel("accuracy")
        figs.append(("Accuracy per subset", png_base64(bars, (7.0, 1.0 + 0.3 * len(subsets)))))
    rel = results.get("calibration", {}).get("reliability")
    if rel:
        def reliability(ax):
            pts = [(c, a) for c, a in zip(rel["confidence"], rel["accuracy"], strict=True)
                   if c is not None and a is not None]
            ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
            if pts:
                ax.plot(*zip(*pts, strict=True), "o-", label="model")
            ax.set_xlabel("confidence σ(Δ)")
            ax.set_ylabel("accuracy")
            ax.legend()
        figs.append(("Reliability diagram", png_base64(reliability, (5.0, 5.0))))
    probes = results.get("probes", {})
    scatter = probes.get("length", {}).get("scatter")
    if scatter and scatter["lengths"]:
        def lengths(ax):
            ax.scatter(scatter["lengths"], scatter["rewards"], s=6, alpha=0.4)
            ax.set_xlabel("length (whitespace tokens)")
            ax.set_ylabel("reward")
        figs.append(("Reward vs length", png_base64(lengths)))
    per = probes.get("perturb", {}).get("per_perturbation")
    if per:
        def boxes(ax):
            names = list(per)
            ax.boxplot([per[n]["deltas"] for n in names], showfliers=False)
            ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_ylabel("reward change")
        figs.append(("Reward change under perturbations", png_base64(boxes)))
    curve = probes.get("attack", {}).get("curve")
    pixels = "epsilons" in probes.get("attack", {})
    if curve:
        def attack(ax):
            scale = 255.0 if pixels else 1.0
            ax.plot([c[0] * scale for c in curve], [c[1] for c in curve], "o-")
            ax.set_ylim(0, 1)
            ax.set_xlabel("L∞ budget ε (grey levels of 255)" if pixels else "queries per pair")
            ax.set_ylabel("fraction of pairs flipped")
        title = "Attack success vs ε" if pixels else "Attack success vs queries"
        figs.append((title, png_base64(attack)))
    return figs


def _attack_examples(results: Mapping[str, Any]) -> str:
    """The pixel attack's examples: original, perturbed and difference images per pair."""
    attack = results.get("probes", {}).get("attack", {})
    examples = [e for e in attack.get("examples", []) if "images" in e]
    if not examples:
        return ""
    rows = []
    for e in examples:
        cells = "".join(
            f'<td><img class="px" alt="{kind}" src="data:image/png;base64,{e["images"][kind]}">'
            f"<br>{kind}</td>"
            for kind in ("original", "perturbed", "difference")
        )
        info = (f"pair {e['pair']}: {html.escape(str(e['prompt']))}<br>ε = "
                f"{e['epsilon'] * 255:.0f}/255<br>reward {e['reward_before']:.4f} → "
                f"{e['reward_after']:.4f}<br>(target {e['target']:.4f})")
        rows.append(f"<tr><td>{info}</td>{cells}</tr>")
    note = html.escape(attack.get("note") or "")
    return (
        f"<h2>Adversarial examples ({html.escape(str(attack.get('method', '')))})</h2>"
        f"<p>{note}</p><p>The rejected image, the perturbed image that the model prefers to "
        "the chosen one, and the perturbation (mid-grey: unchanged; black/white: ∓ε).</p>"
        f"<table>{''.join(rows)}</table>"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


def render_html(results: Mapping[str, Any]) -> str:
    """The report as one HTML string."""
    hib = results.get("higher_is_better", {})
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{_fmt(v)}</td>"
        f"<td>{'↑' if hib.get(k, True) else '↓'}</td></tr>"
        for k, v in results.get("metrics", {}).items()
    )
    meta = ", ".join(
        f"{k}: {html.escape(_fmt(results.get(k)))}"
        for k in ("suite", "n_pairs", "seed", "data_fingerprint", "rewardlab_version")
        if k in results
    )
    figs = "".join(
        f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{data}">'
        for title, data in _figures(results)
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>rewardlab evaluation</title>"
        "<style>body{font-family:sans-serif;margin:2em;background:#fff;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:4px 10px}"
        "img{max-width:100%;display:block;margin-bottom:1em}"
        "img.px{width:192px;image-rendering:pixelated;margin:0 auto}"
        "td{text-align:center;vertical-align:middle}</style></head><body>"
        f"<h1>rewardlab evaluation</h1><p>{meta}</p>"
        "<h2>Summary</h2><table><tr><th>metric</th><th>value</th><th>better</th></tr>"
        f"{rows}</table>{figs}{_attack_examples(results)}</body></html>"
    )


def write_html_report(results: Mapping[str, Any], path: str | Path) -> Path:
    """Render ``results`` and write it to ``path`` atomically; return the path."""
    return write_text_atomic(path, render_html(results))
