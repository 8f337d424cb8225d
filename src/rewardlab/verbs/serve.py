"""``serve``: any reward over HTTP, as ``rewardlab serve`` does.

::

    from rewardlab.verbs import ServeSpec, server_app, serve
    app = server_app(ServeSpec(model="runs/rm"))      # a FastAPI app (TestClient, uvicorn)
    serve(ServeSpec(model="runs/rm", port=8000))       # blocks: uvicorn until interrupted

The reward is ``model`` (a rewardlab directory, a Hugging Face folder,
``hf:ORG/NAME``, a judge, an image reward or a comma list of them as one
ensemble) or ``rewards`` (a verifier or recipe, whose references arrive as
OpenRLHF ``labels`` or ``ground_truth`` on ``/score``), loaded by
:func:`rewardlab.verbs.loading.load_source`; :mod:`rewardlab.serve.app` has the
routes and what text reaches the model on each. The server's settings
(:class:`~rewardlab.serve.settings.ServeSettings`: its defaults, and
:meth:`~rewardlab.serve.settings.ServeSettings.validate`, the one home of
their bounds) are checked before anything is loaded; a setting out of range is
an :class:`~rewardlab.options.OptionError` naming its flag, as is a setting the
server would not read (``metrics_public`` without ``api_key_env``; ``max_batch`` and
``max_wait_ms`` for a reward whose values depend on the batch). :func:`prepare`
also says which routes will not be served (those that cannot carry the
references a verifier needs) and warns of a recipe that normalizes by batch or
group. A server sees new texts all day: :func:`serve` reads the embedding
cache but never grows it (:func:`rewardlab.features.cache.default_cache_mode`;
a ``REWARDLAB_CACHE_MODE`` set by the user wins).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardlab.options import OptionError, check, default_of, option
from rewardlab.serve.settings import END_OF_TURN_TEXTS, ServeSettings
from rewardlab.verbs.loading import RewardSource

_DEFAULTS = ServeSettings()


@dataclass(frozen=True, kw_only=True)
class ServeSpec(RewardSource):
    """Everything ``serve`` needs: the reward and the server's settings."""

    host: str = option(_DEFAULTS.host, "Interface to listen on (0.0.0.0 for all).")
    port: int = option(_DEFAULTS.port, "TCP port.")
    max_batch: int = option(_DEFAULTS.max_batch, "Most items merged into one forward pass.")
    max_wait_ms: float = option(_DEFAULTS.max_wait_ms,
                                "Longest wait for a batch to fill, in ms (at most 10000).")
    api_key_env: str | None = option(
        None, "Name of an environment variable holding a bearer token that every route but "
        "/health will require.")
    max_items: int = option(_DEFAULTS.max_items, "Most items in one request.")
    max_chars: int = option(_DEFAULTS.max_chars, "Most characters in one text.")
    max_body_bytes: int = option(_DEFAULTS.max_body_bytes,
                                 "Largest request body, checked before it is read.")
    max_json_depth: int = option(_DEFAULTS.max_json_depth,
                                 "Deepest nesting of arrays/objects in a body.")
    metrics_public: bool = option(_DEFAULTS.metrics_public,
                                  "Leave GET /metrics open when --api-key-env is set.")
    strip_suffix: tuple[str, ...] | None = option(
        None, "End-of-turn text removed from the end of each response that the model does not "
        f"read as sent, on every route (repeatable); default: {' '.join(END_OF_TURN_TEXTS)} "
        "and the served tokenizer's EOS text; '' turns stripping off.")
    drift_reference: int = option(
        _DEFAULTS.drift_reference,
        "First K served rewards per route that the drift PSI on /metrics compares with.")
    drift_bins: int = option(_DEFAULTS.drift_bins, "Bins of the drift PSI.")
    header_timeout: float = option(
        _DEFAULTS.header_timeout_s,
        "Seconds a connection may take to send a request's headers; slower ones are closed.")
    body_timeout: float = option(
        _DEFAULTS.body_timeout_s,
        "Seconds a request's whole body may take after its headers; slower ones get 408.")


SETTING_FLAGS = {"header_timeout_s": "--header-timeout", "body_timeout_s": "--body-timeout",
                 "strip_suffixes": "--strip-suffix", "api_key": "--api-key-env"}
"""A :class:`ServeSettings` field whose flag is not its name spelled with dashes."""


@dataclass
class Served:
    """What :func:`prepare` made: the reward, the settings, and what the server will say
    before it listens (routes it will not serve, a normalization warning)."""

    model: Any
    settings: ServeSettings
    notes: list[str] = field(default_factory=list)
    warning: str | None = None
    source: str = ""

    def banner(self) -> str:
        """``serving SOURCE on http://HOST:PORT (max batch N)``."""
        return (f"serving {self.source} on http://{self.settings.host}:{self.settings.port} "
                f"(max batch {self.settings.max_batch})")


