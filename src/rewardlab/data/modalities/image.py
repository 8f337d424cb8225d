"""The image modality: PIL images, arrays, paths and encoded bytes (:mod:`rewardlab.data.images`)."""

from __future__ import annotations

import hashlib
from pathlib import PurePath
from typing import Any

from rewardlab.data.images import (
    decode_image,
    image_digest,
    image_statistics,
    is_image,
    pixel_digest,
)
from rewardlab.data.modality import Modality, register_modality


def _to_json(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    return {"sha256": hashlib.sha256(image_digest(value)).hexdigest()}


IMAGE = register_modality(
    Modality(
        name="image",
        accepts=is_image,
        decode=decode_image,
        digest=pixel_digest,
        statistics=image_statistics,
        digest_of=image_digest,
        to_json=_to_json,
    )
)
