"""The wire formats RL frameworks already speak, mapped onto ``RewardModel.score``.

Each parser validates a body and returns the texts to score; each builder
turns the scored :class:`Outcome` back into the framework's response. Sources
read:

**OpenRLHF** (``--reward.remote_url``, formerly ``--remote_rm_url``):
``SingleTurnAgentExecutor`` in ``openrlhf/utils/agent.py`` (formerly
``openrlhf/utils/remote_rm_utils.py``) posts
``{"query": [prompt + response], "prompts": [prompt], "labels": [label]}``, one
query per request, to ``/get_reward`` and reads ``response["rewards"]``;
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
reward model ignores them; OpenRLHF sends ``""`` for every sample when its
``--label_key`` is unset, and an empty reference is a missing one (400 naming
``labels`` for a reward that needs references). Each component of a recipe,
and each named output of a multi-attribute model, gets its own ``extra_logs``
key (its name) with its per-sample values. OpenRLHF's executor sends one
query per request, so a recipe normalizing by ``batch`` or ``group`` is
refused there (400) rather than answered with zeros.
OpenRLHF decodes queries with their special tokens (``skip_special_tokens=False``):
with ``--apply_chat_template`` the query is the whole chat-templated
conversation, ending with the policy's end-of-turn text. What the model reads
is decided by the app (:mod:`rewardlab.serve.app`, "What reaches the model"):
a query that already carries the served model's chat template is scored as
sent, as OpenRLHF's ``serve_rm.py`` scores it; otherwise end-of-turn texts are
cut from the response and the model formats the pair itself.

**LLaMA-Factory** (``reward_model_type: api``): ``get_rewards_from_server`` in
``src/llamafactory/train/ppo/ppo_utils.py`` posts
``{"model": "model", "messages": [decoded prompt + response]}`` to
``/v1/score/evaluation`` and reads ``["scores"]``; the schema is
``ScoreEvaluationRequest {model, messages: list[str], max_length?}`` →
``ScoreEvaluationResponse {id, object: "score.evaluation", model, scores}`` in
``src/llamafactory/api/protocol.py``. Texts carry no prompt boundary, so each is
scored as prompt ``""`` and response = the whole text; ``max_length`` (tokens)
is accepted and ignored. LLaMA-Factory's API server (``hf_engine._get_scores``)
tokenizes each text as sent (``add_special_tokens=False``, no template): the
texts of this route are *whole* (:attr:`CompatCall.whole`) and a model that
can read a text as sent does so. Its client reads ``["scores"]`` from any
answer, so a reward that needs references is not served on this route at all
(the app refuses it at start-up: :attr:`Route.references` is ``None``).

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
what vLLM applies to a one-label head. Texts are whole, as on LLaMA-Factory's
route: verl renders each with the reward model's own chat template and cuts
the BOS text, which the tokenizer adds back when it reads the text, as vLLM
does. ``usage`` counts whitespace tokens (rewardlab does not know the
client's tokenizer). Token-id inputs and chat ``messages`` are refused with
400.

**The route table.** :data:`ROUTES` is the registry of framework routes: each
path (as the framework spells it) holds a :class:`Route`, its parser, which
turns a body into a :class:`CompatCall` (the texts to score, whether they are
whole texts, the references, and how to answer with the :class:`Outcome`), and
the body field that carries references (``None`` when the format cannot carry
any). The app registers one POST handler per entry, so a new framework is its
parser and builder here, ending with its ``ROUTES.add(path, Route(...))`` line,
plus its test.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardlab.registry import Registry
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


def strip_responses(
    responses: Sequence[str], suffixes: Sequence[str], keep: Sequence[bool]
) -> tuple[list[str], list[float]]:
    """Each text response with :func:`strip_end` applied unless ``keep`` (read as sent);
    1.0 where something was cut. End-of-turn text is text: a response of another modality
    (an image) is passed on untouched."""
    out: list[Any] = []
    cut: list[float] = []
    for response, kept in zip(responses, keep, strict=True):
        untouched = kept or not isinstance(response, str)
        text, was_cut = (response, False) if untouched else strip_end(response, suffixes)
        out.append(text)
        cut.append(float(was_cut))
    return out, cut


def parse_openrlhf(body: Any, settings: ServeSettings) -> SplitTexts:
    """Validate an OpenRLHF ``/get_reward`` body and split its queries at their prompts."""
    body = require_object(body)
    queries = text_list(body, "query", settings)
    prompts = None
    if body.get("prompts") is not None:
        prompts = text_list(body, "prompts", settings)
        same_length("query", len(queries), prompts=prompts)
    labels = optional_values(body, "labels", "query", len(queries))
    texts = split_queries(queries, prompts)
    return SplitTexts(texts.prompts, texts.responses, texts.split, labels)


@dataclass(frozen=True)
class Outcome:
    """What the app scored for one request.

    ``logs``: one list per recipe component or model attribute; ``stripped``:
    1.0 where an end-of-turn text was cut from a response (``None`` when
    stripping is off); ``model``: the served model's id.
    """

    rewards: list[float]
    logs: dict[str, list[float]] = field(default_factory=dict)
    stripped: list[float] | None = None
    model: str = ""


OPENRLHF_LOGS = ("prompt_split", "suffix_stripped")
"""The ``extra_logs`` keys the server itself writes; no component may take these names."""


def openrlhf_response(texts: SplitTexts, outcome: Outcome) -> dict[str, Any]:
    """``{"rewards", "scores", "extra_logs"}`` as OpenRLHF's reward contract reads it.

    ``extra_logs`` has ``prompt_split``, ``suffix_stripped`` (when suffixes are
    stripped) and one key per component or attribute with its per-sample values.
    """
    values = [float(r) for r in outcome.rewards]
    logs: dict[str, list[float]] = {"prompt_split": texts.split}
    if outcome.stripped is not None:
        logs["suffix_stripped"] = outcome.stripped
    for name, column in outcome.logs.items():
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


Answer = Callable[[Outcome], dict[str, Any]]
"""``answer(outcome)`` → the framework's response body."""


