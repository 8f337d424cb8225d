"""The wire formats RL frameworks already speak, mapped onto ``RewardModel.score``.

Each parser validates a body and returns ``(prompts, responses)``; each
builder turns rewards back into the framework's response. Sources read:

**OpenRLHF** (``--reward.remote_url``, formerly ``--remote_rm_url``):
``openrlhf/utils/remote_rm_utils.py`` posts
``{"query": [prompt + response], "prompts": [prompt], "labels": [...]}`` to
``/get_reward`` and reads ``response["rewards"]`` (``score_key``);
``openrlhf/cli/serve_rm.py`` answers ``{"rewards": [...]}`` and the custom
``reward_func`` contract adds ``"scores"`` (used by dynamic filtering; OpenRLHF
falls back to ``rewards`` without it) and ``"extra_logs"`` (per-sample values
concatenated per key and logged). The response part of each query is what
follows its prompt: ``response = query[len(prompt):]`` when ``prompt`` is a
prefix of ``query``. Fallback when ``prompts`` is missing or a prompt is not a
prefix (e.g. the tokenizer re-spaced it): prompt ``""`` and the whole query as
the response; ``extra_logs["prompt_split"]`` is 1.0 where the split worked and
0.0 where the fallback was used, so a template mismatch shows in the logs.
``labels`` (ground truth, one per query: OpenRLHF's ``--label_key`` column)
are the references a verifier or recipe checks each response against; a plain
reward model ignores them. Each component of a recipe gets its own
``extra_logs`` key (its name) with its per-sample values.
OpenRLHF decodes queries with their special tokens, so a query ends with the
policy's end-of-turn text (``</s>``, ``<|im_end|>``, ``<|eot_id|>``), which a
reward model trained on clean text never saw and which shifts its scores:
every suffix in ``ServeSettings.strip_suffixes`` is removed from the end of
each response, repeatedly, and ``extra_logs["suffix_stripped"]`` is 1.0 where
one was removed.

**LLaMA-Factory** (``reward_model_type: api``): ``get_rewards_from_server`` in
``src/llamafactory/train/ppo/ppo_utils.py`` posts
``{"model": "model", "messages": [decoded prompt + response]}`` to
``/v1/score/evaluation`` and reads ``["scores"]``; the schema is
``ScoreEvaluationRequest {model, messages: list[str], max_length?}`` →
``ScoreEvaluationResponse {id, object: "score.evaluation", model, scores}`` in
``src/llamafactory/api/protocol.py``. Texts carry no prompt boundary, so each is
scored as prompt ``""`` and response = the whole text; ``max_length`` (tokens)
is accepted and ignored.

**vLLM classify** (the request verl's experimental reward loop sends to the
vLLM servers verl itself starts; verl has no setting to send it to an outside
URL, so verl users call this server through the custom reward function in
:mod:`rewardlab.integrations.verl`): ``compute_score_disrm`` in
``verl/experimental/reward_loop/reward_loop.py`` posts
``{"model": name, "input": chat-templated text, "activation": false}`` to
``/classify`` and reads ``output["data"][-1]["probs"][-1]``. vLLM's
``ClassificationRequest`` takes ``input: str | list[str]`` and
``use_activation`` (older: ``activation``, ``softmax``; default true) and
answers ``{id: "classify-…", object: "list", created, model,
data: [{index, label, probs, num_classes}], usage}``. A scalar reward r is a
one-label classifier: ``probs = [r]`` without activation (verl's setting: the
raw reward) and ``probs = [sigmoid(r)] = [1 / (1 + e^{-r})]`` with it, which is
what vLLM applies to a one-label head. Texts are scored as prompt ``""`` and
response = the whole text. ``usage`` counts whitespace tokens (rewardlab does
not know the client's tokenizer). Token-id inputs and chat ``messages`` are
refused with 400.

**The route table.** :data:`ROUTES` maps each path to its parser, which turns a
body into a :class:`CompatCall`: the texts to score, the references and the
body field that carries them (``None`` when the format cannot carry any), and
how to answer with the rewards. The app registers one POST handler per entry,
so a new framework is its parser and builder here plus one line in
:data:`ROUTES`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardlab.serve.schemas import (
    RequestError,
    check_text,
    optional_values,
    require_object,
    same_length,
    text_list,
)
from rewardlab.serve.settings import ServeSettings


@dataclass(frozen=True)
class SplitTexts:
    """Texts cut into (prompt, response), with 1.0 where a prompt prefix was found,
    and the request's ``labels`` (references), if any."""

    prompts: list[str]
    responses: list[str]
    split: list[float]
    stripped: list[float] | None = None
    labels: list[Any] | None = None


