"""The sandbox tests' gate: skip with the reason where no sandbox can be made, fail in CI.

CI (``.ci/run``, ``REWARDLAB_REQUIRE_SHARED=1``) installs bubblewrap, so there
a missing sandbox is a failure, never a silent skip.
"""

from __future__ import annotations

import os

import pytest

from rewardlab.verifiers.sandbox import Isolation, isolation


def sandbox_or_skip() -> Isolation:
    """The isolation in use; skips (fails under ``REWARDLAB_REQUIRE_SHARED=1``) without one."""
    layers = isolation()
    if layers.sandbox == "none":
        message = f"no sandbox on this machine: {layers.missing}"
        if os.environ.get("REWARDLAB_REQUIRE_SHARED") == "1":
            pytest.fail(f"{message} and REWARDLAB_REQUIRE_SHARED=1")
        pytest.skip(message)
    return layers