def settings_of(spec: ServeSpec) -> ServeSettings:
    """The server's settings from ``spec`` (the bearer token read from ``api_key_env``);
    :class:`OptionError` naming the flag of the first one out of range."""
    api_key = None
    if spec.api_key_env is not None:
        api_key = os.environ.get(spec.api_key_env)
        if not api_key:
            raise OptionError(f"--api-key-env: environment variable {spec.api_key_env!r} is "
                              "unset or empty")
    elif spec.metrics_public != default_of(ServeSpec, "metrics_public"):
        raise OptionError("--metrics-public: read with --api-key-env only (without a key "
                          "every route is open); leave it out")
    strip = None if spec.strip_suffix is None else tuple(s for s in spec.strip_suffix if s)
    settings = ServeSettings(
        host=spec.host, port=spec.port, max_batch=spec.max_batch, max_wait_ms=spec.max_wait_ms,
        api_key=api_key, max_items=spec.max_items, max_chars=spec.max_chars,
        max_body_bytes=spec.max_body_bytes, max_json_depth=spec.max_json_depth,
        metrics_public=spec.metrics_public, strip_suffixes=strip,
        drift_reference=spec.drift_reference, drift_bins=spec.drift_bins,
        header_timeout_s=spec.header_timeout, body_timeout_s=spec.body_timeout)
    try:
        return settings.validate()
    except ValueError as err:
        name = str(err).split(" ", 1)[0]
        flag = SETTING_FLAGS.get(name, "--" + name.replace("_", "-"))
        raise OptionError(f"{flag}: {err}") from None


def check_model_specs(model: str) -> None:
    """:class:`OptionError` for a spec that is none of the forms a server loads (checked
    before anything is loaded, so a typo costs nothing)."""
    from rewardlab.load import split_specs

    for spec in split_specs(model):
        if not re.match(r"[A-Za-z][A-Za-z0-9_-]*:", spec) and not Path(spec).is_dir():
            raise OptionError(f"--model: {spec} is not a directory, hf:ORG/NAME, judge:… or an "
                              "image reward (clip:, aesthetic:, hpsv2:)")


def prepare(spec: ServeSpec) -> Served:
    """Check ``spec``, load the reward (reading the embedding cache, never growing it) and
    say what the server will refuse or warn of."""
    from rewardlab.features.cache import default_cache_mode
    from rewardlab.serve.app import refused_routes
    from rewardlab.serve.model_ops import normalization_warning
    from rewardlab.verbs.loading import exactly_one, load_source

    check(spec)
    settings = settings_of(spec)
    exactly_one({"--model": spec.model, "--rewards": spec.rewards})
    if spec.model is not None:
        check_model_specs(spec.model)
    with default_cache_mode("read"):
        model = load_source(spec)
    refuse_batching(spec, model)
    return Served(model, settings, list(refused_routes(model).values()),
                  normalization_warning(model), spec.model or spec.rewards or "")


BATCHING = ("max_batch", "max_wait_ms")
"""The settings of merging requests into model calls, which a batch-dependent reward does
not read: each of its requests is one call of its own."""


def refuse_batching(spec: ServeSpec, model: Any) -> None:
    """:class:`OptionError` for a batching setting (:data:`BATCHING`) given for a reward whose
    values depend on the batch (a recipe normalizing by batch or group), which the server
    never merges nor chunks (:class:`~rewardlab.serve.batching.MicroBatcher`)."""
    from rewardlab.serve.model_ops import capabilities

    if not capabilities(model).batch_dependent:
        return
    source = f"--rewards {spec.rewards}" if spec.rewards is not None else f"--model {spec.model}"
    for name in BATCHING:
        if getattr(spec, name) != default_of(ServeSpec, name):
            raise OptionError(f"--{name.replace('_', '-')}: not read by {source} (its values "
                              "depend on the batch: each request is scored in one call of its "
                              "own); leave it out")


def server_app(spec: ServeSpec) -> Any:
    """The FastAPI app :func:`serve` runs (for a test client, or your own ASGI server)."""
    from rewardlab.data.images import decode_image
    from rewardlab.serve.app import create_app

    served = prepare(spec)
    return create_app(served.model, served.settings, decode_image)


def serve(spec: ServeSpec, on_ready: Callable[[Served], None] | None = None) -> Served:
    """Prepare, call ``on_ready(served)`` (the CLI prints the notes and the banner), then
    serve until interrupted."""
    from rewardlab.data.images import decode_image
    from rewardlab.features.cache import default_cache_mode
    from rewardlab.serve.runner import run_server

    with default_cache_mode("read"):
        served = prepare(spec)
        if on_ready is not None:
            on_ready(served)
        run_server(served.model, served.settings, decode_image=decode_image)
    return served
