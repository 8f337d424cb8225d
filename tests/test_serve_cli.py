"""``rewardlab serve``: options reach the server; bad options fail before loading."""

from __future__ import annotations

import sys
import types

import pytest
import typer
from typer.testing import CliRunner

from rewardlab.cli import serve_cmd
from rewardlab.models.baselines import LengthReward


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """A Typer app with ``serve`` whose model loader and uvicorn are replaced."""
    loaded: list[object] = []
    served: list[tuple[object, object]] = []

    fake_loading = types.ModuleType("rewardlab.robust.loading")

    def load_reward_model(path):
        loaded.append(path)
        return LengthReward()

    fake_loading.load_reward_model = load_reward_model
    monkeypatch.setitem(sys.modules, "rewardlab.robust.loading", fake_loading)
    import rewardlab.serve.runner as runner

    monkeypatch.setattr(
        runner, "run_server", lambda model, settings: served.append((model, settings))
    )
    app = typer.Typer()
    app.callback()(lambda: None)  # keep "serve" as a named subcommand
    serve_cmd.register(app)
    model_dir = tmp_path / "rm"
    model_dir.mkdir()
    return app, model_dir, loaded, served


def test_serve_passes_every_option(cli, monkeypatch):
    app, model_dir, loaded, served = cli
    monkeypatch.setenv("RM_TOKEN", "tok")
    args = ["serve", "--model", str(model_dir), "--host", "0.0.0.0", "--port", "9001"]
    args += ["--max-batch", "16", "--max-wait-ms", "2.5", "--api-key-env", "RM_TOKEN"]
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    assert loaded == [model_dir]
    ((model, settings),) = served
    assert isinstance(model, LengthReward)
    assert (settings.host, settings.port, settings.max_batch) == ("0.0.0.0", 9001, 16)
    assert (settings.max_wait_ms, settings.api_key) == (2.5, "tok")
    assert "http://0.0.0.0:9001" in result.output


def test_missing_token_variable_fails_before_loading(cli, monkeypatch):
    app, model_dir, loaded, served = cli
    monkeypatch.delenv("RM_TOKEN", raising=False)
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["serve", "--model", str(model_dir), "--api-key-env", "RM_TOKEN"]
    )
    assert result.exit_code != 0
    assert "RM_TOKEN" in result.output
    assert loaded == [] and served == []


def test_bad_batch_size_and_missing_directory(cli, tmp_path):
    app, model_dir, loaded, _ = cli
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["serve", "--model", str(model_dir), "--max-batch", "0"]
    )
    assert result.exit_code != 0 and "max_batch" in result.output
    result = CliRunner(env={"COLUMNS": "250"}).invoke(
        app, ["serve", "--model", str(tmp_path / "absent")]
    )
    assert result.exit_code != 0 and "not a directory" in result.output
    assert loaded == []