@dataclass(frozen=True)
class CompatCall:
    """A parsed compatibility request: what to score and how to answer.

    ``whole``: the texts have no prompt boundary (``prompts`` are ``""`` and
    each response is a whole text), so a model that reads texts as sent
    (``score_as_sent``) gets them unchanged.
    """

    prompts: list[str]
    responses: list[str]
    answer: Answer
    references: list[Any] | None = None
    whole: bool = False


def whole_texts(texts: Sequence[str], answer: Answer) -> CompatCall:
    """A call for texts without a prompt boundary: prompts ``""``, responses = the texts."""
    return CompatCall([""] * len(texts), list(texts), answer, whole=True)


def openrlhf_call(body: Any, settings: ServeSettings) -> CompatCall:
    """``POST /get_reward``: queries split at their prompts, ``labels`` as references."""
    texts = parse_openrlhf(body, settings)
    return CompatCall(
        texts.prompts,
        texts.responses,
        lambda outcome: openrlhf_response(texts, outcome),
        texts.labels,
    )


def llamafactory_call(body: Any, settings: ServeSettings) -> CompatCall:
    """``POST /v1/score/evaluation``: whole texts; answers under the request's model name."""
    model, texts = parse_llamafactory(body, settings)
    return whole_texts(
        texts, lambda outcome: llamafactory_response(model or outcome.model, outcome.rewards)
    )


def classify_call(body: Any, settings: ServeSettings) -> CompatCall:
    """``POST /classify``: whole texts; one-label classification answer."""
    request = parse_classify(body, settings)
    return whole_texts(
        request.texts, lambda outcome: classify_response(request, outcome.rewards, outcome.model)
    )


@dataclass(frozen=True)
class Route:
    """A framework route: its parser, the body field that carries references (``None``
    when the format cannot carry any) and ``example``, a body its client sends (the
    contract tests of ``tests/test_conformance_kinds.py`` post it)."""

    parse: Callable[[Any, ServeSettings], CompatCall]
    references: str | None = None
    example: dict[str, Any] = field(default_factory=dict)


ROUTES: Registry[Route] = Registry("compat route", pattern=re.compile(r"(/[a-z0-9_.-]+)+"))
"""Path → :class:`Route` of every framework route the server answers (see the module doc);
a path is spelled as its framework's client sends it, so it follows the URL rule
(``/v1/score/evaluation``, ``/get_reward``) rather than kebab-case."""

ROUTES.add("/get_reward", Route(openrlhf_call, "labels", example={
    "query": ["Q: 2 + 2? A: 4", "Q: 3 + 3? A: 7"], "prompts": ["Q: 2 + 2? A:", "Q: 3 + 3? A:"],
    "labels": ["4", "6"]}))
ROUTES.add("/v1/score/evaluation", Route(llamafactory_call, example={
    "model": "model", "messages": ["Q: 2 + 2? A: 4", "Q: 3 + 3? A: 7"]}))
ROUTES.add("/classify", Route(classify_call, example={
    "model": "rm", "input": ["Q: 2 + 2? A: 4", "Q: 3 + 3? A: 7"], "activation": False}))
