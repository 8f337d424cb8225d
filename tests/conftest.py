"""Shared fixtures: the real data beside the project, skipped cleanly when absent.

CI sets ``REWARDLAB_REQUIRE_SHARED=1``: there a missing ``../shared/data`` fails
every test that needs it instead of skipping it, so a wrong data path cannot
silently turn the end-to-end tests off.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that use it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        message = f"real data folder {SHARED_DATA} is absent"
        if os.environ.get("REWARDLAB_REQUIRE_SHARED") == "1":
            pytest.fail(f"{message} and REWARDLAB_REQUIRE_SHARED=1")
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets a session-wide embedding cache outside the user's home."""
    cache = tmp_path_factory.getbasetemp() / "rewardlab-cache"
    monkeypatch.setenv("REWARDLAB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one torch thread avoids contention on a busy machine (and keeps a
    test's floating-point reductions in one order)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def hub_offline(monkeypatch: pytest.MonkeyPatch):
    """No Hugging Face hub: a spec that is not a local folder fails instead of downloading."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def baselines() -> dict:
    """The option walks' runs without the option walked, kept for the module by key."""
    return {}
