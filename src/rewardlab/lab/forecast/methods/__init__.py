"""Forecast methods: a gold gain curve on the labelled prompts → where gold peaks.

Each module of this package registers one method in ``FORECAST_METHODS``
(``methods.base``); importing the package imports them all, so a new method is
its module plus its test, and ``benchmarks/forecast.py`` compares it with the
others without being edited.
"""

from rewardlab.lab.forecast.methods.base import FORECAST_METHODS, PeakEstimate
from rewardlab.registry import import_modules

import_modules(__name__, __path__)

__all__ = ["FORECAST_METHODS", "PeakEstimate"]
