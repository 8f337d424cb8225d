"""One-to-many evaluation (RewardMATH; Kim et al., 2024, "Evaluating Robustness of
Reward Models for Mathematical Reasoning").

Each prompt has one chosen (correct) response y⁺ and k rejected ones
y⁻₁ … y⁻ₖ. The prompt counts as solved only if the chosen beats all of them:

    win = 1[ r(y⁺) > max_j r(y⁻_j) ]          (a tie with any rejected is a loss)

and the reciprocal rank of the chosen among the k + 1 responses is

    rank = 1 + #{j : r(y⁻_j) ≥ r(y⁺)}           (ties ranked pessimistically)
    MRR  = mean over prompts of 1 / rank.

Suites built from real files: GSM8K model solutions (the reference solution
against the incorrect model solutions of the same question) and PRMBench
(Song et al., 2025; the original PRM800K process against its error-injected
variants, steps joined by newlines).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.data.formats.gsm8k import load_gsm8k
from rewardlab.data.io import read_rows
from rewardlab.data.record import Comparison
from rewardlab.protocols import RewardModel


def one_to_many_metrics(chosen: Sequence[float], rejected: Sequence[Sequence[float]]) -> dict:
    """Win rate (chosen beats every rejected) and MRR of the chosen, per group and overall."""
    if len(chosen) != len(rejected):
        raise ValueError("field 'rejected': needs one list of scores per chosen score")
    wins: list[float] = []
    ranks: list[int] = []
    for i, (c, rej) in enumerate(zip(chosen, rejected, strict=True)):
        r = np.asarray(rej, dtype=np.float64)
        if r.size == 0:
            raise ValueError(f"group {i}: field 'rejected': needs at least one rejected score")
        wins.append(float(c > r.max()))
        ranks.append(1 + int(np.sum(r >= c)))
    return {
        "accuracy": float(np.mean(wins)),
        "mrr": float(np.mean([1.0 / k for k in ranks])),
        "n_groups": len(wins),
        "n_rejected": int(sum(len(r) for r in rejected)),
        "wins": wins,
        "ranks": ranks,
    }


def evaluate_one_to_many(model: RewardModel, groups: Sequence[Comparison]) -> dict:
    """Score each group (chosen = ``responses[ranking[0]]``, the rest rejected) in one call."""
    prompts: list[str] = []
    responses: list[str] = []
    sizes: list[int] = []
    for i, g in enumerate(groups):
        if not g.ranking or len(g.responses) < 2:
            raise ValueError(f"group {i}: field 'ranking': needs a chosen and a rejected response")
        order = [g.ranking[0]] + [j for j in range(len(g.responses)) if j != g.ranking[0]]
        prompts += [g.prompt] * len(order)
        responses += [g.responses[j] for j in order]
        sizes.append(len(order))
    rewards = np.asarray(model.score(prompts, responses), dtype=np.float64)
    chosen: list[float] = []
    rejected: list[list[float]] = []
    pos = 0
    for k in sizes:
        chosen.append(float(rewards[pos]))
        rejected.append([float(x) for x in rewards[pos + 1 : pos + k]])
        pos += k
    out = one_to_many_metrics(chosen, rejected)
    out["scores_chosen"] = chosen
    out["scores_rejected"] = rejected
    return out


def _field(row: dict, name: str, path: Path, line: int):
    if name not in row:
        raise DataError("missing", path=str(path), line=line, field=name)
    return row[name]


def load_gsm8k_groups(path: str | Path) -> list[Comparison]:
    """GSM8K ``example_model_solutions.jsonl`` → one group per question with an incorrect solution.

    Chosen = the reference solution (``ground_truth``); rejected = every model
    solution marked ``is_correct: false`` (the ``gsm8k`` format,
    :mod:`rewardlab.data.formats.gsm8k`). Questions whose model solutions are
    all correct have no rejected response and are skipped.
    """
    return load_gsm8k(read_rows(path), str(path))


def load_prmbench_groups(paths: Sequence[str | Path]) -> list[Comparison]:
    """PRMBench files → one group per (original question, original process).

    Chosen = the original steps joined by newlines; rejected = each distinct
    error-injected process (``modified_process``) built from that same
    original. ``steps`` keeps the step lists; ``meta['classifications']`` the
    error classes of the rejected responses.
    """
    order: list[tuple[str, str]] = []
    found: dict[tuple[str, str], dict] = {}
    for p in sorted(Path(x) for x in paths):
        for line, row in read_rows(p):
            question = _field(row, "original_question", p, line)
            original = _field(row, "original_process", p, line)
            modified = _field(row, "modified_process", p, line)
            for name, steps in (("original_process", original), ("modified_process", modified)):
                if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
                    raise DataError("expected a list of step strings", path=str(p), line=line,
                                    field=name)
            key = (question, "\n".join(original))
            if key not in found:
                found[key] = {"steps": [tuple(original)], "rejected": [], "classes": [],
                              "source": f"{p}:{line}"}
                order.append(key)
            text = "\n".join(modified)
            g = found[key]
            if text != key[1] and text not in g["rejected"]:
                g["rejected"].append(text)
                g["steps"].append(tuple(modified))
                g["classes"].append(row.get("classification"))
    return [
        Comparison(
            prompt=key[0], responses=(key[1], *found[key]["rejected"]), ranking=(0,),
            category="prmbench", steps=tuple(found[key]["steps"]), source=found[key]["source"],
            meta={"classifications": found[key]["classes"]},
        )
        for key in order
        if found[key]["rejected"]
    ]
