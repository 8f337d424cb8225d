"""A ``RewardModel`` that scores through a remote rewardlab server's ``/score``.

Inputs are sent in chunks of ``batch_size`` items. A chunk that fails with a
connection error, a timeout or a 5xx answer is retried up to ``retries`` times
with exponential backoff, waiting ``backoff * 2**k`` seconds before retry
``k = 0, 1, ...`` (the schedule of verl's reward-loop client, capped at
``max_backoff``); a 4xx answer is the caller's fault and raises ``ValueError``
with the server's message at once, without retrying.

References (ground truth, for a served verifier or recipe) go as ``/score``'s
``ground_truth``; :meth:`RemoteRewardModel.score_with_components` also returns the
served recipe's ``components``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.protocols import check_lengths


class RemoteError(RuntimeError):
    """The server could not be reached, or kept failing, after every retry."""


class RemoteRewardModel:
    """``score``/``score_with_uncertainty`` over HTTP; see the module docstring."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        batch_size: int = 256,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        self.batch_size = batch_size
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._client: Any = None

    @property
    def id(self) -> str:
        return f"remote:{self.url}"

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        references: Sequence[Any] | None = None,
    ) -> np.ndarray:
        """Rewards from the server, shape ``(n,)`` (``references`` sent as ``ground_truth``)."""
        return self.score_with_components(prompts, responses, references)[0]

    def score_with_components(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        references: Sequence[Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(rewards, {component: values})``; no components for a plain served model."""
        rewards, _, parts = self._score(prompts, responses, uncertainty=False,
                                        references=references)
        return rewards, parts

    def score_with_uncertainty(
        self, prompts: Sequence[str], responses: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(reward, spread)``; the served model must have ``score_with_uncertainty``."""
        rewards, spread, _ = self._score(prompts, responses, uncertainty=True)
        assert spread is not None
        return rewards, spread

    def info(self) -> dict[str, Any]:
        """The server's ``GET /info``."""
        return self._request("GET", "/info", None)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> RemoteRewardModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:  # picklable for Ray/multiprocessing
        return {**self.__dict__, "_client": None}

    def _score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        *,
        uncertainty: bool,
        references: Sequence[Any] | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        n = check_lengths(prompts, responses)
        if references is not None and len(references) != n:
            raise ValueError(f"field 'references': {len(references)} items for {n} responses")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        rewards: list[float] = []
        spread: list[float] = []
        parts: dict[str, list[float]] = {}
        for start in range(0, n, self.batch_size):
            stop = min(n, start + self.batch_size)
            body: dict[str, Any] = {
                "prompts": list(prompts[start:stop]),
                "responses": list(responses[start:stop]),
            }
            if references is not None:
                body["ground_truth"] = list(references[start:stop])
            if uncertainty:
                body["uncertainty"] = True
            out = self._request("POST", "/score", body)
            rewards.extend(out["rewards"])
            if uncertainty:
                spread.extend(out["uncertainty"])
            for name, values in (out.get("components") or {}).items():
                parts.setdefault(name, []).extend(values)
        return (
            np.asarray(rewards, dtype=np.float64),
            np.asarray(spread, dtype=np.float64) if uncertainty else None,
            {name: np.asarray(v, dtype=np.float64) for name, v in parts.items()},
        )

    def _http(self) -> Any:
        if self._client is None:
            try:
                import httpx
            except ImportError as err:
                raise ImportError(
                    "RemoteRewardModel needs httpx: pip install 'rewardlab[serve]'"
                ) from err
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.Client(
                base_url=self.url.rstrip("/"), headers=headers, timeout=self.timeout
            )
        return self._client

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        import httpx

        client = self._http()
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))
            try:
                response = client.request(method, path, json=body)
            except httpx.TransportError as err:  # connection refused, reset, timeout
                last = f"{type(err).__name__}: {err}"
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}: {_message(response)}"
                continue
            if response.status_code >= 400:
                raise ValueError(
                    f"{self.url}{path} rejected the request "
                    f"(HTTP {response.status_code}): {_message(response)}"
                )
            return response.json()
        raise RemoteError(
            f"{self.url}{path} failed after {self.retries + 1} attempts; last: {last}"
        )


def _message(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text
    return str(data.get("error", data)) if isinstance(data, dict) else str(data)
