"""Perturbation invariance: rewards should not move under edits that leave the
content unchanged (style and format sensitivity, as probed by Liu et al., 2024,
"RM-Bench: Benchmarking Reward Models of Language Models with Subtlety and Style").

Perturbations of a response y (deterministic):

* ``whitespace``: single spaces become double spaces and a trailing newline is added;
* ``polite_prefix``: "Great question! " is prepended;
* ``confident_closing``: "\\n\\nI am confident this answer is correct." is appended;
* ``list_format``: sentences (split after . ! ?) become "- " bullet lines;
* ``repeat_sentence``: the last sentence is repeated at the end.

For each perturbation φ the probe reports the reward change
Δ = r(x, φ(y)) − r(x, y) over all chosen and rejected responses (mean, median,
quantiles, raw values for box plots) and the flip rate: among pairs the model
orders correctly, r(y⁺) > r(y⁻), the fraction with r(y⁺) ≤ r(φ(y⁻)).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rewardlab.data.record import Comparison
from rewardlab.evaluate.preference import require_scalar
from rewardlab.evaluate.probes.base import PROBES, Metric, Probe
from rewardlab.evaluate.probes.common import distribution, labelled_pairs
from rewardlab.protocols import RewardModel

POLITE_PREFIX = "Great question! "
CONFIDENT_CLOSING = "\n\nI am confident this answer is correct."
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """Split after ., ! or ? followed by whitespace; empty pieces dropped."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def whitespace(text: str) -> str:
    return text.replace(" ", "  ") + "\n"


def polite_prefix(text: str) -> str:
    return POLITE_PREFIX + text


def confident_closing(text: str) -> str:
    return text + CONFIDENT_CLOSING


def list_format(text: str) -> str:
    return "\n".join(f"- {s}" for s in sentences(text)) or text


def repeat_sentence(text: str) -> str:
    parts = sentences(text)
    return f"{text} {parts[-1]}" if parts else text


PERTURBATIONS: dict[str, Callable[[str], str]] = {
    "whitespace": whitespace,
    "polite_prefix": polite_prefix,
    "confident_closing": confident_closing,
    "list_format": list_format,
    "repeat_sentence": repeat_sentence,
}


def perturb_probe(
    model: RewardModel,
    pairs: Sequence[Comparison],
    perturbations: Sequence[str] | None = None,
    **_: object,
) -> dict:
    """Reward change per perturbation and flip rate when the rejected is perturbed."""
    require_scalar(model, "probe 'perturb'")
    used = labelled_pairs(pairs)
    names = list(PERTURBATIONS) if perturbations is None else list(perturbations)
    unknown = [n for n in names if n not in PERTURBATIONS]
    if unknown:
        raise ValueError(f"field 'perturbations': unknown {unknown}; known {list(PERTURBATIONS)}")
    n = len(used)
    prompts = [p.prompt for p in used] * 2
    originals = [p.chosen for p in used] + [p.rejected for p in used]
    batch_p = list(prompts)
    batch_r = list(originals)
    for name in names:
        batch_p += prompts
        batch_r += [PERTURBATIONS[name](y) for y in originals]
    r = np.asarray(model.score(batch_p, batch_r), dtype=np.float64)
    base = r[: 2 * n]
    correct = base[:n] > base[n:]
    out: dict = {"n_pairs": n, "n_correct": int(correct.sum()), "per_perturbation": {}}
    for k, name in enumerate(names, start=1):
        new = r[2 * n * k : 2 * n * (k + 1)]
        delta = new - base
        flipped = correct & (base[:n] <= new[n:])
        entry = distribution(delta)
        entry["deltas"] = delta.tolist()
        entry["flip_rate"] = float(flipped.sum() / correct.sum()) if correct.any() else None
        entry["n_flipped"] = int(flipped.sum())
        out["per_perturbation"][name] = entry
    return out


def max_flip_rate(report: Mapping[str, Any]) -> float:
    """The largest flip rate over the perturbations (NaN when no pair was ordered right)."""
    rates = [v["flip_rate"] for v in report["per_perturbation"].values()
             if v["flip_rate"] is not None]
    return max(rates) if rates else float("nan")


PROBES.add("perturb", Probe(perturb_probe, (
    Metric("perturb_max_flip_rate", False, "flip rate of the worst perturbation", max_flip_rate),
), modalities=("text",)))
