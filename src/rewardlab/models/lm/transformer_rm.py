"""A fine-tuned transformer reward model: scoring, saving and loading.

The reward of a response is the output of a sequence-classification head on
the transformer's summary of the joined text (Stiennon et al., 2020; Ouyang
et al., InstructGPT, 2022):

    r_k(x, y) = w_k · h(join(x, y)) + b_k,   k = 1..K (K = ``num_labels``, usually 1)

where ``h`` is the pooled [CLS] state for encoders (BERT) and the state of the
last non-pad token for decoders, exactly as ``AutoModelForSequenceClassification``
computes it. With K > 1 outputs the members share the transformer and
``score`` is their mean.

``join(x, y)``: when the tokenizer has a chat template, the prompt is the user
turn and the response the assistant turn; otherwise ``<prompt>\\n\\n<response>``
(``rewardlab.features.join``). Either way the prompt is cut from the *left* to
fit ``max_length`` tokens and the response is never cut for the prompt's sake.

**A text that already carries the chat template** (a trainer templated the
prompt before generating: OpenRLHF with ``--apply_chat_template``, LLaMA-Factory,
verl's reward loop) is not templated a second time. The chat-template mode
(:data:`CHAT_TEMPLATE_MODES`) decides, for a tokenizer with a template:

- ``auto`` (default): ``x + y`` exactly as given when it carries the template
  (:func:`carries_chat_template`), else the template once;
- ``always``: the template once, whatever the text holds;
- ``never``: ``x + y`` exactly as given (the caller formatted it).

A text read as given is cut only at its end, by the tokenizer's truncation to
``max_length``, as OpenRLHF's ``serve_rm.py`` and LLaMA-Factory's API server do.
Texts are scored in batches sorted by length under ``torch.inference_mode``.

A saved model is a directory that ``AutoModelForSequenceClassification
.from_pretrained(dir)`` and ``AutoTokenizer.from_pretrained(dir)`` load as is:
the Hugging Face files (``config.json``, ``model.safetensors``, tokenizer
files) sit at its top level, LoRA adapters merged into the weights, and
rewardlab's own config is ``rewardlab.json`` beside them (HF owns
``config.json``), with ``metrics.json`` for its last evaluation. It is
written under a temporary name and renamed into place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rewardlab.atomic import atomic_directory, write_json_atomic
from rewardlab.features.join import SEPARATOR, join_truncated
from rewardlab.models.io import read_model_config
from rewardlab.models.lm.hub import CHAT_TEMPLATE_MODES, HubModelOptions
from rewardlab.protocols import check_lengths

CONFIG_NAME = "rewardlab.json"
FORMAT = "rewardlab-transformer-reward-model"
FORMAT_VERSION = 1
DEFAULT_MAX_LENGTH = 512


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Give a tokenizer without a pad token (most decoders) its EOS as pad token."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(
                f"tokenizer {tokenizer.name_or_path!r} has neither a pad nor an EOS token"
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _token_spans(tokenizer: Any):
    def spans(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                f"tokenizer {tokenizer.name_or_path!r} is not a fast tokenizer; "
                "prompt truncation needs its character offsets"
            )
        encoded = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
        return [list(map(tuple, s)) for s in encoded["offset_mapping"]]

    return spans


def _chat(tokenizer: Any, prompt: str, response: str) -> str:
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return tokenizer.apply_chat_template(messages, tokenize=False)


def uses_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


_USER, _ASSISTANT = "RLUSERMSG7Q", "RLASSISTANTMSG7Q"  # stand-ins the templates copy verbatim


def check_chat_template_mode(mode: str) -> str:
    """``mode`` when it is one of :data:`CHAT_TEMPLATE_MODES`, else ``ValueError``."""
    if mode not in CHAT_TEMPLATE_MODES:
        raise ValueError(
            f"chat template mode {mode!r} is not one of {', '.join(CHAT_TEMPLATE_MODES)}"
        )
    return mode


def template_markers(tokenizer: Any) -> tuple[tuple[str, ...], str | None]:
    """``(openings, turn marker)`` of the tokenizer's chat template.

    The *opening* is what the template writes before the first user message
    (BOS, a default system prompt, the user-turn marker: rendered for
    ``[user: U]``, the text before ``U``), given with and without a leading BOS
    text; the *turn marker* is what it writes between a user message and the
    assistant's answer (rendered for ``[user: U, assistant: A]``, the text
    between ``U`` and ``A``: the end of the user turn and the assistant-turn
    marker, such as ``<|im_end|>\\n<|im_start|>assistant\\n``). Blank ones are
    dropped (they would match any text); a template that cannot render these
    conversations has none.
    """
    try:
        one = tokenizer.apply_chat_template([{"role": "user", "content": _USER}], tokenize=False)
        two = _chat(tokenizer, _USER, _ASSISTANT)
    except Exception:  # noqa: BLE001 - a template with other expectations: nothing to detect
        return (), None
    openings: list[str] = []
    if isinstance(one, str) and _USER in one:
        opening = one[: one.index(_USER)]
        bos = getattr(tokenizer, "bos_token", None)
        openings = [opening]
        if bos and opening.startswith(bos):
            openings.append(opening[len(bos) :])
    turn = None
    if isinstance(two, str) and _USER in two and _ASSISTANT in two:
        start = two.index(_USER) + len(_USER)
        turn = two[start : two.index(_ASSISTANT)] or None
    kept = tuple(o for o in openings if o.strip())
    return kept, turn if turn is not None and turn.strip() else None


def carries_chat_template(
    text: str, markers: tuple[tuple[str, ...], str | None]
) -> bool:
    """Whether ``text`` was already formatted with the chat template of ``markers``.

    Rule: it starts with one of the template's openings, or it contains the
    template's turn marker (see :func:`template_markers`).
    """
    openings, turn = markers
    return any(text.startswith(o) for o in openings) or (turn is not None and turn in text)


def read_as_sent(
    tokenizer: Any, prompts: Sequence[str], responses: Sequence[str], mode: str = "auto"
) -> list[bool]:
    """For each pair, whether the model reads ``prompt + response`` exactly as given.

    Never for a tokenizer without a chat template (it reads the plain join);
    otherwise per the mode (module doc): ``never`` always, ``always`` never,
    ``auto`` when ``prompt + response`` carries the template.
    """
    check_chat_template_mode(mode)
    n = check_lengths(prompts, responses)
    if not uses_chat_template(tokenizer) or mode == "always":
        return [False] * n
    if mode == "never":
        return [True] * n
    markers = template_markers(tokenizer)
    return [carries_chat_template(p + r, markers) for p, r in zip(prompts, responses, strict=True)]


def join_for_model(
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    max_length: int,
    mode: str = "auto",
) -> list[str]:
    """The texts the model reads: chat template if the tokenizer has one, else plain join;
    a pair :func:`read_as_sent` picks is ``prompt + response`` as given."""
    as_sent = read_as_sent(tokenizer, prompts, responses, mode)
    spans = _token_spans(tokenizer)
    if not uses_chat_template(tokenizer):
        return join_truncated(prompts, responses, max_length, spans)
    texts = [p + r if keep else "" for p, r, keep in zip(prompts, responses, as_sent, strict=True)]
    todo = [i for i, keep in enumerate(as_sent) if not keep]
    if not todo:
        return texts
    overhead = len(tokenizer(_chat(tokenizer, "", ""), add_special_tokens=False)["input_ids"])
    # join_truncated reserves 2 tokens for special tokens; the template needs `overhead`.
    joined = join_truncated([prompts[i] for i in todo], [responses[i] for i in todo],
                            max_length - overhead + 2, spans)
    for i, text in zip(todo, joined, strict=True):
        tail = text[: len(text) - len(responses[i])]
        tail = tail[: -len(SEPARATOR)] if tail.endswith(SEPARATOR) else tail
        texts[i] = _chat(tokenizer, tail, responses[i])
    return texts


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    """Padded input tensors; chat-templated texts already carry their special tokens."""
    return tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_length,
        add_special_tokens=not uses_chat_template(tokenizer),
        return_tensors="pt",
    )


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_precision(
    precision: str, cuda: bool | None = None, bf16_supported: bool | None = None
) -> str:
    """"auto" → "bf16" on a CUDA device with bf16 support, else "fp32"."""
    if precision in ("bf16", "fp32"):
        return precision
    if precision != "auto":
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if bf16_supported is None:
        bf16_supported = cuda and torch.cuda.is_bf16_supported()
    return "bf16" if cuda and bf16_supported else "fp32"


class TransformerRewardModel:
    """Implements ``RewardModel`` (and per-output ``score_members``) for a HF classifier.

    ``TransformerRewardModel(path_or_dir)`` loads a directory saved by
    :func:`save_transformer_model`, or any local ``AutoModelForSequenceClassification``
    folder (a published reward model, say); a hub name works for users with a
    network. ``from_model`` wraps a model already in memory (the trainer's).
    """

    def __init__(
        self,
        path_or_dir: str | Path,
        max_length: int | None = None,
        batch_size: int = 16,
        device: str | torch.device | None = None,
        dtype: str = "auto",
        token_budget: int | None = None,
    ) -> None:
        from transformers import AutoModelForSequenceClassification

        from rewardlab.features.hf_load import load_pretrained, load_tokenizer
        from rewardlab.models.lm.hub import resolve_dtype

        path = str(path_or_dir)
        config_path = Path(path) / CONFIG_NAME
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        device = torch.device(device) if device is not None else default_device()
        if dtype == "auto":
            bf16 = resolve_precision("auto", cuda=device.type == "cuda") == "bf16"
            torch_dtype = torch.bfloat16 if bf16 else torch.float32
        else:
            torch_dtype = resolve_dtype(dtype, device)
        tokenizer = prepare_tokenizer(load_tokenizer(path))
        model = load_pretrained(  # checked: readable, complete, finite (features.hf_load)
            AutoModelForSequenceClassification, path, tokenizer, dtype=torch_dtype,
        )
        model.config.pad_token_id = tokenizer.pad_token_id
        max_length = max_length or config.get("max_length")
        if max_length is None:
            max_length = min(int(tokenizer.model_max_length), DEFAULT_MAX_LENGTH)
        self._setup(model.to(device), tokenizer, config, int(max_length), batch_size)
        self.token_budget = token_budget

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        tokenizer: Any,
        config: dict[str, Any],
        max_length: int,
        batch_size: int = 16,
    ) -> TransformerRewardModel:
        """Wrap an in-memory (possibly LoRA-wrapped) classifier."""
        self = cls.__new__(cls)
        self._setup(model, tokenizer, config, max_length, batch_size)
        return self

    def _setup(self, model, tokenizer, config, max_length: int, batch_size: int) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = dict(config, max_length=max_length)
        self.max_length = max_length
        self.batch_size = batch_size
        self.token_budget: int | None = None

    @property
    def n_members(self) -> int:
        return int(self.model.config.num_labels)

    @property
    def id(self) -> str:
        return str(self.config.get("id", "rewardlab-transformer"))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def texts(self, prompts: Sequence[str], responses: Sequence[str]) -> list[str]:
        return join_for_model(self.tokenizer, prompts, responses, self.max_length)

    def reads_as_sent(self, prompts: Sequence[str], responses: Sequence[str]) -> list[bool]:
        """Which pairs the model reads exactly as given (:func:`read_as_sent`, mode auto)."""
        return read_as_sent(self.tokenizer, prompts, responses)

    def score_members(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Every output's reward, shape (K, n), float64."""
        if check_lengths(prompts, responses) == 0:
            return np.zeros((self.n_members, 0), dtype=np.float64)
        texts = self.texts(prompts, responses)
        out = np.zeros((self.n_members, len(texts)), dtype=np.float64)
        self.model.eval()
        with torch.inference_mode():
            for idx in self._batches(texts):
                batch = tokenize(self.tokenizer, [texts[i] for i in idx], self.max_length)
                logits = self.model(**batch.to(self.device)).logits
                out[:, idx] = logits.float().cpu().numpy().T
        return out

    def _batches(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Index batches, longest first: ``batch_size`` texts each, or with a token budget
        as many as fit ``n · longest ≤ token_budget`` tokens (one text over it alone)."""
        if self.token_budget is None:
            order = np.argsort([-len(t) for t in texts], kind="stable")
            return [order[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        lengths = tokenize(self.tokenizer, texts, self.max_length)["attention_mask"].sum(
            dim=1).tolist()
        order = np.argsort(-np.asarray(lengths), kind="stable")
        batches, start = [], 0
        while start < len(order):
            size = max(1, self.token_budget // max(lengths[order[start]], 1))
            batches.append(order[start : start + size])
            start += size
        return batches

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        return self.score_members(prompts, responses).mean(axis=0)

    def merge_adapters(self) -> None:
        """Fold LoRA adapters into the weights (scores unchanged); no-op without LoRA."""
        if hasattr(self.model, "merge_and_unload"):
            self.model = self.model.merge_and_unload().eval()


def _process_state():
    """accelerate's process state (one process unless launched distributed), if installed."""
    try:
        from accelerate import PartialState
    except ImportError:
        return None
    return PartialState()


def save_transformer_model(
    model: TransformerRewardModel, directory: str | Path, metrics: dict | None = None
) -> Path:
    """Write ``model`` to ``directory``, replacing a model there; LoRA is merged first.

    Under ``accelerate launch`` only the main process writes; all processes
    return once the directory is in place.
    """
    directory = Path(directory)
    model.merge_adapters()
    state = _process_state()
    if state is None or state.is_main_process:
        _write_model_dir(model, directory, metrics)
    if state is not None:
        state.wait_for_everyone()
    return directory


def _write_model_dir(model: TransformerRewardModel, directory: Path, metrics: dict | None) -> None:
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
                           options: HubModelOptions | None = None) -> TransformerRewardModel:
    """Load a model saved by :func:`save_transformer_model`, scored with the loading options
    a model that scores with a tokenizer reads (``max_length``, ``dtype``, ``device``,
    ``token_budget``)."""
    from rewardlab.models.lm.hub import HubModelOptions

    options = options or HubModelOptions()
    read_model_config(directory, FORMAT, CONFIG_NAME)
    budget = None if options.token_budget == HubModelOptions.token_budget else options.token_budget
    return TransformerRewardModel(directory, max_length=options.max_length,
                                  device=options.device, dtype=options.dtype, token_budget=budget)
