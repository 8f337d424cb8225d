"""The reward server: one FastAPI app around any reward or preference model.

Routes (all JSON; every route but ``/health`` needs ``Authorization: Bearer
<key>`` when ``ServeSettings.api_key`` is set):

- ``POST /score``: ``{prompts, responses, uncertainty?}`` →
  ``{rewards, uncertainty?, model}``; for a process reward model also
  ``step_rewards`` (send ``steps`` instead of ``responses`` to give the steps);
- ``POST /compare``: ``{prompts, first, second}`` → ``{probs, model}``,
  P(first ≻ second) from a ``PreferenceModel`` (400 for a scalar model);
- ``POST /get_reward`` (OpenRLHF), ``POST /v1/score/evaluation``
  (LLaMA-Factory) and ``POST /classify`` (vLLM, as verl calls it): see
  :mod:`rewardlab.serve.compat`;
- ``GET /health``, ``GET /info`` (model config and capabilities),
  ``GET /metrics`` (Prometheus text, :mod:`rewardlab.serve.metrics`).

Model calls go through :class:`~rewardlab.serve.batching.MicroBatcher`, one per
kind of call, all on one worker thread, so concurrent requests share forward
passes and the model is never called from two threads at once. Bad requests get
a 4xx ``{"error", "field"}`` body; a failing batch gets 500 for its requests
only.

(No ``from __future__ import annotations`` here: FastAPI reads the handlers'
annotations at runtime, and ``Request`` is imported lazily inside
:func:`create_app`.)
"""

import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from rewardlab import __version__
from rewardlab.serve import compat, model_ops
from rewardlab.serve.batching import MicroBatcher, ScoringError
from rewardlab.serve.metrics import ServerMetrics
from rewardlab.serve.schemas import RequestError, parse_compare, parse_score
from rewardlab.serve.settings import ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

ROUTES = (
    "/score",
    "/compare",
    "/get_reward",
    "/v1/score/evaluation",
    "/classify",
    "/health",
    "/info",
    "/metrics",
)
OPEN_ROUTES = frozenset({"/health"})


def _require_fastapi() -> Any:
    try:
        import fastapi
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the reward server needs fastapi and uvicorn: pip install 'rewardlab[serve]'"
        ) from err
    return fastapi


def create_app(model: object, settings: ServeSettings | None = None) -> "FastAPI":
    """A FastAPI app serving ``model`` (needs ``score``, ``prob`` or ``score_steps``)."""
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
    metrics = ServerMetrics()
    functions: dict[str, Callable[..., Any]] = {}
    if caps.score:
        functions["score"] = model_ops.score_fn(model)
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
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.model = model

    async def run(kind: str, *columns: Any) -> list[Any]:
        if kind not in batchers:
            raise RequestError(f"{served} cannot do {kind!r}; see GET /info", status=400)
        return await batchers[kind].submit(*columns)

    async def rewards_for(prompts: list[str], responses: list[str]) -> list[float]:
        if caps.score:
            return await run("score", prompts, responses)
        if caps.steps:
            steps = [model_ops.split_steps(r) for r in responses]
            return model_ops.min_step(await run("steps", prompts, steps))
        raise RequestError(f"{served} is a preference model; use POST /compare", status=400)

    @app.middleware("http")
    async def guard_and_measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        path = request.url.path
        route = path if path in ROUTES else "other"
        if (
            settings.api_key is not None
            and path not in OPEN_ROUTES
            and not _authorized(request.headers.get("authorization"), settings.api_key)
        ):
            response: Response = JSONResponse(
                {"error": "missing or wrong bearer token", "field": "Authorization"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            try:
                response = await call_next(request)
            except Exception:
                metrics.observe_request(route, 500, time.perf_counter() - start)
                raise
        metrics.observe_request(route, response.status_code, time.perf_counter() - start)
        return response

    @app.exception_handler(RequestError)
    async def bad_request(_: Request, err: RequestError) -> Response:
        return JSONResponse(err.payload(), status_code=err.status)

    @app.exception_handler(ScoringError)
    async def scoring_failed(_: Request, err: ScoringError) -> Response:
        return JSONResponse({"error": str(err), "field": None}, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": served}

    @app.get("/info")
    async def info() -> dict[str, Any]:
        limits = {
            k: getattr(settings, k) for k in ("max_batch", "max_wait_ms", "max_items", "max_chars")
        }
        return {**model_ops.model_info(model), "settings": limits, "rewardlab_version": __version__}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.post("/score")
    async def score(request: Request) -> dict[str, Any]:
        req = parse_score(await _json(request), settings)
        if req.uncertainty and not caps.uncertainty:
            raise RequestError(f"{served} has no score_with_uncertainty()", field="uncertainty")
        if req.steps is not None and not caps.steps:
            raise RequestError(f"{served} is not a process reward model", field="steps")
        out: dict[str, Any] = {}
        if caps.steps:
            steps = req.steps or [model_ops.split_steps(r) for r in req.responses or []]
            out["step_rewards"] = await run("steps", req.prompts, steps)
        responses = req.responses or ["\n".join(s) for s in req.steps or []]
        if req.uncertainty:
            pairs = await run("uncertainty", req.prompts, responses)
            out["rewards"] = [r for r, _ in pairs]
            out["uncertainty"] = [s for _, s in pairs]
        elif caps.score or not caps.steps:
            out["rewards"] = await rewards_for(req.prompts, responses)
        else:
            out["rewards"] = model_ops.min_step(out["step_rewards"])
        return {**out, "model": served}

    @app.post("/compare")
    async def compare(request: Request) -> dict[str, Any]:
        req = parse_compare(await _json(request), settings)
        if not caps.compare:
            raise RequestError(f"{served} is not a PreferenceModel (no prob())", status=400)
        return {"probs": await run("compare", req.prompts, req.first, req.second), "model": served}

    @app.post("/get_reward")
    async def openrlhf(request: Request) -> dict[str, Any]:
        texts = compat.parse_openrlhf(await _json(request), settings)
        rewards = await rewards_for(texts.prompts, texts.responses)
        return compat.openrlhf_response(rewards, texts)

    @app.post("/v1/score/evaluation")
    async def llamafactory(request: Request) -> dict[str, Any]:
        name, texts = compat.parse_llamafactory(await _json(request), settings)
        rewards = await rewards_for(*compat.whole_texts(texts))
        return compat.llamafactory_response(name or served, rewards)

    @app.post("/classify")
    async def classify(request: Request) -> dict[str, Any]:
        req = compat.parse_classify(await _json(request), settings)
        rewards = await rewards_for(*compat.whole_texts(req.texts))
        return compat.classify_response(req, rewards, served)

    return app


def _authorized(header: str | None, key: str) -> bool:
    scheme, _, token = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())


async def _json(request: "Request") -> Any:
    body = await request.body()
    if not body:
        raise RequestError("the request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(f"the request body is not valid JSON: {err}") from None


def _observer(metrics: ServerMetrics, kind: str) -> Callable[[int, int, float, bool], None]:
    def observe(items: int, jobs: int, seconds: float, ok: bool) -> None:
        metrics.observe_batch(kind, items, jobs, ok)

    return observe
