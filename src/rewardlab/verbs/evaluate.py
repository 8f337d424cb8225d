"""``evaluate``: a suite and audit probes for any reward, as ``rewardlab eval`` does.

::

    from rewardlab.verbs import EvalSpec, evaluate
    result = evaluate(EvalSpec(model="runs/rm", data="pairs.jsonl", out="eval.json"))
    result.results["metrics"]["accuracy"]

The reward is ``model`` (any spec, or a comma list as one ensemble) or
``rewards`` (a verifier or recipe that needs no reference: preference pairs
carry none), loaded by :func:`rewardlab.verbs.loading.load_source`. Every
option is checked before the data is read: the loading options the spec's
kind does not read, a ``split`` for data that is not an ``hf:<dataset>``, a probe
option without its probe (``attack_budget``
without ``probes=("attack",)``), a ``seed`` that no chosen probe reads, the
output paths. ``format`` is a name of the data-format registry or
``prmbench-groups`` (PRMBench as one-to-many groups, an original process
against its error-injected versions,
:func:`rewardlab.evaluate.one_to_many.load_prmbench_groups`); ``gsm8k`` and
``prmbench-groups`` run the one-to-many suite unless ``suite`` says otherwise.
The results JSON is written to ``out`` (and RewardBench's own files beside it
with ``suite="rewardbench"``, an HTML report to ``html``); the metrics are
saved beside the model when it is a rewardlab directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rewardlab.evaluate.probe_options import ATTACK_READS, PROBE_OPTIONS, AttackOptions
from rewardlab.options import (
    OptionError,
    check,
    declared,
    default_of,
    flag_of,
    option,
    option_fields,
)
from rewardlab.verbs.loading import RewardSource

Progress = Callable[[str, int, int], None]
PRMBENCH_GROUPS = "prmbench-groups"
ONE_TO_MANY_FORMATS = ("gsm8k", PRMBENCH_GROUPS)
EVAL_FORMAT_HELP = (
    "{formats}, or prmbench-groups (PRMBench as one-to-many groups: an original process "
    "against its error-injected versions; prmbench is PRMBench's pairs with step labels, as "
    "in train). gsm8k and prmbench-groups run the one-to-many suite; auto detects gsm8k too."
)
SEED_MAX = 2**32 - 1


def _formats() -> list[str]:
    from rewardlab.verbs.names import registry

    return [*registry("format").names(), PRMBENCH_GROUPS]


def _suites() -> tuple[str, ...]:
    from rewardlab.evaluate.suite import SUITES

    return SUITES


def probe_names(text: str) -> tuple[str, ...]:
    """``--probes a,b``: registered probe names, an alias replaced by the name it stands for
    (``brightness`` → ``statistics``); a typo gets the registry's did-you-mean."""
    return canonical_probes(n.strip() for n in text.split(",") if n.strip())


def canonical_probes(names: Iterable[str]) -> tuple[str, ...]:
    """The registered names of ``names``, each once, in order (``ValueError`` for an unknown
    one)."""
    from rewardlab.registry import UnknownNameError
    from rewardlab.verbs.names import registry

    try:
        return tuple(dict.fromkeys(registry("probe").canonical(name) for name in names))
    except UnknownNameError as err:
        raise ValueError(str(err)) from None


@dataclass(frozen=True, kw_only=True)
class EvalSpec(RewardSource):
    """Everything ``evaluate`` needs; the probes' options are in ``attack``."""

    data: str = option(help="Data file, AlpacaEval folder, or hf:<dataset>.")
    out: Path = option(
        help="Results JSON to write. With --suite rewardbench, RewardBench's own files are "
        "written beside it: OUT.rewardbench.json ({subset: score}) and OUT.scores.json "
        "(per-example scores_chosen, scores_rejected, results).")
    split: str | None = option(
        None, "Split of an hf:<dataset>; default 'filtered' (RewardBench's) with --suite "
        "rewardbench, else 'train'.")
    format: str = option("auto", EVAL_FORMAT_HELP, choices=_formats, kind="data format")
    suite: str = option("pairs", "{suites}", choices=_suites, kind="suite")
    probes: tuple[str, ...] = option((), "Audit probes, a comma list of {probes}",
                                     parse=probe_names, format=",".join)
    html: Path | None = option(None, "Also write a self-contained HTML report here.")
    seed: int = option(0, "Seed of probes that sample.", min=0, max=SEED_MAX)
    attack: AttackOptions = option(default_factory=AttackOptions, cli=False,
                                   help="Options of the attack probe.")


