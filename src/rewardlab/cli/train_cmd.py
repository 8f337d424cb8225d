"""``rewardlab train``: fit a reward model on preference data and save it.

Every family takes the shared options ``--epochs``, ``--lr``, ``--batch-size``
and ``--seed``, the fields of :class:`~rewardlab.models.training.config.LoopOptions`
that its config dataclass extends: :class:`~rewardlab.models.training.config.TrainConfig`
(heads, ``--head linear|mlp|…``), each structured family's options (``--head
gpm|pal|dmoe|prm``, :data:`rewardlab.models.structured.STRUCTURED`) and
``TransformerTrainConfig`` (``--backbone transformer:PATH``). Left out, an
option takes the family's default. An option a family cannot honour
(:data:`IGNORED_OPTIONS`), an unknown ``--head``, ``--loss``, ``--backbone`` or
``--format`` is refused with one line before any data is read.

``--loss`` picks any registered loss (:data:`rewardlab.models.losses.LOSSES`)
with its options in ``--loss-params``; ``--init-from`` continues from a saved
model (e.g. BT from regression); ``--grad-penalty`` and ``--lat-eps`` turn on
the regularizers of ``rewardlab.models.training.regularizers``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.choices import head_names, registered
from rewardlab.cli.command import command
from rewardlab.cli.common import (
    choice,
    console,
    given_options,
    lookup,
    parse_json_option,
    progress_bar,
    user_errors,
)
from rewardlab.models.training.config import LoopOptions


def parse_l2(value: str) -> float | str:
    """``--l2``: 'auto' or a non-negative number."""
    if value == "auto":
        return value
    try:
        weight = float(value)
    except ValueError:
        weight = float("nan")
    if not weight >= 0:  # also refuses NaN
        raise typer.BadParameter(f"--l2 must be 'auto' or a number >= 0, got {value!r}")
    return weight


def check_int8(int8: bool, backbone: str) -> None:
    """``--int8`` quantizes the encoder; with any other backbone it is refused."""
    if int8 and ("," in backbone or not backbone.startswith("encoder")):
        raise ValueError(f"--int8 quantizes the encoder backbone (one of them), not {backbone!r}")


def check_names(head: str, loss: str, backbone: str) -> None:
    """Refuse an unknown ``--head`` (heads and structured models), ``--loss`` or backbone
    kind as a bad option with the registry's did-you-mean, before any data is read
    (``--format`` is checked when it is parsed)."""
    from rewardlab.features.backbones import parse_spec
    from rewardlab.models.losses import LOSSES

    choice(head, head_names(), "--head")
    lookup(LOSSES, loss, "--loss")
    for spec in backbone.split(",") if backbone else ():
        try:
            parse_spec(spec)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="'--backbone'") from None


def register(app: typer.Typer) -> None:
    command(app, "train", renamed={
        "--backbones": "--backbone", "--pairs-per-prompt": "--pairs-per-instruction",
    })(train)


def train(
    ctx: typer.Context,
    data: str = typer.Option(..., help="Data file, AlpacaEval folder, or hf:<dataset>."),
    out: Path = typer.Option(
        ..., help="Directory to write the model to: new, empty, or a saved model (replaced "
        "atomically); another folder only with --overwrite."
    ),
    overwrite: bool = typer.Option(
        False, help="Let --out replace a folder that is not a saved model (deleting its files)."
    ),
    format: str = typer.Option(
        "auto", help="{formats}. A folder other than AlpacaEval's is read file by file.",
        callback=registered("format"),
    ),
    backbone: str = typer.Option(
        None,
        help="{backbones}; or transformer:PATH (fine-tune it end to end). Default: the "
        "default backbone of the data's responses (encoder for text, conv for images). A comma list "
        "(encoder:A,encoder:B,hashing) trains one model (of --ensemble members) per backbone, "
        "saved as one directory (Eisenstein et al.'s pretrain diversity).",
    ),
    head: str = typer.Option("linear", help="{heads}."),
    head_params: str = typer.Option(None, help='Head options as JSON, e.g. \'{"hidden": 64}\'.'),
    loss: str = typer.Option("bt", help="{losses}."),
    loss_params: str = typer.Option(
        None,
        help='Loss options as JSON, e.g. \'{"alpha": 0.1}\', \'{"strength_from": "judge"}\', '
        '\'{"attributes": ["helpfulness"], "weights": [1.0]}\', \'{"label": "success"}\'.',
    ),
    init_from: Path = typer.Option(
        None, help="Continue from this saved model (its head and normalizer), e.g. BT from regression."
    ),
    grad_penalty: float = typer.Option(0.0, min=0.0, help="λ of the gradient penalty λ·E‖∇ₓr(x)‖² (0 = off)."),
    lat_eps: float = typer.Option(
        0.0, min=0.0, help="ε of latent adversarial training: L2 radius per feature row (0 = off)."
    ),
    lat_steps: int = typer.Option(1, min=1, help="PGD steps of latent adversarial training."),
    ensemble: int = typer.Option(
        1, min=1, help="Number of ensemble members (heads trained together)."
    ),
    bootstrap: bool = typer.Option(False, help="Train each member on a bootstrap resample."),
    epochs: int = typer.Option(
        None, min=1, help="Maximum epochs (early stopping on validation); default: the "
        "family's config ({defaults:epochs})."
    ),
    lr: float = typer.Option(
        None, help="AdamW learning rate (> 0); default: the family's config ({defaults:lr})."
    ),
    batch_size: int = typer.Option(
        None, min=1, help="Units (pairs, rankings) per step; default: the family's config "
        "({defaults:batch_size})."
    ),
    lora: bool = typer.Option(False, help="transformer:PATH: train LoRA adapters, not all weights."),
    max_length: int = typer.Option(
        512, min=1, help="transformer:PATH: tokens per prompt + response."
    ),
    grad_accum: int = typer.Option(
        1, min=1, help="transformer:PATH: micro-batches per optimizer step."
    ),
    center_weight: float = typer.Option(
        0.01, min=0.0, help="η of the centering term η·E[(r⁺+r⁻)²]."
    ),
    int8: bool = typer.Option(
        False, help="encoder: int8 dynamic quantization, several times faster to encode but "
        "not exact (cached apart; its accuracy cost is in benchmarks/README.md)."
    ),
    l2: str = typer.Option(
        "auto",
        help="λ₂ of the L2 penalty λ₂·‖w‖² on the head (the length coefficient stays free); "
        "'auto' picks it from a grid by 5-fold cross-validation over prompts.",
    ),
    test_fraction: float = typer.Option(
        0.0, min=0.0, max=0.99,
        help="Hold out this fraction of prompts, evaluate on it and save the metrics.",
    ),
    val_fraction: float = typer.Option(
        0.1, min=0.0, max=0.99, help="Fraction of training prompts for early stopping."
    ),
    seed: int = typer.Option(
        LoopOptions.seed, help="Seed for splits, initialization and data order."
    ),
    min_gap: float = typer.Option(0.1, help="alpaca-eval: skip pairs with a smaller judge gap."),
    pairs_per_instruction: int = typer.Option(
        8, min=1, help="alpaca-eval: pairs sampled per instruction when the data is read (not "
        "build pairs' --pairs-per-prompt, which keeps pairs of a scored pool)."
    ),
    ties_below_gap: bool = typer.Option(
        False, help="alpaca-eval: keep pairs with a judge gap below --min-gap as ties "
        "(learned from by --loss davidson | rao-kupper; other losses skip them)."
    ),
) -> None:
    """Train a Bradley-Terry (or other loss) reward model and save it as a directory."""
    from rewardlab.data.fingerprint import fingerprint
    from rewardlab.data.formats import alpaca_eval_files
    from rewardlab.data.load import load_comparisons
    from rewardlab.data.split import split_by_prompt
    from rewardlab.features.backbones import build_backbone, default_backbone
    from rewardlab.models.io import check_model_out, load_model, save_model
    from rewardlab.models.structured import STRUCTURED
    from rewardlab.models.training.config import TrainConfig
    from rewardlab.models.training.fit import train_reward_model

    if lr is not None and not lr > 0:
        raise typer.BadParameter(f"must be > 0, got {lr}", param_hint="'--lr'")
    check_names(head, loss, backbone or "")
    with user_errors():
        l2_weight = parse_l2(l2)
        if backbone is not None:
            check_int8(int8, backbone)
        backbone_options = {"quantize": True} if int8 else {}
        check_model_out(out, overwrite)
        refuse_ignored(ctx, training_kind(head, backbone or ""), backbone)
        if head in STRUCTURED and "," in (backbone or ""):
            raise ValueError(f"--head {head} takes one backbone, not {backbone!r}")
        overrides = {
            name: value
            for name, value in (("epochs", epochs), ("lr", lr), ("batch_size", batch_size))
            if value is not None
        }
        head_options = parse_json_option(head_params, "--head-params")
        if head in STRUCTURED:
            head_options = structured_options(ctx, head_options, dict(overrides, seed=seed))
            STRUCTURED.get(head).parse_options(head, head_options)  # before the data is read
        init = None if init_from is None else load_model(init_from)
        options = {}
        if format in ("alpaca-eval", "auto") and alpaca_eval_files(data) is not None:
            options = {"min_gap": min_gap, "pairs_per_prompt": pairs_per_instruction,
                       "seed": seed, "ties_below_gap": ties_below_gap}
        loaded = load_comparisons(data, format, **options)
        console.print(f"data: {loaded.report.summary()}")
        records = loaded.records
        if backbone is None:  # the default of the responses' modality
            backbone = default_backbone([r for rec in records for r in rec.responses])
            check_int8(int8, backbone)
        test: list = []
        if test_fraction > 0:
            records, test = split_by_prompt(records, (1 - test_fraction, test_fraction), seed)
        train_records, val_records = split_by_prompt(records, (1 - val_fraction, val_fraction), seed)
        config = TrainConfig(
            head=head,
            head_params=head_options,
            loss=loss,
            loss_params=parse_json_option(loss_params, "--loss-params"),
            n_members=ensemble,
            bootstrap=bootstrap,
            center_weight=center_weight,
            seed=seed,
            grad_penalty=grad_penalty,
            lat_eps=lat_eps,
            lat_steps=lat_steps,
            l2=l2_weight,
            **overrides,
        )
        if backbone.startswith("transformer:"):
            from rewardlab.models.lm.transformer_train import TransformerTrainConfig

            transformer_config = TransformerTrainConfig(
                model=backbone.partition(":")[2], lora=lora, grad_accum=grad_accum,
                max_length=max_length, loss=loss, loss_params=config.loss_params,
                center_weight=center_weight, seed=seed, num_labels=ensemble, **overrides,
            )
            fine_tune(transformer_config, train_records, val_records, test, out, loaded)
            return
        if head in STRUCTURED or "," in backbone:
            fit_other(head, backbone, config, train_records, val_records, test, out, loaded,
                      backbone_options)
            return
        with progress_bar("encode") as encode_progress:
            model, report = train_reward_model(
                train_records,
                build_backbone(backbone, **backbone_options),
                config,
                val_records,
                data_fingerprint=fingerprint(loaded.records),
                encode_progress=encode_progress,
                init=init,
            )
        console.print(
            f"trained on {report.n_train_pairs} {report.unit_kind} (val {report.n_val_pairs}); "
            f"encode {report.encode_seconds:.1f}s, fit {report.fit_seconds:.1f}s, "
            f"best epoch {report.best_epoch}, l2 {report.l2['value']}"
        )
        metrics = {"train": report.to_dict(), "data": str(data), "data_report": loaded.report.__dict__}
        if init_from is not None:
            metrics["init_from"] = str(init_from)
        evaluate_held_out(model, test, metrics)
        save_model(model, out, metrics)
        console.print(f"saved {out}")


TRANSFORMER_ONLY = ("lora", "max_length", "grad_accum")
HEAD_ONLY = ("init_from", "l2", "bootstrap", "grad_penalty", "lat_eps", "lat_steps")
IGNORED_OPTIONS = {
    # what each kind of training has no use for; given anyway, it is refused, not dropped
    "structured": (
        "loss", "loss_params", "ensemble", "center_weight", *HEAD_ONLY, *TRANSFORMER_ONLY,
    ),
    "transformer": ("head", "head_params", *HEAD_ONLY),
    "backbone ensemble": ("init_from", *TRANSFORMER_ONLY),
    "head": TRANSFORMER_ONLY,
}
SHARED_OPTIONS = ("epochs", "lr", "batch_size", "seed")
"""The fields of :class:`LoopOptions` that ``train`` takes as options, for every family."""


def training_kind(head: str, backbone: str) -> str:
    """Which trainer ``--head``/``--backbone`` select: a key of :data:`IGNORED_OPTIONS`."""
    from rewardlab.models.structured import STRUCTURED

    if backbone.startswith("transformer:"):
        return "transformer"
    if head in STRUCTURED:
        return "structured"
    return "backbone ensemble" if "," in backbone else "head"


def refuse_ignored(ctx: typer.Context, kind: str, backbone: str) -> None:
    """Raise ``ValueError`` naming an option the user gave that ``kind`` of training ignores."""
    given = given_options(ctx, IGNORED_OPTIONS[kind])
    if given:
        what = f"--head {ctx.params['head']}" if kind == "structured" else f"--backbone {backbone}"
        raise ValueError(f"{given[0]} has no effect with {what} ({kind} training); leave it out")


def structured_options(ctx: typer.Context, options: dict, overrides: dict) -> dict:
    """``--head-params`` plus ``--epochs``/``--lr``/``--batch-size``/``--seed`` when given:
    every structured model's options have these fields. Both at once is refused."""
    merged = dict(options)
    for flag in given_options(ctx, SHARED_OPTIONS):
        name = flag[2:].replace("-", "_")
        if name in options:
            raise ValueError(f"{flag} and --head-params {name!r} both set it; give one")
        merged[name] = overrides[name]
    return merged


