"""``train``: fit a reward model on preference data and save it, as ``rewardlab train`` does.

::

    from rewardlab.verbs import TrainSpec, train
    result = train(TrainSpec(data="pairs.jsonl", out="runs/rm", backbone="hashing"))
    result.metrics["test"]["accuracy"]

What is trained depends on ``backbone`` and the ``head`` option (:data:`TRAINERS`):

* ``head``: heads on a frozen backbone (``--head linear|mlp|…``), options
  :class:`~rewardlab.models.training.config.TrainConfig`;
* ``backbone ensemble``: a comma list of backbones, one model (of
  ``n_members`` heads) per backbone, saved as one directory (Eisenstein et
  al., 2023's pretrain diversity), the same options but ``init_from``;
* ``structured``: ``--head gpm|pal|dmoe|prm``, the family's options
  (:data:`rewardlab.models.structured.STRUCTURED`) from ``head_params`` and
  the shared loop options;
* ``transformer``: ``--backbone transformer:PATH``, end-to-end fine-tuning,
  options :class:`~rewardlab.models.lm.transformer_config.TransformerTrainConfig`.

``TrainSpec.options`` holds the trainer's options that were set (field names of
those classes, e.g. ``{"lr": 1e-3, "loss": "davidson"}``); the rest take the
trainer's own defaults. Every option is checked before any data is read, and
an option the chosen trainer does not read is refused (:class:`OptionError`)
rather than dropped. Then the data is read, split by prompt (``test_fraction``
held out for the saved metrics, ``val_fraction`` of the rest for early
stopping, both seeded), the model trained and saved atomically with its
``data_fingerprint`` and held-out metrics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.data.formats.alpaca_eval import AlpacaEvalReading
from rewardlab.models.lm.transformer_config import TransformerTrainConfig
from rewardlab.models.training.config import LOOP_OPTION_NAMES, LoopOptions, TrainConfig
from rewardlab.options import (
    OptionError,
    check,
    declared,
    flag_of,
    from_mapping,
    option,
    option_fields,
    redefault,
)
from rewardlab.registry import Registry

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)`` during long work (``encode``, ``l2 folds``, ``epochs``,
``backbones``, ``fine-tune``); ``total`` is None while unknown."""


def _format_names() -> Registry:
    from rewardlab.data.formats import FORMATS

    return FORMATS  # a registry: its aliases are accepted too


@dataclass(frozen=True)
class TrainSpec:
    """Everything ``train`` needs; ``options`` are the trainer's (see the module doc)."""

    data: str = option(help="Data file, AlpacaEval folder, or hf:<dataset>.")
    out: Path = option(help="Directory to write the model to: new, empty, or a saved model "
                       "(replaced atomically); another folder only with --overwrite.")
    overwrite: bool = option(False, "Let --out replace a folder that is not a saved model "
                             "(deleting its files).")
    format: str = option("auto", "{formats}. A folder other than AlpacaEval's is read file "
                         "by file.", choices=_format_names, kind="data format")
    backbone: str | None = option(
        None, "{backbones}; or transformer:PATH (fine-tune it end to end). Default: the "
        "default backbone of the data's responses (encoder for text, conv for images). A comma "
        "list (encoder:A,encoder:B,hashing) trains one model (of --ensemble members) per "
        "backbone, saved as one directory (Eisenstein et al.'s pretrain diversity).")
    int8: bool = option(False, "encoder: int8 dynamic quantization, several times faster to "
                        "encode but not exact (cached apart; its accuracy cost is in "
                        "benchmarks/README.md).")
    init_from: Path | None = option(None, "Continue from this saved model (its head and "
                                    "normalizer), e.g. BT from regression.")
    test_fraction: float = option(0.0, "Hold out this fraction of prompts, evaluate on it and "
                                  "save the metrics.", min=0.0, max=0.99)
    val_fraction: float = option(0.1, "Fraction of training prompts for early stopping.",
                                 min=0.0, max=0.99)
    seed: int = redefault(LoopOptions, "seed", LoopOptions.seed)
    min_gap: float = redefault(AlpacaEvalReading, "min_gap", AlpacaEvalReading.min_gap)
    pairs_per_instruction: int = redefault(AlpacaEvalReading, "pairs_per_instruction",
                                           AlpacaEvalReading.pairs_per_instruction)
    ties_below_gap: bool = redefault(AlpacaEvalReading, "ties_below_gap",
                                     AlpacaEvalReading.ties_below_gap)
    options: Mapping[str, Any] = option(default_factory=dict, help="The trainer's options.",
                                        cli=False)


@dataclass
class TrainResult:
    """What ``train`` made: the model, where it was saved, its metrics (as saved) and the
    trainer's report (``None`` for structured models)."""

    model: Any
    out: Path
    metrics: dict[str, Any]
    kind: str
    report: Any = None


