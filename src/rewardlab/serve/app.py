"""The reward server: one FastAPI app around any reward or preference model.

Routes (all JSON; every route but ``/health`` needs ``Authorization: Bearer
<key>`` when ``ServeSettings.api_key`` is set):

- ``POST /score``: ``{prompts, responses, uncertainty?, ground_truth?}`` →
  ``{rewards, uncertainty?, components?, model}``; for a process reward model
  also ``step_rewards`` (send ``steps`` instead of ``responses`` to give the
  steps); for an image reward send ``images`` (base64 PNG/JPEG/WebP) instead
  of ``responses``: each is decoded by ``decode_image`` (the CLI passes
  :func:`rewardlab.data.images.decode_image`, the one image decoder, so the
  server's pixels are ``rewardlab score``'s), and one that does not decode is a
  400 naming ``images[i]`` before anything is queued; without ``decode_image``
  the model gets the bytes and decodes them itself;
- ``POST /compare``: ``{prompts, first, second}`` → ``{probs, rule, model}``,
  P(first ≻ second) from a ``PreferenceModel``'s ``prob`` (``rule:
  "preference_model"``) or, for a scalar reward model, by Bradley-Terry,
  σ(r(first) − r(second)) (``rule: "bradley_terry"``; :mod:`.model_ops`);
- ``POST /get_reward`` (OpenRLHF), ``POST /v1/score/evaluation``
  (LLaMA-Factory) and ``POST /classify`` (vLLM, as verl calls it): see
  :mod:`rewardlab.serve.compat`;
- ``GET /health``, ``GET /info`` (model config and capabilities),
  ``GET /metrics`` (Prometheus text, :mod:`rewardlab.serve.metrics`, with the
  drift watch of :mod:`rewardlab.serve.drift`).

**What reaches the model.** A route sends either (prompt, response) pairs
(``/score``, ``/compare``, OpenRLHF's queries split at their prompts) or whole
texts without a prompt boundary (LLaMA-Factory, ``/classify``). A pair that
the model reads exactly as sent (``reads_as_sent``: a Hugging Face model whose
chat template the text already carries, :mod:`rewardlab.models.lm.chat`)
is scored as sent; a whole text goes as sent to a model that can read it so
(``score_as_sent``), as LLaMA-Factory's and vLLM's own servers score it. Every
other response loses the end-of-turn texts at its end (the settings'
``strip_suffixes``; by default :data:`~rewardlab.serve.settings.END_OF_TURN_TEXTS`
and the tokenizer's EOS text), and the model formats the pair itself (its chat
template once, or its own join). ``extra_logs["suffix_stripped"]`` (OpenRLHF)
and ``suffix_stripped`` on ``/score`` (when any was cut) show where one was cut.

**References and components.** A verifier or a recipe (a
:class:`~rewardlab.protocols.ReferenceRewardModel` or
:class:`~rewardlab.protocols.ComponentRewardModel`) gets each sample's
reference from ``ground_truth`` (``/score``) or ``labels`` (``/get_reward``),
carried through the micro-batcher as a third column. When the reward requires
references and a request lacks one (``null`` or a blank string, which
OpenRLHF sends when its ``--label_key`` is unset), the answer is 400 naming
that field. For such a reward the framework routes that cannot carry
references (``/v1/score/evaluation``, ``/classify``: :func:`refused_routes`)
are refused at start-up: they answer 404 with ``{"detail", "error"}`` (the
shape of LLaMA-Factory's own errors), and ``/compare`` answers 400. Each
component's values come back as ``components: {name: [...]}`` on ``/score``
and as one ``extra_logs`` key per component on ``/get_reward``; a
multi-output model's named outputs likewise as ``attributes`` and
``extra_logs`` keys. A reward whose values depend on the batch
(``batch_dependent``: a recipe normalizing per batch, per prompt group or by
running statistics) has each request scored in one model call of its own,
never merged with others nor cut into chunks, and a request that cannot form
the batch or the prompt groups such a recipe normalizes over is refused with
400 naming the component (:func:`~rewardlab.serve.model_ops.normalization_refusal`).
A verifier that crashes on one sample gives that sample its failure reward
(and logs why); the batch is still answered.

Every request passes :class:`~rewardlab.serve.guard.Guard` (auth, body size,
cancellation when the client disconnects, metrics); bodies are parsed with a
nesting limit (:mod:`rewardlab.serve.body`). Model calls go through
:class:`~rewardlab.serve.batching.MicroBatcher`, one per kind of call, all on
one worker thread, so concurrent requests share forward passes and the model
is never called from two threads at once. Bad requests get a 4xx
``{"error", "field"}`` body; when a batch fails, each of its requests is
re-run alone, so only a request that fails by itself gets an error (422 when
the model refused its input, 500 otherwise).

(No ``from __future__ import annotations`` here: FastAPI reads the handlers'
annotations at runtime, and ``Request`` is imported lazily inside
:func:`create_app`.)
"""

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from rewardlab import __version__
from rewardlab.protocols import missing_reference
from rewardlab.serve import compat, model_ops
from rewardlab.serve.batching import InputRejected, MicroBatcher, ScoringError
from rewardlab.serve.body import parse_json
from rewardlab.serve.guard import Guard
from rewardlab.serve.metrics import ServerMetrics
from rewardlab.serve.schemas import RequestError, parse_compare, parse_score
from rewardlab.serve.settings import ServeSettings, default_suffixes