def fit_other(
    head, backbone, config, train_records, val_records, test, out, loaded, backbone_options
) -> None:
    """Structured models (``--head gpm|pal|dmoe|prm``) and multi-backbone ensembles;
    ``backbone_options`` go to a structured model's one backbone."""
    from rewardlab.data.fingerprint import fingerprint
    from rewardlab.features.backbones import build_backbone
    from rewardlab.models.io import save_metrics
    from rewardlab.models.structured import STRUCTURED, train_structured
    from rewardlab.robust.backbone_ensemble import (
        save_backbone_ensemble,
        train_backbone_ensemble,
    )

    if head in STRUCTURED:
        model = train_structured(
            head, train_records, build_backbone(backbone, **backbone_options), config.head_params,
            val_records,
        )
        STRUCTURED.get(head).save(model, out)
    else:
        specs = [spec.strip() for spec in backbone.split(",") if spec.strip()]
        model = train_backbone_ensemble(
            train_records, specs, config, val_records, data_fingerprint=fingerprint(loaded.records)
        )
        save_backbone_ensemble(model, out)
    metrics: dict = {"data": loaded.report.__dict__, "head": head, "backbone": backbone}
    evaluate_held_out(model, test, metrics)
    save_metrics(out, metrics)
    console.print(f"saved {out}")