@dataclass(frozen=True)
class Trainer:
    """One kind of training: the options classes it reads and which spec fields."""

    options: tuple[type, ...]
    spec_fields: frozenset[str]


_COMMON = frozenset({"data", "out", "overwrite", "format", "backbone", "test_fraction",
                     "val_fraction", "seed", "options"}) | declared(AlpacaEvalReading)
TRAINERS: dict[str, Trainer] = {
    "head": Trainer((TrainConfig,), _COMMON | {"int8", "init_from"}),
    "backbone ensemble": Trainer((TrainConfig,), _COMMON),
    "structured": Trainer((LoopOptions,), _COMMON | {"int8"}),
    "transformer": Trainer((TransformerTrainConfig,), _COMMON),
}
"""What each kind of training reads; anything else given is refused."""
STRUCTURED_READS = frozenset({"head", "head_params"})
"""Besides the loop options, a structured model reads its family name and its options."""


def trainer_kind(spec: TrainSpec) -> str:
    """Which trainer ``backbone`` and the ``head`` option select (a key of :data:`TRAINERS`)."""
    from rewardlab.models.structured import STRUCTURED

    backbone = spec.backbone or ""
    if backbone.startswith("transformer:"):
        return "transformer"
    if spec.options.get("head", TrainConfig.head) in STRUCTURED:
        return "structured"
    return "backbone ensemble" if "," in backbone else "head"


def _flag(name: str, classes: tuple[type, ...]) -> str:
    for cls in (TrainSpec, *classes, TrainConfig, TransformerTrainConfig):
        for field in option_fields(cls):
            if field.name == name:
                return flag_of(field)
    return "--" + name.replace("_", "-")


def refuse_unread(spec: TrainSpec, kind: str) -> None:
    """:class:`OptionError` naming the first option set in ``spec`` that ``kind`` ignores."""
    trainer = TRAINERS[kind]
    defaults = TrainSpec(data=spec.data, out=spec.out)
    for field in option_fields(TrainSpec):
        if field.name not in trainer.spec_fields and (
            getattr(spec, field.name) != getattr(defaults, field.name)
        ):
            raise OptionError(f"{flag_of(field)}: not read by {_what(spec, kind)}; leave it out")
    reads = declared(*trainer.options)
    if kind == "structured":
        reads |= STRUCTURED_READS
    for name in spec.options:
        if name not in reads:
            known = declared(TrainConfig, TransformerTrainConfig)
            if name not in known:
                raise OptionError(f"unknown trainer option {name!r} (known: "
                                  f"{', '.join(sorted(known))})")
            raise OptionError(f"{_flag(name, trainer.options)}: not read by "
                              f"{_what(spec, kind)}; leave it out")


def _what(spec: TrainSpec, kind: str) -> str:
    if kind == "structured":
        return f"--head {spec.options['head']} ({kind} training)"
    return f"--backbone {spec.backbone or '(the default)'} ({kind} training)"


def trainer_options(spec: TrainSpec, kind: str) -> Any:
    """The chosen trainer's options: its defaults, the spec's ``options`` and seed over them."""
    values = dict(spec.options, seed=spec.seed)
    names = lambda field: flag_of(field)  # noqa: E731 - errors name the flags
    if kind == "transformer":
        values["model"] = spec.backbone.partition(":")[2]
        return _build(TransformerTrainConfig, values, names)
    if kind == "structured":
        from rewardlab.models.structured import STRUCTURED

        name = values.pop("head")
        family = STRUCTURED.get(name)
        merged = dict(values.pop("head_params", {}))
        for key, value in values.items():
            if key in merged:
                raise OptionError(f"{_flag(key, ())} and --head-params {key!r} both set it; "
                                  "give one")
            merged[key] = value
        return from_mapping(family.options, merged, "--head-params")
    return _build(TrainConfig, values, names)


def _build(cls: type, values: dict[str, Any], names: Callable[[Any], str]) -> Any:
    known = {f.name: f for f in option_fields(cls)}
    for key in values:
        if key not in known:
            raise OptionError(f"{cls.__name__} has no option {key!r}")
    try:
        return check(cls(**values), names)
    except OptionError:
        raise
    except ValueError as err:
        raise OptionError(str(err)) from None


def check_int8(int8: bool, backbone: str) -> None:
    """``int8`` quantizes the encoder; with any other backbone it is refused."""
    if int8 and ("," in backbone or not backbone.startswith("encoder")):
        raise OptionError(f"--int8: quantizes the encoder backbone (one of them), not "
                          f"{backbone!r}")


