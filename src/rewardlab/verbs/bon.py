"""``best_of_n``: the best-of-n curve of a proxy on a candidate pool, as ``rewardlab bon``.

::

    from rewardlab.verbs.bon import BonSpec, best_of_n
    result = best_of_n(BonSpec(data="pool.jsonl", scores_column="proxy", gold_column="gold",
                               out="bon.json"))
    [point["gold"] for point in result.payload["curve"]]

For each n: the unbiased expected proxy and gold reward of best-of-n, the
upper bound ``kl`` = log n − (n−1)/n on its KL (Beirami et al., 2024), and the
exact KL over each prompt's pool, averaged over prompts: ``kl_exact`` without
replacement (the policy the proxy and gold values belong to) and
``kl_exact_with_replacement`` (:func:`rewardlab.optimize.bon.best_of_n_curve`).
The pool is scored from the spec's source (:mod:`rewardlab.verbs.pools`); the
JSON is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.optimize.pool import GoldReading
from rewardlab.options import OptionError, check, comma_list, list_text, option, redefault
from rewardlab.verbs.pools import PoolSpec, Progress


@dataclass(frozen=True, kw_only=True)
class BonSpec(PoolSpec):
    """Everything ``best_of_n`` needs."""

    out: Path = option(help="Results JSON to write.")
    n: tuple[int, ...] = option((1, 2, 4, 8, 16), "Best-of-n sizes, comma-separated.",
                                parse=comma_list(int, 1), format=list_text)
    gold_column: str | None = redefault(GoldReading, "gold_column", None)


@dataclass
class BonResult:
    """The JSON written (``payload``: the pool, the proxy, the gold column and the curve)."""

    payload: dict[str, Any]
    out: Path


def check_spec(spec: BonSpec) -> None:
    """Validate ``spec`` before any model or data is read."""
    from rewardlab.verbs.outputs import check_out_file
    from rewardlab.verbs.pools import check_source

    check(spec)
    if not spec.n or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in spec.n):
        raise OptionError(f"--n: expected positive integers, at least one, got {spec.n}")
    check_source(spec)
    check_out_file(spec.out)


def best_of_n(spec: BonSpec, progress: Progress | None = None) -> BonResult:
    """Check ``spec``, score the pool, compute the curve and write the JSON."""
    from rewardlab.atomic import write_json_atomic
    from rewardlab.optimize.bon import best_of_n_curve
    from rewardlab.verbs.pools import proxy_name, score_pool

    check_spec(spec)
    pools = score_pool(spec, spec.gold_column, progress)
    curve = best_of_n_curve(pools, list(spec.n))
    payload = {
        "candidates": str(spec.data),
        "proxy": proxy_name(spec),
        "gold": spec.gold_column,
        "prompts": len(pools),
        "samples": sum(len(pool) for pool in pools),
        "curve": curve,
    }
    write_json_atomic(spec.out, payload)
    return BonResult(payload, Path(spec.out))
