"""The text a reward classifier reads for a (prompt, response) pair.

One formatting for every sequence classifier (a Hub folder, ``hf:ORG/NAME``, a
model rewardlab fine-tuned, while it is fine-tuned and when it is scored), as
RewardBench formats (``rewardbench/utils.py::prepare_dialogue_from_tokenizer``
and ``models/pipeline.py``, Lambert et al., 2024):

* a tokenizer with a chat template: ``apply_chat_template([user: prompt,
  assistant: response], tokenize=False)`` with no generation prompt;
  otherwise ``prompt\\n\\nresponse`` (:mod:`rewardlab.features.join`;
  RewardBench uses a FastChat template there, ``tulu`` by default; rewardlab has
  no such table and uses the plain join);
* the prompt is cut from the *left* to fit ``max_length`` tokens together with
  the template and the special tokens :func:`rewardlab.features.tokens.encode`
  adds, and the response is never cut for the prompt's sake; only a response
  longer than the budget is cut at its end.

**A text that already carries the chat template** (a trainer templated the
prompt before generating: OpenRLHF with ``--apply_chat_template``, LLaMA-Factory,
verl's reward loop) is not templated a second time. The chat-template mode
(:data:`~rewardlab.models.lm.hub.CHAT_TEMPLATE_MODES`) decides, for a tokenizer
with a template:

- ``auto`` (default): ``x + y`` exactly as given when it carries the template
  (:func:`carries_chat_template`), else the template once;
- ``always``: the template once, whatever the text holds;
- ``never``: ``x + y`` exactly as given (the caller formatted it).

A text read as given is cut only at its end, by the tokenizer's truncation to
``max_length``, as OpenRLHF's ``serve_rm.py`` and LLaMA-Factory's API server do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardlab.features.join import SEPARATOR, join_truncated
from rewardlab.features.tokens import encode
from rewardlab.models.lm.hub import CHAT_TEMPLATE_MODES
from rewardlab.protocols import check_lengths

_USER, _ASSISTANT = "RLUSERMSG7Q", "RLASSISTANTMSG7Q"  # stand-ins the templates copy verbatim


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Give a tokenizer without a pad token (most decoders) its EOS as pad token."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(
                f"tokenizer {tokenizer.name_or_path!r} has neither a pad nor an EOS token"
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def uses_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def check_chat_template_mode(mode: str) -> str:
    """``mode`` when it is one of :data:`CHAT_TEMPLATE_MODES`, else ``ValueError``."""
    if mode not in CHAT_TEMPLATE_MODES:
        raise ValueError(
            f"chat template mode {mode!r} is not one of {', '.join(CHAT_TEMPLATE_MODES)}"
        )
    return mode


def _chat(tokenizer: Any, prompt: str, response: str) -> str:
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return tokenizer.apply_chat_template(messages, tokenize=False)


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


def carries_chat_template(text: str, markers: tuple[tuple[str, ...], str | None]) -> bool:
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


def format_pairs(
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    max_length: int,
    mode: str = "auto",
) -> list[str]:
    """The texts the model reads (module doc): its chat template once (per ``mode``) if it
    has one, else the plain join; the prompt cut from the left to fit ``max_length``."""
    as_sent = read_as_sent(tokenizer, prompts, responses, mode)
    spans = _token_spans(tokenizer)
    if not uses_chat_template(tokenizer):
        return join_truncated(prompts, responses, max_length, spans)
    texts = [p + r if keep else "" for p, r, keep in zip(prompts, responses, as_sent, strict=True)]
    todo = [i for i, keep in enumerate(as_sent) if not keep]
    if not todo:
        return texts
    # what the empty conversation costs: the template and the special tokens encode adds
    (empty,) = encode(tokenizer, [_chat(tokenizer, "", "")], max_length=1 << 30)
    # join_truncated reserves 2 tokens for special tokens; the template needs len(empty).
    joined = join_truncated([prompts[i] for i in todo], [responses[i] for i in todo],
                            max_length - len(empty) + 2, spans)
    for i, text in zip(todo, joined, strict=True):
        tail = text[: len(text) - len(responses[i])]
        tail = tail[: -len(SEPARATOR)] if tail.endswith(SEPARATOR) else tail
        texts[i] = _chat(tokenizer, tail, responses[i])
    return texts
