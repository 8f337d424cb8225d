"""RemoteRewardModel against a real server: same scores, chunking, retries, errors."""

from __future__ import annotations

import pickle
import socket
import time

import numpy as np
import pytest

from rewardlab.models.baselines import LengthReward
from rewardlab.protocols import RewardModel, UncertainRewardModel
from rewardlab.serve import RemoteRewardModel
from rewardlab.serve.app import create_app
from rewardlab.serve.client import RemoteError
from rewardlab.serve.runner import BackgroundServer
from rewardlab.serve.settings import ServeSettings


class CountingLength:
    """Length reward with a spread of 0.5 that counts calls and batch sizes."""

    def __init__(self, fail_first: int = 0) -> None:
        self.sizes: list[int] = []
        self.fail_first = fail_first

    def score(self, prompts, responses) -> np.ndarray:
        self.sizes.append(len(prompts))
        if len(self.sizes) <= self.fail_first:
            raise RuntimeError("warming up")
        return LengthReward().score(prompts, responses)

    def score_with_uncertainty(self, prompts, responses):
        return self.score(prompts, responses), np.full(len(prompts), 0.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_remote_model_matches_the_library_in_chunks():
    model = CountingLength()
    with BackgroundServer(create_app(model, ServeSettings(max_wait_ms=0))) as server:
        remote = RemoteRewardModel(server.url, batch_size=3)
        assert isinstance(remote, RewardModel) and isinstance(remote, UncertainRewardModel)
        prompts = [f"p{i}" for i in range(7)]
        responses = [" ".join(["w"] * i) for i in range(7)]
        np.testing.assert_array_equal(
            remote.score(prompts, responses), LengthReward().score(prompts, responses)
        )
        assert model.sizes == [3, 3, 1]  # 7 items in chunks of 3
        reward, spread = remote.score_with_uncertainty(prompts[:2], responses[:2])
        np.testing.assert_array_equal(reward, [0.0, 1.0])
        np.testing.assert_array_equal(spread, [0.5, 0.5])
        assert remote.info()["model"] == "CountingLength"
        clone = pickle.loads(pickle.dumps(remote))  # a live connection pool is not pickled
        np.testing.assert_array_equal(clone.score(["p"], ["a b"]), [2.0])
        remote.close()
        clone.close()


def test_5xx_is_retried_until_it_succeeds():
    model = CountingLength(fail_first=2)
    with BackgroundServer(create_app(model, ServeSettings(max_wait_ms=0))) as server:
        remote = RemoteRewardModel(server.url, retries=3, backoff=0.01)
        np.testing.assert_array_equal(remote.score(["p"], ["a b c"]), [3.0])
        assert len(model.sizes) == 3  # two failures, then success
        remote.close()


def test_4xx_is_not_retried_and_names_the_problem():
    model = CountingLength()
    settings = ServeSettings(max_chars=5, max_wait_ms=0)
    with BackgroundServer(create_app(model, settings)) as server:
        remote = RemoteRewardModel(server.url, retries=3, backoff=0.01)
        with pytest.raises(ValueError, match=r"HTTP 413.*'responses\[0\]'.*limit is 5"):
            remote.score(["p"], ["far too long"])
        assert model.sizes == []
        remote.close()


def test_bearer_token_is_sent():
    with BackgroundServer(create_app(CountingLength(), ServeSettings(api_key="k"))) as server:
        with RemoteRewardModel(server.url, api_key="k") as good:
            np.testing.assert_array_equal(good.score(["p"], ["a"]), [1.0])
        with RemoteRewardModel(server.url, retries=0) as anonymous:
            with pytest.raises(ValueError, match="HTTP 401"):
                anonymous.score(["p"], ["a"])


def test_connection_errors_back_off_exponentially_then_raise():
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    remote = RemoteRewardModel(url, retries=2, backoff=0.05, timeout=1)
    start = time.perf_counter()
    with pytest.raises(RemoteError, match="after 3 attempts; last: ConnectError"):
        remote.score(["p"], ["a"])
    # waits 0.05 * 2**0 + 0.05 * 2**1 = 0.15 s between the three attempts
    assert time.perf_counter() - start >= 0.15


def test_mismatched_lengths_fail_locally():
    with pytest.raises(ValueError, match="must match"):
        RemoteRewardModel("http://127.0.0.1:1").score(["a", "b"], ["x"])
