"""Image responses end to end: ``rewardlab score`` on an image column, and ``/score`` with
base64 images giving the same numbers; a bad image is a 4xx naming the item."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.data.images import decode_image, encode_png
from rewardlab.load import load_reward_model
from rewardlab.serve.app import create_app
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import ServeSettings
from tiny_clip import save_clip

PROMPTS = ["a red cat", "the dog is blue", "green water"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("img")
    folder = save_clip(root / "clip", seed=1)
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                for h, w in ((32, 32), (40, 57), (36, 30))]
    (root / "pics").mkdir()
    for k, picture in enumerate(pictures):
        (root / "pics" / f"{k}.png").write_bytes(encode_png(picture))
    spec = f"clip:{folder}"
    return root, spec, pictures, load_reward_model(spec).score(PROMPTS, pictures)


def _b64(picture: np.ndarray) -> str:
    return base64.b64encode(encode_png(picture)).decode("ascii")


def _score_cli(spec, data, out, *extra):
    result = CliRunner().invoke(app, ["score", "--model", spec, "--data", str(data),
                                      "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_cli_score_reads_paths_relative_to_the_file_and_bytes_in_parquet(setup):
    root, spec, pictures, expected = setup
    jsonl = root / "rows.jsonl"
    jsonl.write_text("".join(json.dumps({"prompt": p, "image": f"pics/{k}.png"}) + "\n"
                             for k, p in enumerate(PROMPTS)))
    rows = _score_cli(spec, jsonl, root / "out1.jsonl")
    np.testing.assert_allclose([r["reward"] for r in rows], expected, atol=1e-6)
    assert rows[1]["image"] == "pics/1.png"
    parquet = root / "rows.parquet"
    pd.DataFrame({"prompt": PROMPTS,
                  "picture": [encode_png(p) for p in pictures[:2]] + [_b64(pictures[2])]}
                 ).to_parquet(parquet)
    rows = _score_cli(spec, parquet, root / "out2.jsonl", "--image-column", "picture")
    np.testing.assert_allclose([r["reward"] for r in rows], expected, atol=1e-6)
    assert set(rows[0]["picture"]) == {"sha256"}


def test_cli_score_names_the_line_and_column_of_a_bad_image(setup):
    root, spec, _, _ = setup
    (root / "pics" / "bad.png").write_bytes(encode_png(np.zeros((4, 4, 3), np.uint8))[:30])
    jsonl = root / "bad.jsonl"
    jsonl.write_text(json.dumps({"prompt": "a", "image": "pics/0.png"}) + "\n"
                     + json.dumps({"prompt": "b", "image": "pics/bad.png"}) + "\n")
    result = CliRunner().invoke(app, ["score", "--model", spec, "--data", str(jsonl),
                                      "--out", str(root / "never.jsonl")])
    assert result.exit_code == 1
    assert "bad.jsonl:2: field 'image'" in result.output
    assert "not a decodable image" in result.output
    assert not (root / "never.jsonl").exists()


@pytest.fixture(scope="module")
def server(setup):
    _, spec, _, _ = setup
    settings = ServeSettings(max_items=3, max_wait_ms=1)
    with BackgroundServer(create_app(load_reward_model(spec), settings, decode_image)) as srv:
        yield srv.url


def test_score_with_base64_images_equals_rewardlab_score(setup, server):
    root, spec, pictures, _ = setup
    jsonl = root / "same.jsonl"
    jsonl.write_text("".join(json.dumps({"prompt": p, "image": f"pics/{k}.png"}) + "\n"
                             for k, p in enumerate(PROMPTS)))
    cli = [r["reward"] for r in _score_cli(spec, jsonl, root / "same_out.jsonl")]
    images = [_b64(pictures[0]), "data:image/png;base64," + _b64(pictures[1]), _b64(pictures[2])]
    out = httpx.post(f"{server}/score", json={"prompts": PROMPTS, "images": images}).json()
    np.testing.assert_allclose(out["rewards"], cli, atol=1e-6)
    assert httpx.get(f"{server}/info").json()["decodes_images"] is True


def test_a_truncated_png_is_a_400_naming_the_item_and_the_server_keeps_serving(setup, server):
    _, _, pictures, expected = setup
    truncated = base64.b64encode(encode_png(pictures[1])[:60]).decode("ascii")
    reply = httpx.post(f"{server}/score",
                       json={"prompts": PROMPTS[:2], "images": [_b64(pictures[0]), truncated]})
    assert reply.status_code == 400
    assert reply.json()["field"] == "images[1]"
    assert "not a decodable image" in reply.json()["error"]
    reply = httpx.post(f"{server}/score", json={"prompts": PROMPTS[:1], "images": ["%%%"]})
    assert reply.status_code == 400 and reply.json()["field"] == "images[0]"
    reply = httpx.post(f"{server}/score", json={"prompts": ["a"] * 4,
                                                "images": [_b64(pictures[0])] * 4})
    assert reply.status_code == 413
    reply = httpx.post(f"{server}/score", json={"prompts": ["a"], "responses": ["x"],
                                                "images": [_b64(pictures[0])]})
    assert reply.status_code == 400 and "exactly one of" in reply.json()["error"]
    out = httpx.post(f"{server}/score",
                     json={"prompts": PROMPTS[:1], "images": [_b64(pictures[0])]}).json()
    assert out["rewards"][0] == pytest.approx(expected[0], abs=1e-6)


def test_without_a_decoder_the_model_decodes_the_bytes(setup):
    _, spec, pictures, expected = setup
    with BackgroundServer(create_app(load_reward_model(spec))) as srv:
        out = httpx.post(f"{srv.url}/score",
                         json={"prompts": PROMPTS[:1], "images": [_b64(pictures[0])]}).json()
        assert out["rewards"][0] == pytest.approx(expected[0], abs=1e-6)
        bad = base64.b64encode(encode_png(pictures[0])[:60]).decode("ascii")
        reply = httpx.post(f"{srv.url}/score", json={"prompts": ["a"], "images": [bad]})
        assert reply.status_code == 422


def test_rewardlab_serve_hands_the_image_decoder_to_the_app(setup, monkeypatch):
    import rewardlab.serve.runner as serve_runner

    _, spec, _, _ = setup
    served = []
    monkeypatch.setattr(serve_runner, "run_server",
                        lambda model, settings, **kw: served.append((model, kw)))
    result = CliRunner().invoke(app, ["serve", "--model", spec, "--port", "0"])
    assert result.exit_code == 0, result.output
    ((model, kw),) = served
    assert kw["decode_image"] is decode_image and model.id == spec
