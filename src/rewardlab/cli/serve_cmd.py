"""``rewardlab serve``: serve a saved reward model, a verifier or a recipe over HTTP (uvicorn).

``--model SPEC`` loads a rewardlab directory, a Hugging Face folder,
``hf:ORG/NAME``, a judge or a comma list of them
(:func:`rewardlab.cli.model_options.load_model_option`); ``--rewards SPEC`` loads a
registered verifier (``math``) or a recipe file with
:func:`rewardlab.robust.recipe.load_rewards`, whose references arrive as
OpenRLHF ``labels`` or ``ground_truth`` on ``/score``. Either is served with
:func:`rewardlab.serve.create_app`; see :mod:`rewardlab.serve.app` for the
routes (native, OpenRLHF, LLaMA-Factory and vLLM-style) and for what text
reaches the model on each (``--chat-template``, ``--strip-suffix``). Before
listening it prints one line per route it will not serve (those that cannot
carry the references a verifier needs) and a warning for a recipe that
normalizes by batch or group. Option defaults come from
:class:`~rewardlab.serve.settings.ServeSettings` (a light module); heavy
imports happen only when the command runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import typer

from rewardlab.cli.command import command
from rewardlab.cli.model_options import (
    MODEL_HELP,
    ModelLoading,
    aggregate_option,
    load_model_option,
    model_option,
    split_specs,
    with_model_loading,
)
from rewardlab.cli.rewards_option import unsafe_no_sandbox_option
from rewardlab.serve.settings import END_OF_TURN_TEXTS, ServeSettings


@with_model_loading
def serve(
    model: str | None = model_option(required=False, help=MODEL_HELP + " Or give --rewards."),
    rewards: str | None = typer.Option(
        None,
        "--rewards",
        help="Verifier name (math, choice, exact, format, json_schema, code, …) or recipe "
        "file (.yaml/.yml/.json) to serve instead of --model; references come from OpenRLHF "
        "'labels' or /score 'ground_truth'.",
    ),
    unsafe_no_sandbox: bool = unsafe_no_sandbox_option(),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, help="TCP port."),
    max_batch: int = typer.Option(64, help="Most items merged into one forward pass."),
    max_wait_ms: float = typer.Option(
        5.0, help="Longest wait for a batch to fill, in ms (at most 10000)."
    ),
    api_key_env: str | None = typer.Option(
        None,
        help="Name of an environment variable holding a bearer token that every route "
        "but /health will require.",
    ),
    max_items: int = typer.Option(4096, help="Most items in one request."),
    max_chars: int = typer.Option(100_000, help="Most characters in one text."),
    max_body_bytes: int = typer.Option(
        ServeSettings.max_body_bytes, help="Largest request body, checked before it is read."
    ),
    max_json_depth: int = typer.Option(
        ServeSettings.max_json_depth, help="Deepest nesting of arrays/objects in a body."
    ),
    metrics_public: bool = typer.Option(
        False, "--metrics-public", help="Leave GET /metrics open when --api-key-env is set."
    ),
    strip_suffix: list[str] | None = typer.Option(
        None,
        help="End-of-turn text removed from the end of each response that the model does not "
        "read as sent, on every route (repeatable); default: "
        f"{' '.join(END_OF_TURN_TEXTS)} and the served tokenizer's EOS text; '' turns "
        "stripping off.",
    ),
    drift_reference: int = typer.Option(
        ServeSettings.drift_reference,
        help="First K served rewards per route that the drift PSI on /metrics compares with.",
    ),
    drift_bins: int = typer.Option(ServeSettings.drift_bins, help="Bins of the drift PSI."),
    header_timeout: float = typer.Option(
        ServeSettings.header_timeout_s,
        help="Seconds a connection may take to send a request's headers; slower ones are closed.",
    ),
    body_timeout: float = typer.Option(
        ServeSettings.body_timeout_s,
        help="Seconds a request's whole body may take after its headers; slower ones get 408.",
    ),
    aggregate: str | None = aggregate_option(),
    loading: ModelLoading = None,
) -> None:
    """Serve a reward model, verifier or recipe: POST /score, /compare, /get_reward,
    /v1/score/evaluation, /classify."""
    from rewardlab.serve.runner import run_server

    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise typer.BadParameter(
                f"environment variable {api_key_env!r} is unset or empty",
                param_hint="--api-key-env",
            )
    settings = ServeSettings(
        host=host,
        port=port,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        api_key=api_key,
        max_items=max_items,
        max_chars=max_chars,
        max_body_bytes=max_body_bytes,
        max_json_depth=max_json_depth,
        metrics_public=metrics_public,
        strip_suffixes=None if strip_suffix is None else tuple(s for s in strip_suffix if s),
        drift_reference=drift_reference,
        drift_bins=drift_bins,
        header_timeout_s=header_timeout,
        body_timeout_s=body_timeout,
    )
    try:
        settings.validate()
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    if (model is None) == (rewards is None):
        raise typer.BadParameter("give exactly one of --model and --rewards", param_hint="--model")
    if aggregate is not None and model is None:
        raise typer.BadParameter(
            "only with --model (it reduces an ensemble's members)", param_hint="'--aggregate'"
        )
    if model is not None:
        for spec in split_specs(model):
            if not re.match(r"[A-Za-z][A-Za-z0-9_-]*:", spec) and not Path(spec).is_dir():
                raise typer.BadParameter(
                    f"{spec} is not a directory, hf:ORG/NAME, judge:… or an image reward "
                    "(clip:, aesthetic:, hpsv2:)", param_hint="--model"
                )
    from rewardlab.features.cache import default_cache_mode

    # A server sees new texts all day: it reads the embedding cache but never grows it
    # (rewardlab.features.cache); a REWARDLAB_CACHE_MODE set by the user wins.
    with default_cache_mode("read"):
        if model is not None:
            loaded = load_model_option(model, loading, aggregate)
        else:
            from rewardlab.cli.rewards_option import load_cli_rewards

            loaded = load_cli_rewards(str(rewards))
        from rewardlab.serve.app import refused_routes
        from rewardlab.serve.model_ops import normalization_warning

        for reason in refused_routes(loaded).values():
            typer.echo(f"note: {reason}", err=True)
        warning = normalization_warning(loaded)
        if warning is not None:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"serving {model or rewards} on http://{host}:{port} (max batch {max_batch})")
        from rewardlab.data.images import decode_image

        run_server(loaded, settings, decode_image=decode_image)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``rewardlab`` application."""
    command(app, "serve")(serve)
