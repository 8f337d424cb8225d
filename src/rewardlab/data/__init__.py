"""Records, loaders, validation, splits and the synthetic arena.

Importing the package registers every response modality (text in
:mod:`rewardlab.data.modality`, the others in :mod:`rewardlab.data.modalities`).
"""

from rewardlab.data import modalities as _modalities  # noqa: F401  (registers every modality)
from rewardlab.data.errors import DataError
from rewardlab.data.fingerprint import fingerprint
from rewardlab.data.formats import FORMATS, detect_format, load_alpaca_eval_pool
from rewardlab.data.io import read_hf_dataset, read_rows, write_jsonl
from rewardlab.data.load import LoadResult, load_comparisons
from rewardlab.data.record import Comparison
from rewardlab.data.split import prompt_key, split_by_prompt
from rewardlab.data.validate import DataReport, validate

__all__ = [
    "FORMATS",
    "Comparison",
    "DataError",
    "DataReport",
    "LoadResult",
    "detect_format",
    "fingerprint",
    "load_alpaca_eval_pool",
    "load_comparisons",
    "prompt_key",
    "read_hf_dataset",
    "read_rows",
    "split_by_prompt",
    "validate",
    "write_jsonl",
]
