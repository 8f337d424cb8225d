"""``rewardlab eval`` and ``rewardlab compare``: suites, probes, reports, agreement.

``--format`` is a name of the data-format registry
(:data:`rewardlab.data.formats.FORMATS`, read by
:func:`rewardlab.data.load.load_comparisons`, the same loader as ``train``), or
``prmbench-groups``: PRMBench files as one-to-many groups, one original process
against its error-injected versions
(:func:`rewardlab.evaluate.one_to_many.load_prmbench_groups`). ``gsm8k`` and
``prmbench-groups`` run the one-to-many suite unless ``--suite`` says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.choices import registered
from rewardlab.cli.command import command
from rewardlab.cli.common import (
    SEED_MAX,
    choice,
    console,
    parse_csv,
    user_errors,
    write_json,
)
from rewardlab.cli.model_options import (
    SPEC_HELP,
    ModelLoading,
    aggregate_option,
    load_model_option,
    model_option,
    require_score,
    with_model_loading,
)

PRMBENCH_GROUPS = "prmbench-groups"
ONE_TO_MANY_FORMATS = ("gsm8k", PRMBENCH_GROUPS)
EVAL_FORMAT_HELP = (
    "{formats}, or prmbench-groups (PRMBench as one-to-many groups: an original process "
    "against its error-injected versions; prmbench is PRMBench's pairs with step labels, as "
    "in train). gsm8k and prmbench-groups run the one-to-many suite; auto detects gsm8k too."
)


def register(app: typer.Typer) -> None:
    command(app, "eval")(evaluate)
    command(app, "compare", renamed={"--models": "--model"})(compare)


def load_records(data: str, format: str, split: str = "train") -> list:
    """Comparison records of ``data`` through the data-format registry, or PRMBench
    one-to-many groups (``prmbench-groups``); ``split`` is the split of an ``hf:`` dataset."""
    from rewardlab.data.errors import DataError
    from rewardlab.data.load import load_comparisons

    if format == "gsm8k":  # the registry's gsm8k loader, every group kept as read
        from rewardlab.evaluate.one_to_many import load_gsm8k_groups

        records, summary = load_gsm8k_groups(data), "no groups"
    elif format == PRMBENCH_GROUPS:
        from rewardlab.evaluate.one_to_many import load_prmbench_groups

        path = Path(data)
        files = sorted(path.glob("*.jsonl.gz")) if path.is_dir() else [path]
        records, summary = load_prmbench_groups(files), "no .jsonl.gz files" if not files else ""
    else:
        loaded = load_comparisons(data, format, split=split)
        console.print(f"data: {loaded.report.summary()}")
        records, summary = loaded.records, loaded.report.summary()
    if not records:
        raise DataError(f"no comparisons to evaluate ({summary or 'no groups'})", path=str(data))
    return records


def _check_suite(name: str) -> str:
    from rewardlab.evaluate.suite import SUITES

    return choice(name, SUITES, "--suite")


def check_suite_records(records: list, suite: str, data: str) -> None:
    """A :class:`DataError` naming ``data`` when ``suite`` finds nothing it can score in
    ``records``: no ranked, untied pair for ``pairs``; a record without its subset for
    ``rewardbench``."""
    from rewardlab.data.errors import DataError

    if suite == "pairs" and not any(len(r.ranking) >= 2 and not r.tie for r in records):
        raise DataError(f"none of the {len(records)} records is a ranked pair (prompt, chosen, "
                        "rejected) to evaluate", path=str(data))
    missing = sum(r.category is None for r in records) if suite == "rewardbench" else 0
    if missing:
        raise DataError(f"--suite rewardbench: {missing} of {len(records)} records carry no "
                        "RewardBench subset", path=str(data), field="subset")


def rewardbench_files(out: Path) -> tuple[Path, Path]:
    """Where ``--suite rewardbench`` writes RewardBench's own JSON files beside ``out``:
    ``res.json`` → ``res.rewardbench.json`` ({subset: score}) and ``res.scores.json``
    (per-example scores)."""
    return out.with_suffix(".rewardbench.json"), out.with_suffix(".scores.json")


@with_model_loading
def evaluate(
    model: str = model_option(),
    data: str = typer.Option(..., help="Data file, AlpacaEval folder, or hf:<dataset>."),
    out: Path = typer.Option(
        ..., help="Results JSON to write. With --suite rewardbench, RewardBench's own files "
        "are written beside it: OUT.rewardbench.json ({subset: score}) and OUT.scores.json "
        "(per-example scores_chosen, scores_rejected, results)."
    ),
    split: str = typer.Option(
        None, help="Split of an hf:<dataset>; default 'filtered' (RewardBench's) with "
        "--suite rewardbench, else 'train'."
    ),
    format: str = typer.Option(
        "auto", help=EVAL_FORMAT_HELP, callback=registered("format", (PRMBENCH_GROUPS,))
    ),
    suite: str = typer.Option("pairs", help="{suites}", callback=lambda v: _check_suite(v)),
    probes: str = typer.Option(
        "", help="Audit probes, a comma list of {probes}", callback=registered("probe", many=True)
    ),
    html: Path = typer.Option(None, help="Also write a self-contained HTML report here."),
    aggregate: str = aggregate_option(),
    attack_budget: int = typer.Option(
        128, min=1, help="Text pairs: queries per pair for the attack probe."
    ),
    attack_epsilon: float = typer.Option(
        8 / 255, min=1 / 255, max=1.0,
        help="Image pairs: largest L∞ perturbation of the attack probe, in [0, 1] (rounded to "
        "a multiple of 1/255; the probe also tries ε/2, ε/4, ε/8)."
    ),
    seed: int = typer.Option(
        0, min=0, max=SEED_MAX, help="Seed of probes that sample."
    ),
    loading: ModelLoading = None,
) -> None:
    """Evaluate a reward or preference model: a suite (with its length-only baseline) plus
    audit probes. Metrics are saved beside the model only when it is a rewardlab directory."""
    from rewardlab.data.formats.auto import detect_file_format
    from rewardlab.evaluate.suite import run_evaluation
    from rewardlab.models.io import save_metrics
    from rewardlab.robust.loading import is_rewardlab_directory
    from rewardlab.verbs.outputs import check_out_file

    with user_errors():
        check_out_file(out)
        for path in rewardbench_files(out) if suite == "rewardbench" else ():
            check_out_file(path)
        if html is not None:
            check_out_file(html, "--html")
        if is_rewardlab_directory(model):
            check_out_file(Path(model) / "metrics.json", "--model")
        if format == "auto" and detect_file_format(data) == "gsm8k":
            format = "gsm8k"
        if format in ONE_TO_MANY_FORMATS and suite == "pairs":
            suite = "one-to-many"
        if split is None:
            split = "filtered" if suite == "rewardbench" else "train"
        reward_model = load_model_option(model, loading, aggregate)
        records = load_records(data, format, split)
        check_suite_records(records, suite, data)
        results = run_evaluation(
            reward_model, records, suite=suite, probes=parse_csv(probes), seed=seed,
            progress=lambda stage: console.log(stage),
            probe_options={"attack": {"budget": attack_budget, "epsilon": attack_epsilon}},
        )
        results.update(model=model, data=str(data), aggregate=aggregate)
        write_json(out, results)
        written = [out]
        if suite == "rewardbench":
            for path, key in zip(rewardbench_files(out), ("results_file", "scores_file"),
                                 strict=True):
                write_json(path, results["suite_results"][key])
                written.append(path)
        if is_rewardlab_directory(model):  # never write into a Hub folder or cache
            save_metrics(Path(model), results)
        if html is not None:
            from rewardlab.evaluate.report import write_html_report

            write_html_report(results, html)
        metrics = results["metrics"]
        console.print(
            "  ".join(f"{name}={value:.4f}" for name, value in metrics.items()
                      if isinstance(value, float))
        )
        console.print("wrote " + ", ".join(str(p) for p in [*written, *([html] if html else [])]))


@with_model_loading
def compare(
    model: str = model_option(
        help="Two or more model specs, comma-separated (runs/a,hf:org/rm), each compared as "
        "its own model (not one ensemble). " + SPEC_HELP
    ),
    data: str = typer.Option(..., help="Pairs to compare the models on."),
    out: Path = typer.Option(..., help="Results JSON to write."),
    format: str = typer.Option(
        "auto", help=EVAL_FORMAT_HELP, callback=registered("format", (PRMBENCH_GROUPS,))
    ),
    loading: ModelLoading = None,
) -> None:
    """Agreement (Kendall τ, Spearman, pair agreement, ensemble disagreement) and STARC."""
    from rewardlab.evaluate.agreement import compare_models
    from rewardlab.evaluate.starc import starc_between
    from rewardlab.verbs.outputs import check_out_file

    with user_errors():
        check_out_file(out)
        paths = parse_csv(model)
        if len(paths) < 2:
            raise ValueError(f"--model needs two or more model specs, got {len(paths)}")
        loaded_models = [require_score(load_model_option(spec, loading), spec) for spec in paths]
        records = load_records(data, format)
        check_suite_records(records, "pairs", data)
        results = compare_models(loaded_models, records)
        prompts = [r.prompt for r in records]
        candidates = [list(r.responses) for r in records]
        results["starc"] = {
            f"{i}-{j}": starc_between(loaded_models[i], loaded_models[j], prompts, candidates)
            for i in range(len(paths)) for j in range(i + 1, len(paths))
        }
        results.update(models=paths, data=str(data))
        write_json(out, results)
        for key, entry in results["pairwise"].items():
            console.print(
                f"{key}: kendall={entry['kendall_tau_b']:.3f} spearman={entry['spearman']:.3f} "
                f"pair_agreement={entry['pair_agreement']:.3f} starc={results['starc'][key]:.3f}"
            )
        console.print(f"wrote {out}")
