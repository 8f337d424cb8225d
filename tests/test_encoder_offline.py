"""An encoder that cannot be loaded stops with one line saying what to use instead."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.features.encoder import EncoderUnavailableError, SentenceEncoder


def test_hub_name_offline_names_the_accepted_specs():
    # HF_HUB_OFFLINE=1 (conftest) and a name no cache holds: transformers raises OSError
    with pytest.raises(EncoderUnavailableError) as info:
        SentenceEncoder("rewardlab-tests/no-such-encoder", None, 8)
    message = str(info.value)
    assert "'rewardlab-tests/no-such-encoder' is not available" in message
    assert "--backbone encoder (the bundled all-MiniLM-L6-v2)" in message
    assert "encoder:/path/to/a/model/folder" in message


def test_folder_without_a_model(tmp_path):
    with pytest.raises(EncoderUnavailableError, match="holds no loadable model"):
        SentenceEncoder(str(tmp_path), None, 8)


def test_cli_prints_one_line_and_no_traceback(tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text('{"prompt": "p", "chosen": "a good answer", "rejected": "bad"}\n')
    result = CliRunner().invoke(
        app,
        ["train", "--data", str(data), "--backbone", "encoder:rewardlab-tests/no-such-encoder",
         "--out", str(tmp_path / "m")],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "is not available" in errors[0], result.output
