"""``rewardlab serve``: serve a saved reward model over HTTP (uvicorn).

Loads the model directory with ``rewardlab.robust.loading.load_reward_model`` and serves it
with :func:`rewardlab.serve.create_app`; see :mod:`rewardlab.serve.app` for the
routes (native, OpenRLHF, LLaMA-Factory and vLLM-style). Heavy imports happen
only when the command runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer


def serve(
    model: Path = typer.Option(..., "--model", help="Saved model directory to serve."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, help="TCP port."),
    max_batch: int = typer.Option(64, help="Most items merged into one forward pass."),
    max_wait_ms: float = typer.Option(5.0, help="Longest wait for a batch to fill, in ms."),
    api_key_env: str | None = typer.Option(
        None,
        help="Name of an environment variable holding a bearer token that every route "
        "but /health will require.",
    ),
    max_items: int = typer.Option(4096, help="Most items in one request."),
    max_chars: int = typer.Option(100_000, help="Most characters in one text."),
) -> None:
    """Serve a reward model: POST /score, /compare, /get_reward, /v1/score/evaluation, /classify."""
    from rewardlab.serve.runner import run_server
    from rewardlab.serve.settings import ServeSettings

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
    )
    try:
        settings.validate()
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    if not model.is_dir():
        raise typer.BadParameter(f"{model} is not a directory", param_hint="--model")
    from rewardlab.robust.loading import load_reward_model

    loaded = load_reward_model(model)
    typer.echo(f"serving {model} on http://{host}:{port} (max batch {max_batch})")
    run_server(loaded, settings)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``rewardlab`` application."""
    app.command("serve")(serve)