def fine_tune(config, train_records, val_records, test, out, loaded) -> None:
    """``--backbone transformer:PATH``: fine-tune a sequence-classification model end to end."""
    from rewardlab.data.fingerprint import fingerprint
    from rewardlab.models.lm.transformer_rm import save_transformer_model
    from rewardlab.models.lm.transformer_train import train_transformer_reward_model

    with progress_bar("fine-tune") as train_progress:
        model, report = train_transformer_reward_model(
            train_records, config, val_records, progress=train_progress,
            data_fingerprint=fingerprint(loaded.records),
        )
    console.print(
        f"fine-tuned in {report.train_seconds:.1f}s ({report.pairs_per_second:.2f} pairs/s), "
        f"best epoch {report.best_epoch}"
    )
    metrics: dict = {"data": loaded.report.__dict__, "train": {
        "train_seconds": report.train_seconds, "pairs_per_second": report.pairs_per_second,
        "best_epoch": report.best_epoch,
    }}
    evaluate_held_out(model, test, metrics)
    save_transformer_model(model, out, metrics)
    console.print(f"saved {out}")


def evaluate_held_out(model, test, metrics: dict) -> None:
    """Accuracy on the held-out labelled pairs (``prob`` for preference-only models),
    stored under ``metrics["test"]`` and printed; nothing when there are none. For a
    process reward model ``metrics["test"]`` holds step and first-error accuracy with
    their baselines, and the pair accuracy (if any pairs) under ``"pairwise"``."""
    from rewardlab.evaluate.pairwise import evaluate_pairs, evaluate_preference_pairs
    from rewardlab.models.structured.prm import ProcessRewardModel, evaluate_prm, prm_summary

    if isinstance(model, ProcessRewardModel) and any(r.step_labels for r in test):
        metrics["test"] = evaluate_prm(model, test)
        console.print(prm_summary(metrics["test"]))
    pairs = [r for r in test if len(r.ranking) >= 2 and not r.tie]
    if not pairs:
        return
    scorer = evaluate_pairs if hasattr(model, "score") else evaluate_preference_pairs
    t = scorer(model, pairs)
    if "test" in metrics:  # a process reward model's pairs (PRMBench)
        metrics["test"]["pairwise"] = t
    else:
        metrics["test"] = t
    baselines = ", ".join(f"{name} {value:.4f}" for name, value in t["baselines"].items())
    console.print(
        f"held-out accuracy {t['accuracy']:.4f} on {t['n_pairs']} pairs "
        f"(baselines by {baselines})"
    )
