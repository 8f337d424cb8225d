"""Pre-flight overoptimization forecast: how hard can a proxy be pushed before gold falls?

``forecast(ForecastOptions(...)) -> ForecastResult`` (:mod:`.run`) reads a
candidate pool scored by the proxy and gold on a small budget of prompts, and
forecasts where gold peaks under best-of-n (n*) or the KL-regularized optimum
(KL*), with a bootstrap interval over prompts and a one-sentence verdict.
:mod:`.validation` runs it on the overoptimization lab, where the realized
peak is known; :mod:`.report` writes the HTML report.
"""

from rewardlab.lab.forecast.methods import FORECAST_METHODS
from rewardlab.lab.forecast.run import (
    ForecastOptions,
    ForecastResult,
    forecast,
    forecast_pools,
    method_forecasts,
)

__all__ = [
    "FORECAST_METHODS",
    "ForecastOptions",
    "ForecastResult",
    "forecast",
    "forecast_pools",
    "method_forecasts",
]
