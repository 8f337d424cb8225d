"""Every response modality but text (which :mod:`rewardlab.data.modality` defines).

Each module of this package registers one :class:`~rewardlab.data.modality.Modality`
(``register_modality(Modality(...))``) from the functions of its implementation
module (:mod:`rewardlab.data.images`, :mod:`rewardlab.data.trajectory`);
:mod:`rewardlab.data` imports this package, which imports every module, so a new
modality is its module here (and its implementation) plus its test.
"""

from rewardlab.registry import import_modules

import_modules(__name__, __path__)