@dataclass
class EvalResult:
    """The results (as written to ``out``) and every file written."""

    results: dict[str, Any]
    written: list[Path]

    def summary(self) -> str:
        """``accuracy=0.7000  ece=…``: the headline metrics that are numbers."""
        return "  ".join(f"{name}={value:.4f}" for name, value in self.results["metrics"].items()
                         if isinstance(value, float))


def rewardbench_files(out: Path) -> tuple[Path, Path]:
    """Where ``--suite rewardbench`` writes RewardBench's own JSON files beside ``out``:
    ``res.json`` → ``res.rewardbench.json`` ({subset: score}) and ``res.scores.json``
    (per-example scores)."""
    return out.with_suffix(".rewardbench.json"), out.with_suffix(".scores.json")


def check_probe_options(spec: EvalSpec) -> None:
    """:class:`OptionError` for a probe option set without its probe, and for ``seed``
    without any probe (the suites do not sample)."""
    for probe, cls in PROBE_OPTIONS.items():
        options = getattr(spec, probe)
        for field in option_fields(cls):
            if probe not in spec.probes and getattr(options, field.name) != field.default:
                raise OptionError(f"{flag_of(field)}: read by the {probe} probe only; add "
                                  f"--probes {probe} or leave it out")
    if not spec.probes and spec.seed != EvalSpec.__dataclass_fields__["seed"].default:
        raise OptionError("--seed: read by the probes that sample only; add --probes or leave "
                          "it out")


def check_split(data: str, format: str, split: str | None, default: str | None) -> None:
    """:class:`OptionError` for a ``split`` given (away from ``default``) where none is
    read: data that is not an ``hf:<dataset>``, or a one-to-many format (its files are read
    whole)."""
    from rewardlab.data.load import HF_PREFIX

    if split == default:
        return
    if not str(data).startswith(HF_PREFIX):
        raise OptionError("--split: read for --data hf:<dataset> only (a file or a folder has "
                          "no splits); leave it out")
    if format in ONE_TO_MANY_FORMATS:
        raise OptionError(f"--split: not read by --format {format} (its files are read "
                          "whole); leave it out")


def check_spec(spec: EvalSpec) -> None:
    """Validate ``spec`` before any model or data is read: its fields, the probe options,
    the output paths."""
    from rewardlab.load import is_rewardlab_directory
    from rewardlab.verbs.outputs import check_out_file

    check(spec)
    check(spec.attack)
    check_probe_options(spec)
    check_split(spec.data, spec.format, spec.split, default_of(EvalSpec, "split"))
    check_out_file(spec.out)
    for path in rewardbench_files(Path(spec.out)) if spec.suite == "rewardbench" else ():
        check_out_file(path)
    if spec.html is not None:
        check_out_file(spec.html, "--html")
    if spec.model is not None and is_rewardlab_directory(spec.model):
        check_out_file(Path(spec.model) / "metrics.json", "--model")


def resolve_suite(spec: EvalSpec) -> EvalSpec:
    """``spec`` with the format ``auto`` detects (gsm8k), the suite the format implies
    (one-to-many for gsm8k and prmbench-groups) and the split the suite implies."""
    fmt, suite = spec.format, spec.suite
    if fmt == "auto" and Path(spec.data).is_file():  # else its loader says what is wrong
        from rewardlab.data.formats.auto import detect_file_format

        fmt = "gsm8k" if detect_file_format(spec.data) == "gsm8k" else fmt
    if fmt in ONE_TO_MANY_FORMATS and suite == "pairs":
        suite = "one-to-many"
    split = spec.split or ("filtered" if suite == "rewardbench" else "train")
    return dataclasses.replace(spec, format=fmt, suite=suite, split=split)