def check_head_name(name: Any) -> None:
    """``--head`` names a head or a structured model family (did-you-mean over both)."""
    import difflib

    from rewardlab.verbs.names import registry

    known = sorted({*registry("head").names(), *registry("structured model").names()})
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise OptionError(f"--head: unknown head {name!r}{hint} (known: {', '.join(known)})")


def check_spec(spec: TrainSpec) -> tuple[str, Any]:
    """Validate ``spec`` before any data is read: its fields, the trainer's options and
    names, what the trainer reads, the output folder. Returns the trainer kind and options."""
    from rewardlab.verbs.names import check_backbone
    from rewardlab.verbs.outputs import check_model_out

    check(spec)
    if spec.backbone is not None:
        check_backbone(spec.backbone, "--backbone")
        check_int8(spec.int8, spec.backbone)
    if "head" in spec.options:
        check_head_name(spec.options["head"])
    kind = trainer_kind(spec)
    refuse_unread(spec, kind)
    options = trainer_options(spec, kind)
    if kind in ("head", "backbone ensemble"):
        from rewardlab.verbs.train_checks import check_head_params

        check_head_params(options.head, options.head_params, options.n_members)
    if kind != "structured":
        from rewardlab.verbs.train_checks import check_loss_params

        check_loss_params(options.loss, options.loss_params)
    if kind == "structured" and "," in (spec.backbone or ""):
        raise OptionError(f"--backbone: --head {spec.options['head']} takes one backbone, "
                          f"not {spec.backbone!r}")
    check_model_out(spec.out, spec.overwrite)
    return kind, options


def train(spec: TrainSpec, progress: Progress | None = None,
          on_data: Callable[[str], None] | None = None) -> TrainResult:
    """Check ``spec``, read and split the data, train, evaluate the held-out part and save.

    ``on_data(summary)`` receives the data report's one-line summary once the data is read.
    """
    from rewardlab.data.errors import DataError
    from rewardlab.data.fingerprint import fingerprint
    from rewardlab.data.split import split_by_prompt
    from rewardlab.features.backbones import build_backbone

    kind, options = check_spec(spec)
    backbone_options = {"quantize": True} if spec.int8 else {}
    init = head_backbone = None
    if spec.init_from is not None:  # refused here, before the data is read, when it cannot go on
        from rewardlab.models.io import load_model
        from rewardlab.verbs.train_checks import check_init

        init = load_model(spec.init_from)
        head_backbone = (init.backbone if spec.backbone is None  # continue on its own backbone
                         else build_backbone(spec.backbone, **backbone_options))
        check_init(init, spec.init_from, head_backbone, options.n_members)
        spec = dataclasses.replace(spec, backbone=spec.backbone or head_backbone.config()["kind"])
    loaded = read_training_data(spec)
    if on_data is not None:
        on_data(loaded.report.summary())
    records = loaded.records
    if not records:
        raise DataError(f"nothing to train on ({loaded.report.summary()})", path=str(spec.data))
    if spec.backbone is None:  # the default of the responses' modality
        from rewardlab.features.backbones import default_backbone

        spec = dataclasses.replace(
            spec, backbone=default_backbone([r for rec in records for r in rec.responses]))
        check_int8(spec.int8, spec.backbone)
    test: list = []
    if spec.test_fraction > 0:
        records, test = split_by_prompt(records, (1 - spec.test_fraction, spec.test_fraction),
                                        spec.seed)
    train_records, val_records = split_by_prompt(
        records, (1 - spec.val_fraction, spec.val_fraction), spec.seed)
    if not train_records:
        raise ValueError(
            f"--test-fraction {spec.test_fraction} and --val-fraction {spec.val_fraction} leave "
            f"none of the {len(loaded.records)} records to train on")
    if kind in ("head", "backbone ensemble"):
        from rewardlab.verbs.train_checks import check_trainable

        check_trainable(train_records, options.loss, options.loss_params, spec.data)
    fit = _FITS[kind]
    run = fit(spec, options, train_records, val_records, fingerprint(loaded.records),
              backbone_options, init, head_backbone, progress)
    metrics: dict[str, Any] = {**run.metrics, "data": str(spec.data),
                               "data_report": dataclasses.asdict(loaded.report)}
    from rewardlab.evaluate.held_out import held_out_metrics

    held_out = held_out_metrics(run.model, test)
    if held_out is not None:
        metrics["test"] = held_out
    run.save(spec.out, metrics)
    return TrainResult(run.model, Path(spec.out), metrics, kind, run.report)


