"""What a command may write over, checked before it reads data, loads a model or trains.

Every command that writes checks its output paths first, so a typo in ``--out``
costs nothing and a run never ends in an error after its work is done:

* a file output (:func:`check_out_file`) may be absent or a regular file; a
  folder, a device, a pipe, a socket or a symbolic-link loop is refused
  (:func:`rewardlab.atomic.output_problem`), and so is a path under a file;
* a folder of outputs (:func:`check_out_folder`, ``lab overopt --out``) may be
  absent or a folder;
* a model folder (:func:`check_model_out`) is replaced as a whole, so it may be
  absent, empty, or a saved rewardlab model holding nothing but the model's own
  files (:func:`model_entries`); a folder holding anything else is replaced only
  with ``--overwrite``, and a file, a device, a symbolic link, the current folder
  or one that holds it never.

Every refusal is a ``ValueError`` naming the option and the path (exit 1).
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from rewardlab.atomic import is_temporary_name, output_problem, recover

MODEL_FILES = ("config.json", "model.safetensors", "metrics.json")
"""A saved head model or structured model (GPM, PAL, DMoE, PRM)."""
TRANSFORMER_FILES = (
    "rewardlab.json", "metrics.json", "config.json", "generation_config.json",
    "*.safetensors", "model.safetensors.index.json", "tokenizer*", "special_tokens_map.json",
    "added_tokens.json", "vocab.*", "merges.txt", "*.model", "chat_template.jinja",
)
"""A fine-tuned transformer (``save_pretrained`` of the model and its tokenizer)."""
SHOWN = 3


def _format(path: Path) -> object:
    from rewardlab.data.errors import DataError
    from rewardlab.models.io import read_json_object

    try:
        return read_json_object(path).get("format") if path.is_file() else None
    except (DataError, OSError):
        return None


def model_entries(directory: Path) -> set[str] | None:
    """The entries (paths relative to ``directory``, ``/``-joined) that make up the saved
    rewardlab model in ``directory``; None when it holds none of a known format."""
    from rewardlab.models.io import FORMAT, read_json_object
    from rewardlab.models.lm.transformer_rm import CONFIG_NAME
    from rewardlab.models.lm.transformer_rm import FORMAT as TRANSFORMER_FORMAT
    from rewardlab.models.structured import structured_formats
    from rewardlab.robust.backbone_ensemble import ENSEMBLE_FORMAT

    if _format(directory / CONFIG_NAME) == TRANSFORMER_FORMAT:
        return {
            entry.name for entry in directory.iterdir()
            if entry.is_file() and any(fnmatch.fnmatch(entry.name, p) for p in TRANSFORMER_FILES)
        }
    fmt = _format(directory / "config.json")
    if fmt == FORMAT or fmt in structured_formats():
        return set(MODEL_FILES)
    if fmt != ENSEMBLE_FORMAT:
        return None
    members = read_json_object(directory / "config.json").get("members")
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        return None
    owned = {"config.json", "metrics.json"}
    for member in members:
        inner = model_entries(directory / member) if (directory / member).is_dir() else None
        if inner is None:
            return None
        owned |= {member, *(f"{member}/{name}" for name in inner)}
    return owned


def _entries(directory: Path) -> list[str]:
    """Every entry under ``directory`` (relative, ``/``-joined), folders included."""
    found = []
    for root, dirs, files in os.walk(directory):
        relative = Path(root).relative_to(directory)
        found += [(relative / name).as_posix() for name in [*dirs, *files]]
    return sorted(found)


def foreign_entries(directory: Path) -> list[str]:
    """What in ``directory`` is not part of the saved model there (everything when it
    holds no model); the temporary files of a killed writer count as the model's."""
    owned = model_entries(directory) or set()
    return [
        entry for entry in _entries(directory)
        if entry not in owned and not is_temporary_name(Path(entry).name)
    ]


def check_model_out(directory: str | Path, overwrite: bool, option: str = "--out") -> None:
    """Refuse ``directory`` as a model folder to replace as a whole (see the module doc)."""
    path = Path(directory)
    recover(path)
    problem = output_problem(path, "folder")
    if problem is not None:
        raise ValueError(f"{option} {directory}: {problem}")
    resolved = path.resolve()
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise ValueError(
            f"{option} {directory}: is the current folder or holds it; give a folder of its own"
        )
    if overwrite or not path.exists():
        return
    foreign = foreign_entries(path)
    if not foreign:
        return
    shown = ", ".join(foreign[:SHOWN]) + (f" and {len(foreign) - SHOWN} more"
                                          if len(foreign) > SHOWN else "")
    what = "a saved model and other files" if model_entries(path) else "files but no rewardlab model"
    raise ValueError(
        f"{option} {directory}: holds {what} ({shown}); the model folder is replaced as a whole, "
        "so pass --overwrite to delete them, or choose another folder"
    )


def check_out_file(path: str | Path, option: str = "--out") -> None:
    """Refuse ``path`` as a file to write (see the module doc)."""
    problem = output_problem(path)
    if problem is not None:
        raise ValueError(f"{option} {path}: cannot write: {problem}")


def check_out_folder(path: str | Path, option: str = "--out", files: tuple[str, ...] = ()) -> None:
    """Refuse ``path`` as a folder to write ``files`` into (it need not be empty)."""
    problem = output_problem(path, "files")
    if problem is not None:
        raise ValueError(f"{option} {path}: cannot write: {problem}")
    for name in files:
        check_out_file(Path(path) / name, option)
