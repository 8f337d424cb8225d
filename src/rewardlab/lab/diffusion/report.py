"""Outputs of ``lab diffusion``: ``results.json``, a self-contained ``report.html`` and PNGs.

``curves.png``: per curve (an optimizer, or an optimizer and a reading of the proxy
ensemble: ``draft/wco``), gold gain and proxy against d = √KL, with Gao's fitted
form dashed where it was fitted; ``grid_{curve}.png``: the images of the ten
evaluation prompts (digits 0–9, left to right) at every checkpoint, top to bottom.
The HTML shows each checkpoint's row of images beside its KL, proxy and gold, since
people judge images by looking at them. Every file is written atomically.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.atomic import write_bytes_atomic, write_json_atomic
from rewardlab.evaluate.report import png_base64
from rewardlab.lab.scaling_fit import BonFit

SCALE = 2
"""Each 32×32 image is shown at twice its size."""


def png_bytes(image: np.ndarray) -> bytes:
    """An H×W×3 ``uint8`` array as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def strip(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """N×H×W×3 images side by side on a grey background, each upscaled ×:data:`SCALE`."""
    big = images.repeat(SCALE, axis=1).repeat(SCALE, axis=2)
    n, h, w, _ = big.shape
    out = np.full((h, n * w + (n - 1) * gap, 3), 128, np.uint8)
    for i in range(n):
        out[:, i * (w + gap): i * (w + gap) + w] = big[i]
    return out


def grid(rows: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """The strips of every checkpoint stacked top to bottom."""
    strips = [strip(r) for r in rows]
    h, w, _ = strips[0].shape
    out = np.full((len(strips) * h + (len(strips) - 1) * gap, w, 3), 128, np.uint8)
    for i, s in enumerate(strips):
        out[i * (h + gap): i * (h + gap) + h] = s
    return out


def _curves(optimizers: Mapping[str, Any]) -> str:
    def draw(ax: Any) -> None:
        twin = ax.twinx()
        for i, (name, result) in enumerate(optimizers.items()):
            curve = result["curve"]
            d = np.sqrt(np.maximum([p["kl"] for p in curve], 0.0))
            gain = [p["gold"] - curve[0]["gold"] for p in curve]
            ax.plot(d, gain, "o-", ms=3, color=f"C{i}", label=f"{name} gold")
            twin.plot(d, [p["proxy"] for p in curve], "s:", ms=2, color=f"C{i}", alpha=0.6,
                      label=f"{name} proxy")
            fit = result["summary"]["fit"]
            if fit is not None:
                grid_d = np.linspace(0, float(d.max()), 60)
                ax.plot(grid_d, BonFit(**fit).predict(grid_d), "--", lw=1, color=f"C{i}")
        ax.set_xlabel("d = √KL(tuned ‖ base), nats^½")
        ax.set_ylabel("gold gain (solid; dashed: Gao fit)")
        twin.set_ylabel("proxy (dotted)")
        ax.legend(fontsize=7, loc="upper left")
        twin.legend(fontsize=7, loc="lower right")

    return png_base64(draw, (7.5, 4.2))


def _rows(name: str, result: Mapping[str, Any], images: Sequence[np.ndarray]) -> str:
    key = {"bon": "n", "fk": "lam"}.get(result["optimizer"], "update")
    cells = []
    for point, row in zip(result["curve"], images, strict=True):
        png = base64.b64encode(png_bytes(strip(row))).decode("ascii")
        cells.append(f"<tr><td>{key} {point[key]}</td><td>{point['kl']:.2f}</td>"
                     f"<td>{point['proxy']:.3f}</td><td>{point['gold']:.3f}</td>"
                     f'<td><img alt="{html.escape(name)} {key} {point[key]}" '
                     f'src="data:image/png;base64,{png}"></td></tr>')
    s = result["summary"]
    fit = s["fit"]
    fit_text = "no fit" if fit is None else (
        f"Gao {fit['form']} fit α={fit['alpha']:.3f} β={fit['beta']:.3f} R²={fit['r2']:.2f}"
        if fit["r2"] is not None else "no fit")
    head = (f"<h2>{html.escape(name)}</h2><p>gold {s['gold_start']:.3f} → peak "
            f"{s['gold_peak']:.3f} at KL {s['kl_at_peak']:.2f} → {s['gold_last']:.3f} at KL "
            f"{s['kl_last']:.2f}; proxy {s['proxy_start']:.3f} → {s['proxy_last']:.3f}; "
            f"{html.escape(fit_text)}</p>")
    return (head + "<table><tr><th>checkpoint</th><th>KL</th><th>proxy</th><th>gold</th>"
            "<th>digits 0–9</th></tr>" + "".join(cells) + "</table>")


def render_html(results: Mapping[str, Any], images: Mapping[str, Sequence[np.ndarray]],
                curves_png: str) -> str:
    c, t = results["config"], results["timing"]
    gen = results["generator"]
    meta = (f"generator {gen['key']} ({'cached' if gen['from_cache'] else 'trained'}; "
            f"{gen['config']['train_steps']} steps, label accuracy "
            f"{gen['config']['label_accuracy']}); {c['sample_steps']} DDPM steps; proxy on "
            f"{' / '.join(str(p['pairs']) for p in results['proxies'].values())} noisy pairs "
            f"({c['proxy_noise']} flipped), "
            f"{c['n_members']} member(s); "
            f"{c['eval_prompts']} evaluation prompts; {t['total_seconds']:.0f} s; rewardlab "
            f"{results['rewardlab_version']}")
    body = "".join(_rows(name, result, images[name])
                   for name, result in results["optimizers"].items())
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>rewardlab lab diffusion"
        "</title><style>body{font-family:sans-serif;margin:2em;color:#222}table{border-"
        "collapse:collapse;font-size:90%}td,th{border:1px solid #bbb;padding:3px 8px}"
        "img{display:block}</style></head><body>"
        "<h1>Overoptimization of an image reward by a diffusion generator</h1>"
        f"<p>{html.escape(meta)}</p><p>Gold: log-probability of the prompt's digit under "
        "the data digits gold classifier. Proxy: the image reward model trained on noisy "
        "preferences, the reward optimized. KL: the per-step Gaussian path KL of the tuned "
        "sampler from the base (best-of-n: log n − (n − 1)/n; FK steering: the run's "
        "upper bound λ·E_q[r] − E[log Ẑ]).</p>"
        f'<img alt="curves" src="data:image/png;base64,{curves_png}">{body}</body></html>'
    )


def grid_name(curve: str) -> str:
    """``grid_draft.png``, ``grid_draft-wco.png``: the grid file of a curve."""
    return f"grid_{curve.replace('/', '-')}.png"


def output_names(curves: Sequence[str]) -> tuple[str, ...]:
    """The files a run writes (for checking ``--out`` before any work)."""
    return ("results.json", "report.html", "curves.png", *(grid_name(c) for c in curves))


def write_report(results: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """Write results.json (without the images), report.html, curves.png and the grids."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = results.pop("images")
    curves_png = _curves(results["optimizers"])
    written = {"curves.png": write_bytes_atomic(out / "curves.png",
                                                base64.b64decode(curves_png))}
    for name, rows in images.items():
        written[grid_name(name)] = write_bytes_atomic(out / grid_name(name),
                                                      png_bytes(grid(rows)))
    written["results.json"] = write_json_atomic(out / "results.json", results)
    written["report.html"] = write_bytes_atomic(
        out / "report.html", render_html(results, images, curves_png).encode("utf-8"))
    results["images"] = images
    return written
