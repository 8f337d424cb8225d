"""The demo experiment: learn the synthetic arena's gold reward from noisy preferences.

1. Generate the arena (``rewardlab.data.synthetic``): prompts of four kinds,
   candidates with a known gold reward G, and preference pairs labelled by
   Bradley–Terry on G with label noise.
2. Split the pairs by prompt (train / validation / test), train a
   Bradley–Terry reward model on the training pairs.
3. Report held-out accuracy against the noisy labels and against the gold
   order, the length-only baseline, and the agreement between learned reward
   and G over every test-prompt candidate (Spearman ρ, and the gold of the
   candidate the model ranks first vs a random and the best one) per kind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import spearmanr

from rewardlab.data.record import Comparison
from rewardlab.data.split import split_by_prompt
from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs
from rewardlab.evaluate.pairwise import evaluate_pairs
from rewardlab.features.backbones import build_backbone
from rewardlab.features.base import ProgressCallback
from rewardlab.models.training.config import LoopOptions, TrainConfig
from rewardlab.options import check, option, redefault

StageCallback = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: the phases "encode", "l2 folds" (the cross-validation
of the L2 weight), "epochs", "held-out pairs" and "scoring candidates" in turn."""

if TYPE_CHECKING:  # the trainer brings torch: imported when the demo runs
    from rewardlab.models.reward_model import TrainedRewardModel
    from rewardlab.models.training.fit import TrainReport


def _backbone(text: str) -> str:
    from rewardlab.features.backbones import frozen_spec

    return frozen_spec(text)


@dataclass
class DemoConfig:
    """Size of the demo; the defaults run in about a minute on 2 CPU cores."""

    n_prompts: int = option(400, "Prompts in the synthetic arena.", min=1)
    candidates_per_prompt: int = option(8, "Candidates per prompt.", min=2, cli=False)
    n_pairs: int = option(3000, "Preference pairs sampled from the gold reward.", min=1)
    label_noise: float = option(0.1, "Probability of flipping each label.", min=0.0, max=1.0)
    length_correlation: float = option(0.5, "Correlation of length and correctness.",
                                       min=-1.0, max=1.0)
    backbone: str = option("encoder", "{backbones}", parse=_backbone)
    seed: int = redefault(LoopOptions, "seed", LoopOptions.seed)

    def __post_init__(self) -> None:
        check(self, names=lambda field: f"field {field.name!r}")


def gold_ordered(pairs: list[Comparison]) -> list[Comparison]:
    """The same pairs with the gold-better response ranked first (gold ties dropped)."""
    out = []
    for pair in pairs:
        gold_chosen, gold_rejected = pair.meta["gold"]
        if gold_chosen == gold_rejected:
            continue
        out.append(pair if gold_chosen > gold_rejected else
                   Comparison(pair.prompt, pair.responses, (1, 0), category=pair.category))
    return out