def read_training_data(spec: TrainSpec) -> Any:
    """The spec's data through the format registry; AlpacaEval reading options when the
    data is an AlpacaEval folder or file read as one."""
    from rewardlab.data.formats import alpaca_eval_files
    from rewardlab.data.load import load_comparisons

    reading: dict[str, Any] = {}
    alpaca = spec.format == "alpaca-eval" or (
        spec.format == "auto" and alpaca_eval_files(spec.data) is not None)
    if alpaca:
        reading = {"min_gap": spec.min_gap, "pairs_per_prompt": spec.pairs_per_instruction,
                   "seed": spec.seed, "ties_below_gap": spec.ties_below_gap}
    else:
        for name in declared(AlpacaEvalReading):
            if getattr(spec, name) != getattr(AlpacaEvalReading, name):
                field = next(f for f in option_fields(TrainSpec) if f.name == name)
                raise OptionError(f"{flag_of(field)}: read only for AlpacaEval data, not "
                                  f"{spec.data} (--format {spec.format}); leave it out")
    return load_comparisons(spec.data, spec.format, **reading)


@dataclass
class _Run:
    model: Any
    metrics: dict[str, Any]
    save: Callable[[Path, dict[str, Any]], Any]
    report: Any = None


def _fit_heads(spec, config, train_records, val_records, data_fingerprint, backbone_options,
               init, head_backbone, progress) -> _Run:
    from rewardlab.features.backbones import build_backbone
    from rewardlab.models.io import save_model
    from rewardlab.models.training.fit import train_reward_model

    encode = None if progress is None else (lambda done, total: progress("encode", done, total))
    epochs = None if progress is None else (
        lambda epoch, total, _record: progress("epochs", epoch, total))
    folds = None if progress is None else (lambda done, total: progress("l2 folds", done, total))
    model, report = train_reward_model(
        train_records, head_backbone or build_backbone(spec.backbone, **backbone_options), config,
        val_records, data_fingerprint=data_fingerprint, encode_progress=encode, on_epoch=epochs,
        init=init, on_fold=folds)
    metrics: dict[str, Any] = {"train": report.to_dict()}
    if spec.init_from is not None:
        metrics["init_from"] = str(spec.init_from)
    return _Run(model, metrics, lambda out, m: save_model(model, out, m), report)


def _fit_backbone_ensemble(spec, config, train_records, val_records, data_fingerprint,
                           backbone_options, init, head_backbone, progress) -> _Run:
    from rewardlab.models.io import save_metrics
    from rewardlab.robust.backbone_ensemble import save_backbone_ensemble, train_backbone_ensemble

    specs = [s.strip() for s in spec.backbone.split(",") if s.strip()]
    member = None if progress is None else (
        lambda done, total, _spec: progress("backbones", done, total))
    model = train_backbone_ensemble(train_records, specs, config, val_records,
                                    data_fingerprint=data_fingerprint, on_member=member)
    if progress is not None:
        progress("backbones", len(specs), len(specs))

    def save(out: Path, metrics: dict[str, Any]) -> None:
        save_backbone_ensemble(model, out)
        save_metrics(out, metrics)

    return _Run(model, {"head": config.head, "backbone": spec.backbone}, save)


def _fit_structured(spec, options, train_records, val_records, data_fingerprint,
                    backbone_options, init, head_backbone, progress) -> _Run:
    from rewardlab.features.backbones import build_backbone
    from rewardlab.models.io import save_metrics
    from rewardlab.models.structured import STRUCTURED

    name = spec.options["head"]
    family = STRUCTURED.get(name)
    epochs = None if progress is None else (
        lambda epoch, _record: progress("epochs", epoch, getattr(options, "epochs", None)))
    model = family.train(train_records, build_backbone(spec.backbone, **backbone_options),
                         options, val_records, epochs)

    def save(out: Path, metrics: dict[str, Any]) -> None:
        family.save(model, out)
        save_metrics(out, metrics)

    return _Run(model, {"head": name, "backbone": spec.backbone,
                        "data_fingerprint": data_fingerprint}, save)


def _fit_transformer(spec, config, train_records, val_records, data_fingerprint,
                     backbone_options, init, head_backbone, progress) -> _Run:
    from rewardlab.models.lm.transformer_rm import save_transformer_model
    from rewardlab.models.lm.transformer_train import train_transformer_reward_model

    tune = None if progress is None else (lambda done, total: progress("fine-tune", done, total))
    model, report = train_transformer_reward_model(
        train_records, config, val_records, progress=tune, data_fingerprint=data_fingerprint)
    metrics = {"train": {"train_seconds": report.train_seconds,
                         "pairs_per_second": report.pairs_per_second,
                         "best_epoch": report.best_epoch}}
    return _Run(model, metrics, lambda out, m: save_transformer_model(model, out, m), report)


_FITS = {"head": _fit_heads, "backbone ensemble": _fit_backbone_ensemble,
         "structured": _fit_structured, "transformer": _fit_transformer}

LOOP_OPTIONS = LOOP_OPTION_NAMES
"""The loop options every trainer reads (``--epochs``, ``--lr``, ``--batch-size``, …)."""
