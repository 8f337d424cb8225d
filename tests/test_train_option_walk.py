"""The option walk for ``rewardlab train`` (issue 25): every trainer option × every kind of
training either is read by that kind or is refused as a bad option before the data is read;
and every option the head trainer reads changes the model it writes.

Kinds of training (:data:`rewardlab.verbs.train.TRAINERS`): a head on a frozen backbone, a
backbone ensemble (a comma list of backbones), a structured model (``head`` names a
family), a transformer fine-tuned end to end. Each option is given alone with a valid value
other than its default (:data:`OTHER`); the data path does not exist, so a kind that reads
the option gets as far as the data and stops there, and a kind that does not is stopped by
the option, naming its flag.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.models.lm.transformer_config import TransformerTrainConfig
from rewardlab.models.training.config import LoopOptions, TrainConfig
from rewardlab.options import OptionError, declared, flag_of, option_fields
from rewardlab.verbs.train import TRAINERS, TrainSpec, train
from tiny_hf import save_encoder_rm

OTHER = {
    "epochs": 3, "batch_size": 16, "lr": 0.01, "weight_decay": 0.2, "patience": 1,
    "loss": "margin-bt", "n_members": 2, "center_weight": 0.1, "head": "mlp",
    "bootstrap": True, "grad_penalty": 0.1, "lat_eps": 0.01, "lat_steps": 2, "l2": 0.1,
    "l2_grid": (0.1, 1.0), "cv_folds": 3, "lora": True, "lora_r": 8, "lora_alpha": 16,
    "lora_dropout": 0.1, "lora_target_modules": ("query",), "max_grad_norm": 0.5,
    "grad_accum": 2, "token_budget": 4096, "max_length": 64, "dtype": "fp32",
    "gradient_checkpointing": True, "use_accelerate": False,
}
"""A valid value other than the default of every trainer option."""
NOT_WALKED = {
    "seed": "a field of the spec itself (every kind reads it)",
    "loss_params": "its keys depend on the loss: tests/test_conformance.py walks each loss's",
    "head_params": "its keys depend on the head: tests/test_conformance.py walks each head's",
    "model": "the transformer's model options: tests/test_option_reach.py walks them",
}
ALL_OPTIONS = declared(TrainConfig, LoopOptions, TransformerTrainConfig)
FLAGS = {f.name: flag_of(f) for cls in (TrainConfig, LoopOptions, TransformerTrainConfig)
         for f in option_fields(cls)}


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    """``kind → (backbone, extra options)`` selecting each kind of training."""
    folder = save_encoder_rm(tmp_path_factory.mktemp("hf") / "encoder")
    return {"head": ("hashing", {}), "backbone ensemble": ("hashing,hashing:512", {}),
            "structured": ("hashing", {"head": "gpm"}),
            "transformer": (f"transformer:{folder}", {})}


def test_every_option_is_walked():
    assert ALL_OPTIONS - set(NOT_WALKED) == set(OTHER)
    assert set(TRAINERS) == {"head", "backbone ensemble", "structured", "transformer"}


@pytest.mark.parametrize("kind", sorted(TRAINERS))
@pytest.mark.parametrize("name", sorted(OTHER))
def test_an_option_is_read_or_refused_before_the_data(kinds, tmp_path, kind, name):
    backbone, extra = kinds[kind]
    if name in extra:
        pytest.skip(f"{name} selects the {kind} kind")
    reads = declared(*TRAINERS[kind].options) | (
        {"head", "head_params"} if kind == "structured" else set())
    spec = TrainSpec(data=str(tmp_path / "absent.jsonl"), out=tmp_path / "m",
                     backbone=backbone, options={**extra, name: OTHER[name]})
    flag = FLAGS[name]
    with pytest.raises(Exception) as raised:
        train(spec)
    message = str(raised.value)
    if name in reads:  # read: stopped by the absent data (or by a rule between options)
        assert "not read by" not in message and "unknown trainer option" not in message, message
        if not isinstance(raised.value, OptionError):
            assert "absent.jsonl" in message, message
    else:
        assert isinstance(raised.value, OptionError), message
        assert message.startswith(f"{flag}: not read by"), message
        assert "absent.jsonl" not in message
    assert not (tmp_path / "m").exists()


PAIRS = [{"prompt": f"question {i % 9}", "chosen": f"a helpful answer {i} " * (1 + i % 3),
          "rejected": f"no {i} " * (1 + i % 2)} for i in range(90)]
FIXED = {"epochs": 6, "l2": 0.01}
"""A short, fixed schedule, so that each option's own effect shows in the weights."""
HEAD_CHANGES = {
    "epochs": 3, "batch_size": 16, "lr": 0.01, "weight_decay": 0.2, "loss": "noisy-bt",
    "n_members": 2, "center_weight": 0.5, "head": "mlp", "grad_penalty": 0.5,
    "lat_eps": 0.05,
}
"""Options of the head trainer walked for their effect (with :data:`FIXED`) on the weights
or the training metrics (the selected L2 and its cross-validation scores among them); the
rest are read only under another option (:data:`NEEDS`)."""
NEEDS = {
    "patience": ("a shorter patience stops sooner", {"epochs": 40, "patience": 1}),
    "bootstrap": ("resamples each member's pairs", {"n_members": 2, "bootstrap": True}),
    "lat_steps": ("more PGD steps of the latent attack", {"lat_eps": 0.05, "lat_steps": 3}),
    "l2": ("a fixed L2 instead of cross-validation", {"l2": 1.0}),
    "l2_grid": ("the grid the cross-validation picks from", {"l2": "auto", "l2_grid": (10.0,)}),
    "cv_folds": ("folds of the cross-validation: its scores", {"l2": "auto", "cv_folds": 2}),
}


def _written(folder: Path) -> tuple[bytes, object]:
    """The weights and the training metrics that do not depend on the clock."""
    train_metrics = json.loads((folder / "metrics.json").read_text())["train"]
    return ((folder / "model.safetensors").read_bytes(),
            {k: v for k, v in train_metrics.items() if not k.endswith("_seconds")})


@pytest.fixture(scope="module")
def head_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("walk") / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in PAIRS))
    return path


def _train(data: Path, out: Path, options: dict) -> tuple[bytes, object]:
    train(TrainSpec(data=str(data), out=out, backbone="hashing", options=options))
    return _written(out)


def test_the_head_walk_covers_every_option_it_reads():
    reads = declared(*TRAINERS["head"].options) - set(NOT_WALKED)
    assert reads == set(HEAD_CHANGES) | set(NEEDS)


@pytest.mark.parametrize("name", sorted(HEAD_CHANGES) + sorted(NEEDS))
def test_an_option_the_head_trainer_reads_changes_the_model(head_data, tmp_path, name):
    if name in HEAD_CHANGES:
        base, given = dict(FIXED), {**FIXED, name: HEAD_CHANGES[name]}
    else:
        _, given = NEEDS[name]
        given = {**FIXED, **given}
        base = {k: v for k, v in given.items() if k != name}
    assert _train(head_data, tmp_path / "base", base) != _train(head_data, tmp_path / "given",
                                                                given), name
