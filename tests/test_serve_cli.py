"""``rewardlab serve``: options reach the server; bad options fail before loading."""

from __future__ import annotations

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

    def load_reward_model(path, **options):
        loaded.append(path)
        return LengthReward()

    monkeypatch.setattr("rewardlab.load.load_reward_model", load_reward_model)
    import rewardlab.serve.runner as runner

    monkeypatch.setattr(
        runner, "run_server", lambda model, settings, **kw: served.append((model, settings))
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
    assert loaded == [str(model_dir)]
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


def test_serve_reliability_options(cli, monkeypatch):
    app, model_dir, _, served = cli
    monkeypatch.setenv("RM_TOKEN", "tok")
    args = ["serve", "--model", str(model_dir), "--api-key-env", "RM_TOKEN", "--metrics-public"]
    args += ["--max-body-bytes", "2048"]
    args += ["--max-json-depth", "50", "--strip-suffix", "</s>", "--strip-suffix", "<|im_end|>"]
    args += ["--drift-reference", "200", "--drift-bins", "5"]
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    ((_, settings),) = served
    assert settings.metrics_public and settings.max_body_bytes == 2048
    assert settings.max_json_depth == 50 and settings.strip_suffixes == ("</s>", "<|im_end|>")
    assert (settings.drift_reference, settings.drift_bins) == (200, 5)


def test_strip_suffix_defaults_to_the_tokenizer_and_empty_turns_it_off(cli):
    app, model_dir, _, served = cli
    runner = CliRunner(env={"COLUMNS": "250"})
    assert runner.invoke(app, ["serve", "--model", str(model_dir)]).exit_code == 0
    assert (
        runner.invoke(app, ["serve", "--model", str(model_dir), "--strip-suffix", ""]).exit_code
        == 0
    )
    (_, default), (_, off) = served
    assert default.strip_suffixes is None and default.metrics_public is False
    assert off.strip_suffixes == ()
    bad = runner.invoke(app, ["serve", "--model", str(model_dir), "--drift-bins", "1"])
    assert bad.exit_code != 0 and "drift_bins" in bad.output


def test_rewards_serves_a_verifier_or_recipe_instead_of_a_model(cli, tmp_path):
    from rewardlab.robust.recipe import Recipe

    app, model_dir, loaded, served = cli
    runner = CliRunner(env={"COLUMNS": "250"})
    result = runner.invoke(app, ["serve", "--rewards", "math", "--port", "9002"])
    assert result.exit_code == 0, result.output
    ((recipe, settings),) = served
    assert isinstance(recipe, Recipe) and list(recipe.components) == ["math"]
    assert recipe.requires_reference and settings.port == 9002 and loaded == []
    recipe_file = tmp_path / "r.json"
    recipe_file.write_text('{"components": {"fmt": {"verifier": "format"}}}')
    assert runner.invoke(app, ["serve", "--rewards", str(recipe_file)]).exit_code == 0
    assert list(served[1][0].components) == ["fmt"]
    both = runner.invoke(app, ["serve", "--model", str(model_dir), "--rewards", "math"])
    neither = runner.invoke(app, ["serve"])
    for result in (both, neither):
        assert result.exit_code != 0 and "exactly one of --model and --rewards" in result.output
    assert len(served) == 2 and loaded == []


def test_serving_reads_the_embedding_cache_without_growing_it(cli, monkeypatch):
    """While serving, REWARDLAB_CACHE_MODE is ``read`` (no new shards for every new text);
    afterwards the environment is as it was, and a mode the user set wins."""
    import os

    import rewardlab.serve.runner as runner

    app, model_dir, _, _ = cli
    seen: list[str | None] = []
    monkeypatch.setattr(
        runner, "run_server", lambda model, settings, **kw: seen.append(os.environ.get("REWARDLAB_CACHE_MODE"))
    )
    monkeypatch.delenv("REWARDLAB_CACHE_MODE", raising=False)
    result = CliRunner().invoke(app, ["serve", "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert seen == ["read"] and "REWARDLAB_CACHE_MODE" not in os.environ
    monkeypatch.setenv("REWARDLAB_CACHE_MODE", "off")
    assert CliRunner().invoke(app, ["serve", "--model", str(model_dir)]).exit_code == 0
    assert seen == ["read", "off"] and os.environ["REWARDLAB_CACHE_MODE"] == "off"
