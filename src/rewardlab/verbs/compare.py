"""``compare``: how far several rewards agree on the same pairs, as ``rewardlab compare`` does.

::

    from rewardlab.verbs import CompareSpec, compare
    result = compare(CompareSpec(model="runs/a,hf:org/rm", data="pairs.jsonl", out="c.json"))

Each spec of ``model`` (a comma list) and each verifier or recipe of ``rewards``
(a comma list; one that needs references is refused, preference pairs carry
none) is its own reward, two or more in all. The loading options reach every
spec whose kind reads them; one that no spec reads is refused before anything is
loaded (:func:`rewardlab.load.kinds.refuse_unread`). Reported: Kendall τ-b,
Spearman, pair agreement and ensemble disagreement
(:func:`rewardlab.evaluate.agreement.compare_scores`) and the STARC distance of
each pair of rewards (:func:`rewardlab.evaluate.starc.starc_distance`), from
one scoring of every response by each reward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.options import OptionError, check, option
from rewardlab.verbs.evaluate import EVAL_FORMAT_HELP, _formats
from rewardlab.verbs.loading import SPEC_HELP, RewardSource, rewards_list

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``."""


@dataclass(frozen=True, kw_only=True)
class CompareSpec(RewardSource):
    """Everything ``compare`` needs."""

    model: str | None = option(
        None, "Model specs, comma-separated (runs/a,hf:org/rm), each compared as its own "
        "model (not one ensemble); with --rewards, two or more rewards in all. " + SPEC_HELP)
    rewards: str | None = option(
        None, "Verifiers or recipe files, comma-separated, each compared as its own reward "
        "(one that checks references is refused: pairs carry none).", parse=rewards_list)
    data: str = option(help="Pairs to compare the models on.")
    out: Path = option(help="Results JSON to write.")
    format: str = option("auto", EVAL_FORMAT_HELP, choices=_formats, kind="data format")


@dataclass
class CompareResult:
    """The results (as written to ``out``)."""

    results: dict[str, Any]
    out: Path

    def lines(self) -> list[str]:
        """One line per pair of rewards: their agreement and STARC distance."""
        return [
            f"{key}: kendall={entry['kendall_tau_b']:.3f} spearman={entry['spearman']:.3f} "
            f"pair_agreement={entry['pair_agreement']:.3f} "
            f"starc={self.results['starc'][key]:.3f}"
            for key, entry in self.results["pairwise"].items()
        ]


def sources(spec: CompareSpec) -> list[tuple[str, str]]:
    """``(kind, spec)`` of every reward compared, models first (``kind``: ``model`` or
    ``rewards``); :class:`OptionError` for fewer than two, or for an option no source
    reads."""
    from rewardlab.load import split_specs

    models = split_specs(spec.model) if spec.model else []
    rewards = [r.strip() for r in (spec.rewards or "").split(",") if r.strip()]
    if len(models) + len(rewards) < 2:
        raise OptionError(f"--model: needs two or more model specs, got "
                          f"{len(models) + len(rewards)}")
    if spec.unsafe_no_sandbox and not rewards:
        raise OptionError("--unsafe-no-sandbox: not read without --rewards; leave it out")
    return [("model", m) for m in models] + [("rewards", r) for r in rewards]


SCORE_BATCH = 256
"""Responses per call of a model spec while comparing (a verifier or recipe scores all of
them in one call: a recipe normalizing by batch or group sees the whole set)."""


