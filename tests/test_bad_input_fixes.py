"""What the bad-input fixes still let through, and the checks behind them, one by one.

The suite (``tests/test_bad_input_suite*.py``) shows every bad input is refused; these
tests show the good inputs next to them still work (a clean saved model is replaced,
``--overwrite`` replaces a user's folder, ``1e-3`` in a YAML recipe is a number, a
template may write braces, ``--device cpu`` loads a Hugging Face model), and check the
pieces directly (file modes, the output and device checks, the loss and head options).
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from typer.testing import CliRunner

from bad_input_kit import pairs_rows, pool_rows, write_jsonl
from rewardlab.atomic import output_problem
from rewardlab.cli.main import app
from rewardlab.models.lm.hub import check_device
from rewardlab.options import OptionError
from rewardlab.verbs.outputs import check_model_out, foreign_entries
from rewardlab.verbs.train_checks import check_head_params, check_loss_params, loss_options
from test_bad_input_suite import tiny_model

runner = CliRunner()


def invoke(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_saved_model_files_get_the_ordinary_modes(tmp_path):
    """safetensors writes 0600 files; every file of a saved model is 0666 less the umask."""
    old = os.umask(0o022)
    try:
        tiny_model(tmp_path / "m", 1)
        data = write_jsonl(tmp_path / "pairs.jsonl", pairs_rows(12))
        invoke("train", "--data", data, "--backbone", "hashing,hashing", "--out", tmp_path / "e")
    finally:
        os.umask(old)
    files = [*(tmp_path / "m").iterdir(), *(tmp_path / "e").rglob("*")]
    assert any(f.name == "model.safetensors" for f in files)
    for path in files:
        expected = 0o755 if path.is_dir() else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_a_clean_saved_model_is_replaced_and_overwrite_replaces_a_users_folder(tmp_path):
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs_rows(12))
    model = tiny_model(tmp_path / "m", 1)
    (model / "metrics.json").write_text("{}")
    invoke("train", "--data", data, "--backbone", "hashing", "--out", model)
    assert json.loads((model / "config.json").read_text())["backbone"]["n_features"] != 8
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    invoke("train", "--data", data, "--backbone", "hashing", "--out", mine, "--overwrite")
    assert not (mine / "notes.txt").exists() and (mine / "model.safetensors").is_file()


def test_what_belongs_to_a_saved_model(tmp_path):
    model = tiny_model(tmp_path / "m", 1)
    (model / ".metrics.json.999999999.ab12.tmp").write_text("litter of a killed writer")
    assert foreign_entries(model) == []
    (model / "notes").mkdir()
    (model / "notes" / "a.txt").write_text("x")
    assert foreign_entries(model) == ["notes", "notes/a.txt"]
    with pytest.raises(ValueError, match=r"holds a saved model and other files \(notes, "):
        check_model_out(model, overwrite=False)
    check_model_out(model, overwrite=True)


def test_output_problems(tmp_path):
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    assert output_problem(tmp_path / "new" / "deeper" / "out.json") is None
    assert output_problem(tmp_path / "file") is None
    assert output_problem(tmp_path / "link") is None  # a link to a regular file is replaced
    assert output_problem(tmp_path) == "is a folder, not a file"
    assert output_problem(tmp_path / "pipe") == "is a device, pipe or socket, not a regular file"
    assert output_problem(tmp_path / "file" / "x") == f"cannot create it: {tmp_path / 'file'} is not a folder"
    assert output_problem(tmp_path, "folder") is None
    assert output_problem(tmp_path / "file", "folder") == "is a file, not a folder"
    assert output_problem(tmp_path / "link", "folder").startswith("is a symbolic link;")
    assert output_problem("/dev/null") == "is a device, pipe or socket, not a regular file"


def test_recipe_reads_yaml_1_2_numbers(tmp_path):
    from rewardlab.data.errors import DataError
    from rewardlab.robust.recipe.spec import read_recipe_file

    recipe = tmp_path / "r.yaml"
    recipe.write_text("components:\n  a: {verifier: math}\n  b: {verifier: format}\n"
                      "combine:\n  weights: {a: 1e-3, b: -2.5E+1}\n")
    assert read_recipe_file(recipe).combine.weights == {"a": 0.001, "b": -25.0}
    recipe.write_text("components:\n  a: {verifier: math}\ncombine:\n  weights: {a: '1e-3'}\n")
    with pytest.raises(DataError, match="combine.weights.a.*expected a number, got '1e-3'"):
        read_recipe_file(recipe)  # quoted, it stays a string


def test_template_writes_braces_and_fills_score_and_prompt(tmp_path):
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows(prompts=1, per_prompt=3))
    out = tmp_path / "pairs.jsonl"
    invoke("build", "pairs", "--method", "reward-augmented", "--scores-column", "s",
           "--template", "{{json}} score {score}: {prompt}", "--data", pool, "--out", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["prompt"] for row in rows] == ["{json} score 2.0: question 0",
                                               "{json} score 0.0: question 0"]


def test_device_check():
    check_device("cpu")
    for bad in ("bogus", "meta", "cuda:x"):
        with pytest.raises(ValueError, match="--device: "):
            check_device(bad)
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ValueError, match=f"{count} CUDA device"):
        check_device(f"cuda:{count}")


def test_hugging_face_model_on_cpu_with_weights(tmp_path):
    """The load checks pass a good checkpoint; ``--weights 2`` doubles its one output (the
    reward is Σ w_k · o_k), against the same model without weights."""
    from tiny_hf import save_encoder_rm

    folder = save_encoder_rm(tmp_path / "rm")
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows())
    invoke("score", "--model", folder, "--data", pool, "--out", tmp_path / "a.jsonl",
           "--device", "cpu")
    invoke("score", "--model", folder, "--data", pool, "--out", tmp_path / "b.jsonl",
           "--weights", "2")
    plain = [json.loads(line)["reward"] for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    doubled = [json.loads(line)["reward"] for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    np.testing.assert_allclose(doubled, 2 * np.asarray(plain), rtol=1e-6)
    assert np.ptp(plain) > 0


def test_loss_and_head_options():
    assert loss_options("bt") == {"strength_from": None, "use_margin": False}
    assert loss_options("label-smoothing") == {"strength_from": None, "alpha": 0.1}
    assert "log_nu" not in loss_options("davidson")  # learned, not set
    check_loss_params("label-smoothing", {"alpha": 0.2, "strength_from": "judge"})
    check_loss_params("bt", {"use_margin": True})
    for loss, params in (("bt", {"alpha": 0.1}), ("bt", {"use_margin": 1}),
                         ("label-smoothing", {"alpha": True}), ("davidson", {"log_nu": 0.0})):
        with pytest.raises(OptionError):
            check_loss_params(loss, params)
    check_head_params("mlp", {"hidden": 10**9, "dropout": 0.2}, 3)  # meta device: no memory
    with pytest.raises(OptionError, match="hidden"):
        check_head_params("mlp", {"hidden": 1.5}, 1)


def test_two_checkpoints_of_one_size_never_share_cached_vectors(tmp_path):
    """The cache key samples the weights' bytes: a base model and its fine-tune have files
    of the same size (the old key, name and size only, gave them one cache folder)."""
    from rewardlab.features.encoder import model_identity
    from tiny_hf import save_encoder_rm

    a, b = save_encoder_rm(tmp_path / "a", seed=0), save_encoder_rm(tmp_path / "b", seed=1)
    assert (a / "model.safetensors").stat().st_size == (b / "model.safetensors").stat().st_size
    assert model_identity(str(a)) != model_identity(str(b))
    assert model_identity(str(a)) == model_identity(str(a))


def test_non_finite_embeddings_are_refused_and_never_cached(tmp_path, monkeypatch):
    import torch

    from rewardlab.features.cache import EmbeddingCache
    from rewardlab.features.encoder import EncoderBackbone, SentenceEncoder

    cache = EmbeddingCache("model", 8, tmp_path)
    cache.store(["ok", "bad"], np.array([[1.0, 2.0], [np.nan, 0.0]], np.float32))
    found, missing = EmbeddingCache("model", 8, tmp_path).lookup(["ok", "bad"])
    assert missing == [1]  # a NaN vector stored by an older version is encoded again
    original = SentenceEncoder._pooled
    monkeypatch.setattr(SentenceEncoder, "_pooled",
                        lambda self, ids: original(self, ids) * torch.nan)
    backbone = EncoderBackbone(cache_dir=str(tmp_path / "enc"), batch_size=2)
    with pytest.raises(ValueError, match="NaN or infinite embeddings for 2 texts"):
        backbone.embed(["one text", "another text"])
    assert not list((tmp_path / "enc").rglob("*.safetensors"))