def scoring_uses(spec: EvalSpec) -> frozenset[str]:
    """How the evaluation scores a model that can both reward and compare (a judge): pairs
    and RewardBench through ``prob``; the one-to-many suite and every probe that needs a
    scalar through ``score``."""
    from rewardlab.verbs.names import registry

    scalar = spec.suite == "one-to-many" or any(
        not registry("probe").get(name).pairwise for name in spec.probes)
    return frozenset({"prob", "score"} if scalar else {"prob"})


def load_records(data: str, format: str, split: str = "train",
                 on_data: Callable[[str], None] | None = None) -> list:
    """Comparison records of ``data`` through the data-format registry, or PRMBench
    one-to-many groups (``prmbench-groups``); ``split`` is the split of an ``hf:`` dataset;
    ``on_data`` gets the data report's summary."""
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
        if on_data is not None:
            on_data(loaded.report.summary())
        records, summary = loaded.records, loaded.report.summary()
    if not records:
        raise DataError(f"no comparisons to evaluate ({summary or 'no groups'})", path=str(data))
    return records


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


def check_attack_modality(spec: EvalSpec, records: list) -> None:
    """:class:`OptionError` for an attack option the pairs' modality does not read (the
    query budget of image pairs, the ε of text pairs)."""
    from rewardlab.data.modality import modality_of_all

    if "attack" not in spec.probes:
        return
    modality = modality_of_all([r for rec in records for r in rec.responses]).name
    for name in declared(AttackOptions) - {ATTACK_READS.get(modality)}:
        field = next(f for f in option_fields(AttackOptions) if f.name == name)
        if getattr(spec.attack, name) != field.default:
            raise OptionError(f"{flag_of(field)}: not read by the attack on {modality} "
                              "responses; leave it out")


def evaluate(spec: EvalSpec, progress: Progress | None = None,
             on_data: Callable[[str], None] | None = None) -> EvalResult:
    """Check ``spec``, load the reward, read the data, run the suite and probes, write the
    results. ``progress(stage, 0, 1)`` as each stage (``load``, suite, calibration, each
    probe) starts and ``progress(stage, 1, 1)`` as it ends; a language model (a judge, a
    Hugging Face classifier) also reports ``progress("forward batches", done, total)``
    within each pass over its inputs. ``on_data(summary)`` with the data report's summary
    once the data is read."""
    from rewardlab.atomic import write_json_atomic
    from rewardlab.evaluate.probe_options import probe_options
    from rewardlab.evaluate.suite import run_evaluation
    from rewardlab.load import is_rewardlab_directory
    from rewardlab.verbs.loading import load_source, report_batches, require_no_reference

    spec = replace(spec, probes=canonical_probes(spec.probes))
    check_spec(spec)
    spec = resolve_suite(spec)
    model = report_batches(load_source(spec, scoring_uses(spec), progress), progress)
    if spec.rewards is not None:
        require_no_reference(model, spec, "eval")
    records = load_records(spec.data, spec.format, spec.split, on_data)
    check_suite_records(records, spec.suite, spec.data)
    check_attack_modality(spec, records)
    started: list[str] = []

    def note(stage: str | None) -> None:  # the stage now starting (None: the end)
        if progress is None:
            return
        if started:
            progress(started[-1], 1, 1)
        if stage is not None:
            started.append(stage)
            progress(stage, 0, 1)

    results = run_evaluation(model, records, suite=spec.suite, probes=list(spec.probes),
                             seed=spec.seed, progress=note,
                             probe_options=probe_options(spec.probes, spec.attack))
    note(None)
    results.update(model=spec.model or spec.rewards, data=str(spec.data),
                   aggregate=spec.aggregation.aggregate)
    out = Path(spec.out)
    write_json_atomic(out, results)
    written = [out]
    if spec.suite == "rewardbench":
        for path, key in zip(rewardbench_files(out), ("results_file", "scores_file"),
                             strict=True):
            write_json_atomic(path, results["suite_results"][key])
            written.append(path)
    if spec.model is not None and is_rewardlab_directory(spec.model):
        from rewardlab.models.io import save_metrics  # never into a Hub folder or cache

        save_metrics(Path(spec.model), results)
    if spec.html is not None:
        from rewardlab.evaluate.report import write_html_report

        write_html_report(results, spec.html)
        written.append(Path(spec.html))
    return EvalResult(results, written)
