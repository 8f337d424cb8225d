"""A reward model rewardlab fine-tuned: its directory, saved and loaded.

The reward of a response is the output of a sequence-classification head on
the transformer's summary of the formatted text (Stiennon et al., 2020; Ouyang
et al., InstructGPT, 2022):

    r_k(x, y) = w_k · h(format(x, y)) + b_k,   k = 1..K (K = ``num_labels``, usually 1)

where ``h`` is the pooled [CLS] state for encoders (BERT) and the state of the
last non-pad token for decoders, exactly as ``AutoModelForSequenceClassification``
computes it. With K > 1 outputs the members share the transformer and
``score`` is their mean. It is scored by the one scorer of every sequence
classifier, :class:`~rewardlab.models.lm.hf_reward.HFRewardModel` (formatting
:mod:`rewardlab.models.lm.chat`, tokens and batches
:mod:`rewardlab.features.tokens`), while it is trained, once saved, and when its
weights are read as a plain Hub folder, so the three give the same scores; the
loading options (:class:`~rewardlab.models.lm.hub.HubModelOptions`) apply to it as
to a Hub folder, and its input length defaults to the ``max_length`` it was
trained with.

A saved model is a directory that ``AutoModelForSequenceClassification
.from_pretrained(dir)`` and ``AutoTokenizer.from_pretrained(dir)`` load as is:
the Hugging Face files (``config.json``, ``model.safetensors``, tokenizer
files) sit at its top level, LoRA adapters merged into the weights, and
rewardlab's own config is ``rewardlab.json`` beside them (HF owns
``config.json``), with ``metrics.json`` for its last evaluation. It is
written under a temporary name and renamed into place.
"""

from __future__ import annotations

from pathlib import Path

from rewardlab.atomic import atomic_directory, write_json_atomic
from rewardlab.models.io import read_model_config
from rewardlab.models.lm.hf_reward import HFRewardModel, load_hf_reward_model
from rewardlab.models.lm.hub import HubModelOptions

CONFIG_NAME = "rewardlab.json"
FORMAT = "rewardlab-transformer-reward-model"
FORMAT_VERSION = 1


def _process_state():
    """accelerate's process state (one process unless launched distributed), if installed."""
    try:
        from accelerate import PartialState
    except ImportError:
        return None
    return PartialState()


def merge_adapters(model: HFRewardModel) -> None:
    """Fold LoRA adapters into the weights (scores unchanged); no-op without LoRA."""
    if hasattr(model.model, "merge_and_unload"):
        model.model = model.model.merge_and_unload().eval()


def save_transformer_model(
    model: HFRewardModel, directory: str | Path, metrics: dict | None = None
) -> Path:
    """Write ``model`` to ``directory``, replacing a model there; LoRA is merged first.

    Under ``accelerate launch`` only the main process writes; all processes
    return once the directory is in place.
    """
    directory = Path(directory)
    merge_adapters(model)
    state = _process_state()
    if state is None or state.is_main_process:
        _write_model_dir(model, directory, metrics)
    if state is not None:
        state.wait_for_everyone()
    return directory


def _write_model_dir(model: HFRewardModel, directory: Path, metrics: dict | None) -> None:
    config = dict(model.config, format=FORMAT, format_version=FORMAT_VERSION)
    with atomic_directory(directory) as staging:
        model.model.save_pretrained(staging, safe_serialization=True)
        model.tokenizer.save_pretrained(staging)
        write_json_atomic(staging / CONFIG_NAME, config)
        if metrics is not None:
            write_json_atomic(staging / "metrics.json", metrics)


def is_transformer_model_dir(directory: str | Path) -> bool:
    """True for a directory written by :func:`save_transformer_model`."""
    return (Path(directory) / CONFIG_NAME).is_file()


def load_transformer_model(directory: str | Path,
                           options: HubModelOptions | None = None) -> HFRewardModel:
    """Load a model saved by :func:`save_transformer_model`, scored with ``options`` (the
    loading options of any Hugging Face classifier)."""
    _, config = read_model_config(directory, FORMAT, CONFIG_NAME)
    return load_hf_reward_model(directory, options, str(directory), config)