def split_queries(queries: Sequence[str], prompts: Sequence[str] | None) -> SplitTexts:
    """``query = prompt + response`` → ``(prompt, response)``; see the module docstring."""
    out_prompts: list[str] = []
    out_responses: list[str] = []
    split: list[float] = []
    for i, query in enumerate(queries):
        prompt = prompts[i] if prompts is not None else None
        if prompt is not None and query.startswith(prompt):
            out_prompts.append(prompt)
            out_responses.append(query[len(prompt) :])
            split.append(1.0)
        else:
            out_prompts.append("")
            out_responses.append(query)
            split.append(0.0)
    return SplitTexts(out_prompts, out_responses, split)


def strip_end(text: str, suffixes: Sequence[str]) -> tuple[str, bool]:
    """``text`` without any of ``suffixes`` at its end (repeatedly); whether one was cut."""
    cut = False
    while True:
        for suffix in suffixes:
            if suffix and text.endswith(suffix):
                text = text[: -len(suffix)]
                cut = True
                break
        else:
            return text, cut


def parse_openrlhf(body: Any, settings: ServeSettings, suffixes: Sequence[str] = ()) -> SplitTexts:
    """Validate an OpenRLHF ``/get_reward`` body, split its queries, strip ``suffixes``."""
    body = require_object(body)
    queries = text_list(body, "query", settings)
    prompts = None
    if body.get("prompts") is not None:
        prompts = text_list(body, "prompts", settings)
        same_length("query", len(queries), prompts=prompts)
    labels = optional_values(body, "labels", "query", len(queries))
    texts = split_queries(queries, prompts)
    stripped = None
    responses = texts.responses
    if suffixes:
        cuts = [strip_end(r, suffixes) for r in texts.responses]
        responses = [r for r, _ in cuts]
        stripped = [float(c) for _, c in cuts]
    return SplitTexts(texts.prompts, responses, texts.split, stripped, labels)


OPENRLHF_LOGS = ("prompt_split", "suffix_stripped")
"""The ``extra_logs`` keys the server itself writes; no component may take these names."""


def openrlhf_response(
    rewards: Sequence[float],
    texts: SplitTexts,
    components: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """``{"rewards", "scores", "extra_logs"}`` as OpenRLHF's reward contract reads it.

    ``extra_logs`` has ``prompt_split``, ``suffix_stripped`` (when suffixes are
    stripped) and one key per component with its per-sample values.
    """
    values = [float(r) for r in rewards]
    logs: dict[str, list[float]] = {"prompt_split": texts.split}
    if texts.stripped is not None:
        logs["suffix_stripped"] = texts.stripped
    for name, column in (components or {}).items():
        if name in OPENRLHF_LOGS:
            raise ValueError(f"component {name!r} clashes with the extra_logs key {name!r}")
        logs[name] = [float(v) for v in column]
    return {"rewards": values, "scores": values, "extra_logs": logs}


def parse_llamafactory(body: Any, settings: ServeSettings) -> tuple[str, list[str]]:
    """Validate a LLaMA-Factory ``/v1/score/evaluation`` body: ``(model, texts)``."""
    body = require_object(body)
    model = body.get("model", "")
    if not isinstance(model, str):
        raise RequestError("must be a string", field="model")
    texts = text_list(body, "messages", settings)
    max_length = body.get("max_length")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)):
        raise RequestError("must be an integer or null", field="max_length")
    return model, texts


def llamafactory_response(model: str, scores: Sequence[float]) -> dict[str, Any]:
    """LLaMA-Factory's ``ScoreEvaluationResponse``."""
    return {
        "id": f"scoreval-{uuid.uuid4().hex}",
        "object": "score.evaluation",
        "model": model,
        "scores": [float(s) for s in scores],
    }


