"""``rewardlab train``: fit a reward model on preference data and save it.

``--loss`` picks any registered loss (``rewardlab.models.losses``: bt,
scaled-bt, margin-bt, label-smoothing, adaptive-margin, davidson,
plackett-luce, regression, bce) with its options in ``--loss-params``;
``--init-from`` continues from a saved model (e.g. BT from regression);
``--grad-penalty`` and ``--lat-eps`` turn on the regularizers of
``rewardlab.models.regularizers``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardlab.cli.common import console, parse_json_option, progress_bar, user_errors


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


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(
    data: str = typer.Option(..., help="Data file, AlpacaEval folder, or hf:<dataset>."),
    out: Path = typer.Option(..., help="Directory to write the model to."),
    format: str = typer.Option("auto", help="auto|trl|hh-rlhf|alpaca-eval|rewardbench|ratings"),
    backbone: str = typer.Option(
        "encoder",
        help="hashing | encoder | encoder:PATH_OR_NAME | transformer:PATH (fine-tune it); a comma "
        "list (encoder,hashing) trains one member per backbone (a multi-backbone ensemble).",
    ),
    backbones: str = typer.Option(
        None,
        help="Multi-backbone ensemble, e.g. encoder:A,encoder:B,hashing: one model (of --ensemble "
        "members) per backbone, saved as one directory (Eisenstein et al.'s pretrain diversity).",
    ),
    head: str = typer.Option(
        "linear", help="linear | mlp | multi-attribute, or a structured model: gpm | pal | dmoe | prm."
    ),
    head_params: str = typer.Option(None, help='Head options as JSON, e.g. \'{"hidden": 64}\'.'),
    loss: str = typer.Option(
        "bt",
        help="bt | scaled-bt | margin-bt | label-smoothing | adaptive-margin | davidson | "
        "plackett-luce | regression | bce.",
    ),
    loss_params: str = typer.Option(
        None,
        help='Loss options as JSON, e.g. \'{"alpha": 0.1}\', \'{"strength_from": "judge"}\', '
        '\'{"attributes": ["helpfulness"], "weights": [1.0]}\', \'{"label": "success"}\'.',
    ),
    init_from: Path = typer.Option(
        None, help="Continue from this saved model (its head and normalizer), e.g. BT from regression."
    ),
    grad_penalty: float = typer.Option(0.0, help="λ of the gradient penalty λ·E‖∇ₓr(x)‖² (0 = off)."),
    lat_eps: float = typer.Option(
        0.0, help="ε of latent adversarial training: L2 radius per feature row (0 = off)."
    ),
    lat_steps: int = typer.Option(1, help="PGD steps of latent adversarial training."),
    ensemble: int = typer.Option(1, help="Number of ensemble members (heads trained together)."),
    bootstrap: bool = typer.Option(False, help="Train each member on a bootstrap resample."),
    epochs: int = typer.Option(
        None, help="Maximum epochs (early stopping on validation); default 40, transformer 1."
    ),
    lr: float = typer.Option(
        None, help="AdamW learning rate; default 2e-3, transformer 2e-5 (LoRA 1e-4)."
    ),
    batch_size: int = typer.Option(None, help="Pairs per step; default 128, transformer 8."),
    lora: bool = typer.Option(False, help="transformer:PATH: train LoRA adapters, not all weights."),
    max_length: int = typer.Option(512, help="transformer:PATH: tokens per prompt + response."),
    grad_accum: int = typer.Option(1, help="transformer:PATH: micro-batches per optimizer step."),
    center_weight: float = typer.Option(0.01, help="η of the centering term η·E[(r⁺+r⁻)²]."),
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
        0.0, help="Hold out this fraction of prompts, evaluate on it and save the metrics."
    ),
    val_fraction: float = typer.Option(0.1, help="Fraction of training prompts for early stopping."),
    seed: int = typer.Option(0, help="Seed for splits, initialization and data order."),
    min_gap: float = typer.Option(0.1, help="alpaca-eval: skip pairs with a smaller judge gap."),
    pairs_per_prompt: int = typer.Option(8, help="alpaca-eval: pairs sampled per instruction."),
) -> None:
    """Train a Bradley-Terry (or other loss) reward model and save it as a directory."""
    from rewardlab.data.fingerprint import fingerprint
    from rewardlab.data.load import load_comparisons
    from rewardlab.data.split import split_by_prompt
    from rewardlab.features.base import build_backbone
    from rewardlab.models.fit import train_reward_model
    from rewardlab.models.io import load_model, save_model
    from rewardlab.models.train import TrainConfig
    from rewardlab.models.zoo import STRUCTURED

    with user_errors():
        l2_weight = parse_l2(l2)
        if int8 and (backbones or "," in backbone or not backbone.startswith("encoder")):
            raise ValueError(
                f"--int8 quantizes the encoder backbone (one of them), not "
                f"{backbones or backbone!r}"
            )
        backbone_options = {"quantize": True} if int8 else {}
        options = {}
        if format in ("alpaca-eval", "auto") and Path(data).is_dir():
            options = {"min_gap": min_gap, "pairs_per_prompt": pairs_per_prompt, "seed": seed}
        loaded = load_comparisons(data, format, **options)
        console.print(f"data: {loaded.report.summary()}")
        records = loaded.records
        test: list = []
        if test_fraction > 0:
            records, test = split_by_prompt(records, (1 - test_fraction, test_fraction), seed)
        train_records, val_records = split_by_prompt(records, (1 - val_fraction, val_fraction), seed)
        config = TrainConfig(
            head=head,
            head_params=parse_json_option(head_params, "--head-params"),
            loss=loss,
            loss_params=parse_json_option(loss_params, "--loss-params"),
            n_members=ensemble,
            bootstrap=bootstrap,
            epochs=epochs or 40,
            lr=lr or 2e-3,
            batch_size=batch_size or 128,
            center_weight=center_weight,
            seed=seed,
            grad_penalty=grad_penalty,
            lat_eps=lat_eps,
            lat_steps=lat_steps,
            l2=l2_weight,
        )
        if backbone.startswith("transformer:"):
            from rewardlab.models.transformer_train import TransformerTrainConfig

            transformer_config = TransformerTrainConfig(
                model=backbone.partition(":")[2], lora=lora, lr=lr, epochs=epochs or 1,
                batch_size=batch_size or 8, grad_accum=grad_accum, max_length=max_length,
                loss=loss, loss_params=config.loss_params, center_weight=center_weight,
                seed=seed, num_labels=ensemble,
            )
            fine_tune(transformer_config, train_records, val_records, test, out, loaded)
            return
        if backbones:
            backbone = backbones
        if head in STRUCTURED or backbones or "," in backbone:
            fit_other(head, backbone, config, train_records, val_records, test, out, loaded,
                      backbone_options)
            return
        init = None if init_from is None else load_model(init_from)
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


def fit_other(
    head, backbone, config, train_records, val_records, test, out, loaded, backbone_options
) -> None:
    """Structured models (``--head gpm|pal|dmoe|prm``) and multi-backbone ensembles;
    ``backbone_options`` go to a structured model's one backbone."""
    from rewardlab.data.fingerprint import fingerprint
    from rewardlab.features.base import build_backbone
    from rewardlab.models.io import save_metrics
    from rewardlab.models.zoo import STRUCTURED, train_structured
    from rewardlab.robust.backbone_ensemble import (
        save_backbone_ensemble,
        train_backbone_ensemble,
    )

    if head in STRUCTURED:
        if "," in backbone:
            raise ValueError(f"--head {head} takes one backbone, not {backbone!r}")
        model = train_structured(
            head, train_records, build_backbone(backbone, **backbone_options), config.head_params,
            val_records,
        )
        STRUCTURED[head].save(model, out)
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
    from rewardlab.models.transformer_rm import save_transformer_model
    from rewardlab.models.transformer_train import train_transformer_reward_model

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
    stored under ``metrics["test"]`` and printed; nothing when there are none."""
    from rewardlab.evaluate.pairwise import evaluate_pairs, evaluate_preference_pairs

    pairs = [r for r in test if len(r.ranking) >= 2 and not r.tie]
    if not pairs:
        return
    scorer = evaluate_pairs if hasattr(model, "score") else evaluate_preference_pairs
    metrics["test"] = t = scorer(model, pairs)
    console.print(
        f"held-out accuracy {t['accuracy']:.4f} on {t['n_pairs']} pairs "
        f"(length-only baseline {t['length_baseline_accuracy']:.4f})"
    )
