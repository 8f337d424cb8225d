"""Probes: ``PROBES.get(name)`` is a :class:`Probe` that declares its metrics.

One module per probe (length bias, off-topic answers, perturbations,
sycophancy, attack search; ``PROBES.names()`` lists them), each ending with
its ``PROBES.add``. A probe that compares two responses (``Probe.pairwise``)
also takes a preference model; the others need a scalar reward. Importing the
package imports every module, so a new probe is its module plus its test.
"""

import importlib
import pkgutil

from rewardlab.evaluate.probes.base import PROBES, Metric, Probe

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["PROBES", "Metric", "Probe"]