@dataclass(frozen=True)
class ClassifyRequest:
    """A validated vLLM-style ``/classify`` body."""

    model: str
    texts: list[str]
    use_activation: bool


def parse_classify(body: Any, settings: ServeSettings) -> ClassifyRequest:
    """Validate a vLLM ``/classify`` body (``input`` a string or a list of strings)."""
    body = require_object(body)
    if "messages" in body:
        raise RequestError("chat requests are not supported; send 'input' text", field="messages")
    model = body.get("model") or ""
    if not isinstance(model, str):
        raise RequestError("must be a string", field="model")
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [check_text(raw, "input", settings)]
    elif isinstance(raw, list) and raw and not all(isinstance(t, str) for t in raw):
        raise RequestError("must be a string or a list of strings (not token ids)", field="input")
    else:
        texts = text_list(body, "input", settings)
    use_activation = True
    for name in ("softmax", "activation", "use_activation"):  # newest name wins
        value = body.get(name)
        if value is not None:
            if not isinstance(value, bool):
                raise RequestError("must be true, false or null", field=name)
            use_activation = value
    return ClassifyRequest(model, texts, use_activation)


def sigmoid(x: float) -> float:
    """1 / (1 + e^{-x}), computed without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def classify_response(
    request: ClassifyRequest, rewards: Sequence[float], served_model: str
) -> dict[str, Any]:
    """vLLM's ``ClassificationResponse`` for a one-label (scalar reward) head."""
    data = []
    for i, r in enumerate(rewards):
        prob = sigmoid(float(r)) if request.use_activation else float(r)
        data.append({"index": i, "label": "reward", "probs": [prob], "num_classes": 1})
    tokens = sum(len(t.split()) for t in request.texts)
    return {
        "id": f"classify-{uuid.uuid4().hex}",
        "object": "list",
        "created": int(time.time()),
        "model": request.model or served_model,
        "data": data,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0},
    }


def whole_texts(texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """Texts without a prompt boundary: prompts ``""`` and responses = the texts."""
    return [""] * len(texts), list(texts)


Answer = Callable[[list[float], dict[str, list[float]], str], dict[str, Any]]
"""``answer(rewards, components, served model id)`` → the framework's response body."""


@dataclass(frozen=True)
class CompatCall:
    """A parsed compatibility request: what to score and how to answer.

    ``reference_field`` names the body field that carries references (``None``
    when the format has none, so a reward that needs references is refused).
    """

    prompts: list[str]
    responses: list[str]
    answer: Answer
    references: list[Any] | None = None
    reference_field: str | None = None


def openrlhf_call(body: Any, settings: ServeSettings, suffixes: Sequence[str]) -> CompatCall:
    """``POST /get_reward``: queries split at their prompts, ``labels`` as references."""
    texts = parse_openrlhf(body, settings, suffixes)
    return CompatCall(
        texts.prompts,
        texts.responses,
        lambda rewards, components, _served: openrlhf_response(rewards, texts, components),
        texts.labels,
        "labels",
    )


def llamafactory_call(body: Any, settings: ServeSettings, _suffixes: Sequence[str]) -> CompatCall:
    """``POST /v1/score/evaluation``: whole texts; answers under the request's model name."""
    model, texts = parse_llamafactory(body, settings)
    return CompatCall(
        *whole_texts(texts),
        lambda rewards, _components, served: llamafactory_response(model or served, rewards),
    )


def classify_call(body: Any, settings: ServeSettings, _suffixes: Sequence[str]) -> CompatCall:
    """``POST /classify``: whole texts; one-label classification answer."""
    request = parse_classify(body, settings)
    return CompatCall(
        *whole_texts(request.texts),
        lambda rewards, _components, served: classify_response(request, rewards, served),
    )


ROUTES: dict[str, Callable[[Any, ServeSettings, Sequence[str]], CompatCall]] = {
    "/get_reward": openrlhf_call,
    "/v1/score/evaluation": llamafactory_call,
    "/classify": classify_call,
}
"""Path → parser of every framework route the server answers (see the module doc)."""