def load_all(spec: CompareSpec, listed: list[tuple[str, str]],
             progress: Progress | None = None) -> list[Any]:
    """Each source loaded as its own reward; a preference model (no ``score``) is refused.
    ``progress("load", done, sources)`` from 0, after each; a language model's forward
    batches go to ``progress`` too (:func:`~rewardlab.verbs.loading.report_batches`)."""
    from rewardlab.load import load_reward_model, load_rewards, require_score
    from rewardlab.load.kinds import given_options, refuse_unread
    from rewardlab.verbs.loading import report_batches, require_no_reference

    models = [s for kind, s in listed if kind == "model"]
    loading = given_options(spec.hub, spec.judge)
    if models:
        refuse_unread(models, loading, uses=("score",))
    elif loading:
        raise OptionError(f"{loading[0][1]}: not read by --rewards {spec.rewards} (verifiers "
                          "and recipes); leave it out")
    loaded = []
    for kind, source in listed:
        if progress is not None:
            progress("load", len(loaded), len(listed))
        if kind == "model":
            loaded.append(report_batches(require_score(
                load_reward_model(source, hub=spec.hub, judge=spec.judge), source), progress))
        else:
            reward = load_rewards(source, unsafe_no_sandbox=spec.unsafe_no_sandbox)
            loaded.append(require_no_reference(reward, spec, "compare"))
    if progress is not None:
        progress("load", len(loaded), len(listed))
    return loaded


def score_phase(index: int, source: str) -> str:
    """The progress phase of scoring source ``index``: ``scoring 0: runs/a`` (a spec over 40
    characters is cut to its last 39, after an ellipsis)."""
    shown = source if len(source) <= 40 else "…" + source[-39:]
    return f"scoring {index}: {shown}"


def score_all(model: Any, kind: str, prompts: list[str], responses: list[Any],
              report: Callable[[int, int], None] | None = None) -> Any:
    """The rewards of every response: a model in batches of :data:`SCORE_BATCH`, a verifier
    or recipe in one call; ``report(done, total)`` from 0, after each call."""
    from rewardlab.optimize.pool import score_texts

    batch = SCORE_BATCH if kind == "model" else max(1, len(responses))
    return score_texts(model, prompts, responses, batch_size=batch, progress=report)[0]


def compare(spec: CompareSpec, on_data: Callable[[str], None] | None = None,
            progress: Progress | None = None) -> CompareResult:
    """Check ``spec``, load every reward, read the pairs, compare, write ``out``.

    Each reward scores every response of every record once (:func:`score_all`); the
    agreement is read on the ranked, untied pairs
    (:func:`rewardlab.evaluate.agreement.compare_scores`), the STARC distance on each
    record's responses (:func:`rewardlab.evaluate.starc.starc_distance`). ``progress``
    follows the loading (``load``) and each reward's scoring (:func:`score_phase`:
    responses scored of all)."""
    import numpy as np

    from rewardlab.atomic import write_json_atomic
    from rewardlab.evaluate.agreement import compare_scores
    from rewardlab.evaluate.pairwise import PairScores
    from rewardlab.evaluate.starc import starc_distance
    from rewardlab.verbs.evaluate import check_suite_records, load_records
    from rewardlab.verbs.outputs import check_out_file

    check(spec)
    listed = sources(spec)
    check_out_file(spec.out)
    models = load_all(spec, listed, progress)
    records = load_records(spec.data, spec.format, on_data=on_data)
    check_suite_records(records, "pairs", spec.data)
    prompts = [r.prompt for r in records for _ in r.responses]
    responses = [response for r in records for response in r.responses]
    groups = [i for i, r in enumerate(records) for _ in r.responses]
    starts = np.cumsum([0] + [len(r.responses) for r in records])[:-1]
    pairs = [(start, r) for start, r in zip(starts, records, strict=True)
             if len(r.ranking) >= 2 and not r.tie]
    chosen = np.array([start + r.ranking[0] for start, r in pairs])
    rejected = np.array([start + r.ranking[1] for start, r in pairs])
    rewards = []
    for index, (model, (kind, source)) in enumerate(zip(models, listed, strict=True)):
        phase = score_phase(index, source)
        report = None if progress is None else (
            lambda done, total, phase=phase: progress(phase, done, total))
        rewards.append(score_all(model, kind, prompts, responses, report))
    results = compare_scores([PairScores(r[chosen], r[rejected], [p.category for _, p in pairs])
                              for r in rewards])
    results["starc"] = {
        f"{i}-{j}": starc_distance(rewards[i], rewards[j], groups)
        for i in range(len(models)) for j in range(i + 1, len(models))
    }
    results.update(models=[source for _, source in listed], data=str(spec.data))
    write_json_atomic(Path(spec.out), results)
    return CompareResult(results, Path(spec.out))