if TYPE_CHECKING:
    from fastapi import FastAPI

NATIVE_ROUTES = ("/score", "/compare", "/health", "/info", "/metrics")
"""The app's own paths; it also answers every framework route of :data:`compat.ROUTES`."""


def _require_fastapi() -> Any:
    try:
        import fastapi
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the reward server needs fastapi and uvicorn: pip install 'rewardlab[serve]'"
        ) from err
    return fastapi


def refused_routes(model: object) -> dict[str, str]:
    """Framework routes not served for ``model``, each with the reason: those that cannot
    carry references, when the model needs one per sample."""
    if not model_ops.capabilities(model).requires_reference:
        return {}
    served = model_ops.model_id(model)
    return {
        path: (
            f"{path} is not served: {served} needs a reference (ground truth) for every "
            f"sample, which this route cannot carry; use POST /get_reward with 'labels' or "
            "POST /score with 'ground_truth'"
        )
        for path, route in compat.ROUTES.items()
        if route.references is None
    }


def create_app(
    model: object,
    settings: ServeSettings | None = None,
    decode_image: Callable[[bytes], Any] | None = None,
) -> "FastAPI":
    """A FastAPI app serving ``model`` (needs ``score``, ``prob`` or ``score_steps``);
    ``decode_image`` decodes the ``images`` of ``/score`` (``ValueError`` for a bad one)."""
    fastapi = _require_fastapi()
    from fastapi import Request, Response
    from fastapi.responses import JSONResponse, PlainTextResponse

    settings = (settings or ServeSettings()).validate()
    caps = model_ops.capabilities(model)
    if not (caps.score or caps.compare or caps.steps):
        raise TypeError(
            f"{type(model).__name__} has no score(), prob() or score_steps(); "
            "the server needs a RewardModel or a PreferenceModel"
        )
    served = model_ops.model_id(model)
    compare_rule = model_ops.compare_rule(model)
    logged = model_ops.component_names(model)
    logged += model_ops.attribute_names(model) if caps.attributes else []
    clashes = set(logged) & set(compat.OPENRLHF_LOGS)
    if clashes:
        raise ValueError(
            f"component or attribute names {sorted(clashes)} are reserved for the server's "
            "extra_logs; rename them"
        )
    suffixes = settings.strip_suffixes
    if suffixes is None:
        suffixes = default_suffixes(model_ops.eos_text(model))
    refused = refused_routes(model)
    metrics = ServerMetrics(settings.drift_reference, settings.drift_bins)
    functions: dict[str, Callable[..., Any]] = {}
    if caps.score:
        functions["score"] = model_ops.score_fn(model)
    if caps.references:
        functions["components"] = model_ops.components_fn(model)
    if caps.attributes:
        functions["attributes"] = model_ops.attributes_fn(model)
    if caps.as_sent:
        functions["as_sent"] = model_ops.as_sent_fn(model)
    if caps.uncertainty:
        functions["uncertainty"] = model_ops.uncertainty_fn(model)
    if caps.compare:
        functions["compare"] = model_ops.compare_fn(model)
    if caps.steps:
        functions["steps"] = model_ops.steps_fn(model)
    batchers: dict[str, MicroBatcher] = {}

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardlab-model")
        for kind, fn in functions.items():
            batchers[kind] = MicroBatcher(
                fn,
                max_batch=settings.max_batch,
                max_wait_ms=settings.max_wait_ms,
                executor=executor,
                on_batch=_observer(metrics, kind),
                merge=not caps.batch_dependent,
            )
            batchers[kind].start()
        try:
            yield
        finally:
            for batcher in batchers.values():
                await batcher.stop()
            batchers.clear()
            executor.shutdown(wait=False)

    app = fastapi.FastAPI(title="rewardlab reward server", version=__version__, lifespan=lifespan)
    routes = frozenset((*NATIVE_ROUTES, *compat.ROUTES))
    app.add_middleware(Guard, settings=settings, metrics=metrics, routes=routes)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.model = model

    async def run(kind: str, *columns: Any) -> list[Any]:
        if kind not in batchers:
            raise RequestError(f"{served} cannot do {kind!r}; see GET /info", status=400)
        return await batchers[kind].submit(*columns)

    def references_for(n: int, references: list[Any] | None, field: str | None) -> list[Any]:
        """The references to score with; 400 naming ``field`` when a required one is missing."""
        if not caps.requires_reference:
            return [None] * n if references is None else references
        if field is None:  # a native route that cannot carry references (/compare)
            raise RequestError(
                f"{served} needs a reference (ground truth) for every sample, which this route "
                "cannot carry; use POST /get_reward with 'labels' or POST /score with "
                "'ground_truth'",
                status=400,
            )
        if references is None:
            raise RequestError(
                f"is required: {served} checks each response against a reference (ground truth)",
                field=field,
            )
        missing = [i for i, ref in enumerate(references) if missing_reference(ref)]
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
            raise RequestError(
                f"samples {shown} have no reference ({len(missing)} of {n}); {served} needs "
                "one per sample (null and blank strings count as none)",
                field=field,
            )
        return references

    def end_cut(
        prompts: list[str], responses: list[str], whole: bool
    ) -> tuple[list[str], list[float] | None, bool]:
        """``(responses to score, 1.0 where an end-of-turn text was cut, read as sent)``;
        see "What reaches the model" in the module doc."""
        if whole and caps.as_sent:
            return responses, [0.0] * len(responses) if suffixes else None, True
        if whole:
            keep = [False] * len(responses)
        else:
            keep = model_ops.reads_as_sent(model, prompts, responses)
        if not suffixes:
            return responses, None, False
        cut, flags = compat.strip_responses(responses, suffixes, keep)
        return cut, flags, False

    async def rewards_for(
        route: str,
        prompts: list[str],
        responses: list[str],
        references: list[Any] | None = None,
        field: str | None = None,
        whole: bool = False,
    ) -> compat.Outcome:
        """Rewards and, for a recipe or a multi-output model, each part's values."""
        responses, stripped, as_sent = end_cut(prompts, responses, whole)
        refusal = model_ops.normalization_refusal(model, prompts)
        if refusal is not None:
            raise RequestError(refusal, status=400)
        logs: dict[str, list[float]] = {}
        if caps.references:
            refs = references_for(len(prompts), references, field)
            scored = await run("components", prompts, responses, refs)
            rewards, logs = model_ops.component_columns(scored)
        elif as_sent:
            rewards = await run("as_sent", responses)
        elif caps.attributes and not whole:
            rewards, logs = model_ops.component_columns(
                await run("attributes", prompts, responses)
            )
        elif caps.score:
            rewards = await run("score", prompts, responses)
        elif caps.steps:
            steps = [model_ops.response_steps(model, r) for r in responses]
            rewards = model_ops.outcome_rewards(await run("steps", prompts, steps))
        else:
            raise RequestError(f"{served} is a preference model; use POST /compare", status=400)
        metrics.observe_rewards(route, rewards)
        return compat.Outcome(rewards, logs, stripped, served)

    async def read_json(request: Request) -> Any:
        return parse_json(await request.body(), settings.max_json_depth)

    @app.exception_handler(RequestError)
    async def bad_request(_: Request, err: RequestError) -> Response:
        return JSONResponse(err.payload(), status_code=err.status)

    @app.exception_handler(InputRejected)
    async def input_rejected(_: Request, err: InputRejected) -> Response:
        return JSONResponse({"error": str(err), "field": None}, status_code=422)

    @app.exception_handler(ScoringError)
    async def scoring_failed(_: Request, err: ScoringError) -> Response:
        return JSONResponse({"error": str(err), "field": None}, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": served}

    @app.get("/info")
    async def info() -> dict[str, Any]:
        names = ("max_batch", "max_wait_ms", "max_items", "max_chars", "max_body_bytes")
        names += ("max_json_depth", "metrics_public", "drift_reference", "drift_bins")
        limits = {k: getattr(settings, k) for k in names}
        limits["strip_suffixes"] = list(suffixes)
        limits["refused_routes"] = sorted(refused)
        return {
            **model_ops.model_info(model),
            "compare_rule": compare_rule,
            "decodes_images": decode_image is not None,
            "settings": limits,
            "rewardlab_version": __version__,
        }

    @app.get("/metrics")
    async def prometheus() -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/score")
    async def score(request: Request) -> dict[str, Any]:
        req = parse_score(await read_json(request), settings, decode_image)
        if req.uncertainty and not caps.uncertainty:
            raise RequestError(f"{served} has no score_with_uncertainty()", field="uncertainty")
        if req.steps is not None and not caps.steps:
            raise RequestError(f"{served} is not a process reward model", field="steps")
        out: dict[str, Any] = {}
        if caps.steps:
            steps = req.steps or [
                model_ops.response_steps(model, r) for r in req.responses or []
            ]
            out["step_rewards"] = await run("steps", req.prompts, steps)
        responses = req.responses or ["\n".join(s) for s in req.steps or []]
        if req.uncertainty:
            responses, stripped, _ = end_cut(req.prompts, responses, False)
            pairs = await run("uncertainty", req.prompts, responses)
            out["rewards"] = [r for r, _ in pairs]
            out["uncertainty"] = [s for _, s in pairs]
            metrics.observe_rewards("/score", out["rewards"])
            if stripped and any(stripped):
                out["suffix_stripped"] = stripped
        elif caps.score or not caps.steps:
            outcome = await rewards_for(
                "/score", req.prompts, responses, req.references, "ground_truth"
            )
            out["rewards"] = outcome.rewards
            if outcome.logs:
                out["components" if caps.references else "attributes"] = outcome.logs
            if outcome.stripped and any(outcome.stripped):
                out["suffix_stripped"] = outcome.stripped
        else:
            out["rewards"] = model_ops.outcome_rewards(out["step_rewards"])
            metrics.observe_rewards("/score", out["rewards"])
        return {**out, "model": served}

    @app.post("/compare")
    async def compare(request: Request) -> dict[str, Any]:
        req = parse_compare(await read_json(request), settings)
        if caps.requires_reference:
            references_for(len(req.prompts), None, None)
        first, _, _ = end_cut(req.prompts, req.first, False)
        second, _, _ = end_cut(req.prompts, req.second, False)
        if compare_rule == "preference_model":
            probs = await run("compare", req.prompts, first, second)
        elif compare_rule == "bradley_terry":
            n = len(req.prompts)
            rewards = await run("score", req.prompts + req.prompts, first + second)
            probs = model_ops.bradley_terry(rewards[:n], rewards[n:])
        else:
            raise RequestError(f"{served} has neither prob() nor score()", status=400)
        return {"probs": probs, "rule": compare_rule, "model": served}

    def compat_route(path: str, route: compat.Route) -> None:
        async def handle(request: Request) -> Any:
            if path in refused:
                reason = refused[path]
                return JSONResponse({"detail": reason, "error": reason, "field": None}, 404)
            call = route.parse(await read_json(request), settings)
            outcome = await rewards_for(
                path, call.prompts, call.responses, call.references, route.references, call.whole
            )
            return call.answer(outcome)

        handle.__name__ = route.parse.__name__
        app.post(path)(handle)

    for path, route in compat.ROUTES.items():
        compat_route(path, route)

    return app


def _observer(metrics: ServerMetrics, kind: str) -> Callable[[int, int, float, bool], None]:
    def observe(items: int, jobs: int, seconds: float, ok: bool) -> None:
        metrics.observe_batch(kind, items, jobs, ok)

    return observe