def candidate_agreement(model: TrainedRewardModel, arena, prompt_ids: list[int],
                        progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Spearman ρ(learned, gold) per prompt, and gold of the model's top pick, per kind
    (``progress(done, total)`` while the candidates are encoded)."""
    prompts, responses, golds, owners = [], [], [], []
    for i in prompt_ids:
        for candidate in arena.candidates[i]:
            prompts.append(arena.prompts[i])
            responses.append(candidate.text)
            golds.append(candidate.gold)
            owners.append(i)
    rewards = model.score_members(prompts, responses, progress).mean(axis=0)  # = model.score
    golds_arr, owners_arr = np.asarray(golds), np.asarray(owners)
    by_kind: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for i in prompt_ids:
        mask = owners_arr == i
        g, r = golds_arr[mask], rewards[mask]
        stats = by_kind[arena.kind_of(i)]
        if np.ptp(g) > 0 and np.ptp(r) > 0:
            stats["spearman"].append(float(spearmanr(r, g).statistic))
        stats["picked_gold"].append(float(g[np.argmax(r)]))
        stats["random_gold"].append(float(g.mean()))
        stats["best_gold"].append(float(g.max()))
    summary = {
        kind: {name: float(np.mean(values)) for name, values in stats.items()}
        for kind, stats in sorted(by_kind.items())
    }
    overall = {
        name: float(np.mean([v for stats in by_kind.values() for v in stats[name]]))
        for name in ("spearman", "picked_gold", "random_gold", "best_gold")
    }
    return {"overall": overall, "per_kind": summary}


def run_demo(
    config: DemoConfig, progress: StageCallback | None = None
) -> tuple[TrainedRewardModel, dict[str, Any]]:
    """Run the whole demo; returns the model and a JSON-serializable report.
    ``progress(phase, done, total)`` follows each long phase (:data:`StageCallback`)."""
    from rewardlab.models.training.fit import train_reward_model

    def phase(name: str) -> ProgressCallback:
        if progress is None:
            return lambda _done, _total: None
        return lambda done, total: progress(name, done, total)

    arena = generate_arena(
        ArenaConfig(
            n_prompts=config.n_prompts,
            candidates_per_prompt=config.candidates_per_prompt,
            length_correlation=config.length_correlation,
            seed=config.seed,
        )
    )
    pairs = preference_pairs(arena, config.n_pairs, label_noise=config.label_noise, seed=config.seed)
    rest, test = split_by_prompt(pairs, (0.8, 0.2), config.seed)
    train, val = split_by_prompt(rest, (0.9, 0.1), config.seed)
    if not train or not test:
        raise ValueError(
            f"fields 'n_prompts' ({config.n_prompts}) and 'n_pairs' ({config.n_pairs}): too few "
            f"to split by prompt into train, validation and test ({len(train)}, {len(val)} and "
            f"{len(test)} pairs); give more prompts and pairs"
        )
    model, report = train_reward_model(
        train, build_backbone(config.backbone), TrainConfig(seed=config.seed), val,
        encode_progress=phase("encode"), on_fold=phase("l2 folds"),
        on_epoch=lambda epoch, epochs, _record: phase("epochs")(epoch, epochs),
    )
    test_prompts = {p.prompt for p in test}
    test_ids = [i for i, prompt in enumerate(arena.prompts) if prompt in test_prompts]
    held_out = phase("held-out pairs")
    held_out(0, 2)
    vs_noisy = evaluate_pairs(model, test)
    held_out(1, 2)
    vs_gold = evaluate_pairs(model, gold_ordered(test))
    held_out(2, 2)
    results = {
        "config": asdict(config),
        "train": _train_summary(report),
        "test_vs_noisy_labels": vs_noisy,
        "test_vs_gold_order": vs_gold,
        "gold_agreement_on_candidates": candidate_agreement(
            model, arena, test_ids, phase("scoring candidates")),
        "realised_label_noise": float(np.mean([p.meta["flipped"] for p in pairs])),
    }
    return model, results


def _train_summary(report: TrainReport) -> dict[str, Any]:
    summary = report.to_dict()
    summary.pop("history")
    return summary


def summary_text(results: dict[str, Any]) -> str:
    """A short Markdown summary of a demo report."""
    noisy, gold = results["test_vs_noisy_labels"], results["test_vs_gold_order"]
    agreement = results["gold_agreement_on_candidates"]
    lines = [
        "# rewardlab demo: learning a known reward from noisy preferences",
        "",
        f"- backbone `{results['config']['backbone']}`, {results['train']['n_train_pairs']} "
        f"training pairs, label noise {results['realised_label_noise']:.1%}",
        f"- held-out accuracy vs noisy labels: **{noisy['accuracy']:.3f}** "
        f"(length-only baseline {noisy['length_baseline_accuracy']:.3f}, {noisy['n_pairs']} pairs)",
        f"- held-out accuracy vs the gold order: **{gold['accuracy']:.3f}** "
        f"(length-only {gold['length_baseline_accuracy']:.3f})",
        f"- Spearman ρ(learned reward, gold) within a prompt: "
        f"**{agreement['overall']['spearman']:.3f}**",
        f"- gold of the model's top pick {agreement['overall']['picked_gold']:.3f} vs random "
        f"{agreement['overall']['random_gold']:.3f} vs best possible "
        f"{agreement['overall']['best_gold']:.3f}",
        "",
        "| kind | Spearman ρ | picked gold | random gold | best gold |",
        "|---|---|---|---|---|",
    ]
    for kind, stats in agreement["per_kind"].items():
        lines.append(
            f"| {kind} | {stats.get('spearman', float('nan')):.3f} | {stats['picked_gold']:.3f} "
            f"| {stats['random_gold']:.3f} | {stats['best_gold']:.3f} |"
        )
    return "\n".join(lines) + "\n"
